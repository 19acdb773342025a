//! Fee metering: every check a tenant asks for is counted per tenant, billing month (JST), certificate
//! kind and revocation method, with the fee from `jpki_profile::fees`, in the transaction that records
//! the check.

use jpki_profile::fees::{billing_month, fee_yen, FeeCertKind, ProvisionMethod};
use jpki_store::{sqlx, Database, Statements};
use serde::Serialize;
use time::OffsetDateTime;

use crate::PlatformError;

pub async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    kind: FeeCertKind,
    method: ProvisionMethod,
    at: OffsetDateTime,
) -> Result<(), PlatformError> {
    let check = [(tenant_id, kind, method, at)];
    let mut statements = Statements::new(tx);
    count_all(&mut statements, &check);
    statements.execute(tx).await?;
    Ok(())
}

/// Adds to `statements` the counting of many checks: totals per tenant, month, kind and method, then one
/// upsert.
pub fn count_all<'q>(statements: &mut Statements<'q>, checks: &'q [(&'q str, FeeCertKind, ProvisionMethod, OffsetDateTime)]) {
    let mut totals: std::collections::BTreeMap<(&str, String, &str, &str), (i64, i64)> = std::collections::BTreeMap::new();
    for (tenant_id, kind, method, at) in checks {
        let fee = i64::from(fee_yen(*method, *kind, at.to_offset(jpki_profile::cert_profile::JST).date()).unwrap_or(0));
        let t = totals.entry((*tenant_id, billing_month(*at), kind.as_str(), method.as_str())).or_default();
        t.0 += 1;
        t.1 += fee;
    }
    if totals.is_empty() {
        return;
    }
    let sql = format!(
        "INSERT INTO tenant_usage (tenant_id, month, cert_kind, method, count, fee_yen) VALUES {}
         ON CONFLICT (tenant_id, month, cert_kind, method)
         DO UPDATE SET count = tenant_usage.count + excluded.count, fee_yen = tenant_usage.fee_yen + excluded.fee_yen",
        statements.values_placeholders(totals.len(), 6)
    );
    let mut rows = statements.push(&sql);
    for ((tenant_id, month, kind, method), (count, fee)) in totals {
        rows.bind(tenant_id).bind(month).bind(kind).bind(method).bind(count).bind(fee);
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UsageLine {
    pub month: String,
    pub cert_kind: FeeCertKind,
    pub method: ProvisionMethod,
    pub count: i64,
    pub fee_yen: i64,
}

pub async fn of_tenant(db: &Database, tenant_id: &str) -> Result<Vec<UsageLine>, PlatformError> {
    let rows: Vec<(String, String, String, i64, i64)> =
        sqlx::query_as("SELECT month, cert_kind, method, count, fee_yen FROM tenant_usage WHERE tenant_id = $1 ORDER BY month, cert_kind, method")
            .bind(tenant_id)
            .fetch_all(db.pool())
            .await?;
    rows.into_iter()
        .map(|(month, cert_kind, method, count, fee_yen)| {
            let unknown = |what: &str, value: &str| PlatformError::Corrupt(format!("tenant_usage holds an unknown {what} {value:?}"));
            let kind = FeeCertKind::parse(&cert_kind).ok_or_else(|| unknown("certificate kind", &cert_kind))?;
            let method = ProvisionMethod::parse(&method).ok_or_else(|| unknown("method", &method))?;
            Ok(UsageLine { month, cert_kind: kind, method, count, fee_yen })
        })
        .collect()
}

/// RFC 4180 CSV of usage lines.
pub fn csv(lines: &[UsageLine]) -> String {
    let mut out = String::from("month,cert_kind,method,count,fee_yen\r\n");
    for l in lines {
        out.push_str(&format!("{},{},{},{},{}\r\n", l.month, l.cert_kind.as_str(), l.method.as_str(), l.count, l.fee_yen));
    }
    out
}
