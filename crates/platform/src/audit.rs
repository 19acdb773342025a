//! The audit log: every verification and every release of personal data, append-only and hash-chained.
//! Entry `n` stores `hash_n = SHA-256(hash_{n-1} ‖ canonical JSON of entry n)`; changing, removing or
//! reordering any entry breaks every hash after it. Appends happen inside the transaction that records
//! what they describe, after the chain head read under its lock ([`Head::lock`]) or remembered from the
//! writer's last append; the primary key on `seq` turns a stale one into a failed transaction, never a
//! fork, so every writer and every server process extends one chain.

use jpki_store::{sqlx, Database, Statements};
use serde::Serialize;

use crate::PlatformError;

/// What one audit entry says.
#[derive(Debug, Clone, Serialize)]
pub struct Entry<'a> {
    pub tenant_id: Option<&'a str>,
    /// e.g. `signature.verify`, `tenant.create`.
    pub action: &'a str,
    pub purpose: Option<&'a str>,
    /// e.g. `valid`, `invalid:revoked`.
    pub result: &'a str,
    pub detail: &'a serde_json::Value,
    pub at: i64,
}

fn chain_hash(prev: &str, seq: i64, entry_json: &str) -> String {
    hex::encode(jpki_crypto::sha256(format!("{prev}\n{seq}\n{entry_json}").as_bytes()))
}

/// The chain's last entry: the one the next entry links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

impl Head {
    /// Locks the head within the transaction open on `conn` and reads it. Reading it through an UPDATE
    /// takes the lock first, which serializes appends across processes (SQLite: the write lock of
    /// BEGIN IMMEDIATE already does; PostgreSQL: the row lock of this UPDATE).
    pub async fn lock(conn: &mut sqlx::AnyConnection) -> Result<Head, PlatformError> {
        let (seq, hash) = sqlx::query_as("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash").fetch_one(conn).await?;
        Ok(Head { seq, hash })
    }
}

/// Appends `entry` within `tx`; returns its sequence number.
pub async fn append(tx: &mut sqlx::Transaction<'_, sqlx::Any>, entry: &Entry<'_>) -> Result<i64, PlatformError> {
    let head = Head::lock(tx).await?;
    let mut statements = Statements::new(tx);
    let head = extend(&head, &mut statements, std::slice::from_ref(entry));
    statements.execute(tx).await?;
    Ok(head.seq)
}

/// Appends `entry` in a write transaction of its own: for an action that writes nothing else.
pub async fn append_alone(db: &Database, entry: &Entry<'_>) -> Result<(), PlatformError> {
    let mut tx = db.begin_write().await?;
    append(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds to `statements` the inserts of `entries`, in order after `head`, and the head's update; returns
/// the new head. `head` must be the chain's head when `statements` runs: either locked
/// ([`Head::lock`]) in the same transaction, or remembered from the last append, in which case a
/// stale one fails the run on the primary key of entry `head.seq + 1`, which then exists.
pub fn extend<'q>(head: &Head, statements: &mut Statements<'q>, entries: &'q [Entry<'q>]) -> Head {
    let (mut seq, mut prev) = (head.seq, head.hash.clone());
    // 9 parameters a row; 100 rows stay far below SQLite's and PostgreSQL's parameter limits.
    for chunk in entries.chunks(100) {
        let sql = format!(
            "INSERT INTO audit_log (seq, tenant_id, action, purpose, result, detail, at, prev_hash, hash) VALUES {}",
            statements.values_placeholders(chunk.len(), 9)
        );
        let mut rows = statements.push(&sql);
        for entry in chunk {
            seq += 1;
            let json = serde_json::to_string(entry).expect("audit entries serialize");
            let hash = chain_hash(&prev, seq, &json);
            rows.bind(seq)
                .bind(entry.tenant_id)
                .bind(entry.action)
                .bind(entry.purpose)
                .bind(entry.result)
                .bind(entry.detail.to_string())
                .bind(entry.at)
                .bind(prev)
                .bind(hash.clone());
            prev = hash;
        }
    }
    let sql = format!("UPDATE audit_head SET (seq, hash) = {} WHERE id = 1", statements.values_placeholders(1, 2));
    statements.push(&sql).bind(seq).bind(prev.clone());
    Head { seq, hash: prev }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub entries: i64,
    pub head: String,
}

type Row = (i64, Option<String>, String, Option<String>, String, String, i64, String, String);

/// Walks the whole chain and checks every link and the head.
pub async fn verify(db: &Database) -> Result<ChainReport, PlatformError> {
    let rows: Vec<Row> =
        sqlx::query_as("SELECT seq, tenant_id, action, purpose, result, detail, at, prev_hash, hash FROM audit_log ORDER BY seq").fetch_all(db.pool()).await?;
    let mut prev = "0".repeat(64);
    let mut expected_seq = 1;
    for (seq, tenant_id, action, purpose, result, detail, at, prev_hash, hash) in rows {
        let broken = |reason: String| PlatformError::AuditBroken { seq, reason };
        if seq != expected_seq {
            return Err(broken(format!("expected entry {expected_seq}")));
        }
        if prev_hash != prev {
            return Err(broken("its previous-hash does not match the entry before it".into()));
        }
        let detail: serde_json::Value = serde_json::from_str(&detail).map_err(|e| broken(format!("detail is not JSON: {e}")))?;
        let entry = Entry { tenant_id: tenant_id.as_deref(), action: &action, purpose: purpose.as_deref(), result: &result, detail: &detail, at };
        let json = serde_json::to_string(&entry).expect("audit entries serialize");
        if chain_hash(&prev, seq, &json) != hash {
            return Err(broken("its content does not match its hash".into()));
        }
        prev = hash;
        expected_seq += 1;
    }
    let (head_seq, head_hash): (i64, String) = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(db.pool()).await?;
    if head_seq != expected_seq - 1 || head_hash != prev {
        return Err(PlatformError::AuditBroken { seq: head_seq, reason: "the chain head does not match the last entry (entries were removed)".into() });
    }
    Ok(ChainReport { entries: expected_seq - 1, head: prev })
}
