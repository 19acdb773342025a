//! `jpki sandbox phone issue`, `jpki sandbox reader issue`, `jpki wallet present|engage`,
//! `jpki mdoc request|verify|read`: the smartphone's record from issuance to verification, online
//! (OpenID4VP) and in person (ISO/IEC 18013-5 over TCP).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use jpki_card::card_dir::Photo;
use jpki_card::client::{FaceCredential, InfoCredential};
use jpki_issuer::phone::{CardProof, PhonePins};
use jpki_mdoc::mnc;
use jpki_mdoc::openid4vp::{new_nonce, CredentialQuery, PresentationRequest, ResponseMode};
use jpki_mdoc::request::{ItemsRequest, RequestedElement};
use jpki_mdoc::trust::Roots;
use jpki_mdoc::verify::value_to_json;
use jpki_profile::KeyRole;
use jpki_server::transport::HttpStatusLists;
use jpki_verify::presentation::{FixedStatusList, PresentationVerifier, StatusListSource, StatusLists, VerifiedPresentation};
use jpki_wallet::consent::{Approval, Decision, DisclosurePlan};
use jpki_wallet::openid4vp::parse_request;
use jpki_wallet::Phone;
use serde_json::json;

use crate::card::{pin_or_prompt, write_file, CardSource};
use crate::context::{display, CliError, CliResult, Context};
use crate::output::emit;

pub(crate) fn read(path: &std::path::Path, what: &str) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| CliError::Usage(format!("cannot read {what} {}: {e}", path.display())))
}

/// The wallet's phone directory, into which the sandbox issuer writes a new phone.
struct WalletPhone;

impl jpki_issuer::phone::PhoneWriter for WalletPhone {
    fn jpki_dir(&self, phone_dir: &std::path::Path) -> PathBuf {
        Phone::jpki_dir_of(phone_dir)
    }

    fn write(&self, phone_dir: &std::path::Path, phone: &jpki_issuer::phone::NewPhone<'_>) -> Result<(), String> {
        let info = jpki_wallet::phone::PhoneInfo {
            format: jpki_wallet::phone::PHONE_FORMAT.to_owned(),
            phone_id: phone.phone_id.to_owned(),
            person_id: phone.person_id.to_owned(),
            record_id: phone.record_id.to_owned(),
            doc_type: phone.doc_type.to_owned(),
            issued_at: phone.issued_at,
            record_valid_until: phone.record_valid_until,
        };
        Phone::write(phone_dir, &info, phone.record, phone.device_key, phone.reader_roots_pem).map_err(|e| e.to_string())
    }
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
    /// The phone's own signature password (6–16 capital letters and digits).
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
    let digest_info = jpki_crypto::sha256_digest_info(&challenge);
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
    let phone = issuer.issue_phone(&proof, &pins, &args.out, &WalletPhone).await?;
    let trust = ctx.export_trust(&issuer).await?;
    emit(ctx, &json!({ "phone": phone, "trust_anchors": trust }), || {
        let mut lines = vec![format!("phone {} issued into {}", phone.phone_id, display(&phone.directory))];
        lines.extend(
            phone
                .certificates
                .iter()
                .map(|c| format!("smartphone {} certificate {} valid until {}", c.role.as_str(), c.serial, crate::output::time(c.not_after))),
        );
        lines.push(format!("record {} ({}) valid until {}", phone.record_id, mnc::DOC_TYPE, crate::output::time(phone.record_valid_until)));
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
    jpki_files::write_atomic(&cert, reader.certificate_pem().as_bytes())?;
    jpki_files::write_atomic(&key, reader.key.pkcs8_der())?;
    emit(ctx, &json!({ "certificate": cert, "key": key, "number_act": args.number_act }), || {
        format!("reader certificate {} and key {}", display(&cert), display(&key))
    });
    Ok(())
}

#[derive(Subcommand)]
pub enum WalletCommand {
    /// Answer an OpenID4VP authorization request with the phone's record, after the holder's consent.
    Present(PresentArgs),
    /// Show an in-person engagement (the QR code's text, first line of output) and answer one reader
    /// over TCP, after the holder's consent.
    Engage(EngageArgs),
}

#[derive(Args)]
pub struct EngageArgs {
    /// The phone directory whose record is presented.
    #[arg(long)]
    phone: PathBuf,
    /// Where the reader connects (port 0 picks a free port; the engagement names it).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Approve without asking: every available element, or only those listed.
    #[arg(long, num_args = 0.., value_delimiter = ',')]
    approve: Option<Vec<String>>,
}

fn approval(approve: Option<Vec<String>>, plan: &DisclosurePlan) -> CliResult<Approval> {
    match approve {
        Some(list) if list.is_empty() => Ok(Approval::All),
        Some(list) => Ok(Approval::Only(list)),
        None => ask(plan),
    }
}

pub fn engage(ctx: &Context, args: EngageArgs) -> CliResult {
    let phone = Phone::load(&args.phone)?;
    let io = |e: std::io::Error| CliError::Usage(format!("in-person transport on {}: {e}", args.listen));
    let listener = std::net::TcpListener::bind(args.listen).map_err(io)?;
    let local = listener.local_addr().map_err(io)?;
    let offer = jpki_wallet::in_person::Offer::new(Some((&local.ip().to_string(), local.port())))?;
    crate::output::stdout(&format!("{}\n", offer.engagement.to_qr()));
    let (mut stream, peer) = listener.accept().map_err(io)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(120))).map_err(io)?;
    let mut shown = None;
    let mut refused = None;
    let disclosed = offer.serve(&phone, &mut stream, jpki_issuer::now(), |plan| {
        shown = Some(plan.clone());
        approval(args.approve, plan).map_err(|e| refused = Some(e)).ok()
    })?;
    let Some(disclosed) = disclosed else {
        return Err(refused.unwrap_or_else(|| CliError::Usage("declined: nothing disclosed".into())));
    };
    let plan = shown.expect("a session that disclosed showed its plan");
    emit(ctx, &json!({ "reader": peer.to_string(), "requester": plan.requester, "disclosed": disclosed }), || {
        format!("{}\ndisclosed to {peer}: {}", describe(&plan), disclosed.iter().map(|(ns, id)| format!("{ns}/{id}")).collect::<Vec<_>>().join(", "))
    });
    Ok(())
}

#[derive(Args)]
pub struct PresentArgs {
    /// The phone directory whose record is presented.
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
    let mut lines = vec![format!("{} asks for {}:", plan.requester, plan.doc_type)];
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
    eprintln!("{}", describe(plan));
    loop {
        eprintln!("Disclose? [a]ll, [n]one, or a comma-separated list of the elements above: ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| CliError::Usage(e.to_string()))?;
        match consent_answer(plan, &line) {
            Ok(answer) => return answer.ok_or_else(|| CliError::Usage("declined: nothing disclosed".into())),
            Err(unknown) => eprintln!("{unknown} is not an element of this request"),
        }
    }
}

/// The holder's answer: all (`a`, `all`, `y`, `yes`), none (`n`, `no`, `none` or nothing: `None`), or
/// elements of the plan, by `namespace/identifier` or identifier; an answer naming anything else is
/// the first such name, to ask again.
fn consent_answer(plan: &DisclosurePlan, line: &str) -> Result<Option<Approval>, String> {
    match line.trim().to_ascii_lowercase().as_str() {
        "a" | "all" | "y" | "yes" => return Ok(Some(Approval::All)),
        "" | "n" | "no" | "none" => return Ok(None),
        _ => {}
    }
    let names: Vec<String> = line.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    match names.iter().find(|n| !plan.elements.iter().any(|e| e.path() == **n || e.identifier == **n)) {
        Some(unknown) => Err(unknown.clone()),
        None => Ok(Some(Approval::Only(names))),
    }
}

pub fn present(ctx: &Context, args: PresentArgs) -> CliResult {
    let phone = Phone::load(&args.phone)?;
    let request = String::from_utf8(read(&args.request, "the request")?).map_err(|_| CliError::Usage("the request is not UTF-8".into()))?;
    let request = parse_request(&request, args.origin.as_deref(), &phone.reader_roots, jpki_issuer::now())?;
    let plan = request.plan(&phone)?;
    let approval = approval(args.approve, &plan)?;
    let body = request.respond(&phone, &plan, &approval)?;
    write_file(&args.out, serde_json::to_string_pretty(&body).expect("JSON").as_bytes())?;
    let disclosed = plan.approved(&approval)?;
    emit(ctx, &json!({ "requester": plan.requester, "disclosed": disclosed, "out": args.out }), || {
        format!("{}\ndisclosed: {}", describe(&plan), disclosed.iter().map(|(ns, id)| format!("{ns}/{id}")).collect::<Vec<_>>().join(", "))
    });
    Ok(())
}

/// The elements a verifier may ask for, for `--help`.
fn elements_help() -> String {
    let ages = mnc::AGE_OVER.map(mnc::age_over_identifier).join(", ");
    format!(
        "Elements of {doc} (--elements):\n  {jp}: {jp_list}\n  {iso}: {iso_list}, {ages}\n{number} goes only to a reader certified for the Number Act (--reader-cert).",
        doc = mnc::DOC_TYPE,
        jp = mnc::NS_JP,
        jp_list = mnc::JP_ELEMENTS.join(", "),
        iso = mnc::NS_ISO,
        iso_list = mnc::ISO_ELEMENTS.join(", "),
        number = mnc::INDIVIDUAL_NUMBER,
    )
}

#[derive(Subcommand)]
pub enum MdocCommand {
    /// Write an OpenID4VP authorization request for the My Number card record (DCQL, direct_post).
    #[command(after_help = elements_help())]
    Request(RequestArgs),
    /// Verify a response to a request written by `jpki mdoc request`.
    Verify(VerifyArgs),
    /// Read the record in person: connect to the phone whose engagement QR code was scanned, ask, verify.
    #[command(after_help = elements_help())]
    Read(ReadArgs),
}

/// The record's elements by name, as one document request.
fn items(names: &[String]) -> CliResult<ItemsRequest> {
    let elements = names
        .iter()
        .map(|e| {
            let (namespace, identifier) = mnc::element_path(e).map_err(CliError::Usage)?;
            Ok(RequestedElement { namespace: namespace.to_owned(), identifier, intent_to_retain: false })
        })
        .collect::<CliResult<Vec<_>>>()?;
    Ok(ItemsRequest { doc_type: mnc::DOC_TYPE.into(), elements })
}

/// A reader certificate chain (PEM, leaf first), its key (PKCS#8 DER), the DNS name it certifies and
/// whether it carries the Number Act mark.
pub(crate) struct ReaderFiles {
    pub key: jpki_crypto::EcKey,
    pub chain: Vec<Vec<u8>>,
    pub dns_name: Option<String>,
    pub number_act: bool,
}

pub(crate) fn reader_files(cert: &std::path::Path, key: &std::path::Path) -> CliResult<ReaderFiles> {
    let chain = jpki_mdoc::trust::certificates_from_pem_or_der(&read(cert, "the reader certificate")?)
        .map_err(|e| CliError::Usage(format!("reader certificate {}: {e}", cert.display())))?;
    let key = jpki_crypto::EcKey::from_pkcs8_der(&read(key, "the reader key")?)
        .map_err(|e| CliError::Usage(format!("reader key {}: {e} (PKCS#8 DER expected)", key.display())))?;
    let leaf =
        <x509_cert::Certificate as der::Decode>::from_der(&chain[0]).map_err(|e| CliError::Usage(format!("reader certificate {}: {e}", cert.display())))?;
    Ok(ReaderFiles {
        key,
        dns_name: jpki_mdoc::trust::san_dns_names(&leaf).into_iter().next(),
        number_act: jpki_mdoc::trust::has_policy(&leaf, mnc::NUMBER_ACT_VERIFIER_POLICY),
        chain,
    })
}

/// The verifier of `--iaca` (default the data directory's) and `--status-list` (default: fetch).
fn presentation_verifier(ctx: &Context, iaca: Option<PathBuf>, status_list: Option<&std::path::Path>) -> CliResult<PresentationVerifier> {
    let iaca_path = iaca.unwrap_or_else(|| ctx.trust_dir().join("iaca.pem"));
    let iaca = Roots::from_pem_or_der(&read(&iaca_path, "the IACA roots")?).map_err(|e| CliError::Usage(format!("{}: {e}", iaca_path.display())))?;
    let source: Box<dyn StatusListSource> = match status_list {
        Some(path) => Box::new(FixedStatusList(read(path, "the status list")?)),
        None => Box::new(HttpStatusLists::new(jpki_server::config::OUTSIDE_TIMEOUT)),
    };
    Ok(PresentationVerifier { iaca, status: StatusLists::new(source, false) })
}

fn report(ctx: &Context, verified: &VerifiedPresentation) {
    let doc = &verified.document;
    let report =
        json!({ "valid": true, "doc_type": doc.doc_type, "signer": doc.signer, "iaca": doc.iaca, "status": verified.status, "elements": doc.elements_json() });
    emit(ctx, &report, || {
        let mut lines = vec![format!("valid {} signed by {} (status: {})", doc.doc_type, doc.signer, verified.status)];
        lines.extend(doc.elements.iter().filter(|e| e.identifier != mnc::PORTRAIT).map(|e| format!("  {} = {}", e.path(), value_to_json(&e.value))));
        lines.join("\n")
    });
}

#[derive(Args)]
pub struct ReadArgs {
    /// The engagement QR code's text (`mdoc:…`).
    #[arg(long)]
    engagement: String,
    /// Elements wanted, as namespace/element or a bare element of the record.
    #[arg(long, value_delimiter = ',', required = true)]
    elements: Vec<String>,
    /// Sign the request with this reader certificate (PEM) and key (PKCS#8 DER) (reader authentication).
    #[arg(long, requires = "reader_key")]
    reader_cert: Option<PathBuf>,
    /// The reader certificate's private key (PKCS#8 DER).
    #[arg(long, requires = "reader_cert")]
    reader_key: Option<PathBuf>,
    /// IACA root certificates (PEM); default <data-dir>/trust/iaca.pem.
    #[arg(long)]
    iaca: Option<PathBuf>,
    /// The issuer's status list token, saved; without it the list the record names is fetched.
    #[arg(long)]
    status_list: Option<PathBuf>,
}

pub fn read_in_person(ctx: &Context, args: ReadArgs) -> CliResult {
    let engagement = jpki_mdoc::engagement::DeviceEngagement::from_qr(&args.engagement)?;
    let (host, port) =
        engagement.tcp.clone().ok_or_else(|| CliError::Usage("the engagement offers no TCP retrieval (BLE and NFC are not available here)".into()))?;
    let items = items(&args.elements)?;
    let reader = match (&args.reader_cert, &args.reader_key) {
        (Some(cert), Some(key)) => Some(reader_files(cert, key)?),
        _ => None,
    };
    let verifier = presentation_verifier(ctx, args.iaca, args.status_list.as_deref())?;
    let io = |e: std::io::Error| CliError::Usage(format!("cannot reach the phone at {host}:{port}: {e}"));
    let mut stream = std::net::TcpStream::connect((host.as_str(), port)).map_err(io)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(120))).map_err(io)?;
    let signer = reader.as_ref().map(|r| (&r.key, r.chain.as_slice()));
    match jpki_verify::presentation::read_in_person(&mut stream, &engagement, &items, signer, &verifier, jpki_issuer::now()) {
        Ok(Some(verified)) => {
            report(ctx, &verified);
            Ok(())
        }
        Ok(None) => Err(CliError::Usage("the holder declined: nothing was disclosed".into())),
        Err(jpki_verify::presentation::InPersonError::Mdoc(e)) => Err(e.into()),
        Err(jpki_verify::presentation::InPersonError::Transport(e)) => Err(io(e)),
    }
}

#[derive(Args)]
pub struct RequestArgs {
    /// Direct post: where the wallet posts the response.
    #[arg(long, required_unless_present = "origin", conflicts_with = "origin")]
    response_uri: Option<String>,
    /// Digital Credentials API: the origin of the page that passes the request to the browser (needs
    /// --reader-cert).
    #[arg(long, requires = "reader_cert")]
    origin: Option<String>,
    /// Elements wanted, as namespace/element or a bare element of the record.
    #[arg(long, value_delimiter = ',', required = true)]
    elements: Vec<String>,
    /// Sign the request with this reader certificate (PEM) and key (PKCS#8 DER); the client id becomes
    /// x509_san_dns:<host of response_uri>. Unsigned requests use redirect_uri:<response_uri>.
    #[arg(long, requires = "reader_key")]
    reader_cert: Option<PathBuf>,
    /// The reader certificate's private key (PKCS#8 DER).
    #[arg(long, requires = "reader_cert")]
    reader_key: Option<PathBuf>,
    /// Where to write the authorization request (JSON) for the wallet.
    #[arg(long)]
    out: PathBuf,
}

pub fn request(ctx: &Context, args: RequestArgs) -> CliResult {
    let credential = CredentialQuery { id: "mnc".into(), items: items(&args.elements)? };
    let signer = match (&args.reader_cert, &args.reader_key) {
        (Some(cert), Some(key)) => Some(reader_files(cert, key)?),
        _ => None,
    };
    let (client_id, mode) = match (args.response_uri, args.origin, &signer) {
        (Some(uri), _, None) => (Some(format!("redirect_uri:{uri}")), ResponseMode::DirectPost { response_uri: uri }),
        (Some(uri), _, Some(_)) => {
            let host = uri.split("://").nth(1).and_then(|r| r.split(['/', ':', '?']).next()).unwrap_or_default().to_owned();
            (Some(format!("x509_san_dns:{host}")), ResponseMode::DirectPost { response_uri: uri })
        }
        (None, Some(origin), Some(reader)) => {
            let dns = reader.dns_name.clone().ok_or_else(|| CliError::Usage("the reader certificate names no DNS name".into()))?;
            (Some(format!("x509_san_dns:{dns}")), ResponseMode::DcApi { origin })
        }
        _ => return Err(CliError::Usage("give --response-uri, or --origin with --reader-cert".into())),
    };
    let request = PresentationRequest { client_id, client_name: None, nonce: new_nonce(), mode, credential };
    let body = request.authorization_request(signer.as_ref().map(|r| (&r.key, r.chain.as_slice())))?;
    write_file(&args.out, serde_json::to_string_pretty(&body).expect("JSON").as_bytes())?;
    emit(ctx, &json!({ "out": args.out, "nonce": request.nonce }), || format!("request written to {}", display(&args.out)));
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
    /// For Digital Credentials API requests: the origin of the page that asked.
    #[arg(long)]
    origin: Option<String>,
    /// IACA root certificates (PEM); default <data-dir>/trust/iaca.pem.
    #[arg(long)]
    iaca: Option<PathBuf>,
    /// The issuer's status list token, saved; without it the list the record names is fetched.
    #[arg(long)]
    status_list: Option<PathBuf>,
    /// Verify as of this time (RFC 3339) instead of now.
    #[arg(long, value_parser = parse_time)]
    at: Option<time::OffsetDateTime>,
}

fn parse_time(s: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

pub fn verify(ctx: &Context, args: VerifyArgs) -> CliResult {
    let verifier = presentation_verifier(ctx, args.iaca, args.status_list.as_deref())?;
    let request: serde_json::Value = serde_json::from_slice(&read(&args.request, "the request")?).map_err(|e| CliError::Usage(format!("request: {e}")))?;
    let request = PresentationRequest::from_own_request(&request, args.origin.as_deref())?;
    let body: serde_json::Value = serde_json::from_slice(&read(&args.response, "the response")?).map_err(|e| CliError::Usage(format!("response: {e}")))?;
    report(ctx, &verifier.verify(&request, &request.device_response(&body)?, args.at.unwrap_or_else(jpki_issuer::now))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use jpki_wallet::consent::{Decision, DisclosurePlan, PlannedElement, Requester};

    use super::*;

    #[test]
    fn a_consent_answer_is_all_none_or_elements_of_the_request() {
        let element = |identifier: &str| PlannedElement {
            namespace: "org.iso.23220.1.jp".into(),
            identifier: identifier.into(),
            intent_to_retain: false,
            decision: Decision::Available,
        };
        let plan = DisclosurePlan {
            requester: Requester::unauthenticated("Shop"),
            doc_type: "org.iso.23220.1.jp.mnc".into(),
            elements: vec![element("full_name_unicode"), element("age_over_20")],
        };
        for all in ["a", "all", "y", "Yes\n"] {
            assert!(matches!(consent_answer(&plan, all), Ok(Some(Approval::All))), "{all}");
        }
        for none in ["", "n", "no", "none\n"] {
            assert!(matches!(consent_answer(&plan, none), Ok(None)), "{none}");
        }
        let Ok(Some(Approval::Only(names))) = consent_answer(&plan, "age_over_20, org.iso.23220.1.jp/full_name_unicode") else { panic!() };
        assert_eq!(names, ["age_over_20", "org.iso.23220.1.jp/full_name_unicode"]);
        assert_eq!(consent_answer(&plan, "age_over_20,yy").unwrap_err(), "yy");
    }
}
