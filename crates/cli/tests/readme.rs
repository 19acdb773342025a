//! README.md runs as written: every `sh` block but those run in this checkout (of `cargo …` and
//! `./scripts/…` commands only: the first, which builds the server and runs this very test suite, and the
//! benchmarks) is run in order, as one bash script with `set -euo pipefail`, in an empty directory,
//! with the `jpki` under test first on PATH. A command whose comment starts with `→` must print the text
//! after the arrow. Needs what the README names (openssl, curl, jq, pcscd with vsmartcard's vpcd reader,
//! OpenSC), root for pcscd, no pcscd already running and port 8080 free; skipped (and said so) without
//! them, required under CI=true.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const JPKI: &str = env!("CARGO_BIN_EXE_jpki");

/// One command of the README, as a shell would read it (continuation lines joined).
#[derive(Debug, PartialEq)]
struct Step {
    /// README.md's line where the command starts.
    line: usize,
    command: String,
    /// What its output must contain (`# → …`).
    expect: Option<String>,
}

/// The index of a comment's `#` in a shell line: one outside quotes, at the start or after white space.
fn comment_start(line: &str) -> Option<usize> {
    let (mut single, mut double, mut previous) = (false, false, ' ');
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single && previous != '\\' => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return Some(i),
            _ => {}
        }
        previous = c;
    }
    None
}

/// Whether a block's steps are all run in this checkout rather than in an empty directory.
fn in_checkout(block: &[Step]) -> bool {
    block.iter().all(|s| s.command.starts_with("cargo ") || s.command.starts_with("./scripts/"))
}

/// The steps of every `sh` block of `readme` but those [`in_checkout`].
fn steps(readme: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut block: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut pending: Option<Step> = None;
    for (i, raw) in readme.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.starts_with("```") {
            if in_block && !in_checkout(&block) {
                steps.append(&mut block);
            }
            block.clear();
            in_block = !in_block && trimmed == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let (code, comment) = match comment_start(raw) {
            Some(at) => (&raw[..at], Some(raw[at + 1..].trim())),
            None => (raw, None),
        };
        let code = code.trim_end();
        let expect = comment.and_then(|c| c.strip_prefix('→')).map(|e| e.trim().to_owned());
        let step = pending.get_or_insert(Step { line: i + 1, command: String::new(), expect: None });
        if code.trim().is_empty() && step.command.is_empty() {
            pending = None;
            continue;
        }
        step.expect = expect.or(step.expect.take());
        match code.trim_start().strip_suffix('\\') {
            Some(part) => {
                step.command.push_str(part.trim_end());
                step.command.push_str(" \\\n");
            }
            None => {
                step.command.push_str(code.trim_start());
                block.extend(pending.take());
            }
        }
    }
    steps
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The bash script that runs `steps`, printing each before it runs and checking the marked outputs.
fn script(steps: &[Step]) -> String {
    let mut script = String::from(
        "set -euo pipefail\n\
         exec 2>&1\n\
         trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n\
         expect() { case \"$1\" in *\"$2\"*) ;; *) printf 'README.md line %s: the output does not contain %s\\n' \"$3\" \"$2\" >&2; exit 1;; esac; }\n",
    );
    for step in steps {
        script.push_str(&format!("printf '\\n%s\\n' {} >&2\n", quoted(&format!("README.md:{}: {}", step.line, step.command))));
        match &step.expect {
            Some(text) => script.push_str(&format!("out=$({})\nprintf '%s\\n' \"$out\"\nexpect \"$out\" {} {}\n", step.command, quoted(text), step.line)),
            None => script.push_str(&format!("{}\n", step.command)),
        }
    }
    script
}

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

fn running(program: &str) -> bool {
    Command::new("pgrep").args(["-x", program]).output().is_ok_and(|o| o.status.success())
}

/// Why the README cannot run here, if it cannot.
fn missing() -> Option<String> {
    let absent: Vec<&str> = ["bash", "openssl", "curl", "jq", "pcscd", "pkcs15-tool", "pkcs11-tool", "pgrep"].into_iter().filter(|p| !have(p)).collect();
    if !absent.is_empty() {
        return Some(format!("missing {absent:?}"));
    }
    if !Path::new("/etc/reader.conf.d/vpcd").exists() {
        return Some("vsmartcard-vpcd is not installed".into());
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root {
        return Some("pcscd needs root".into());
    }
    if running("pcscd") {
        return Some("a pcscd is already running, whose readers the README's would not be".into());
    }
    if std::net::TcpListener::bind("127.0.0.1:8080").is_err() {
        return Some("port 8080, where the README's server listens, is taken".into());
    }
    None
}

#[test]
fn the_readme_runs_as_written() {
    if let Some(why) = missing() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but the README cannot run: {why}");
        jpki_store::testing::skipped(&format!("README test ({why})"));
        return;
    }
    // No pcscd runs (checked above), but one killed earlier (the PC/SC test kills its own) may have left
    // its pid file. If that pid now belongs to another process, the README's pcscd takes it for a
    // running pcscd and exits at once, and no reader ever appears.
    for stale in ["/run/pcscd/pcscd.pid", "/run/pcscd/pcscd.comm"] {
        let _ = std::fs::remove_file(stale);
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let steps = steps(&readme);
    assert!(steps.len() > 40, "the README's commands were not found: {steps:?}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readme.sh"), script(&steps)).unwrap();
    let bin = Path::new(JPKI).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut child = Command::new("bash")
        .arg("readme.sh")
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("JPKI_DATA_DIR")
        .env_remove("DATABASE_URL")
        .env_remove("JPKI_SANDBOX_URL")
        .env_remove("JPKI_OCSP_URL")
        .env_remove("JPKI_ADMIN_TOKEN")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let output = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    // The README takes well under a minute; a command that waits for ever fails the test after five.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-KILL", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let failed = !status.is_some_and(|s| s.success());
    let pcscd = if failed { pcscd_state(&dir.path().join("pcscd.log")) } else { String::new() };
    // The README started pcscd, which outlives the script.
    let _ = Command::new("pkill").args(["-x", "pcscd"]).status();
    let output = output.join().unwrap();
    match status {
        Some(s) if s.success() => println!("{output}"),
        Some(s) => panic!("the README failed ({s}):\n{output}\n{pcscd}"),
        None => panic!("the README did not finish within five minutes:\n{output}\n{pcscd}"),
    }
}

/// What a failed run left of pcscd (its processes and the log the README's pcscd wrote) and the vpcd
/// reader's port (35963), for a failure that depends on them.
fn pcscd_state(log: &Path) -> String {
    let processes = Command::new("pgrep").args(["-a", "pcscd"]).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let run = std::fs::read_dir("/run/pcscd").map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>());
    // /proc/net/tcp and tcp6 name ports in hex: 35963 is 8C7B.
    let sockets: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| t.lines().filter(|l| l.contains(":8C7B ")).map(|l| l.trim().to_owned()).collect::<Vec<_>>())
        .collect();
    let log = std::fs::read_to_string(log).unwrap_or_else(|e| format!("({e})"));
    format!("pcscd processes: {processes:?}\n/run/pcscd: {run:?}\nsockets on port 35963: {sockets:?}\npcscd's log:\n{log}")
}

#[test]
fn commands_are_read_as_a_shell_reads_them() {
    let readme =
        "```sh\ncargo run\n./scripts/test\n```\n\n```sh\na 'x # y' \"#z\"  # → it said \"so\"\nb \\\n   --c d    # not checked\n\n# only a comment\ne#f\n```\n";
    assert_eq!(
        steps(readme),
        [
            Step { line: 7, command: "a 'x # y' \"#z\"".into(), expect: Some("it said \"so\"".into()) },
            Step { line: 8, command: "b \\\n--c d".into(), expect: None },
            Step { line: 12, command: "e#f".into(), expect: None },
        ]
    );
}
