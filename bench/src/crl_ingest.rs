//! `crl-ingest`: the daily CRL at J-LIS's scale. A CRL made by `openssl ca -gencrl` (not openjpki's
//! issuer) is ingested into a fresh SQLite store, against `openssl crl -inform DER -noout` reading the
//! same file, both timed with their peak RSS in one run; then change detection of watched
//! certificates, at the first generation (every entry new) and at a daily delta.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use jpki_issuer::ca::Ca;
use jpki_profile::KeyRole;
use jpki_store::{sqlx, Database};

use crate::{openssl_ca, openssl_time, runtime, BenchResult};

/// The first serial: keeps every serial 8 bytes long and positive, like the issuer's own.
const BASE: u64 = 0x4000_0000_0000_0000;

/// `openssl ca -gencrl` over an index of `entries` revoked serials; the CRL's path and how long it took.
fn openssl_crl(dir: &Path, name: &str, entries: u64) -> BenchResult<(PathBuf, f64)> {
    let now = openssl_time(time::OffsetDateTime::now_utc());
    let exp = openssl_time(time::OffsetDateTime::now_utc() + time::Duration::days(1800));
    let reasons = ["affiliationChanged", "superseded", "cessationOfOperation", "keyCompromise"];
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("index.txt"))?);
        for i in 1..=entries {
            std::io::Write::write_fmt(&mut w, format_args!("R\t{exp}\t{now},{}\t{:016X}\tunknown\t/CN=x\n", reasons[(i % 4) as usize], i + BASE))?;
        }
    }
    let (pem, out) = (dir.join(format!("{name}.pem")), dir.join(name));
    let start = Instant::now();
    // openssl 3.0's `ca` writes PEM only: `openssl crl` converts it to DER, as J-LIS serves it.
    let made = Command::new("openssl").current_dir(dir).args(["ca", "-config", "ca.cnf", "-gencrl", "-out"]).arg(&pem).stderr(Stdio::null()).status()?;
    let took = start.elapsed().as_secs_f64();
    let converted = Command::new("openssl").args(["crl", "-outform", "DER", "-in"]).arg(&pem).arg("-out").arg(&out).status()?;
    if !made.success() || !converted.success() {
        return Err("openssl ca -gencrl failed".into());
    }
    std::fs::remove_file(pem)?;
    Ok((out, took))
}

/// Runs `command` and returns (seconds, peak RSS in MB if GNU time is installed, its output).
fn measured(mut command: Command) -> BenchResult<(f64, Option<f64>, String)> {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut run = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "peak_kb=%M"]).arg(command.get_program()).args(command.get_args());
        c
    } else {
        std::mem::replace(&mut command, Command::new("true"))
    };
    let start = Instant::now();
    let out = run.output()?;
    let seconds = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("{:?} failed: {}", run.get_program(), String::from_utf8_lossy(&out.stderr)).into());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak = stderr.lines().find_map(|l| l.strip_prefix("peak_kb=")).and_then(|v| v.trim().parse::<f64>().ok()).map(|kb| kb / 1024.0);
    Ok((seconds, peak, String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn mb(peak: Option<f64>) -> String {
    peak.map_or_else(|| "n/a (apt-get install time)".into(), |m| format!("{m:.0} MB"))
}

/// The ingestion, in a child process of this benchmark: `crl-ingest-child DB TRUST_DIR CRL`.
pub fn child(db: &str, trust: &Path, crl: &Path) -> BenchResult {
    let trust = jpki_verify::TrustStore::from_dir(trust).map_err(|e| e.to_string())?;
    let generations = runtime().block_on(async {
        let db = Database::open(db).await?;
        let metrics = jpki_platform::metrics::Metrics::default();
        let locations = [jpki_server::transport::CrlLocation::File(crl.to_path_buf())];
        let done = jpki_server::jobs::ingest_crls(&db, &trust, &locations, std::sync::Arc::new(|_: &str, _| {}), &metrics).await;
        db.close().await;
        Ok::<_, Box<dyn std::error::Error>>(done?)
    })?;
    println!("{}", serde_json::to_string(&generations)?);
    Ok(())
}

fn ingest_in_child(db: &str, trust: &Path, crl: &Path) -> BenchResult<(f64, Option<f64>, serde_json::Value)> {
    let mut c = Command::new(std::env::current_exe()?);
    c.arg("crl-ingest-child").arg(db).arg(trust).arg(crl);
    let (seconds, peak, out) = measured(c)?;
    Ok((seconds, peak, serde_json::from_str::<serde_json::Value>(out.trim())?[0].clone()))
}

/// Watches `watched` certificates of the CA named `issuer` (DER) for one tenant, the first 1% of them
/// listed by a CRL of `entries` entries, the rest by none yet (the daily delta lists the next ones).
async fn watch(db: &Database, issuer: &[u8], entries: u64, watched: u64) -> BenchResult {
    let (tenant, _) = jpki_platform::tenants::create(db, "Bench Bank", false).await?;
    let first = entries + 1 - watched / 100;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO customer (id, tenant_id, reference, verification_id, created_at) SELECT printf('customer_%012d', i), $2, printf('ref-%d', i), 'bench', 0 FROM n",
    )
    .bind(watched as i64)
    .bind(&tenant.id)
    .execute(db.pool())
    .await?;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO customer_certificate (customer_id, issuer, serial, kind, certificate, not_after, created_at)
         SELECT printf('customer_%012d', i), $2, printf('%016x', $3 + i - 1), 'signature', '', 0, 0 FROM n",
    )
    .bind(watched as i64)
    .bind(jpki_platform::revocation_lists::issuer_key(issuer))
    .bind((first + BASE) as i64)
    .execute(db.pool())
    .await?;
    Ok(())
}

pub fn run(entries: u64, watched: u64, delta: u64) -> BenchResult {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let ca = Ca::create(KeyRole::Signature, jpki_issuer::now())?;
    std::fs::create_dir_all(d.join("trust"))?;
    std::fs::write(d.join("trust/sign-ca.pem"), ca.certificate_pem())?;
    openssl_ca(d, &ca.certificate_pem(), &ca.key.pkcs8_pem())?;
    let (crl, made) = openssl_crl(d, "day1.crl", entries)?;
    let bytes = std::fs::metadata(&crl)?.len();
    println!("CRL of {entries} entries ({} MB) made by openssl ca -gencrl in {made:.1} s", bytes / 1_000_000);

    let mut baseline = Command::new("openssl");
    baseline.args(["crl", "-inform", "DER", "-noout", "-in"]).arg(&crl);
    let (base_s, base_peak, _) = measured(baseline)?;
    let fresh = Database::sqlite_url(&d.join("ingest.sqlite3"));
    let (ours_s, ours_peak, summary) = ingest_in_child(&fresh, &d.join("trust"), &crl)?;
    assert_eq!(summary["entries"].as_u64(), Some(entries), "{summary}");
    println!(
        "CRL ingestion, {entries} entries: openjpki {ours_s:.1} s, peak RSS {} (goal <= 256 MB); openssl crl -noout {base_s:.1} s, peak RSS {}; ratio {:.2}x (goal >= 10x)",
        mb(ours_peak),
        mb(base_peak),
        base_s / ours_s
    );

    // Change detection: watched certificates in a store of their own, then the first generation and a delta.
    let store = Database::sqlite_url(&d.join("watch.sqlite3"));
    let filling = Instant::now();
    runtime().block_on(async {
        let db = Database::open(&store).await?;
        watch(&db, &der::Encode::to_der(ca.name())?, entries, watched).await?;
        db.close().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    println!("{watched} watched certificates stored in {:.1} s", filling.elapsed().as_secs_f64());
    let (s1, p1, g1) = ingest_in_child(&store, &d.join("trust"), &crl)?;
    println!(
        "change detection, {watched} watched against {entries} new entries: {:.1} s (goal <= 60 s), {} events; the whole ingestion {s1:.1} s, peak RSS {} (goal <= 512 MB)",
        g1["detection_seconds"].as_f64().unwrap_or_default(),
        g1["changes"],
        mb(p1)
    );
    let (crl2, _) = openssl_crl(d, "day2.crl", entries + delta)?;
    let (s2, p2, g2) = ingest_in_child(&store, &d.join("trust"), &crl2)?;
    println!(
        "change detection, daily delta of {} new entries: {:.2} s (goal <= 5 s), {} events; the whole ingestion {s2:.1} s, peak RSS {}",
        g2["new_entries"],
        g2["detection_seconds"].as_f64().unwrap_or_default(),
        g2["changes"],
        mb(p2)
    );
    Ok(())
}
