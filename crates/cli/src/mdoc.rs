//! `jpki sandbox phone issue`, `jpki sandbox reader issue`, `jpki wallet present`, `jpki mdoc request`
//! and `jpki mdoc verify`: the smartphone's record from issuance to verification.

use std::io::IsTerminal;
use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::{Args, Subcommand};
use jpki_card::card_dir::Photo;
use jpki_card::client::{FaceCredential, InfoCredential};
use jpki_card::KeyRole;
use jpki_issuer::phone::{CardProof, PhonePins};
use jpki_mdoc::mnc;
use jpki_mdoc::transcript::SessionTranscript;
use jpki_mdoc::trust::Roots;
use jpki_mdoc::verify::{value_to_json, verify_response, Expectations};
use jpki_wallet::consent::{Approval, Decision, DisclosurePlan};
use jpki_wallet::openid4vp::{dcql_credential, parse_request, sign_request_object};
use jpki_wallet::Phone;
use serde_json::json;

use crate::card::{pin_or_prompt, write_file, CardSource};
use crate::context::{display, CliError, CliResult, Context};
use crate::output::emit;

fn read(path: &std::path::Path, what: &str) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| CliError::Usage(format!("cannot read {what} {}: {e}", path.display())))
}

#[derive(Args)]
pub struct PhoneIssueArgs {
    #[command(flatten)]
    source: CardSource,
    /// The new phone's directory.
    #[arg(long)]
    out: PathBuf,
    /// The card's authentication PIN (4 digits); asked for when omitted.
    #[arg(long)]
    auth_pin: Option<String>,
    /// The card's input-assistance PIN (4 digits); asked for when omitted.
    #[arg(long)]
    input_pin: Option<String>,
    /// The phone's own signature PIN (6–16 letters and digits).
    #[arg(long)]
    phone_sign_pin: String,
    /// The phone's own authentication PIN (4 digits).
    #[arg(long)]
    phone_auth_pin: String,
}

/// Checks the card (authentication signature, input-assistance data, face photo), then issues the phone.
pub async fn issue_phone(ctx: &Context, args: PhoneIssueArgs) -> CliResult {
    let issuer = ctx.issuer().await?;
    let auth_pin = pin_or_prompt(args.auth_pin, "card authentication PIN")?;
    let input_pin = pin_or_prompt(args.input_pin, "card input-assistance PIN")?;
    let mut card = args.source.open()?;
    let info = card.read_input_assistance(&InfoCredential::Pin(input_pin))?;
    let (Some(my_number), Some(four_info)) = (info.my_number, info.four_info) else {
        return Err(CliError::Usage("the card's input-assistance application did not open".into()));
    };
    let face = card.read_card_face(&FaceCredential::CodeA(my_number.clone()))?;
    let authentication_certificate = card.read_certificate(KeyRole::Authentication, None)?;
    let challenge = jpki_issuer::phone::challenge();
    let mut digest_info = jpki_crypto::SHA256_DIGEST_INFO_PREFIX.to_vec();
    digest_info.extend_from_slice(&jpki_crypto::sha256(&challenge));
    let signature = card.sign(KeyRole::Authentication, &auth_pin, &digest_info)?;
    let proof = CardProof {
        authentication_certificate,
        challenge,
        signature,
        my_number,
        four_info,
        photo: Photo::new(crate::sandbox::media_type(&face.photo), &face.photo),
    };
    let pins = PhonePins { signature: args.phone_sign_pin, authentication: args.phone_auth_pin };
    let phone = issuer.issue_phone(&proof, &pins, &args.out).await?;
    let trust = ctx.export_mdoc_trust(&issuer).await?;
    emit(ctx, &json!({ "phone": phone, "trust_anchors": trust }), || {
        let mut lines = vec![format!("phone {} issued into {}", phone.phone_id, display(&phone.directory))];
        lines.extend(phone.certificates.iter().map(|c| format!("smartphone {} certificate {} valid until {}", c.role.as_str(), c.serial, c.not_after)));
        lines.push(format!("record {} ({}) valid until {}", phone.record_id, mnc::DOC_TYPE, phone.record_valid_until));
        lines.extend(phone.notes.iter().cloned());
        lines.join("\n")
    });
    Ok(())
}

#[derive(Args)]
pub struct ReaderIssueArgs {
    /// The relying party's organization name.
    #[arg(long)]
    organization: String,
    /// The DNS name its OpenID4VP client id names (x509_san_dns:<name>).
    #[arg(long)]
    dns_name: String,
    /// Mark it as entitled under the Number Act to receive the My Number.
    #[arg(long)]
    number_act: bool,
    /// Directory for reader.pem and reader-key.p8.
    #[arg(long)]
    out: PathBuf,
}

pub async fn issue_reader(ctx: &Context, args: ReaderIssueArgs) -> CliResult {
    let issuer = ctx.issuer().await?;
    let reader = issuer.issue_reader_certificate(&args.organization, &args.dns_name, args.number_act).await?;
    std::fs::create_dir_all(&args.out).map_err(|e| CliError::Usage(format!("cannot create {}: {e}", args.out.display())))?;
    let cert = args.out.join("reader.pem");
    let key = args.out.join("reader-key.p8");
    jpki_card::card_dir::write_atomic(&cert, reader.certificate_pem().as_bytes())?;
    jpki_card::card_dir::write_atomic(&key, reader.key.pkcs8_der())?;
    emit(ctx, &json!({ "certificate": cert, "key": key, "number_act": args.number_act }), || format!("reader certificate {} and key {}", display(&cert), display(&key)));
    Ok(())
}

#[derive(Subcommand)]
pub enum WalletCommand {
    /// Answer an OpenID4VP authorization request with the phone's record, after the holder's consent.
    Present(PresentArgs),
}

#[derive(Args)]
pub struct PresentArgs {
    #[arg(long)]
    phone: PathBuf,
    /// The authorization request (JSON; a signed one carries `request`, a JWS).
    #[arg(long)]
    request: PathBuf,
    /// Where to write the response body (`vp_token` JSON).
    #[arg(long)]
    out: PathBuf,
    /// Approve without asking: every available element, or only those listed (element or namespace/element).
    #[arg(long, num_args = 0.., value_delimiter = ',')]
    approve: Option<Vec<String>>,
    /// For `dc_api` requests: the origin the browser reports.
    #[arg(long)]
    origin: Option<String>,
}

fn describe(plan: &DisclosurePlan) -> String {
    let who = if plan.requester.authenticated { "certified" } else { "NOT authenticated" };
    let mut lines = vec![format!("{} ({who}) asks for {}:", plan.requester.name, plan.doc_type)];
    for e in &plan.elements {
        let note = match &e.decision {
            Decision::Available => String::new(),
            Decision::Substitute { identifier } => format!(" (answered by {identifier})"),
            Decision::NotIssued => " (not on this phone)".into(),
        };
        let retain = if e.intent_to_retain { ", will be retained" } else { "" };
        lines.push(format!("  {}{note}{retain}", e.path()));
    }
    lines.join("\n")
}

fn ask(plan: &DisclosurePlan) -> CliResult<Approval> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!("{}\nno terminal to ask for consent: pass --approve (all) or --approve ELEMENT,…", describe(plan))));
    }
    eprintln!("{}\nDisclose? [a]ll, [n]one, or a comma-separated list of elements: ", describe(plan));
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| CliError::Usage(e.to_string()))?;
    match line.trim() {
        "a" | "all" => Ok(Approval::All),
        "" | "n" | "none" => Err(CliError::Usage("declined: nothing disclosed".into())),
        list => Ok(Approval::Only(list.split(',').map(|s| s.trim().to_owned()).collect())),
    }
}

pub fn present(ctx: &Context, args: PresentArgs) -> CliResult {
    let phone = Phone::load(&args.phone)?;
    let request = String::from_utf8(read(&args.request, "the request")?).map_err(|_| CliError::Usage("the request is not UTF-8".into()))?;
    let request = parse_request(&request, args.origin.as_deref(), &phone.reader_roots, jpki_issuer::now())?;
    let plan = request.plan(&phone)?;
    let approval = match args.approve {
        Some(list) if list.is_empty() => Approval::All,
        Some(list) => Approval::Only(list),
        None => ask(&plan)?,
    };
    let body = request.respond(&phone, &plan, &approval)?;
    write_file(&args.out, serde_json::to_string_pretty(&body).expect("JSON").as_bytes())?;
    let disclosed = plan.approved(&approval)?;
    emit(ctx, &json!({ "requester": plan.requester, "disclosed": disclosed, "out": args.out }), || {
        format!("{}\ndisclosed: {}", describe(&plan), disclosed.iter().map(|(ns, id)| format!("{ns}/{id}")).collect::<Vec<_>>().join(", "))
    });
    Ok(())
}

#[derive(Subcommand)]
pub enum MdocCommand {
    /// Write an OpenID4VP authorization request for the My Number card record (DCQL, direct_post).
    Request(RequestArgs),
    /// Verify a response to a request written by `jpki mdoc request`.
    Verify(VerifyArgs),
}

#[derive(Args)]
pub struct RequestArgs {
    /// Where the wallet posts the response.
    #[arg(long)]
    response_uri: String,
    /// Elements wanted, as namespace/element or a bare element of the record.
    #[arg(long, value_delimiter = ',', required = true)]
    elements: Vec<String>,
    /// Sign the request with this reader certificate (PEM) and key (PKCS#8 DER); the client id becomes
    /// x509_san_dns:<host of response_uri>. Unsigned requests use redirect_uri:<response_uri>.
    #[arg(long, requires = "reader_key")]
    reader_cert: Option<PathBuf>,
    #[arg(long)]
    reader_key: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

/// `namespace/element`, or a bare element of the record looked up in its namespaces.
pub fn element_path(name: &str) -> (String, String) {
    match name.rsplit_once('/') {
        Some((ns, id)) => (ns.to_owned(), id.to_owned()),
        None => {
            let iso = [mnc::BIRTH_DATE, mnc::SEX, mnc::AGE_IN_YEARS].contains(&name) || mnc::age_over_threshold(name).is_some();
            ((if iso { mnc::NS_ISO } else { mnc::NS_JP }).to_owned(), name.to_owned())
        }
    }
}

pub fn request(ctx: &Context, args: RequestArgs) -> CliResult {
    let nonce = URL_SAFE_NO_PAD.encode(jpki_crypto::random_bytes::<32>());
    let claims: Vec<_> = args.elements.iter().map(|e| element_path(e)).map(|(ns, id)| json!({ "path": [ns, id], "intent_to_retain": false })).collect();
    let dcql = json!({ "credentials": [{ "id": "mnc", "format": "mso_mdoc", "meta": { "doctype_value": mnc::DOC_TYPE }, "claims": claims }] });
    let host = args.response_uri.split("://").nth(1).and_then(|r| r.split(['/', ':']).next()).unwrap_or_default().to_owned();
    let body = match (&args.reader_cert, &args.reader_key) {
        (Some(cert), Some(key)) => {
            let chain = jpki_mdoc::trust::certificates_from_pem_or_der(&read(cert, "the reader certificate")?)
                .map_err(|e| CliError::Usage(format!("reader certificate {}: {e}", cert.display())))?;
            let key = jpki_crypto::EcKey::from_pkcs8_der(&read(key, "the reader key")?).map_err(|e| CliError::Usage(e.to_string()))?;
            let client_id = format!("x509_san_dns:{host}");
            let claims = json!({ "client_id": client_id, "response_type": "vp_token", "response_mode": "direct_post",
                "response_uri": args.response_uri, "nonce": nonce, "dcql_query": dcql });
            json!({ "client_id": client_id, "request": sign_request_object(&claims, &key, &chain)? })
        }
        _ => json!({ "client_id": format!("redirect_uri:{}", args.response_uri), "response_type": "vp_token", "response_mode": "direct_post",
            "response_uri": args.response_uri, "nonce": nonce, "dcql_query": dcql }),
    };
    write_file(&args.out, serde_json::to_string_pretty(&body).expect("JSON").as_bytes())?;
    emit(ctx, &json!({ "out": args.out, "nonce": nonce }), || format!("request written to {}", display(&args.out)));
    Ok(())
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The request the response answers (as written by `jpki mdoc request`).
    #[arg(long)]
    request: PathBuf,
    /// The wallet's response body (`vp_token` JSON).
    #[arg(long)]
    response: PathBuf,
    /// IACA root certificates (PEM); default <data-dir>/trust/iaca.pem.
    #[arg(long)]
    iaca: Option<PathBuf>,
    /// The issuer's status list token, checked when given.
    #[arg(long)]
    status_list: Option<PathBuf>,
}

pub fn verify(ctx: &Context, args: VerifyArgs) -> CliResult {
    let iaca_path = args.iaca.unwrap_or_else(|| ctx.trust_dir().join("iaca.pem"));
    let iaca = Roots::from_pem_or_der(&read(&iaca_path, "the IACA roots")?).map_err(|e| CliError::Usage(format!("{}: {e}", iaca_path.display())))?;
    let request: serde_json::Value = serde_json::from_slice(&read(&args.request, "the request")?).map_err(|e| CliError::Usage(format!("request: {e}")))?;
    let claims = match request.get("request").and_then(|r| r.as_str()) {
        Some(jws) => {
            let payload = jws.split('.').nth(1).ok_or_else(|| CliError::Usage("request object is not a JWS".into()))?;
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|e| CliError::Usage(e.to_string()))?).map_err(|e| CliError::Usage(e.to_string()))?
        }
        None => request.clone(),
    };
    let field = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_owned).ok_or_else(|| CliError::Usage(format!("request has no {k}")));
    let transcript = SessionTranscript::openid4vp(&field("client_id")?, &field("nonce")?, None, &field("response_uri")?);
    let dcql = claims.get("dcql_query").ok_or_else(|| CliError::Usage("request has no dcql_query".into()))?;
    let items = dcql_credential(dcql)?.items;
    let body: serde_json::Value = serde_json::from_slice(&read(&args.response, "the response")?).map_err(|e| CliError::Usage(format!("response: {e}")))?;
    let token = body.pointer("/vp_token/mnc/0").and_then(|v| v.as_str()).ok_or_else(|| CliError::Usage("response has no vp_token.mnc[0]".into()))?;
    let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).map_err(|e| CliError::Usage(format!("vp_token is not base64url: {e}")))?;
    let at = jpki_issuer::now();
    let expect = Expectations { iaca: &iaca, transcript: &transcript, e_reader_key: None, request: Some(&items), at };
    let docs = verify_response(&bytes, &expect)?;
    let doc = &docs[0];
    let status = match (&args.status_list, &doc.status) {
        (Some(path), Some(reference)) => {
            let list = jpki_mdoc::status::verify_token(&read(path, "the status list")?, &reference.uri, &iaca, at)?;
            match list.list.get(reference.idx) {
                Some(jpki_mdoc::status::RecordStatus::Valid) => "valid",
                Some(jpki_mdoc::status::RecordStatus::Suspended) => return Err(jpki_mdoc::MdocError::Revoked("suspended").into()),
                Some(_) => return Err(jpki_mdoc::MdocError::Revoked("revoked").into()),
                None => return Err(jpki_mdoc::MdocError::StatusUnavailable("the list does not cover this record".into()).into()),
            }
        }
        (None, Some(_)) => "not checked (no --status-list)",
        (_, None) => "no status in the record",
    };
    let elements: serde_json::Map<String, serde_json::Value> =
        doc.elements.iter().map(|e| (format!("{}/{}", e.namespace, e.identifier), value_to_json(&e.value))).collect();
    let report = json!({ "valid": true, "doc_type": doc.doc_type, "signer": doc.signer, "iaca": doc.iaca, "status": status, "elements": elements });
    emit(ctx, &report, || {
        let mut lines = vec![format!("valid {} signed by {} (status: {status})", doc.doc_type, doc.signer)];
        lines.extend(doc.elements.iter().filter(|e| e.identifier != mnc::PORTRAIT).map(|e| format!("  {}/{} = {}", e.namespace, e.identifier, value_to_json(&e.value))));
        lines.join("\n")
    });
    Ok(())
}
