//! Group commit of verification records. Each check's verification row, usage line and audit entry are
//! handed to one writer task, which commits whatever has queued up in a single transaction and then
//! acknowledges every check in it: the API answers only after its record is durable, and concurrent
//! checks share one commit and one turn at the audit chain's lock instead of queueing for it one by one.

use jpki_profile::fees::{FeeCertKind, ProvisionMethod};
use jpki_store::sqlx::pool::PoolConnection;
use jpki_store::{sqlx, Database, Statements};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::{audit, usage, PlatformError};

/// Most records in one transaction.
const BATCH: usize = 512;

/// Everything one check writes.
pub struct CheckRecord {
    pub id: String,
    pub tenant_id: String,
    pub kind: &'static str,
    pub valid: bool,
    pub failure_code: Option<&'static str>,
    pub certificate_serial: Option<String>,
    pub certificate_kind: Option<&'static str>,
    pub revocation_method: Option<&'static str>,
    pub at: OffsetDateTime,
    pub result: String,
    /// The revocation check to meter, if one was made.
    pub metered: Option<(FeeCertKind, ProvisionMethod)>,
    pub audit_action: &'static str,
    pub purpose: Option<String>,
    pub outcome: String,
    pub audit_detail: serde_json::Value,
}

struct Job {
    record: CheckRecord,
    done: oneshot::Sender<Result<(), String>>,
}

#[derive(Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Job>,
}

impl Recorder {
    pub fn start(db: Database) -> Recorder {
        let (queue, jobs) = mpsc::channel(4 * BATCH);
        tokio::spawn(write_batches(db, jobs));
        Recorder { queue }
    }

    /// Returns once `record` is committed.
    pub async fn record(&self, record: CheckRecord) -> Result<(), PlatformError> {
        let (done, committed) = oneshot::channel();
        let gone = || PlatformError::Recording("the recorder stopped".into());
        self.queue.send(Job { record, done }).await.map_err(|_| gone())?;
        committed.await.map_err(|_| gone())?.map_err(PlatformError::Recording)
    }
}

async fn write_batches(db: Database, mut jobs: mpsc::Receiver<Job>) {
    // The writer keeps its connection between batches (no trip through the pool each time); after a
    // failed batch it takes a fresh one.
    let mut conn = None;
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = write(&db, &mut conn, &batch).await.map_err(|e| e.to_string());
        if let Err(e) = &outcome {
            conn = None;
            tracing::error!("recording {} checks failed: {e}", batch.len());
        }
        for job in batch {
            let _ = job.done.send(outcome.clone());
        }
    }
}

async fn write(db: &Database, held: &mut Option<PoolConnection<sqlx::Any>>, batch: &[Job]) -> Result<(), PlatformError> {
    let conn = match held {
        Some(conn) => conn,
        None => held.insert(db.dedicated_writer().await?),
    };
    let mut tx = db.begin_write_on(conn).await?;
    let mut statements = Statements::new(&tx);
    // 10 parameters a row, 100 rows a statement.
    for chunk in batch.chunks(100) {
        let sql = format!(
            "INSERT INTO verification (id, tenant_id, kind, valid, failure_code, certificate_serial, certificate_kind, revocation_method, created_at, result) VALUES {}",
            jpki_store::values_placeholders(&tx, chunk.len(), 10)
        );
        let mut rows = statements.push(&sql);
        for Job { record: r, .. } in chunk {
            rows.bind(r.id.as_str())
                .bind(r.tenant_id.as_str())
                .bind(r.kind)
                .bind(i32::from(r.valid))
                .bind(r.failure_code)
                .bind(r.certificate_serial.as_deref())
                .bind(r.certificate_kind)
                .bind(r.revocation_method)
                .bind(r.at.unix_timestamp())
                .bind(r.result.as_str());
        }
    }
    let metered: Vec<_> =
        batch.iter().filter_map(|j| j.record.metered.map(|(kind, method)| (j.record.tenant_id.as_str(), kind, method, j.record.at))).collect();
    usage::count_all(&tx, &mut statements, &metered);
    let entries: Vec<audit::Entry<'_>> = batch
        .iter()
        .map(|Job { record: r, .. }| audit::Entry {
            tenant_id: Some(&r.tenant_id),
            action: r.audit_action,
            purpose: r.purpose.as_deref(),
            result: &r.outcome,
            detail: r.audit_detail.clone(),
            at: r.at.unix_timestamp(),
        })
        .collect();
    audit::append_all(&mut tx, &mut statements, &entries).await?;
    // Four trips to SQLite's thread a batch (BEGIN, the audit head, every row, COMMIT) instead of seven.
    statements.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
