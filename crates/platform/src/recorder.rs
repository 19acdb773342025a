//! Group commit of verification records. Each check's verification row, usage line and audit entry are
//! handed to one writer task, which commits whatever has queued up in a single transaction and then
//! acknowledges every check in it: the API answers only after its record is durable, and concurrent
//! checks share one commit and one turn at the audit chain's lock instead of queueing for it one by one.

use jpki_profile::fees::{FeeCertKind, ProvisionMethod};
use jpki_store::sqlx::pool::PoolConnection;
use jpki_store::{sqlx, Backend, Database, Statements};
use prometheus_client::metrics::histogram::Histogram;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::{audit, usage, PlatformError};

/// Most records in one transaction.
const BATCH: usize = 512;

/// What a check verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// A CMS signature by a signature certificate.
    Signature,
    /// A card-substitute record presented from a smartphone.
    Mdoc,
    /// A login: a challenge signed with the authentication certificate.
    Login,
    /// A watched certificate's status checked, without a signature (a liveness check).
    Status,
}

impl CheckKind {
    /// As stored in `verification.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Signature => "signature",
            CheckKind::Mdoc => "mdoc",
            CheckKind::Login => "login",
            CheckKind::Status => "status",
        }
    }
}

/// Everything one check writes.
pub struct CheckRecord {
    pub id: String,
    pub tenant_id: String,
    pub kind: CheckKind,
    pub valid: bool,
    pub failure_code: Option<&'static str>,
    pub certificate_serial: Option<String>,
    /// Which certificate was checked: a JPKI end-entity certificate or the card-substitute record.
    pub certificate_kind: Option<FeeCertKind>,
    pub revocation_method: Option<&'static str>,
    pub at: OffsetDateTime,
    pub result: String,
    /// The certificate of a valid check, kept so that the tenant can watch its signer.
    pub certificate: Option<CheckedCertificate>,
    /// The revocation check to meter, if one was made.
    pub metered: Option<(FeeCertKind, ProvisionMethod)>,
    pub audit_action: &'static str,
    pub purpose: Option<String>,
    pub outcome: String,
    pub audit_detail: serde_json::Value,
}

/// A checked certificate as stored: its DER (base64) and its issuer's key
/// ([`crate::revocation_lists::issuer_key`]).
pub struct CheckedCertificate {
    pub der_base64: String,
    pub issuer: String,
}

impl CheckedCertificate {
    pub fn of(signer: &jpki_verify::verifier::Signer) -> CheckedCertificate {
        use base64::Engine as _;
        CheckedCertificate {
            der_base64: base64::engine::general_purpose::STANDARD.encode(&signer.certificate),
            issuer: crate::revocation_lists::issuer_key(&signer.issuer_name),
        }
    }
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
    /// Starts the writer task; the size of each batch it commits is observed in `batch_checks`.
    pub fn start(db: Database, batch_checks: Histogram) -> Recorder {
        let (queue, jobs) = mpsc::channel(4 * BATCH);
        tokio::spawn(write_batches(db, jobs, batch_checks));
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

async fn write_batches(db: Database, mut jobs: mpsc::Receiver<Job>, batch_checks: Histogram) {
    // The writer keeps its connection between batches (no trip through the pool each time); after a
    // failed batch it closes it and takes a fresh one.
    let mut conn = None;
    let mut head = None;
    // The writer stops when every `Recorder` is gone or when the database closes: closing waits for
    // every connection in use, and the writer's would otherwise never come back. Checks still queued
    // then fail with "the recorder stopped".
    let mut closed = db.pool().close_event();
    while let Ok(Some(first)) = closed.do_until(jobs.recv()).await {
        let mut batch = vec![first];
        take_queued(&mut jobs, &mut batch);
        // When others queued behind the first, the server is busy: the writer lets the tasks that are
        // ready run once before it commits, and takes what they queued too. Commits become fewer and
        // larger, and each one's fixed cost (its WAL frames, the B-tree pages it rewrites) is shared by
        // more checks. Yielding until a turn adds nothing gathers every check in flight and leaves
        // the workers idle while it commits (measured: more idle, no more checks per second).
        if batch.len() > 1 && batch.len() < BATCH {
            tokio::task::yield_now().await;
            take_queued(&mut jobs, &mut batch);
        }
        batch_checks.observe(batch.len() as f64);
        let outcome = write(&db, &mut conn, &mut head, &batch).await.map_err(|e| e.to_string());
        if let Err(e) = &outcome {
            if let Some(conn) = conn.take() {
                let _ = conn.close().await;
            }
            tracing::error!("recording {} checks failed: {e}", batch.len());
        }
        for job in batch {
            let _ = job.done.send(outcome.clone());
        }
    }
}

fn take_queued(jobs: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
    while batch.len() < BATCH {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Commits `batch`. On SQLite the writer remembers the audit chain's head after each commit and sends
/// the next batch (BEGIN IMMEDIATE, every row, the head's update, COMMIT) as one string: one trip to
/// SQLite's thread. If another writer (a CLI command, an admin request) moved the head meanwhile, that
/// attempt fails on the audit log's primary key and rolls back, and the batch is written again with the
/// head read under its lock. On PostgreSQL, where several server processes share the chain, a
/// remembered head would mostly be stale: the head is always read under its lock.
async fn write(db: &Database, held: &mut Option<PoolConnection<sqlx::Any>>, head: &mut Option<audit::Head>, batch: &[Job]) -> Result<(), PlatformError> {
    let conn = match held {
        Some(conn) => conn,
        None => held.insert(db.dedicated_writer().await?),
    };
    let entries: Vec<audit::Entry<'_>> = batch
        .iter()
        .map(|Job { record: r, .. }| audit::Entry {
            tenant_id: Some(&r.tenant_id),
            action: r.audit_action,
            purpose: r.purpose.as_deref(),
            result: &r.outcome,
            detail: &r.audit_detail,
            at: r.at.unix_timestamp(),
        })
        .collect();
    let metered: Vec<_> =
        batch.iter().filter_map(|j| j.record.metered.map(|(kind, method)| (j.record.tenant_id.as_str(), kind, method, j.record.at))).collect();
    if let Some(known) = head.take().filter(|_| db.backend() == Backend::Sqlite) {
        let mut statements = Statements::new(conn);
        add_rows(&mut statements, batch, &metered);
        let next = audit::extend(&known, &mut statements, &entries);
        match statements.commit(conn).await {
            Ok(()) => {
                *head = Some(next);
                return Ok(());
            }
            Err(e) => tracing::debug!("recording after the remembered audit head failed ({e}); reading the head under its lock"),
        }
    }
    let mut tx = db.begin_write_on(conn).await?;
    let known = audit::Head::lock(&mut tx).await?;
    let mut statements = Statements::new(&tx);
    add_rows(&mut statements, batch, &metered);
    let next = audit::extend(&known, &mut statements, &entries);
    statements.execute(&mut tx).await?;
    tx.commit().await?;
    *head = Some(next);
    Ok(())
}

/// The verification rows of `batch` and the usage they count.
fn add_rows<'q>(statements: &mut Statements<'q>, batch: &'q [Job], metered: &'q [(&'q str, FeeCertKind, ProvisionMethod, OffsetDateTime)]) {
    // 12 parameters a row, 100 rows a statement.
    for chunk in batch.chunks(100) {
        let sql = format!(
            "INSERT INTO verification (id, tenant_id, kind, valid, failure_code, certificate_serial, certificate_kind, revocation_method, created_at, result, certificate, certificate_issuer) VALUES {}",
            statements.values_placeholders(chunk.len(), 12)
        );
        let mut rows = statements.push(&sql);
        for Job { record: r, .. } in chunk {
            rows.bind(r.id.as_str())
                .bind(r.tenant_id.as_str())
                .bind(r.kind.as_str())
                .bind(i32::from(r.valid))
                .bind(r.failure_code)
                .bind(r.certificate_serial.as_deref())
                .bind(r.certificate_kind.map(FeeCertKind::as_str))
                .bind(r.revocation_method)
                .bind(r.at.unix_timestamp())
                .bind(r.result.as_str())
                .bind(r.certificate.as_ref().map(|c| c.der_base64.as_str()))
                .bind(r.certificate.as_ref().map(|c| c.issuer.as_str()));
        }
    }
    usage::count_all(statements, metered);
}
