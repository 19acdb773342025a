//! `liveness`: the bulk liveness report (現況確認) of `users` customers against a CRL generation of
//! `entries` entries (J-LIS's signature CA lists about 20 million), in a fresh SQLite store, against
//! reading the same customers' certificates from the database alone; each timed, with its peak RSS,
//! in one run. The CRL generation is written straight into the store (its ingestion is `crl-ingest`'s).

use std::time::Instant;

use jpki_store::{sqlx, Database};

use crate::{runtime, BenchResult};

const BASE: u64 = 0x4000_0000_0000_0000;

/// Resets the process's peak RSS (Linux: `5` to `/proc/self/clear_refs`), so that the next reading of
/// [`peak_mb`] is the peak of what follows.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

async fn fill(db: &Database, issuer: &str, tenant_id: &str, users: u64, entries: u64) -> BenchResult {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    sqlx::query("INSERT INTO crl_issuer (issuer, name, current_generation, updated_at) VALUES ($1, 'bench CA', 1, $2)")
        .bind(issuer)
        .bind(now)
        .execute(db.pool())
        .await?;
    sqlx::query(
        "INSERT INTO crl_generation (id, issuer, state, crl_number, this_update, next_update, entries, new_entries, created_at)
         VALUES (1, $1, 'current', '01', $2, $3, $4, $4, $2)",
    )
    .bind(issuer)
    .bind(now)
    .bind(now + 86_400)
    .bind(entries as i64)
    .execute(db.pool())
    .await?;
    sqlx::query(
        "INSERT INTO crl_partition (generation_id, scope, crl_number, this_update, next_update, entries, source) VALUES (1, '', '01', $1, $2, $3, 'bench')",
    )
    .bind(now)
    .bind(now + 86_400)
    .bind(entries as i64)
    .execute(db.pool())
    .await?;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO crl_entry (issuer, serial, generation_id, revoked_at, reason) SELECT $2, printf('%016x', $3 + i), 1, $4, 3 FROM n",
    )
    .bind(entries as i64)
    .bind(issuer)
    .bind(BASE as i64)
    .bind(now)
    .execute(db.pool())
    .await?;
    // The users' certificates: the first 1% of them are the CRL's last entries (revoked), the rest not listed.
    let first = BASE + entries + 1 - users / 100;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO customer (id, tenant_id, reference, verification_id, created_at) SELECT printf('customer_%012d', i), $2, printf('ref-%d', i), 'bench', 0 FROM n",
    )
    .bind(users as i64)
    .bind(tenant_id)
    .execute(db.pool())
    .await?;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO customer_certificate (customer_id, issuer, serial, kind, certificate, not_after, created_at)
         SELECT printf('customer_%012d', i), $2, printf('%016x', $3 + i - 1), 'signature', '', $4, 0 FROM n",
    )
    .bind(users as i64)
    .bind(issuer)
    .bind(first as i64)
    .bind(now + 5 * 365 * 86_400)
    .execute(db.pool())
    .await?;
    Ok(())
}

pub fn run(users: u64, entries: u64) -> BenchResult {
    let dir = tempfile::tempdir()?;
    let url = Database::sqlite_url(&dir.path().join("bench.sqlite3"));
    runtime().block_on(async {
        let db = Database::open(&url).await?;
        let (tenant, _) = jpki_platform::tenants::create(&db, "Bench Bank", false).await?;
        let issuer = jpki_platform::revocation_lists::issuer_key(b"bench CA");
        let filling = Instant::now();
        fill(&db, &issuer, &tenant.id, users, entries).await?;
        println!("{users} users and a {entries}-entry CRL generation stored in {:.1} s", filling.elapsed().as_secs_f64());

        // Baseline: the same users' certificates read from the database, nothing looked up.
        reset_peak();
        let start = Instant::now();
        let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT c.id, c.reference, w.kind, w.serial, w.not_after FROM customer c JOIN customer_certificate w ON w.customer_id = c.id
             WHERE c.tenant_id = $1 ORDER BY c.id, w.kind, w.not_after",
        )
        .bind(&tenant.id)
        .fetch_all(db.pool())
        .await?;
        let (read, read_peak) = (start.elapsed().as_secs_f64(), peak_mb());
        let read_rows = rows.len();
        drop(rows);

        reset_peak();
        let start = Instant::now();
        let lines = jpki_platform::liveness::report(&db, &tenant.id, time::OffsetDateTime::now_utc()).await?;
        let csv = jpki_platform::liveness::report_csv(&lines);
        let (took, peak) = (start.elapsed().as_secs_f64(), peak_mb());
        let revoked = lines.iter().filter(|l| l.status == jpki_platform::liveness::ReportStatus::Revoked).count();
        if read_rows as u64 != users || lines.len() as u64 != users || revoked as u64 != users / 100 {
            return Err(format!("expected {users} lines and {} revoked; read {read_rows}, reported {} with {revoked} revoked", users / 100, lines.len()).into());
        }
        println!(
            "liveness report (CSV, {} MB), {users} users against {entries} CRL entries: {took:.1} s (goal <= 10 s), peak RSS {peak:.0} MB (goal <= 512 MB), {revoked} revoked",
            csv.len() / 1_000_000
        );
        println!("baseline, reading the same users from the database alone: {read:.1} s, peak RSS {read_peak:.0} MB");
        println!("ratio report / read: {:.1}x time, {:.1}x memory", took / read.max(1e-9), peak / read_peak.max(1e-9));
        db.close().await;
        Ok(())
    })
}
