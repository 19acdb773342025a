//! Metering of revocation-information provisions against the fee table ([`jpki_profile::fees`]).
//!
//! Every OCSP answer about a known certificate, every CRL download and every latest-4-info provision is
//! counted before the response leaves: requests hand their records to one writer task, which adds up
//! whatever has queued up and commits it in a single transaction (group commit), then releases the
//! requests. J-LIS bills per item, so the store keeps counts and fees per operator, billing month, method
//! and certificate kind: a commit touches a handful of rows however many requests it carries.

use std::collections::BTreeMap;

use jpki_profile::fees::{fee_yen, FeeCertKind, ProvisionMethod};
use jpki_store::{sqlx, Database};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::IssuerError;
use jpki_profile::KeyRole;

/// One provision to count.
#[derive(Debug, Clone)]
pub struct Provision {
    pub operator_id: Option<String>,
    pub at: OffsetDateTime,
    pub method: ProvisionMethod,
    pub cert_kind: FeeCertKind,
    pub fee_yen: Option<u32>,
}

impl Provision {
    /// Revocation information about one certificate of `role`, priced by the fee table.
    pub fn revocation_info(operator_id: Option<String>, role: KeyRole, method: ProvisionMethod, at: OffsetDateTime) -> Self {
        Provision {
            fee_yen: fee_yen(method, FeeCertKind::from(role), at.to_offset(jpki_profile::cert_profile::JST).date()),
            operator_id,
            at,
            method,
            cert_kind: FeeCertKind::from(role),
        }
    }
}

type Batch = (Vec<Provision>, oneshot::Sender<Result<(), String>>);

/// Handle to the metering writer.
#[derive(Clone)]
pub struct Meter {
    queue: mpsc::Sender<Batch>,
}

/// Most provisions committed together.
const ROWS_PER_COMMIT: usize = 10_000;

impl Meter {
    /// Starts the writer task on the current Tokio runtime.
    pub fn start(db: Database) -> Meter {
        let (queue, mut rx) = mpsc::channel::<Batch>(4_096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batches = vec![first];
                let mut rows = batches[0].0.len();
                while rows < ROWS_PER_COMMIT {
                    match rx.try_recv() {
                        Ok(b) => {
                            rows += b.0.len();
                            batches.push(b);
                        }
                        Err(_) => break,
                    }
                }
                let result = write(&db, batches.iter().flat_map(|(items, _)| items.iter())).await.map_err(|e| e.to_string());
                if let Err(e) = &result {
                    tracing::error!(error = %e, rows, "metering write failed");
                }
                for (_, done) in batches {
                    let _ = done.send(result.clone());
                }
            }
        });
        Meter { queue }
    }

    /// Records `items` durably; returns once they are committed.
    pub async fn record(&self, items: Vec<Provision>) -> Result<(), IssuerError> {
        if items.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        let stopped = || IssuerError::Refused("the metering writer has stopped".into());
        self.queue.send((items, done)).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?.map_err(|e| IssuerError::Refused(format!("metering failed: {e}")))
    }
}

/// Adds the provisions to their counters: one statement (atomic on its own), so one database round trip
/// per group commit.
async fn write<'a>(db: &Database, items: impl Iterator<Item = &'a Provision>) -> Result<(), IssuerError> {
    // (operator, billing month, method, certificate kind) → (count, fee in yen)
    type Key<'a> = (&'a str, String, &'a str, &'a str);
    let mut totals: BTreeMap<Key<'_>, (i64, i64)> = BTreeMap::new();
    for p in items {
        let key = (p.operator_id.as_deref().unwrap_or(""), jpki_profile::fees::billing_month(p.at), p.method.as_str(), p.cert_kind.as_str());
        let t = totals.entry(key).or_default();
        t.0 += 1;
        t.1 += i64::from(p.fee_yen.unwrap_or(0));
    }
    let mut conn = db.pool().acquire().await?;
    let sql = format!(
        "INSERT INTO provision_count (operator_id, month, method, cert_kind, count, fee_yen) VALUES {}
         ON CONFLICT (operator_id, month, method, cert_kind)
         DO UPDATE SET count = provision_count.count + excluded.count, fee_yen = provision_count.fee_yen + excluded.fee_yen",
        jpki_store::values_placeholders(&conn, totals.len(), 6)
    );
    let mut query = sqlx::query(&sql);
    for ((operator, month, method, kind), (count, fee)) in totals {
        query = query.bind(operator).bind(month).bind(method).bind(kind).bind(count).bind(fee);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Usage of one operator (or of anonymous requesters) in one month, by method and certificate kind.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UsageLine {
    pub operator_id: Option<String>,
    pub month: String,
    pub method: String,
    pub cert_kind: FeeCertKind,
    pub count: i64,
    pub fee_yen: i64,
}

/// Totals per operator, month (JST), method and certificate kind.
pub async fn usage(db: &Database) -> Result<Vec<UsageLine>, IssuerError> {
    let rows: Vec<(String, String, String, String, i64, i64)> =
        sqlx::query_as("SELECT operator_id, month, method, cert_kind, count, fee_yen FROM provision_count ORDER BY month, operator_id, method, cert_kind")
            .fetch_all(db.pool())
            .await?;
    rows.into_iter()
        .map(|(operator, month, method, cert_kind, count, fee_yen)| {
            let cert_kind = FeeCertKind::parse(&cert_kind)
                .ok_or_else(|| IssuerError::Corrupt(format!("provision_count holds an unknown certificate kind {cert_kind:?}")))?;
            Ok(UsageLine { operator_id: (!operator.is_empty()).then_some(operator), month, method, cert_kind, count, fee_yen })
        })
        .collect()
}
