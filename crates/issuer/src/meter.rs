//! Metering of revocation-information provisions against the fee table ([`jpki_profile::fees`]).
//!
//! Every OCSP answer about a known certificate, every CRL download and every latest-4-info provision is
//! recorded before the response leaves: requests hand their records to one writer task, which commits
//! whatever has queued up in a single transaction (group commit) and only then releases the requests.
//! Billing records are therefore durable without one database round trip per request.

use jpki_profile::fees::{fee_yen, ProvisionMethod};
use jpki_store::{sqlx, Database};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::{CaRole, IssuerError};

/// One provision to record.
#[derive(Debug, Clone)]
pub struct Provision {
    pub operator_id: Option<String>,
    pub at: OffsetDateTime,
    pub method: &'static str,
    pub cert_kind: &'static str,
    pub serial: Option<String>,
    pub fee_yen: Option<u32>,
}

impl Provision {
    /// Revocation information about one certificate of `role`, priced by the fee table.
    pub fn revocation_info(operator_id: Option<String>, role: CaRole, method: ProvisionMethod, serial: Option<String>, at: OffsetDateTime) -> Self {
        Provision {
            fee_yen: fee_yen(method, role.fee_kind(), at.to_offset(jpki_profile::cert_profile::JST).date()),
            operator_id,
            at,
            method: method.as_str(),
            cert_kind: role.fee_kind().as_str(),
            serial,
        }
    }
}

type Batch = (Vec<Provision>, oneshot::Sender<Result<(), String>>);

/// Handle to the metering writer.
#[derive(Clone)]
pub struct Meter {
    queue: mpsc::Sender<Batch>,
}

/// Most rows written by one statement (8 parameters each, well under SQLite's limit).
const ROWS_PER_STATEMENT: usize = 200;
/// Most rows committed together.
const ROWS_PER_COMMIT: usize = 5_000;

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
                let items: Vec<&Provision> = batches.iter().flat_map(|(items, _)| items.iter()).collect();
                let result = write(&db, &items).await.map_err(|e| e.to_string());
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

async fn write(db: &Database, items: &[&Provision]) -> Result<(), IssuerError> {
    let mut tx = db.begin_write().await?;
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let placeholders: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 8;
                let params: Vec<String> = (b + 1..=b + 8).map(|n| format!("${n}")).collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO provision (id, operator_id, provided_at, month, method, cert_kind, serial, fee_yen) VALUES {}",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for p in chunk {
            q = q
                .bind(jpki_store::new_id("prov"))
                .bind(p.operator_id.clone())
                .bind(p.at.unix_timestamp())
                .bind(billing_month(p.at))
                .bind(p.method)
                .bind(p.cert_kind)
                .bind(p.serial.clone())
                .bind(p.fee_yen.map(i64::from));
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Usage of one operator (or of anonymous requesters) in one month, by method and certificate kind.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UsageLine {
    pub operator_id: Option<String>,
    pub month: String,
    pub method: String,
    pub cert_kind: String,
    pub count: i64,
    pub fee_yen: i64,
}

/// The billing period of a provision: its month in Japan Standard Time.
fn billing_month(at: OffsetDateTime) -> String {
    let t = at.to_offset(jpki_profile::cert_profile::JST);
    format!("{:04}-{:02}", t.year(), t.month() as u8)
}

/// Totals per operator, month (JST), method and certificate kind.
pub async fn usage(db: &Database) -> Result<Vec<UsageLine>, IssuerError> {
    let rows: Vec<(Option<String>, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT operator_id, month, method, cert_kind, COUNT(*), CAST(COALESCE(SUM(fee_yen), 0) AS BIGINT) FROM provision
         GROUP BY operator_id, month, method, cert_kind ORDER BY month, operator_id, method, cert_kind",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(operator_id, month, method, cert_kind, count, fee_yen)| UsageLine { operator_id, month, method, cert_kind, count, fee_yen })
        .collect())
}
