//! `jpki app`: the companion app, what the smartphone app is to the Digital Authentication App. It
//! takes the authorization page's QR payload, shows who asks for what, unlocks the card's (or the
//! phone's) keys with the PINs, signs the transaction's challenge (and the document, to sign) and
//! sends the answer; the page, polling, takes the browser on to the service.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use clap::{Args, Subcommand};
use jpki_profile::KeyRole;
use serde::Deserialize;
use serde_json::json;

use crate::card::{pin_or_prompt, CardSource};
use crate::context::{CliError, CliResult, Context};

#[derive(Subcommand)]
pub enum AppCommand {
    /// Answer an authorization page's QR code: show the request, then approve or decline it.
    Approve(ApproveArgs),
}

#[derive(Args)]
pub struct ApproveArgs {
    /// The QR code's payload (the text under it on the page).
    payload: String,
    #[command(flatten)]
    source: CardSource,
    /// Approve without asking (a script's answer).
    #[arg(long, conflicts_with = "decline")]
    approve: bool,
    /// Decline without asking: the service is told access_denied.
    #[arg(long)]
    decline: bool,
    /// The user authentication PIN (4 digits); asked for without echo when not given.
    #[arg(long)]
    pin: Option<String>,
    /// The signature password, for the 4 info and for signing; asked for without echo when needed and not given.
    #[arg(long)]
    sign_pin: Option<String>,
}

/// What the provider says is asked.
#[derive(Deserialize)]
struct Asked {
    client_name: String,
    scopes: String,
    challenge: String,
    needs_signature_key: bool,
    sign: Option<ToSign>,
    expires_at: String,
}

#[derive(Deserialize)]
struct ToSign {
    purpose: String,
    digest_info: String,
}

/// The payload's endpoint, transaction and key: `<endpoint>#transaction=…&key=…`.
fn parse_payload(payload: &str) -> CliResult<(String, String, String)> {
    let bad = |why: &str| CliError::Usage(format!("the QR payload {why}: give the text shown under the authorization page's QR code"));
    let (endpoint, fragment) = payload.trim().split_once('#').ok_or_else(|| bad("has no #transaction=…&key=…"))?;
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
        return Err(bad("is not an http(s) URL"));
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(fragment).map_err(|_| bad("is not form-encoded after #"))?;
    let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).ok_or_else(|| bad(&format!("names no {name}")));
    Ok((endpoint.to_owned(), get("transaction")?, get("key")?))
}

/// The provider's connection: bounded in time, errors read from its JSON.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(60))).http_status_as_error(false).max_redirects(0).build().new_agent()
}

fn post(agent: &ureq::Agent, url: &str, body: &serde_json::Value) -> CliResult<serde_json::Value> {
    let mut response = agent.post(url).send_json(body).map_err(|e| CliError::Usage(format!("cannot reach {url}: {e}")))?;
    let status = response.status();
    let value: serde_json::Value = response.body_mut().read_json().map_err(|e| CliError::Usage(format!("{url} answered {status} without JSON: {e}")))?;
    if !status.is_success() {
        let message = value["error"]["message"].as_str().or(value["error_description"].as_str()).unwrap_or("no reason given");
        return Err(CliError::Usage(format!("the provider refused ({status}): {message}")));
    }
    Ok(value)
}

fn describe(asked: &Asked) -> String {
    let mut lines = vec![format!("{} asks for: {}", asked.client_name, asked.scopes)];
    if let Some(sign) = &asked.sign {
        lines.push(format!("to sign: {}", sign.purpose));
    }
    lines.push(format!("until {}", asked.expires_at));
    lines.join("\n")
}

fn confirm() -> CliResult<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage("no terminal to ask on: pass --approve or --decline".into()));
    }
    eprint!("approve? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::Usage(format!("reading the answer: {e}")))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub fn run(ctx: &Context, command: AppCommand) -> CliResult {
    let AppCommand::Approve(args) = command;
    let (endpoint, transaction, key) = parse_payload(&args.payload)?;
    let agent = agent();
    let asked: Asked = serde_json::from_value(post(&agent, &format!("{endpoint}/transaction"), &json!({ "transaction": transaction, "key": key }))?)
        .map_err(|e| CliError::Usage(format!("the provider's description of the request is unreadable: {e}")))?;
    eprintln!("{}", describe(&asked));
    let approve = if args.approve {
        true
    } else if args.decline {
        false
    } else {
        confirm()?
    };
    let answer_url = format!("{endpoint}/answer");
    if !approve {
        post(&agent, &answer_url, &json!({ "transaction": transaction, "key": key, "decision": "decline" }))?;
        crate::output::emit(ctx, &json!({ "result": "declined" }), || "declined: the service is told access_denied".into());
        return Ok(());
    }
    let challenge = URL_SAFE_NO_PAD.decode(&asked.challenge).map_err(|_| CliError::Usage("the provider's challenge is not base64url".into()))?;
    let challenge_info = jpki_crypto::sha256_digest_info(&challenge);
    let pin = pin_or_prompt(args.pin, "user authentication PIN")?;
    let mut card = args.source.open()?;
    let authentication_certificate = card.read_certificate(KeyRole::Authentication, None)?;
    let authentication_signature = card.sign(KeyRole::Authentication, &pin, &challenge_info)?;
    let mut answer = json!({
        "transaction": transaction,
        "key": key,
        "decision": "approve",
        "authentication_certificate": STANDARD.encode(&authentication_certificate),
        "authentication_signature": STANDARD.encode(&authentication_signature),
    });
    if asked.needs_signature_key {
        let sign_pin = pin_or_prompt(args.sign_pin, "signature password")?;
        let to_sign = match &asked.sign {
            Some(sign) => STANDARD.decode(&sign.digest_info).map_err(|_| CliError::Usage("the provider's DigestInfo is not base64".into()))?,
            None => challenge_info,
        };
        let certificate = card.read_certificate(KeyRole::Signature, Some(&sign_pin))?;
        let signature = card.sign(KeyRole::Signature, &sign_pin, &to_sign)?;
        answer["signature_certificate"] = STANDARD.encode(&certificate).into();
        answer["signature"] = STANDARD.encode(&signature).into();
    }
    post(&agent, &answer_url, &answer)?;
    crate::output::emit(ctx, &json!({ "result": "approved" }), || "approved: the browser continues to the service".into());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_payload;

    #[test]
    fn payloads_are_read_or_refused_by_name() {
        let (endpoint, transaction, key) =
            parse_payload("http://127.0.0.1:8080/api/realms/main/protocol/openid-connect/app#transaction=authz_1&key=k-_1").unwrap();
        assert_eq!(
            (endpoint.as_str(), transaction.as_str(), key.as_str()),
            ("http://127.0.0.1:8080/api/realms/main/protocol/openid-connect/app", "authz_1", "k-_1")
        );
        for (payload, why) in [
            ("", "no #"),
            ("http://x/app", "no #"),
            ("ftp://x/app#transaction=a&key=b", "not an http"),
            ("http://x/app#key=b", "no transaction"),
            ("http://x/app#transaction=a", "no key"),
        ] {
            let err = parse_payload(payload).unwrap_err().to_string();
            assert!(err.contains(why), "{payload:?}: {err}");
        }
    }
}
