//! Ledger matching for a tenant's customers: the tenant's own record of a customer (name, address,
//! date of birth, sex) against the 4 info of the customer's signature certificate
//! ([`jpki_profile::ledger`] says how text is compared), one customer at a time or a CSV in bulk. The
//! ledger's fields are compared and forgotten: nothing of them is stored, and the audit entry names
//! only the customers and the outcome.

use base64::Engine;
use jpki_profile::ledger::{self, LedgerEntry, LedgerMatch};
use jpki_profile::{BirthDate, JpkiCertificate, Sex};
use jpki_store::{sqlx, Database};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{audit, PlatformError};

/// The most rows one CSV may hold.
pub const MAX_ROWS: usize = 100_000;

fn invalid(message: impl Into<String>) -> PlatformError {
    PlatformError::Invalid { code: "invalid_ledger_entry", message: message.into() }
}

/// A ledger entry from text fields: the date `YYYY-MM-DD`, the sex as [`Sex`] reads it; empty is
/// not given.
pub fn entry(name: Option<&str>, address: Option<&str>, birth_date: Option<&str>, sex: Option<&str>) -> Result<LedgerEntry, String> {
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let text = |field: &str, v: Option<&str>| -> Result<Option<String>, String> {
        match given(v) {
            Some(v) if v.chars().count() > 400 || v.chars().any(char::is_control) => {
                Err(format!("{field} must be at most 400 characters without control characters"))
            }
            v => Ok(v.map(str::to_owned)),
        }
    };
    Ok(LedgerEntry {
        name: text("name", name)?,
        address: text("address", address)?,
        birth_date: given(birth_date).map(|d| BirthDate::parse_iso(d).map_err(|e| format!("birth_date: {e}"))).transpose()?,
        sex: given(sex).map(|s| s.parse::<Sex>().map_err(|e| format!("sex: {e}"))).transpose()?,
    })
}

/// The 4 info of the customer's newest signature certificate; `None` if the tenant has no such customer.
async fn certificate_info(db: &Database, tenant_id: &str, customer_id: &str) -> Result<Option<Option<jpki_profile::FourInfo>>, PlatformError> {
    let known: Option<(String,)> =
        sqlx::query_as("SELECT id FROM customer WHERE id = $1 AND tenant_id = $2").bind(customer_id).bind(tenant_id).fetch_optional(db.pool()).await?;
    if known.is_none() {
        return Ok(None);
    }
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT certificate FROM customer_certificate WHERE customer_id = $1 AND kind = 'signature' ORDER BY not_after DESC, created_at DESC LIMIT 1",
    )
    .bind(customer_id)
    .fetch_optional(db.pool())
    .await?;
    let Some((certificate,)) = row else { return Ok(Some(None)) };
    let corrupt = |e: String| PlatformError::Corrupt(format!("customer {customer_id}'s certificate: {e}"));
    let der = base64::engine::general_purpose::STANDARD.decode(&certificate).map_err(|e| corrupt(e.to_string()))?;
    let cert = JpkiCertificate::from_der(&der).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(cert.four_info))
}

/// One customer's match.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerMatch {
    pub customer_id: String,
    #[serde(flatten)]
    pub fields: LedgerMatch,
}

/// Why a customer's entry cannot be matched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Unmatched {
    #[error("no customer {0}")]
    NoCustomer(String),
    #[error("customer {0} has no signature certificate, which alone carries the 4 info")]
    NoSignatureCertificate(String),
}

async fn one(db: &Database, tenant_id: &str, customer_id: &str, entry: &LedgerEntry) -> Result<Result<CustomerMatch, Unmatched>, PlatformError> {
    Ok(match certificate_info(db, tenant_id, customer_id).await? {
        None => Err(Unmatched::NoCustomer(customer_id.to_owned())),
        Some(None) => Err(Unmatched::NoSignatureCertificate(customer_id.to_owned())),
        Some(Some(info)) => Ok(CustomerMatch { customer_id: customer_id.to_owned(), fields: ledger::match_four_info(entry, &info) }),
    })
}

async fn audited(db: &Database, tenant_id: &str, detail: &serde_json::Value, now: OffsetDateTime) -> Result<(), PlatformError> {
    let entry = audit::Entry { tenant_id: Some(tenant_id), action: "ledger.match", purpose: None, result: "matched", detail, at: now.unix_timestamp() };
    audit::append_alone(db, &entry).await
}

/// Matches the ledger's `entry` for the tenant's customer `customer_id`.
pub async fn match_customer(
    db: &Database,
    tenant_id: &str,
    customer_id: &str,
    entry: &LedgerEntry,
    now: OffsetDateTime,
) -> Result<CustomerMatch, PlatformError> {
    let matched = match one(db, tenant_id, customer_id, entry).await? {
        Ok(m) => m,
        Err(why @ Unmatched::NoCustomer(_)) => return Err(PlatformError::NotFound(why.to_string())),
        Err(why @ Unmatched::NoSignatureCertificate(_)) => return Err(PlatformError::Invalid { code: "no_signature_certificate", message: why.to_string() }),
    };
    audited(db, tenant_id, &serde_json::json!({ "customers": [customer_id] }), now).await?;
    Ok(matched)
}

/// A row of a bulk match: its line and either the match or why the row was not taken.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<CustomerMatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A bulk match's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub matched: usize,
    pub failed: usize,
    pub rows: Vec<Row>,
}

/// The header a ledger CSV starts with.
pub const CSV_HEADER: &str = "customer_id,name,address,birth_date,sex";

/// Matches a CSV of the tenant's ledger (RFC 4180: a header line [`CSV_HEADER`], then one customer a
/// line, fields quoted when they hold a comma or a quote). Each bad row is named in the report; the
/// good ones are matched.
pub async fn match_csv(db: &Database, tenant_id: &str, csv: &str, now: OffsetDateTime) -> Result<Report, PlatformError> {
    let mut lines = csv.split_terminator('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let header = lines.next().unwrap_or("").trim_start_matches('\u{FEFF}');
    if header != CSV_HEADER {
        return Err(invalid(format!("the CSV must start with the header line {CSV_HEADER}")));
    }
    let mut report = Report { matched: 0, failed: 0, rows: Vec::new() };
    let mut customers = Vec::new();
    for (i, text) in lines.enumerate() {
        let line = i + 2;
        if report.rows.len() == MAX_ROWS {
            return Err(invalid(format!("the CSV holds more than {MAX_ROWS} rows: send it in parts")));
        }
        if text.trim().is_empty() {
            continue;
        }
        let outcome = match csv_fields(text) {
            Ok(f) if f.len() == 5 && f[0].trim().is_empty() => Err("customer_id is empty".to_owned()),
            Ok(f) if f.len() == 5 => match entry(Some(&f[1]), Some(&f[2]), Some(&f[3]), Some(&f[4])) {
                Ok(entry) => one(db, tenant_id, f[0].trim(), &entry).await?.map_err(|why| why.to_string()),
                Err(e) => Err(e),
            },
            Ok(f) => Err(format!("{} fields, not 5 ({CSV_HEADER})", f.len())),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(m) => {
                customers.push(m.customer_id.clone());
                report.matched += 1;
                report.rows.push(Row { line, matched: Some(m), error: None });
            }
            Err(e) => {
                report.failed += 1;
                report.rows.push(Row { line, matched: None, error: Some(e) });
            }
        }
    }
    audited(db, tenant_id, &serde_json::json!({ "customers": customers, "failed_rows": report.failed }), now).await?;
    Ok(report)
}

/// The fields of one CSV line (RFC 4180 §2; a quoted field does not span lines here).
pub fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".into()),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err("a quoted field is followed by more than a comma".into());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err("a quote inside an unquoted field".into());
                }
                field.push(c);
                chars.next();
            }
        }
        out.push(field);
        match chars.next() {
            Some(',') => continue,
            None => return Ok(out),
            Some(c) => return Err(format!("{c:?} after a field")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::csv_fields as fields;

    #[test]
    fn csv_fields_as_rfc_4180_writes_them() {
        assert_eq!(fields("a,b,,d").unwrap(), ["a", "b", "", "d"]);
        assert_eq!(fields("\"x, y\",\"say \"\"hi\"\"\",z").unwrap(), ["x, y", "say \"hi\"", "z"]);
        assert_eq!(fields("").unwrap(), [""]);
        for (bad, why) in [("\"open", "not closed"), ("\"a\"b,c", "followed by"), ("a\"b", "quote inside")] {
            assert!(fields(bad).unwrap_err().contains(why), "{bad}");
        }
    }
}
