//! Test harness: runs the real `jpki` binary against a fresh data directory and database, and
//! `openssl` as the independent oracle.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};

use base64::Engine;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const JPKI: &str = env!("CARGO_BIN_EXE_jpki");
/// The admin token every test server is started with.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// Every database the tests run against: SQLite always, PostgreSQL when `JPKI_TEST_POSTGRES_URL` is
/// set (each run gets a fresh database).
pub fn database_urls(dir: &Path) -> Vec<String> {
    tokio::runtime::Runtime::new().unwrap().block_on(jpki_store::testing::database_urls(dir))
}

/// `openssl` on PATH, or `None` after saying the test is skipped.
pub fn openssl_available(test: &str) -> bool {
    let ok = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but openssl is not installed");
        }
        jpki_store::testing::skipped(&format!("{test} (openssl is not installed)"));
    }
    ok
}

/// Runs `run` on a fresh sandbox for every configured database, when openssl (the oracle) is installed.
pub fn on_every_database(test: &str, run: impl Fn(&Sandbox)) {
    if !openssl_available(test) {
        return;
    }
    for sb in Sandbox::all() {
        run(&sb);
    }
}

/// `openssl cms -sign` of `input` with the signature key and certificate in the card directory `card`.
pub fn openssl_cms_sign(card: &Path, input: &Path, out: &Path, extra: &[&str]) {
    let (cert, key) = (card.join("sign-cert.pem"), card.join("sign-key.pem"));
    let mut args = vec!["cms", "-sign", "-binary", "-md", "sha256", "-in", input.to_str().unwrap(), "-signer", cert.to_str().unwrap()];
    args.extend_from_slice(&["-inkey", key.to_str().unwrap(), "-outform", "DER", "-out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    openssl(&args);
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub db_url: String,
}

/// The arguments of `jpki sandbox phone issue` for the card in `card` (issued by [`Sandbox::issue_card`])
/// into `out`, proving the card with the authentication PIN `auth_pin`.
#[rustfmt::skip]
pub fn phone_issue<'a>(card: &'a str, out: &'a str, auth_pin: &'a str) -> [&'a str; 15] {
    ["sandbox", "phone", "issue", "--card", card, "--out", out, "--auth-pin", auth_pin, "--input-pin", "5678", "--phone-sign-pin", "PHONE123", "--phone-auth-pin", "4321"]
}

/// The arguments of `jpki sign` making an attached CMS of `input` into `output` with the signature
/// key of the card in `card` (issued by [`Sandbox::issue_card`]).
pub fn sign_attached<'a>(card: &'a str, input: &'a str, output: &'a str) -> [&'a str; 10] {
    ["sign", "--card", card, "--in", input, "--out", output, "--pin", "ABC123", "--attached"]
}

/// The CRLs of one publication.
pub struct PublishedCrls {
    pub auth: PathBuf,
    /// (distribution point, file) of each of the signature CA's CRLs.
    pub sign: Vec<(String, PathBuf)>,
}

impl PublishedCrls {
    /// The signature CRL of a municipality: its distribution point is
    /// `…, OU=CRL Distribution Points, OU=<prefecture>, CN=<city>` (written here as RFC 4514 does, last first).
    pub fn sign_for(&self, prefecture: &str, city: &str) -> &Path {
        let head = format!("CN={city},OU={prefecture},OU=CRL Distribution Points,");
        let found = self.sign.iter().find(|(point, _)| point.starts_with(&head));
        &found.unwrap_or_else(|| panic!("no CRL for {head} in {:?}", self.sign)).1
    }
}

impl Sandbox {
    /// A sandbox for each configured database.
    pub fn all() -> Vec<Sandbox> {
        let scratch = tempfile::tempdir().unwrap();
        database_urls(scratch.path())
            .into_iter()
            .map(|url| {
                let dir = tempfile::tempdir().unwrap();
                let db_url = if url.starts_with("sqlite:") { jpki_store::Database::sqlite_url(&dir.path().join("data/jpki.sqlite3")) } else { url };
                std::fs::create_dir_all(dir.path().join("data")).unwrap();
                Sandbox { dir, db_url }
            })
            .collect()
    }

    pub fn label(&self) -> &'static str {
        if self.db_url.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn data(&self) -> PathBuf {
        self.path("data")
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(JPKI);
        c.arg("--data-dir").arg(self.data()).arg("--database-url").arg(&self.db_url).current_dir(self.dir.path());
        c.env_remove("JPKI_DATA_DIR").env_remove("DATABASE_URL").stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "jpki {args:?} failed on {}: {}", self.label(), String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs and expects failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "jpki {args:?} should have failed on {}", self.label());
        String::from_utf8(out.stderr).unwrap()
    }

    /// Runs `jpki sandbox crl publish`: the authentication CA's CRL and the signature CA's, one per
    /// distribution point.
    pub fn publish_crls(&self) -> PublishedCrls {
        let published = self.json(&["sandbox", "crl", "publish"]);
        let mut crls = PublishedCrls { auth: PathBuf::new(), sign: Vec::new() };
        for crl in published.as_array().unwrap() {
            let path = self.dir.path().join(crl["path"].as_str().unwrap());
            match crl["scope"].as_str() {
                None => crls.auth = path,
                Some(point) => crls.sign.push((point.to_owned(), path)),
            }
        }
        assert!(crls.auth.is_file() && !crls.sign.is_empty(), "{published}");
        crls
    }

    pub fn add_person(&self, name: &str, birth: &str) -> String {
        let v =
            self.json(&["sandbox", "person", "add", "--name", name, "--address", "東京都千代田区霞が関２－１－２", "--birth-date", birth, "--sex", "female"]);
        v["id"].as_str().unwrap().to_owned()
    }

    /// Issues a card into `dir`; returns (signature serial, authentication serial) — the former `None`
    /// for holders under 15.
    pub fn issue_card(&self, person: &str, dir: &str) -> (Option<String>, String) {
        let v = self.json(&["sandbox", "card", "issue", "--person", person, "--out", dir, "--sign-pin", "ABC123", "--auth-pin", "1234", "--input-pin", "5678"]);
        let serial = |role: &str| v["certificates"].as_array().unwrap().iter().find(|c| c["role"] == role).map(|c| c["serial"].as_str().unwrap().to_owned());
        (serial("signature"), serial("authentication").unwrap())
    }

    pub fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    /// `jpki serve --sandbox` with more arguments; the address it printed (http or https).
    pub fn serve_with(&self, extra: &[&str]) -> Server {
        self.start_server(extra, Stdio::inherit())
    }

    /// [`Sandbox::serve_with`], its log (standard error) written to `log`.
    pub fn serve_logging(&self, extra: &[&str], log: &Path) -> Server {
        self.start_server(extra, std::fs::File::create(log).unwrap().into())
    }

    fn start_server(&self, extra: &[&str], stderr: Stdio) -> Server {
        let mut child = self
            .command()
            .args(["serve", "--sandbox", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .env("JPKI_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        let line = line.trim();
        let addr = line
            .strip_prefix("listening on http://")
            .or_else(|| line.strip_prefix("listening on https://"))
            .unwrap_or_else(|| panic!("unexpected serve output {line:?}"))
            .to_owned();
        Server { child, addr }
    }
}

pub struct Server {
    child: Child,
    pub addr: String,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server process's resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap()
    }

    /// Up to `n` connections, each holding a request head that never ends (a slow or hostile client).
    pub fn partial_requests(&self, n: usize) -> Vec<TcpStream> {
        (0..n)
            .filter_map(|_| {
                let mut s = TcpStream::connect(&self.addr).ok()?;
                s.write_all(b"GET /v1/usage HTTP/1.1\r\nHost: x\r\nX-Padding: ").ok()?;
                Some(s)
            })
            .collect()
    }

    /// The resident memory once it is at most `limit_kib`, or as it is after `within`.
    pub fn rss_kib_settled(&self, limit_kib: u64, within: std::time::Duration) -> u64 {
        let deadline = std::time::Instant::now() + within;
        let mut rss = self.rss_kib();
        while rss > limit_kib && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
            rss = self.rss_kib();
        }
        rss
    }

    /// Polls `/metrics` until `name` satisfies `until`, for at most 60 s; its last value.
    pub fn wait_for_metric(&self, name: &str, until: impl Fn(f64) -> bool) -> f64 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let value = self.metric(name);
            if until(value) || std::time::Instant::now() >= deadline {
                return value;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Waits (at most 60 s) until only `n` connections are open besides the one asking.
    pub fn wait_for_open_connections(&self, n: f64) {
        let open = self.wait_for_metric("jpki_platform_http_connections_open", |open| open <= n + 1.0);
        assert!(open <= n + 1.0, "connections stayed open: {open}");
    }

    /// A metric's value from `/metrics`.
    pub fn metric(&self, name: &str) -> f64 {
        let (_, body) = self.request("GET", "/metrics", &[], b"");
        let text = String::from_utf8(body).unwrap();
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or_else(|| panic!("no {name} in {text}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A plain HTTP/1.1 request; returns status and body.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
        let (status, _, body) = self.exchange(method, path, headers, body);
        (status, body)
    }

    /// [`Server::request`], with the response's header fields (names lower-cased).
    pub fn exchange(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n", self.addr, body.len());
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut resp = Vec::new();
        // No test waits for ever: a server that does not answer within a minute fails the test here.
        s.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
        s.read_to_end(&mut resp).unwrap_or_else(|e| panic!("{method} {path}: no answer within 60 s ({e})"));
        let split = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP response head");
        let head = String::from_utf8_lossy(&resp[..split]).to_string();
        let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut body = resp[split + 4..].to_vec();
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        let fields = head.lines().skip(1).filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())).collect();
        (status, fields, body)
    }

    /// A GET with an optional bearer token; the body as JSON (or Null).
    pub fn get_json(&self, path: &str, bearer: Option<&str>) -> (u16, serde_json::Value) {
        let auth = bearer.map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("Authorization", a)]).unwrap_or_default();
        let (status, body) = self.request("GET", path, &headers, b"");
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    pub fn post_json(&self, path: &str, bearer: Option<&str>, body: &str) -> (u16, serde_json::Value) {
        let auth = bearer.map(|k| format!("Bearer {k}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let (status, body) = self.request("POST", path, &headers, body.as_bytes());
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

impl Server {
    /// SIGTERM, as a service manager stops it; how the server exited (after at most 30 s).
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-s", "TERM", &pid]).status().unwrap().success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "the server did not stop within 30 s of SIGTERM");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// `kill -9`: no chance to flush or finish anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "openssl {args:?} failed: {text}");
    text
}

/// `openssl ocsp` for one certificate (or serial) against the running responder.
pub fn ocsp(server: &Server, issuer: &Path, target: &[&str], nonce: bool) -> String {
    let issuer = issuer.to_str().unwrap();
    let url = server.url("/issuer/ocsp");
    let mut args = vec!["ocsp", "-issuer", issuer, "-CAfile", issuer, "-url", url.as_str()];
    args.extend_from_slice(target);
    if !nonce {
        args.push("-no_nonce");
    }
    openssl(&args)
}

/// Standard base64, as the API's binary fields take it.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn der_file(pem_path: &std::path::Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(pem_path).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

/// Asks `server` for a challenge and answers it with the card: (challenge id, auth signature, sign proof).
pub fn answer(sb: &Sandbox, server: &Server, key: &str, card: &str) -> (String, String, String) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (status, c) = server.post_json("/v1/auth/challenges", Some(key), "");
    assert_eq!(status, 201, "{c}");
    let challenge = b64.decode(c["challenge"].as_str().unwrap()).unwrap();
    assert_eq!(challenge.len(), 32, "256-bit challenges");
    let file = sb.path("challenge.bin");
    std::fs::write(&file, &challenge).unwrap();
    let (sig, proof) = (sb.path("challenge.sig"), sb.path("challenge.p7s"));
    let card_dir = sb.path(card);
    sb.ok(&[
        "card",
        "sign",
        "--card",
        card_dir.to_str().unwrap(),
        "--which",
        "auth",
        "--in",
        file.to_str().unwrap(),
        "--out",
        sig.to_str().unwrap(),
        "--pin",
        "1234",
    ]);
    sb.ok(&sign_attached(card_dir.to_str().unwrap(), file.to_str().unwrap(), proof.to_str().unwrap()));
    (c["challenge_id"].as_str().unwrap().to_owned(), b64.encode(std::fs::read(sig).unwrap()), b64.encode(std::fs::read(proof).unwrap()))
}

/// The sandbox issuer's own tables (the simulated J-LIS's registry and keys), left out of
/// [`Sandbox::platform_rows`]: the platform's deletions do not reach the issuer's records.
pub const ISSUER_TABLES: [&str; 12] = [
    "issuer_ca", "issuer_state", "person", "card", "certificate", "life_event", "operator", "consent", "provision_count", "issuer_key", "issuer_mdoc_key",
    "mdoc_record",
];

impl Sandbox {
    /// Every row of the platform's tables as text (`table: values`), read from the database itself:
    /// what a search for a person's data must not find after its deletion. Binary values are hex.
    pub fn platform_rows(&self) -> Vec<String> {
        use jpki_store::sqlx;
        let url = self.db_url.clone();
        tokio::runtime::Runtime::new().unwrap().block_on(async move {
            let db = jpki_store::Database::open(&url).await.unwrap();
            let sqlite = url.starts_with("sqlite:");
            let tables: Vec<(String,)> = if sqlite {
                sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(db.pool()).await.unwrap()
            } else {
                sqlx::query_as("SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = 'public'")
                    .fetch_all(db.pool())
                    .await
                    .unwrap()
            };
            let mut rows = Vec::new();
            for (table,) in tables.into_iter().filter(|(t,)| !ISSUER_TABLES.contains(&t.as_str())) {
                let query = if sqlite {
                    let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info($1)").bind(&table).fetch_all(db.pool()).await.unwrap();
                    let values: Vec<String> = columns.iter().map(|(c,)| format!("COALESCE(quote(\"{c}\"), '')")).collect();
                    format!("SELECT {} FROM \"{table}\"", values.join(" || '|' || "))
                } else {
                    format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t")
                };
                let found: Vec<(String,)> = sqlx::query_as(&query).fetch_all(db.pool()).await.unwrap();
                rows.extend(found.into_iter().map(|(r,)| format!("{table}: {r}")));
            }
            db.close().await;
            rows
        })
    }
}

/// Text that stands for certificate `der` wherever it is stored: a stretch of its signature in hex,
/// and in base64 at each of the three alignments it can have inside a longer base64 value.
pub fn certificate_traces(der: &[u8]) -> Vec<String> {
    let tail = &der[der.len() - 48..der.len() - 8];
    let mut traces = vec![hex::encode(tail)];
    for k in 0..3 {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&der[k..]);
        traces.push(encoded[encoded.len() - 60..encoded.len() - 8].to_owned());
    }
    traces
}
