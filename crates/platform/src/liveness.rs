//! Liveness checks (現況確認, seed 001: knowing that a customer's information has *not* changed, and
//! when it must be updated): a customer's certificates checked now, with a recorded purpose, and a
//! report of all of a tenant's customers against the CRL generations in force.

use jpki_profile::fees::{FeeCertKind, ProvisionMethod};
use jpki_profile::revocation_reason::RevocationReason;
use jpki_profile::KeyRole;
use jpki_store::{sqlx, Database, Statements};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{audit, stored_time, usage, PlatformError};

/// Why a tenant checks a certificate's status (PocketSign's `check_purpose`,
/// ../shared/reference/relying-party-apis.md): recorded with the check and in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckPurpose {
    /// Before relying on a signature made earlier.
    SignatureVerification,
    /// Whether the customer's certificate, and so their 4 information, is still current.
    LivenessCheck,
}

impl CheckPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckPurpose::SignatureVerification => "signature_verification",
            CheckPurpose::LivenessCheck => "liveness_check",
        }
    }
}

/// The customer's newest watched certificate of each kind (DER), to check now.
pub async fn certificates_to_check(db: &Database, tenant_id: &str, customer_id: &str) -> Result<Vec<(KeyRole, Vec<u8>)>, PlatformError> {
    crate::customers::get(db, tenant_id, customer_id).await?;
    let mut out = Vec::new();
    for role in KeyRole::ALL {
        if let Some((_, der)) = crate::customers::newest_certificate(db, customer_id, role).await? {
            out.push((role, der));
        }
    }
    Ok(out)
}

/// A certificate's status in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Good,
    Revoked,
    Expired,
    /// No CRL generation of its CA is held: nothing can be said (fail closed).
    Unknown,
}

impl ReportStatus {
    fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Good => "good",
            ReportStatus::Revoked => "revoked",
            ReportStatus::Expired => "expired",
            ReportStatus::Unknown => "unknown",
        }
    }
}

/// One watched certificate of one customer in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportLine {
    pub customer_id: String,
    pub reference: String,
    pub kind: KeyRole,
    pub serial: String,
    pub status: ReportStatus,
    pub reason: Option<RevocationReason>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The CRL generation the status is from.
    pub generation: Option<i64>,
}

/// The report of all of the tenant's customers' watched certificates against the CRL generations in
/// force at `now`, metered as one CRL check per certificate and audited (counts only).
pub async fn report(db: &Database, tenant_id: &str, now: OffsetDateTime) -> Result<Vec<ReportLine>, PlatformError> {
    type Row = (String, String, String, String, i64, Option<i64>, Option<i32>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.id, c.reference, w.kind, w.serial, w.not_after, e.revoked_at, e.reason, i.current_generation
         FROM customer c JOIN customer_certificate w ON w.customer_id = c.id
         LEFT JOIN crl_issuer i ON i.issuer = w.issuer
         LEFT JOIN crl_entry e ON e.issuer = w.issuer AND e.serial = w.serial AND e.generation_id <= i.current_generation
         WHERE c.tenant_id = $1 ORDER BY c.id, w.kind, w.not_after",
    )
    .bind(tenant_id)
    .fetch_all(db.pool())
    .await?;
    let mut lines = Vec::with_capacity(rows.len());
    for (customer_id, reference, kind, serial, not_after, revoked_at, reason, generation) in rows {
        let kind = KeyRole::parse(&kind).ok_or_else(|| PlatformError::Corrupt(format!("certificate kind {kind:?}")))?;
        let status = match (revoked_at, generation) {
            (Some(_), _) => ReportStatus::Revoked,
            _ if not_after < now.unix_timestamp() => ReportStatus::Expired,
            (None, Some(_)) => ReportStatus::Good,
            (None, None) => ReportStatus::Unknown,
        };
        let revoked_at = revoked_at.map(stored_time).transpose()?;
        let reason = revoked_at.map(|_| RevocationReason::from_code(i64::from(reason.unwrap_or(0))));
        lines.push(ReportLine { customer_id, reference, kind, serial, status, reason, revoked_at, generation });
    }
    let checks: Vec<(&str, FeeCertKind, ProvisionMethod, OffsetDateTime)> =
        lines.iter().filter(|l| l.generation.is_some()).map(|l| (tenant_id, FeeCertKind::from(l.kind), ProvisionMethod::Crl, now)).collect();
    let count = |s: ReportStatus| lines.iter().filter(|l| l.status == s).count();
    let detail = serde_json::json!({
        "certificates": lines.len(),
        "good": count(ReportStatus::Good), "revoked": count(ReportStatus::Revoked), "expired": count(ReportStatus::Expired), "unknown": count(ReportStatus::Unknown),
    });
    let mut tx = db.begin_write().await?;
    let mut statements = Statements::new(&tx);
    usage::count_all(&mut statements, &checks);
    statements.execute(&mut tx).await?;
    let entry = audit::Entry {
        tenant_id: Some(tenant_id),
        action: "customer.status_report",
        purpose: Some(CheckPurpose::LivenessCheck.as_str()),
        result: "reported",
        detail: &detail,
        at: now.unix_timestamp(),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(lines)
}

/// The report as CSV (RFC 4180; a header line, then one line per certificate).
pub fn report_csv(lines: &[ReportLine]) -> String {
    let quote = |s: &str| if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() };
    let mut out = String::from("customer_id,reference,kind,serial,status,reason,revoked_at,generation\r\n");
    for l in lines {
        let revoked_at = l.revoked_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            quote(&l.customer_id),
            quote(&l.reference),
            l.kind.as_str(),
            l.serial,
            l.status.as_str(),
            l.reason.map(|r| r.name()).unwrap_or(""),
            revoked_at,
            l.generation.map(|g| g.to_string()).unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let line = |reference: &str, status| ReportLine {
            customer_id: "customer_1".into(),
            reference: reference.into(),
            kind: KeyRole::Signature,
            serial: "0a".into(),
            status,
            reason: (status == ReportStatus::Revoked).then_some(RevocationReason::AffiliationChanged),
            revoked_at: (status == ReportStatus::Revoked).then(|| OffsetDateTime::from_unix_timestamp(1_796_400_000).unwrap()),
            generation: Some(3),
        };
        let csv = report_csv(&[line("plain", ReportStatus::Good), line("a,\"b\"\nc", ReportStatus::Revoked)]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "customer_id,reference,kind,serial,status,reason,revoked_at,generation");
        assert_eq!(lines[1], "customer_1,plain,signature,0a,good,,,3");
        assert_eq!(lines[2], "customer_1,\"a,\"\"b\"\"\nc\",signature,0a,revoked,affiliationChanged,2026-12-04T16:00:00Z,3");
    }
}
