//! `jpki-bench`: see README.md.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use const_oid::db::rfc5912::ID_SHA_1;
use der::asn1::{Any, Null, OctetString};
use der::Encode;
use jpki_issuer::cards::CardPins;
use jpki_issuer::Issuer;
use jpki_profile::KeyRole;
use jpki_profile::{BirthDate, FourInfo, Sex};
use jpki_store::{sqlx, Database};
use spki::AlgorithmIdentifierOwned;
use x509_cert::serial_number::SerialNumber;
use x509_ocsp::{CertId, OcspRequest, Request, TbsRequest, Version};

mod card_sign;
mod crl_ingest;
mod liveness;
mod mdoc_verify;
mod verify;

/// The allocator the `jpki` binary uses, so the library is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.windows(2).find(|w| w[0] == name).and_then(|w| w[1].parse().ok()).unwrap_or(default)
}

fn main() -> BenchResult {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ocsp") => ocsp(arg(&args, "--seconds", 10), arg(&args, "--clients", 32) as usize),
        Some("crl") => crl(arg(&args, "--entries", 20_000_000), arg(&args, "--baseline", 1_000_000)),
        Some("crl-publish-child") => crl_publish_child(Path::new(&args[1])),
        Some("crl-ingest") => crl_ingest::run(arg(&args, "--entries", 20_000_000), arg(&args, "--watched", 10_000_000), arg(&args, "--delta", 50_000)),
        Some("crl-ingest-child") => crl_ingest::child(&args[1], Path::new(&args[2]), Path::new(&args[3])),
        Some("liveness") => liveness::run(arg(&args, "--users", 1_000_000), arg(&args, "--entries", 20_000_000)),
        Some("card-sign") => card_sign::run(arg(&args, "--iterations", 200) as usize),
        Some("mdoc-verify") => mdoc_verify::run(arg(&args, "--seconds", 10)),
        Some("verify") => verify::run(arg(&args, "--seconds", 10), arg(&args, "--clients", 32) as usize),
        _ => {
            eprintln!("usage: jpki-bench ocsp [--seconds N] [--clients N] | crl [--entries N] [--baseline N] | crl-ingest [--entries N] [--watched N] [--delta N] | liveness [--users N] [--entries N] | card-sign [--iterations N] | verify [--seconds N] [--clients N] | mdoc-verify [--seconds N]");
            std::process::exit(2)
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Runs `work` in a loop on every core for `seconds`; returns completions per second.
fn rate_on_every_core(seconds: u64, work: impl Fn() + Send + Sync + 'static) -> BenchResult<f64> {
    let work = Arc::new(work);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let workers: Vec<_> = (0..cores())
        .map(|_| {
            let (work, done, stop) = (work.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    work();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().map_err(|_| "worker panicked")?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// `openssl speed -multi <cores> <algorithm>`'s verifications per second, read off the summary line
/// containing `line` ("… <sign s> <verify s> <sign/s> <verify/s>").
fn openssl_verify_rate(cores: usize, seconds: u64, algorithm: &str, line: &str) -> BenchResult<f64> {
    let out =
        Command::new("openssl").args(["speed", "-seconds", &seconds.to_string(), "-multi", &cores.to_string(), algorithm]).stderr(Stdio::null()).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text.lines().rev().find(|l| l.contains(line)).ok_or_else(|| format!("no {line:?} line from openssl speed"))?;
    Ok(summary.split_whitespace().last().ok_or("short openssl speed line")?.parse()?)
}

/// Turns each side takes in [`against_openssl`].
const ROUNDS: u64 = 3;

/// A rate on every core beside `openssl speed`'s, measured in the same minutes.
struct AgainstOpenssl {
    /// Mean completions per second of the work.
    rate: f64,
    /// Mean openssl verifications per second.
    openssl: f64,
    /// The work's rate as a share of openssl's ÷ `per_check`, overall and in each round.
    ratio: f64,
    rounds: Vec<f64>,
}

impl AgainstOpenssl {
    fn rounds_text(&self) -> String {
        self.rounds.iter().map(|r| format!("{:.0}%", 100.0 * r)).collect::<Vec<_>>().join(", ")
    }
}

/// Runs `work` on every core and `openssl speed <algorithm>` in turn, [`ROUNDS`] times each, for
/// `seconds` in all per side. On a shared machine the baseline alone moved by a fifth from one minute to
/// the next; alternating short turns lets both sides see the same machine. `per_check` is how many of
/// openssl's verifications one completion of `work` needs.
fn against_openssl(seconds: u64, per_check: f64, algorithm: &str, line: &str, work: impl Fn() + Send + Sync + 'static) -> BenchResult<AgainstOpenssl> {
    let work = Arc::new(work);
    let turn = (seconds / ROUNDS).max(1);
    let (mut rates, mut baselines) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let work = work.clone();
        rates.push(rate_on_every_core(turn, move || work())?);
        baselines.push(openssl_verify_rate(cores(), turn, algorithm, line)?);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (rate, openssl) = (mean(&rates), mean(&baselines));
    Ok(AgainstOpenssl { rate, openssl, ratio: rate * per_check / openssl, rounds: rates.iter().zip(&baselines).map(|(r, o)| r * per_check / o).collect() })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("tokio runtime")
}

/// Builds the `jpki` binary in release mode and returns its path.
fn jpki_binary() -> BenchResult<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo).args(["build", "--release", "--quiet", "--bin", "jpki"]).status()?;
    if !status.success() {
        return Err("building jpki failed".into());
    }
    let exe = std::env::current_exe()?;
    Ok(exe.parent().ok_or("no target dir")?.join("jpki"))
}

/// A directory for `openssl ca -config ca.cnf -gencrl` as the CA `ca_pem` with its key; its index.txt is
/// the caller's to write.
fn openssl_ca(dir: &Path, ca_pem: &str, key_pem: &str) -> BenchResult {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("ca.pem"), ca_pem)?;
    std::fs::write(dir.join("ca.key"), key_pem)?;
    std::fs::write(dir.join("crlnumber"), "01\n")?;
    std::fs::write(dir.join("index.txt.attr"), "unique_subject = no\n")?;
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = sb\n[sb]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 1\ncertificate = ca.pem\nprivate_key = ca.key\nunique_subject = no\n",
    )?;
    Ok(())
}

fn openssl_time(t: time::OffsetDateTime) -> String {
    format!("{:02}{:02}{:02}{:02}{:02}{:02}Z", t.year() % 100, t.month() as u8, t.day(), t.hour(), t.minute(), t.second())
}

// ---------------------------------------------------------------------------------------------- OCSP

fn ocsp(seconds: u64, clients: usize) -> BenchResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    let url = Database::sqlite_url(&data.join("jpki.sqlite3"));
    let rt = runtime();
    // A sandbox with 20 people, 10 of whom moved (their signature certificates revoked).
    let (ca_pem, responder_pem, responder_key_pem, index, requests) = rt.block_on(async {
        let (issuer, _) = Issuer::init(Database::open(&url).await?).await?;
        let pins = CardPins { signature: "ABC123".into(), authentication: "1234".into(), input_assistance: "1234".into(), resident_registry: "1234".into() };
        for i in 0..20 {
            let info = FourInfo::new(&format!("試験　{i}"), "東京都千代田区", BirthDate::parse_iso("1980-01-01")?, Sex::Female)?;
            let person = issuer.add_person(info, None).await?;
            issuer.issue_card(&person.id, &pins, None, &dir.path().join(format!("card{i}"))).await?;
            if i % 2 == 0 {
                issuer.move_address(&person.id, "大阪府大阪市").await?;
            }
        }
        let rows: Vec<(String, i64, Option<i64>)> =
            sqlx::query_as("SELECT serial, not_after, revoked_at FROM certificate WHERE ca_role = 'signature'").fetch_all(issuer.db().pool()).await?;
        let ca = issuer.ca(KeyRole::Signature);
        let mut index = String::new();
        let mut serials = Vec::new();
        for (serial, not_after, revoked) in &rows {
            let exp = openssl_time(time::OffsetDateTime::from_unix_timestamp(*not_after)?);
            let upper = serial.to_uppercase();
            let upper = if upper.len() % 2 == 1 { format!("0{upper}") } else { upper };
            match revoked {
                None => index.push_str(&format!("V\t{exp}\t\t{upper}\tunknown\t/CN={serial}\n")),
                Some(at) => {
                    let at = openssl_time(time::OffsetDateTime::from_unix_timestamp(*at)?);
                    index.push_str(&format!("R\t{exp}\t{at},affiliationChanged\t{upper}\tunknown\t/CN={serial}\n"));
                }
            }
            serials.push(hex::decode(serial)?);
        }
        for unknown in 1u8..=5 {
            serials.push(vec![0x7f, unknown, 0x55]);
        }
        let name_hash = jpki_crypto::sha1(&ca.name().to_der()?);
        let key_hash = jpki_crypto::sha1(ca.certificate.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes());
        let mut requests = Vec::new();
        for s in &serials {
            let id = CertId {
                hash_algorithm: AlgorithmIdentifierOwned { oid: ID_SHA_1, parameters: Some(Any::from(Null)) },
                issuer_name_hash: OctetString::new(name_hash)?,
                issuer_key_hash: OctetString::new(key_hash)?,
                serial_number: SerialNumber::new(s)?,
            };
            let req = OcspRequest {
                tbs_request: TbsRequest {
                    version: Version::V1,
                    requestor_name: None,
                    request_list: vec![Request { req_cert: id, single_request_extensions: None }],
                    request_extensions: None,
                },
                optional_signature: None,
            };
            requests.push(req.to_der()?);
        }
        issuer.db().close().await;
        Ok::<_, Box<dyn std::error::Error>>((
            ca.certificate_pem(),
            jpki_files::pem("CERTIFICATE", &ca.responder_certificate_der),
            ca.responder_key.pkcs8_pem(),
            index,
            requests,
        ))
    })?;
    let requests = Arc::new(Requests::ocsp(requests));
    for (name, text) in [("ca.pem", &ca_pem), ("responder.pem", &responder_pem), ("responder.key", &responder_key_pem), ("index.txt", &index)] {
        std::fs::write(dir.path().join(name), text)?;
    }
    std::fs::write(dir.path().join("index.txt.attr"), "unique_subject = no\n")?;

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    println!(
        "OCSP: {} certificates ({} requests in rotation), {clients} keep-alive clients, {seconds} s each, {cores} cores",
        index.lines().count(),
        requests.bodies.len()
    );

    let port = free_port()?;
    let openssl = Guard(
        Command::new("openssl")
            .current_dir(dir.path())
            .args([
                "ocsp",
                "-index",
                "index.txt",
                "-port",
                &port.to_string(),
                "-rsigner",
                "responder.pem",
                "-rkey",
                "responder.key",
                "-CA",
                "ca.pem",
                "-ignore_err",
                "-nmin",
                "60",
                "-multi",
                &cores.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?,
    );
    wait_listening(&format!("127.0.0.1:{port}"))?;
    let base = measure(&format!("127.0.0.1:{port}"), "/", &requests, clients, seconds)?;
    drop(openssl);

    let jpki = jpki_binary()?;
    let mut child = Command::new(jpki)
        .args(["--data-dir", data.to_str().unwrap(), "serve", "--sandbox", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let server = Guard(child);
    let addr = line.trim().trim_start_matches("listening on http://").to_owned();
    let ours = measure(&addr, "/issuer/ocsp", &requests, clients, seconds)?;
    // openssl's responder does not answer wrk (it replies HTTP/1.0 to wrk's HTTP/1.1 keep-alive), so wrk
    // measures only ours: what the responder does when the load generator is not the limit.
    let wrk = WrkLoad::prepare(dir.path(), &requests.bodies)?.run(&addr, "/issuer/ocsp", clients, seconds)?;
    drop(server);

    println!("openssl ocsp : {:>10.0} responses/s ({} errors)", base.rate, base.errors);
    println!("jpki serve   : {:>10.0} responses/s ({} errors)", ours.rate, ours.errors);
    println!("ratio        : {:>10.1}x (goal >= 20x), same client for both", ours.rate / base.rate);
    if let Some(w) = wrk {
        println!("jpki serve   : {:>10.0} responses/s under wrk ({} errors), {:.1}x openssl's rate above", w.rate, w.errors, w.rate / base.rate);
    }
    Ok(())
}

/// A server process, stopped on drop. `openssl ocsp -multi` forks workers that outlive a killed parent,
/// so it runs in its own process group and the whole group is stopped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> BenchResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_listening(addr: &str) -> BenchResult {
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listens on {addr}").into())
}

/// Requests a load sends in rotation, and what a good answer to them carries (after HTTP 200).
struct Requests {
    headers: String,
    bodies: Vec<Vec<u8>>,
    good: fn(&[u8]) -> bool,
}

impl Requests {
    /// OCSP requests, answered by a successful OCSPResponse (`30 82 LL LL 0A 01 00`).
    fn ocsp(bodies: Vec<Vec<u8>>) -> Requests {
        let good = |r: &[u8]| r.len() > 7 && r[0] == 0x30 && r[4..7] == [0x0a, 0x01, 0x00];
        Requests { headers: "Content-Type: application/ocsp-request\r\n".into(), bodies, good }
    }
}

struct Load {
    rate: f64,
    errors: u64,
    /// How long each good answer took, sorted.
    latencies: Vec<Duration>,
}

impl Load {
    fn percentile(&self, p: usize) -> Duration {
        self.latencies.get(self.latencies.len() * p / 100).copied().unwrap_or_default()
    }
}

/// `wrk` with a script that posts the requests in rotation, when wrk is installed.
struct WrkLoad {
    script: Option<PathBuf>,
    bodies: Vec<PathBuf>,
}

const WRK_SCRIPT: &str = r#"
local bodies = {}
local n = 0
init = function(args)
  for i, path in ipairs(args) do
    local f = io.open(path, "rb"); bodies[i] = f:read("*all"); f:close()
  end
end
request = function()
  n = n % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/ocsp-request"}, bodies[n])
end
"#;

impl WrkLoad {
    fn available() -> bool {
        Command::new("wrk").arg("--version").output().is_ok()
    }

    fn prepare(dir: &Path, requests: &[Vec<u8>]) -> BenchResult<WrkLoad> {
        if !Self::available() {
            return Ok(WrkLoad { script: None, bodies: vec![] });
        }
        let script = dir.join("ocsp.lua");
        std::fs::write(&script, WRK_SCRIPT)?;
        let bodies = requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let p = dir.join(format!("req{i}.der"));
                std::fs::write(&p, r).map(|_| p)
            })
            .collect::<Result<_, _>>()?;
        Ok(WrkLoad { script: Some(script), bodies })
    }
}

/// Checks for one second that the server gives good answers, then measures its throughput with the
/// built-in client.
fn measure(addr: &str, path: &str, requests: &Arc<Requests>, clients: usize, seconds: u64) -> BenchResult<Load> {
    let check = load(addr, path, requests, 4, 1)?;
    if check.errors > 0 || check.rate == 0.0 {
        return Err(format!("{addr}{path} did not give good answers ({} errors)", check.errors).into());
    }
    load(addr, path, requests, clients, seconds)
}

impl WrkLoad {
    /// Throughput under wrk, or `None` when wrk is not installed.
    fn run(&self, addr: &str, path: &str, clients: usize, seconds: u64) -> BenchResult<Option<Load>> {
        let Some(script) = &self.script else { return Ok(None) };
        let mut cmd = Command::new("wrk");
        cmd.args(["-t", "2", "-c", &clients.to_string(), "-d", &format!("{seconds}s"), "-s", script.to_str().unwrap(), &format!("http://{addr}{path}"), "--"]);
        cmd.args(&self.bodies);
        let out = String::from_utf8(cmd.output()?.stdout)?;
        let rate = out.lines().find_map(|l| l.strip_prefix("Requests/sec:")).and_then(|v| v.trim().parse::<f64>().ok()).ok_or("no rate in wrk output")?;
        let errors = out.lines().filter_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:")).filter_map(|v| v.trim().parse::<u64>().ok()).sum();
        Ok(Some(Load { rate, errors, latencies: Vec::new() }))
    }
}

/// Sends the requests in rotation over `clients` keep-alive connections for `seconds`, all driven by one
/// single-threaded async runtime so that the load generator takes as little CPU as it can from the
/// server it shares the machine with. A connection the server closes is reopened. An answer counts when
/// it is an HTTP 200 that `requests.good` accepts.
fn load(addr: &str, path: &str, requests: &Arc<Requests>, clients: usize, seconds: u64) -> BenchResult<Load> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let errors = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let (addr, path, requests, errors, latencies, stop) =
                    (addr.to_owned(), path.to_owned(), requests.clone(), errors.clone(), latencies.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut conn: Option<tokio::io::BufReader<tokio::net::TcpStream>> = None;
                    let mut mine = Vec::new();
                    let mut i = c;
                    while !stop.load(Ordering::Relaxed) {
                        let body = &requests.bodies[i % requests.bodies.len()];
                        i += 1;
                        if conn.is_none() {
                            conn = connect(&addr).await;
                        }
                        let Some(c) = conn.as_mut() else {
                            errors.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            continue;
                        };
                        let sent = Instant::now();
                        match exchange(c, &addr, &path, &requests.headers, body).await {
                            Ok((ok_status, resp, keep)) => {
                                if ok_status && (requests.good)(&resp) {
                                    mine.push(sent.elapsed());
                                } else {
                                    errors.fetch_add(1, Ordering::Relaxed);
                                }
                                if !keep {
                                    conn = None;
                                }
                            }
                            Err(_) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                                conn = None;
                            }
                        }
                    }
                    latencies.lock().expect("latencies").extend(mine);
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut latencies = std::mem::take(&mut *latencies.lock().map_err(|_| "latencies")?);
    latencies.sort();
    Ok(Load { rate: latencies.len() as f64 / elapsed, errors: errors.load(Ordering::Relaxed), latencies })
}

/// A keep-alive client connection (Nagle off), or `None` when the server does not answer.
pub(crate) async fn connect(addr: &str) -> Option<tokio::io::BufReader<tokio::net::TcpStream>> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let _ = stream.set_nodelay(true);
    Some(tokio::io::BufReader::new(stream))
}

/// One POST on a keep-alive connection; returns (status 200, response body, connection reusable).
pub(crate) async fn exchange(
    conn: &mut tokio::io::BufReader<tokio::net::TcpStream>,
    addr: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> std::io::Result<(bool, Vec<u8>, bool)> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(body);
    conn.get_mut().write_all(&request).await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let ok_status = line.split_whitespace().nth(1) == Some("200");
    let (mut length, mut keep) = (None, line.starts_with("HTTP/1.1"));
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        } else if lower.starts_with("connection:") {
            keep = lower.contains("keep-alive") || (keep && !lower.contains("close"));
        }
    }
    let mut resp = Vec::new();
    match length {
        Some(n) => {
            resp.resize(n, 0);
            conn.read_exact(&mut resp).await?;
        }
        None => {
            conn.read_to_end(&mut resp).await?;
            keep = false;
        }
    }
    Ok((ok_status, resp, keep))
}

// ----------------------------------------------------------------------------------------------- CRL

/// Fills the sandbox database under `data` with `n` revoked signature certificates.
async fn fill_revoked(data: &Path, n: u64) -> BenchResult<Duration> {
    let (issuer, _) = Issuer::init(Database::open(&Database::sqlite_url(&data.join("jpki.sqlite3"))).await?).await?;
    let info = FourInfo::new("試験　太郎", "東京都千代田区", BirthDate::parse_iso("1980-01-01")?, Sex::Male)?;
    let person = issuer.add_person(info, None).await?;
    let now = jpki_issuer::now().unix_timestamp();
    let card = jpki_store::new_id("card");
    sqlx::query("INSERT INTO card (id, person_id, device, status, issued_at, expires_at) VALUES ($1, $2, 'card', 'active', $3, $4)")
        .bind(&card)
        .bind(&person.id)
        .bind(now)
        .bind(now + 86_400 * 3650)
        .execute(issuer.db().pool())
        .await?;
    let start = Instant::now();
    // 0x40… keeps every serial 8 bytes long and positive, like the issuer's own.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO certificate (serial, ca_role, person_id, card_id, not_before, not_after, der, revoked_at, revocation_reason, invalidity_date, crl_point)
         SELECT printf('%016x', i + 4611686018427387904), 'signature', $2, $3, $4, $5, X'', $4, 3 + (i % 4), $4, $6 FROM n",
    )
    .bind(n as i64)
    .bind(&person.id)
    .bind(&card)
    .bind(now)
    .bind(now + 86_400 * 1800)
    .bind(der::Encode::to_der(issuer.ca(KeyRole::Signature).name())?)
    .execute(issuer.db().pool())
    .await?;
    issuer.db().close().await;
    Ok(start.elapsed())
}

/// Publishes the signature CRL of the sandbox in `data` in a child process; returns (time, peak RSS in
/// kB, entries, bytes).
fn publish_in_child(data: &Path) -> BenchResult<(Duration, u64, u64, u64)> {
    let start = Instant::now();
    let out = Command::new(std::env::current_exe()?).args(["crl-publish-child", data.to_str().unwrap()]).output()?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        return Err(format!("CRL publication failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let text = String::from_utf8(out.stdout)?;
    let field = |k: &str| text.split_whitespace().find_map(|w| w.strip_prefix(k)).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok((elapsed, field("rss_kb="), field("entries="), field("bytes=")))
}

fn crl_publish_child(data: &Path) -> BenchResult {
    let summary = runtime().block_on(async {
        let issuer = Issuer::open(Database::open(&Database::sqlite_url(&data.join("jpki.sqlite3"))).await?).await?;
        Ok::<_, Box<dyn std::error::Error>>(issuer.publish_crl(KeyRole::Signature, &data.join("crl")).await?)
    })?;
    let (entries, bytes) = summary.iter().fold((0, 0), |(e, b), s| (e + s.entries, b + s.bytes));
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().trim_end_matches("kB").trim().to_owned()).unwrap_or_default();
    println!("rss_kb={hwm} entries={entries} bytes={bytes}");
    Ok(())
}

fn crl(entries: u64, baseline: u64) -> BenchResult {
    let rt = runtime();
    // Baseline: the same entries through `openssl ca -gencrl` and through openjpki.
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    rt.block_on(fill_revoked(&data, baseline))?;
    let (ours, _, n, _) = publish_in_child(&data)?;
    let (ca_pem, key_pem) = rt.block_on(async {
        let issuer = Issuer::open(Database::open(&Database::sqlite_url(&data.join("jpki.sqlite3"))).await?).await?;
        let ca = issuer.ca(KeyRole::Signature);
        Ok::<_, Box<dyn std::error::Error>>((ca.certificate_pem(), ca.key.pkcs8_pem()))
    })?;
    let ssl = dir.path().join("openssl");
    openssl_ca(&ssl, &ca_pem, &key_pem)?;
    {
        let now = openssl_time(time::OffsetDateTime::now_utc());
        let exp = openssl_time(time::OffsetDateTime::now_utc() + time::Duration::days(1800));
        let reasons = ["affiliationChanged", "superseded", "cessationOfOperation", "certificateHold"];
        let mut w = std::io::BufWriter::new(std::fs::File::create(ssl.join("index.txt"))?);
        for i in 1..=baseline {
            writeln!(w, "R\t{exp}\t{now},{}\t{:016X}\tunknown\t/CN=x", reasons[(i % 4) as usize], i + 4611686018427387904)?;
        }
    }
    let start = Instant::now();
    let status = Command::new("openssl").current_dir(&ssl).args(["ca", "-config", "ca.cnf", "-gencrl", "-out", "base.crl"]).stderr(Stdio::null()).status()?;
    let base = start.elapsed();
    if !status.success() {
        return Err("openssl ca -gencrl failed".into());
    }
    println!(
        "CRL baseline, {n} entries: openssl ca -gencrl {:.2} s, openjpki {:.2} s, ratio {:.1}x",
        base.as_secs_f64(),
        ours.as_secs_f64(),
        base.as_secs_f64() / ours.as_secs_f64()
    );
    drop(dir);

    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    let fill = rt.block_on(fill_revoked(&data, entries))?;
    let (took, rss_kb, n, bytes) = publish_in_child(&data)?;
    println!(
        "CRL, {n} entries ({} MB): generated in {:.1} s, peak RSS {:.1} MB (goal <= 256 MB); database filled in {:.1} s",
        bytes / 1_000_000,
        took.as_secs_f64(),
        rss_kb as f64 / 1024.0,
        fill.as_secs_f64()
    );
    Ok(())
}
