//! The audit log: every verification and every release of personal data, append-only and hash-chained.
//! Entry `n` stores `hash_n = SHA-256(hash_{n-1} ‖ canonical JSON of entry n)`; changing, removing or
//! reordering any entry breaks every hash after it. Appends happen inside the transaction that records
//! what they describe, under a lock on the chain head, so every server process extends one chain.

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
    pub detail: serde_json::Value,
    pub at: i64,
}

fn chain_hash(prev: &str, seq: i64, entry_json: &str) -> String {
    hex::encode(jpki_crypto::sha256(format!("{prev}\n{seq}\n{entry_json}").as_bytes()))
}

/// Appends `entry` within `tx`; returns its sequence number.
pub async fn append(tx: &mut sqlx::Transaction<'_, sqlx::Any>, entry: &Entry<'_>) -> Result<i64, PlatformError> {
    let mut statements = Statements::new(tx);
    let seq = append_all(tx, &mut statements, std::slice::from_ref(entry)).await?;
    statements.execute(tx).await?;
    Ok(seq)
}

/// Takes the chain head within `tx` and adds to `statements` the inserts of `entries`, in order, and the
/// head's update; returns the last sequence number. The entries are appended when `statements` runs, in
/// the same transaction.
pub async fn append_all<'q>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    statements: &mut Statements<'q>,
    entries: &'q [Entry<'q>],
) -> Result<i64, PlatformError> {
    // Reading the head through an UPDATE takes its lock first, which serializes appends across processes
    // (SQLite: the write lock of BEGIN IMMEDIATE already does; PostgreSQL: the row lock of this UPDATE).
    let (mut seq, mut prev): (i64, String) =
        sqlx::query_as("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash").fetch_one(&mut **tx).await?;
    // 9 parameters a row; 100 rows stay far below SQLite's and PostgreSQL's parameter limits.
    for chunk in entries.chunks(100) {
        let sql = format!(
            "INSERT INTO audit_log (seq, tenant_id, action, purpose, result, detail, at, prev_hash, hash) VALUES {}",
            jpki_store::values_placeholders(tx, chunk.len(), 9)
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
    let sql = format!("UPDATE audit_head SET (seq, hash) = {} WHERE id = 1", jpki_store::values_placeholders(tx, 1, 2));
    statements.push(&sql).bind(seq).bind(prev);
    Ok(seq)
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub entries: i64,
    pub head: String,
}

type Row = (i64, Option<String>, String, Option<String>, String, String, i64, String, String);

/// Walks the whole chain and checks every link and the head.
pub async fn verify(db: &Database) -> Result<ChainReport, PlatformError> {
    let rows: Vec<Row> = sqlx::query_as("SELECT seq, tenant_id, action, purpose, result, detail, at, prev_hash, hash FROM audit_log ORDER BY seq")
        .fetch_all(db.pool())
        .await?;
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
        let entry = Entry { tenant_id: tenant_id.as_deref(), action: &action, purpose: purpose.as_deref(), result: &result, detail, at };
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
