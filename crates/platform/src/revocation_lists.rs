//! The CRL generations the platform holds, in its database so that every server process answers from
//! the same one. J-LIS publishes each CA's CRL every day (seed 001 §3-2-2), partitioned by distribution
//! point; one ingestion reads a set of CRLs as streams, verifies each against the trust anchors, and
//! switches each CA's new generation in as a whole, or nothing at all. After the switch, the customers
//! whose watched certificate the new generation lists become change events ([`crate::changes`]).
//!
//! A CRL is refused when it does not verify, is truncated or malformed, is a delta CRL, is dated in the
//! future or already past its nextUpdate, has a lower number than the one held for its partition (a
//! rollback), or when the set leaves out a partition the generation in force has. On any refusal the
//! generation in force stays, and what the failed one wrote is removed.

use std::io::Read;
use std::sync::Arc;

use jpki_profile::cert_profile::PointName;
use jpki_profile::revocation_list::{CrlScope, RevokedSerial};
use jpki_profile::revocation_reason::RevocationReason;
use jpki_store::{sqlx, Database, Statements};
use jpki_verify::crl_stream::{CrlHead, CrlReader, CrlStreamError, CrlTail};
use jpki_verify::revocation::{check_number, check_times, CrlAnswer};
use jpki_verify::TrustStore;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::{stored_time, PlatformError};

/// Entries written per transaction: short enough not to hold SQLite's write lock for long.
const BATCH: usize = 8192;
/// Rows per INSERT (5 parameters each, under SQLite's 32,766).
const ROWS: usize = 2048;
const LEASE_NAME: &str = "crl_ingestion";
const LEASE: time::Duration = time::Duration::minutes(10);

/// The key a CA's CRLs and certificates are held under: the SHA-256 of its name's DER, hex.
pub fn issuer_key(name_der: &[u8]) -> String {
    hex::encode(jpki_crypto::sha256(name_der))
}

/// Opens a CRL's bytes for reading (blocking: it may connect to a URL), or says why it cannot.
pub type Opener = Box<dyn FnOnce() -> Result<Box<dyn Read + Send>, String> + Send>;

/// Told the bytes read so far of the CRL (named) being read.
pub type Progress = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// One CRL to read: where it comes from (a file or URL, for messages), opened only when its turn comes.
pub struct CrlSource {
    pub name: String,
    pub open: Opener,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("{source_name}: refused: {reason}")]
    Refused { source_name: String, reason: String },
    #[error("{source_name}: cannot be read: {reason}")]
    Unreachable { source_name: String, reason: String },
    #[error("another process is ingesting CRLs (until {0})")]
    Busy(OffsetDateTime),
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

impl From<sqlx::Error> for IngestError {
    fn from(e: sqlx::Error) -> Self {
        IngestError::Platform(e.into())
    }
}

impl From<jpki_store::StoreError> for IngestError {
    fn from(e: jpki_store::StoreError) -> Self {
        IngestError::Platform(e.into())
    }
}

/// One CA's new generation, as switched in.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationSummary {
    pub issuer: String,
    pub generation: i64,
    pub crl_number: Option<String>,
    pub partitions: usize,
    pub entries: u64,
    /// Entries no earlier generation listed.
    pub new_entries: u64,
    /// Change events made for watched certificates.
    pub changes: u64,
    /// How long finding them took.
    pub detection_seconds: f64,
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next_update: OffsetDateTime,
}

/// One CRL of a generation being built.
struct Partition {
    scope: CrlScope,
    number: Option<String>,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    entries: u64,
    source: String,
}

/// A generation being built for one CA.
struct Building {
    issuer: String,
    name: String,
    id: i64,
    partitions: Vec<Partition>,
}

enum Message {
    Head(CrlHead),
    Entries(Vec<RevokedSerial>),
}

/// Reads and verifies every source, then switches each CA's generation in; `progress` is told the bytes
/// read so far of the source being read. All or nothing: on an error no generation changes.
pub async fn ingest(db: &Database, sources: Vec<CrlSource>, trust: &TrustStore, progress: Progress) -> Result<Vec<GenerationSummary>, IngestError> {
    let holder = jpki_store::new_id("ingest");
    take_lease(db, &holder).await?;
    let mut building: Vec<Building> = Vec::new();
    let outcome = async {
        discard_unfinished(db).await?;
        for source in sources {
            read_source(db, source, trust, &holder, &progress, &mut building).await?;
        }
        switch(db, &building).await
    }
    .await;
    if outcome.is_err() {
        for b in &building {
            if let Err(e) = discard(db, b.id).await {
                tracing::warn!("removing the refused CRL generation {} failed (the next ingestion removes it): {e}", b.id);
            }
        }
    }
    let _ = sqlx::query("DELETE FROM job_lease WHERE name = $1 AND holder = $2").bind(LEASE_NAME).bind(&holder).execute(db.pool()).await;
    outcome
}

async fn take_lease(db: &Database, holder: &str) -> Result<(), IngestError> {
    let now = OffsetDateTime::now_utc();
    sqlx::query("INSERT INTO job_lease (name, holder, until) VALUES ($1, '', 0) ON CONFLICT (name) DO NOTHING").bind(LEASE_NAME).execute(db.pool()).await?;
    let taken = sqlx::query("UPDATE job_lease SET holder = $1, until = $2 WHERE name = $3 AND (until < $4 OR holder = $1)")
        .bind(holder)
        .bind((now + LEASE).unix_timestamp())
        .bind(LEASE_NAME)
        .bind(now.unix_timestamp())
        .execute(db.pool())
        .await?;
    if taken.rows_affected() == 1 {
        return Ok(());
    }
    let (until,): (i64,) = sqlx::query_as("SELECT until FROM job_lease WHERE name = $1").bind(LEASE_NAME).fetch_one(db.pool()).await?;
    Err(IngestError::Busy(OffsetDateTime::from_unix_timestamp(until).unwrap_or(now)))
}

/// Generations that a crash or a refusal left half-written never came into force: their entries go.
async fn discard_unfinished(db: &Database) -> Result<(), IngestError> {
    let left: Vec<(i64,)> = sqlx::query_as("SELECT id FROM crl_generation WHERE state = 'building'").fetch_all(db.pool()).await?;
    for (id,) in left {
        discard(db, id).await?;
    }
    Ok(())
}

async fn discard(db: &Database, id: i64) -> Result<(), IngestError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM crl_entry WHERE generation_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM crl_partition WHERE generation_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("UPDATE crl_generation SET state = 'failed' WHERE id = $1 AND state = 'building'").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

async fn read_source(
    db: &Database,
    source: CrlSource,
    trust: &TrustStore,
    holder: &str,
    progress: &Progress,
    building: &mut Vec<Building>,
) -> Result<(), IngestError> {
    let name = source.name.clone();
    let refused = |reason: String| IngestError::Refused { source_name: name.clone(), reason };
    let (tx, mut rx) = mpsc::channel::<Message>(4);
    let reading = {
        let (trust, progress, name) = (trust.clone(), progress.clone(), name.clone());
        tokio::task::spawn_blocking(move || -> Result<Result<(CrlHead, CrlTail, u64), CrlStreamError>, String> {
            let bytes = (source.open)()?;
            Ok(read_all(bytes, &trust, &*progress, &name, &tx))
        })
    };
    let now = OffsetDateTime::now_utc();
    let mut target: Option<usize> = None;
    let mut batches = 0u64;
    let written = async {
        while let Some(message) = rx.recv().await {
            match message {
                Message::Head(head) => {
                    check_times(head.this_update, head.next_update, now).map_err(refused)?;
                    let issuer = issuer_key(&head.issuer_der);
                    let index = match building.iter().position(|b| b.issuer == issuer) {
                        Some(i) => i,
                        None => {
                            let id = begin_generation(db, &issuer, &head.issuer, now).await?;
                            building.push(Building { issuer, name: head.issuer.clone(), id, partitions: Vec::new() });
                            building.len() - 1
                        }
                    };
                    target = Some(index);
                }
                Message::Entries(entries) => {
                    let b = &building[target.expect("the head comes first")];
                    write_entries(db, &b.issuer, b.id, &entries).await?;
                    batches += 1;
                    if batches.is_multiple_of(64) {
                        renew_lease(db, holder).await?;
                    }
                }
            }
        }
        Ok::<(), IngestError>(())
    }
    .await;
    // Dropping the receiver (on a database error) stops the reader at its next batch.
    drop(rx);
    let read = reading.await.map_err(|e| refused(format!("the reading task failed: {e}")))?;
    let read = read.map_err(|reason| IngestError::Unreachable { source_name: name.clone(), reason })?;
    written?;
    let (head, tail, entries) = read.map_err(|e| refused(e.to_string()))?;
    let b = &mut building[target.expect("a CRL that was read has a head")];
    let scope = tail.scope.clone();
    if b.partitions.iter().any(|p| p.scope == scope) {
        return Err(refused(format!("a second CRL for {scope} of {}", b.name)));
    }
    let held: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT p.crl_number FROM crl_issuer i JOIN crl_partition p ON p.generation_id = i.current_generation WHERE i.issuer = $1 AND p.scope = $2",
    )
    .bind(&b.issuer)
    .bind(scope.as_stored())
    .fetch_optional(db.pool())
    .await?;
    if let Some((held,)) = held {
        check_number(tail.number.as_deref(), held.as_deref()).map_err(refused)?;
    }
    let next_update = head.next_update.ok_or_else(|| refused("it has no nextUpdate, so its freshness is unknown".into()))?;
    b.partitions.push(Partition { scope, number: tail.number, this_update: head.this_update, next_update, entries, source: name.clone() });
    Ok(())
}

/// Reads one CRL, sending its head and then its entries in batches to the writer.
fn read_all(
    bytes: Box<dyn Read + Send>,
    trust: &TrustStore,
    progress: &(dyn Fn(&str, u64) + Send + Sync),
    name: &str,
    tx: &mpsc::Sender<Message>,
) -> Result<(CrlHead, CrlTail, u64), CrlStreamError> {
    let stopped = || CrlStreamError::Io("the ingestion stopped".into());
    let mut reader = CrlReader::open(std::io::BufReader::with_capacity(1 << 20, bytes))?;
    tx.blocking_send(Message::Head(reader.head().clone())).map_err(|_| stopped())?;
    let (mut batch, mut count) = (Vec::with_capacity(BATCH), 0u64);
    while let Some(entry) = reader.next_entry()? {
        batch.push(entry);
        count += 1;
        if batch.len() == BATCH {
            progress(name, reader.position());
            tx.blocking_send(Message::Entries(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))).map_err(|_| stopped())?;
        }
    }
    if !batch.is_empty() {
        tx.blocking_send(Message::Entries(batch)).map_err(|_| stopped())?;
    }
    progress(name, reader.position());
    let (head, tail) = reader.finish(trust)?;
    Ok((head, tail, count))
}

async fn begin_generation(db: &Database, issuer: &str, name: &str, now: OffsetDateTime) -> Result<i64, IngestError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO crl_issuer (issuer, name, updated_at) VALUES ($1, $2, $3) ON CONFLICT (issuer) DO NOTHING")
        .bind(issuer)
        .bind(name)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?;
    let (id,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) + 1 FROM crl_generation").fetch_one(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO crl_generation (id, issuer, state, this_update, next_update, entries, new_entries, created_at) VALUES ($1, $2, 'building', 0, 0, 0, 0, $3)",
    )
    .bind(id)
    .bind(issuer)
    .bind(now.unix_timestamp())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn renew_lease(db: &Database, holder: &str) -> Result<(), IngestError> {
    let until = (OffsetDateTime::now_utc() + LEASE).unix_timestamp();
    sqlx::query("UPDATE job_lease SET until = $1 WHERE name = $2 AND holder = $3").bind(until).bind(LEASE_NAME).bind(holder).execute(db.pool()).await?;
    Ok(())
}

/// Writes entries under generation `id`, each serial once: one listed by an earlier generation keeps
/// that generation (and so is not new).
async fn write_entries(db: &Database, issuer: &str, id: i64, entries: &[RevokedSerial]) -> Result<(), IngestError> {
    let mut conn = db.pool().acquire().await?;
    let mut statements = Statements::new(&conn);
    for chunk in entries.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO crl_entry (issuer, serial, generation_id, revoked_at, reason) VALUES {} ON CONFLICT (issuer, serial) DO NOTHING",
            statements.values_placeholders(chunk.len(), 5)
        );
        let mut binder = statements.push(&sql);
        for e in chunk {
            binder.bind(issuer).bind(e.serial.as_str()).bind(id).bind(e.revoked_at.unix_timestamp()).bind(e.reason.map(|r| r.code() as i32));
        }
    }
    statements.commit(&mut conn).await?;
    Ok(())
}

/// Switches every generation built in, and makes the change events, in one transaction.
async fn switch(db: &Database, building: &[Building]) -> Result<Vec<GenerationSummary>, IngestError> {
    let mut tx = db.begin_write().await?;
    let mut summaries = Vec::new();
    for b in building {
        let held: Vec<(String,)> =
            sqlx::query_as("SELECT p.scope FROM crl_issuer i JOIN crl_partition p ON p.generation_id = i.current_generation WHERE i.issuer = $1")
                .bind(&b.issuer)
                .fetch_all(&mut *tx)
                .await?;
        if let Some(missing) = held.into_iter().map(|(scope,)| CrlScope::from_stored(scope)).find(|scope| !b.partitions.iter().any(|p| &p.scope == scope)) {
            return Err(IngestError::Refused {
                source_name: b.name.clone(),
                reason: format!("the set leaves out the CRL for {missing} that the generation in force has"),
            });
        }
        for p in &b.partitions {
            sqlx::query(
                "INSERT INTO crl_partition (generation_id, scope, crl_number, this_update, next_update, entries, source) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(b.id)
            .bind(p.scope.as_stored())
            .bind(p.number.as_deref())
            .bind(p.this_update.unix_timestamp())
            .bind(p.next_update.unix_timestamp())
            .bind(p.entries as i64)
            .bind(&p.source)
            .execute(&mut *tx)
            .await?;
        }
        let number = b.partitions.iter().filter_map(|p| p.number.clone()).max_by(|x, y| jpki_verify::revocation::crl_number_order(Some(x), Some(y)));
        let this_update = b.partitions.iter().map(|p| p.this_update).min().expect("a generation has a CRL");
        let next_update = b.partitions.iter().map(|p| p.next_update).min().expect("a generation has a CRL");
        let entries: u64 = b.partitions.iter().map(|p| p.entries).sum();
        let (new_entries,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM crl_entry WHERE generation_id = $1").bind(b.id).fetch_one(&mut *tx).await?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        sqlx::query("UPDATE crl_generation SET state = 'superseded' WHERE issuer = $1 AND state = 'current'").bind(&b.issuer).execute(&mut *tx).await?;
        sqlx::query(
            "UPDATE crl_generation SET state = 'current', crl_number = $1, this_update = $2, next_update = $3, entries = $4, new_entries = $5 WHERE id = $6",
        )
        .bind(number.as_deref())
        .bind(this_update.unix_timestamp())
        .bind(next_update.unix_timestamp())
        .bind(entries as i64)
        .bind(new_entries)
        .bind(b.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE crl_issuer SET current_generation = $1, name = $2, updated_at = $3 WHERE issuer = $4")
            .bind(b.id)
            .bind(&b.name)
            .bind(now)
            .bind(&b.issuer)
            .execute(&mut *tx)
            .await?;
        let detecting = std::time::Instant::now();
        let changes = crate::changes::detect(&mut tx, &b.issuer, b.id, new_entries).await?;
        let detection_seconds = detecting.elapsed().as_secs_f64();
        summaries.push(GenerationSummary {
            issuer: b.name.clone(),
            generation: b.id,
            crl_number: number,
            partitions: b.partitions.len(),
            entries,
            new_entries: new_entries as u64,
            changes,
            detection_seconds,
            this_update,
            next_update,
        });
    }
    tx.commit().await?;
    Ok(summaries)
}

/// What the generation in force for the CA named `issuer_name` (DER) says of `serial` (hex), from the
/// CRL of the certificate's distribution point (the first of `points`: JPKI certificates name one) or
/// else one of the whole CA (RFC 5280 §6.3.3 (b)); `None` when no CRL held covers the certificate.
pub async fn answer(db: &Database, issuer_name: &[u8], serial: &str, points: &[PointName]) -> Result<Option<CrlAnswer>, PlatformError> {
    type Row = (String, i64, i64, Option<String>, Option<i64>, Option<i32>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.scope, p.this_update, p.next_update, p.crl_number, e.revoked_at, e.reason
         FROM crl_issuer i JOIN crl_partition p ON p.generation_id = i.current_generation
         LEFT JOIN crl_entry e ON e.issuer = i.issuer AND e.serial = $2 AND e.generation_id <= i.current_generation
         WHERE i.issuer = $1 AND (p.scope = '' OR p.scope = $3)",
    )
    .bind(issuer_key(issuer_name))
    .bind(serial)
    .bind(points.first().map_or("", PointName::as_str))
    .fetch_all(db.pool())
    .await?;
    let covering = rows
        .into_iter()
        .map(|row| (CrlScope::from_stored(row.0.clone()), row))
        .filter(|(scope, _)| scope.covers(points))
        .max_by_key(|(scope, _)| scope.clone());
    let Some((_, (_, this_update, next_update, number, revoked_at, reason))) = covering else { return Ok(None) };
    Ok(Some(CrlAnswer {
        this_update: stored_time(this_update)?,
        next_update: Some(stored_time(next_update)?),
        number,
        entry: revoked_at.map(|at| Ok::<_, PlatformError>((stored_time(at)?, reason.map(|r| RevocationReason::from_code(i64::from(r)))))).transpose()?,
    }))
}

/// Each CA's generation in force.
#[derive(Debug, Clone, Serialize)]
pub struct HeldGeneration {
    pub issuer: String,
    pub generation: i64,
    pub crl_number: Option<String>,
    pub entries: i64,
    pub partitions: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next_update: OffsetDateTime,
}

pub async fn held(db: &Database) -> Result<Vec<HeldGeneration>, PlatformError> {
    type Row = (String, i64, Option<String>, i64, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT i.name, g.id, g.crl_number, g.entries, (SELECT COUNT(*) FROM crl_partition p WHERE p.generation_id = g.id), g.this_update, g.next_update
         FROM crl_issuer i JOIN crl_generation g ON g.id = i.current_generation ORDER BY i.name",
    )
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(issuer, generation, crl_number, entries, partitions, this_update, next_update)| {
            Ok(HeldGeneration {
                issuer,
                generation,
                crl_number,
                entries,
                partitions,
                this_update: stored_time(this_update)?,
                next_update: stored_time(next_update)?,
            })
        })
        .collect()
}
