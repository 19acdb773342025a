//! `jpki-bench card-sign`: one authentication-key signature (SELECT, VERIFY, SELECT key, COMPUTE
//! DIGITAL SIGNATURE) through PC/SC → pcscd → vpcd → `jpki card emulate`, against the same operation
//! on the emulator in-process and `openssl speed rsa2048`'s signing time, in one run. Needs pcscd
//! running with vsmartcard's vpcd reader.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jpki_card::pcsc_reader::{list_readers, PcscReader};
use jpki_card::{CardDir, Emulator, MyNumberCard, Transport};
use jpki_profile::KeyRole;

use crate::BenchResult;

const READER: &str = "Virtual PCD 00 00";

fn jpki(bin: &Path, data: &Path, args: &[&str]) -> BenchResult<String> {
    let out = Command::new(bin).arg("--data-dir").arg(data).args(args).output()?;
    if !out.status.success() {
        return Err(format!("jpki {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn time_signatures<T: Transport>(card: &mut MyNumberCard<T>, iterations: usize) -> BenchResult<Vec<Duration>> {
    let digest_info = [&jpki_crypto::SHA256_DIGEST_INFO_PREFIX[..], &jpki_crypto::sha256(b"openjpki")].concat();
    for _ in 0..5 {
        card.sign(KeyRole::Authentication, "1234", &digest_info)?;
    }
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        card.sign(KeyRole::Authentication, "1234", &digest_info)?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Milliseconds per RSA-2048 signature according to `openssl speed`.
fn openssl_sign_ms() -> BenchResult<f64> {
    let out = Command::new("openssl").args(["speed", "-seconds", "2", "rsa2048"]).stderr(Stdio::null()).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.trim_start().starts_with("rsa 2048 bits")).ok_or("no rsa 2048 line from openssl speed")?;
    let sign_s: f64 = line.split_whitespace().nth(3).ok_or("short openssl speed line")?.trim_end_matches('s').parse()?;
    Ok(sign_s * 1000.0)
}

pub fn run(iterations: usize) -> BenchResult {
    let readers = list_readers().map_err(|e| format!("{e} (the benchmark needs pcscd with vsmartcard-vpcd)"))?;
    if !readers.iter().any(|r| r.name == READER) {
        return Err(format!("no {READER:?} reader: install vsmartcard-vpcd and (re)start pcscd").into());
    }
    let bin = crate::jpki_binary()?;
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    jpki(&bin, &data, &["sandbox", "init"])?;
    let person = jpki(
        &bin,
        &data,
        &["--json", "sandbox", "person", "add", "--name", "計測　太郎", "--address", "東京都", "--birth-date", "1985-04-01", "--sex", "male"],
    )?;
    let person: serde_json::Value = serde_json::from_str(&person)?;
    let card_dir = tmp.path().join("card");
    let card_arg = card_dir.to_str().ok_or("path")?;
    jpki(
        &bin,
        &data,
        &[
            "sandbox",
            "card",
            "issue",
            "--person",
            person["id"].as_str().ok_or("id")?,
            "--out",
            card_arg,
            "--sign-pin",
            "ABC123",
            "--auth-pin",
            "1234",
            "--input-pin",
            "1234",
        ],
    )?;

    let mut emulator = Command::new(&bin).args(["card", "emulate", "--card", card_arg]).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0).spawn()?;
    let group = emulator.id().to_string();
    let started = Instant::now();
    while !list_readers()?.iter().any(|r| r.name == READER && r.card_present) {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{group}")]).status();
            return Err("the emulated card did not appear in the vpcd reader".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let through_pcsc = (|| {
        let mut card = MyNumberCard::new(PcscReader::connect(Some(READER))?);
        time_signatures(&mut card, iterations)
    })();
    let _ = Command::new("kill").args(["-s", "TERM", "--", &format!("-{group}")]).status();
    let _ = emulator.wait();
    let through_pcsc = through_pcsc?;
    let mut in_process = MyNumberCard::new(Emulator::open(CardDir::new(&card_dir))?);
    let in_process = time_signatures(&mut in_process, iterations)?;
    let openssl = openssl_sign_ms()?;

    let median = |t: &[Duration]| ms(t[t.len() / 2]);
    let p90 = |t: &[Duration]| ms(t[t.len() * 9 / 10]);
    println!("authentication-key signature (SELECT, VERIFY, SELECT key, COMPUTE DIGITAL SIGNATURE), {iterations} runs:");
    println!("  through PC/SC -> pcscd -> vpcd -> emulator: median {:.2} ms, p90 {:.2} ms (goal <= 20 ms)", median(&through_pcsc), p90(&through_pcsc));
    println!("  emulator in-process:                       median {:.2} ms, p90 {:.2} ms", median(&in_process), p90(&in_process));
    println!("  openssl speed rsa2048 sign:                {:.2} ms", openssl);
    println!("  ratio PC/SC / openssl sign: {:.1}x; PC/SC / in-process: {:.1}x", median(&through_pcsc) / openssl, median(&through_pcsc) / median(&in_process));
    println!("  goal met: {}", if median(&through_pcsc) <= 20.0 { "yes" } else { "no" });
    Ok(())
}
