//! `jpki card …`: a My Number card in a PC/SC reader (or a card directory, in-process), and the
//! emulator that puts a card directory into pcscd.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use jpki_card::client::{FaceCredential, InfoCredential};
use jpki_card::pcsc_reader::{self, PcscReader};
use jpki_card::{CardDir, CardError, Emulator, MyNumberCard, PinSlot, Transport};
use jpki_profile::KeyRole;

use crate::context::{CliError, CliResult, Context};
use crate::output::{emit, stdout};

#[derive(Subcommand)]
pub enum CardCommand {
    /// Insert the virtual card in DIR into pcscd through vsmartcard's vpcd reader, until interrupted.
    Emulate {
        /// The card directory to insert.
        #[arg(long)]
        card: PathBuf,
        /// Where the vpcd reader listens.
        #[arg(long, default_value = jpki_card::vpcd::DEFAULT_ADDRESS)]
        vpcd: String,
    },
    /// List the PC/SC readers and whether a card is in each.
    List {
        /// Wait until a reader holds a card (and pcscd answers), up to SECONDS (default 30); fails if
        /// none does by then.
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "30")]
        wait: Option<u64>,
    },
    /// What the card is: token label, card serial, issuing municipality, expiry, PIN tries left.
    Info(#[command(flatten)] CardSource),
    /// Read a certificate (PEM) from the JPKI application.
    ReadCert {
        #[command(flatten)]
        source: CardSource,
        /// Which certificate: the signature (sign) or the authentication (auth) one.
        #[arg(long, value_enum)]
        which: KeyArg,
        /// The CA certificate instead of the holder's.
        #[arg(long)]
        ca: bool,
        /// The signature password (the signature certificate needs it); prompted when omitted.
        #[arg(long)]
        pin: Option<String>,
        /// Write DER to this file instead of PEM to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read the input-assistance data (My Number and 4 information) and check the issuer's seal.
    ReadInfo {
        #[command(flatten)]
        source: CardSource,
        /// Input-assistance PIN (opens everything); prompted when no credential is given.
        #[arg(long, conflicts_with_all = ["code_a", "code_b"])]
        pin: Option<String>,
        /// 照合番号A (the 12-digit My Number): opens My Number only.
        #[arg(long, conflicts_with = "code_b")]
        code_a: Option<String>,
        /// 照合番号B (birth date YYMMDD in the era + expiry year + security code): opens the 4 information only.
        #[arg(long)]
        code_b: Option<String>,
        /// Print the records as read (base64 JSON), for a platform's number check
        /// (`POST /v1/input-assistance/verify`) rather than their content.
        #[arg(long)]
        records: bool,
    },
    /// Read the card face (card-face application) with 照合番号A or B.
    ReadFace {
        #[command(flatten)]
        source: CardSource,
        /// 照合番号A (the 12-digit My Number).
        #[arg(long, conflicts_with = "code_b", required_unless_present = "code_b")]
        code_a: Option<String>,
        /// 照合番号B (birth date YYMMDD in the era + expiry year + security code; printed at issuance).
        #[arg(long)]
        code_b: Option<String>,
        /// Write the face photo to this file.
        #[arg(long)]
        photo_out: Option<PathBuf>,
    },
    /// Sign a file: sha256WithRSAEncryption (PKCS#1 v1.5) with the card's key, raw signature to --out.
    Sign {
        #[command(flatten)]
        source: CardSource,
        /// Which key: the signature (sign) or the authentication (auth) one.
        #[arg(long, value_enum)]
        which: KeyArg,
        /// The file to sign.
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the raw signature.
        #[arg(long)]
        out: PathBuf,
        /// The key's PIN; prompted when omitted.
        #[arg(long)]
        pin: Option<String>,
    },
    /// Answers a login challenge (from POST /v1/auth/challenges) with the authentication key, and
    /// prints the body of POST /v1/auth/verify.
    Answer {
        #[command(flatten)]
        source: CardSource,
        /// The challenge's id, `challenge_id` of the platform's answer.
        #[arg(long)]
        challenge_id: String,
        /// The challenge itself, base64 as the platform gave it (`challenge`).
        #[arg(long)]
        challenge: String,
        /// The authentication PIN; prompted when omitted.
        #[arg(long)]
        pin: Option<String>,
        /// Registration: the tenant's account to link the certificate to.
        #[arg(long)]
        account: Option<String>,
        /// Prove who the holder is as well: a CMS over the challenge made with the signature key (for
        /// registration, and to re-link a re-issued authentication certificate).
        #[arg(long)]
        prove: bool,
        /// The signature password, for --prove; prompted when omitted.
        #[arg(long, requires = "prove")]
        sign_pin: Option<String>,
    },
    /// PIN tries left, and PIN changes.
    #[command(subcommand)]
    Pin(PinCommand),
    /// A business's record in the free area.
    #[command(subcommand)]
    FreeArea(FreeAreaCommand),
}

#[derive(Subcommand)]
pub enum PinCommand {
    /// Tries left on every PIN and code (spends none).
    Status(#[command(flatten)] CardSource),
    /// Change a PIN (the current one is verified first).
    Change {
        #[command(flatten)]
        source: CardSource,
        /// Which PIN to change.
        #[arg(long, value_enum)]
        which: ChangeablePin,
        /// Prompted when omitted.
        #[arg(long)]
        pin: Option<String>,
        /// Prompted (twice) when omitted.
        #[arg(long)]
        new_pin: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum FreeAreaCommand {
    /// Read the business's record.
    Read {
        #[command(flatten)]
        app: FreeAreaApp,
        /// Write the record here instead of standard output (hex).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the business's record.
    Write {
        #[command(flatten)]
        app: FreeAreaApp,
        /// The record to write (a file of raw bytes).
        #[arg(long = "in")]
        input: PathBuf,
    },
}

/// A business's free-area application on a card, and the key that opens it.
#[derive(Args)]
pub struct FreeAreaApp {
    #[command(flatten)]
    source: CardSource,
    /// The application's AID (hex).
    #[arg(long)]
    aid: String,
    /// The business's access key (hex); read from JPKI_FREE_AREA_KEY when omitted.
    #[arg(long, env = "JPKI_FREE_AREA_KEY", hide_env_values = true)]
    key: String,
}

impl FreeAreaApp {
    /// The card, the AID and the key, decoded.
    fn open(&self) -> CliResult<(CardClient, Vec<u8>, Vec<u8>)> {
        Ok((self.source.open()?, parse_hex("--aid", &self.aid)?, parse_hex("--key", &self.key)?))
    }
}

/// A card reached through whichever transport the command line chose.
pub type CardClient = MyNumberCard<Box<dyn Transport>>;

/// Which card: one in a PC/SC reader (the only one holding a card, unless named), or a card directory
/// run in-process.
#[derive(Args, Clone)]
pub struct CardSource {
    /// The PC/SC reader (its full name, or a part only it has).
    #[arg(long, conflicts_with = "card")]
    reader: Option<String>,
    /// A card directory, used directly without PC/SC.
    #[arg(long, conflicts_with = "phone")]
    card: Option<PathBuf>,
    /// A phone directory: its smartphone JPKI keys instead of a card's.
    #[arg(long, conflicts_with = "reader")]
    phone: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum KeyArg {
    Sign,
    Auth,
}

impl KeyArg {
    fn role(self) -> KeyRole {
        match self {
            KeyArg::Sign => KeyRole::Signature,
            KeyArg::Auth => KeyRole::Authentication,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ChangeablePin {
    Sign,
    Auth,
    Input,
    Resident,
}

impl ChangeablePin {
    fn slot(self) -> PinSlot {
        match self {
            ChangeablePin::Sign => PinSlot::JpkiSignature,
            ChangeablePin::Auth => PinSlot::JpkiAuthentication,
            ChangeablePin::Input => PinSlot::InputAssistancePin,
            ChangeablePin::Resident => PinSlot::ResidentRegistry,
        }
    }
}

impl From<CardError> for CliError {
    fn from(e: CardError) -> Self {
        CliError::Usage(e.to_string())
    }
}

impl From<jpki_card::emulator::EmulatorError> for CliError {
    fn from(e: jpki_card::emulator::EmulatorError) -> Self {
        CliError::Usage(e.to_string())
    }
}

impl CardSource {
    pub fn open(&self) -> CliResult<CardClient> {
        let transport: Box<dyn Transport> = match (&self.card, &self.phone) {
            (Some(dir), _) => Box::new(Emulator::open(CardDir::new(dir))?),
            (None, Some(phone)) => Box::new(Emulator::open(CardDir::new(jpki_wallet::Phone::jpki_dir_of(phone)))?),
            (None, None) => Box::new(PcscReader::connect(self.reader.as_deref())?),
        };
        Ok(MyNumberCard::new(transport))
    }
}

/// A PIN from the command line, or asked for on the terminal without echo.
pub fn pin_or_prompt(given: Option<String>, what: &str) -> CliResult<String> {
    match given {
        Some(pin) => Ok(pin),
        None => rpassword::prompt_password(format!("{what}: "))
            .map_err(|e| CliError::Usage(format!("no {what} given and none can be asked for ({e}); pass it with --pin"))),
    }
}

/// Writes an output file atomically; a device or pipe named as output (`/dev/null`, `/dev/stdout`) is
/// written to, never replaced.
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> CliResult {
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    if special {
        use std::io::Write;
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())));
    }
    Ok(jpki_files::write_atomic(path, bytes)?)
}

fn parse_hex(what: &str, value: &str) -> CliResult<Vec<u8>> {
    hex::decode(value.trim()).map_err(|e| CliError::Usage(format!("{what} is not hex: {e}")))
}

pub async fn run(ctx: &Context, command: CardCommand) -> CliResult {
    match command {
        CardCommand::Emulate { card, vpcd } => {
            let mut emulator = Emulator::open(CardDir::new(&card))?;
            eprintln!("emulating card {} ({}) at vpcd {vpcd}; Ctrl-C to remove it", emulator.state().card_id, card.display());
            jpki_card::vpcd::serve(&mut emulator, &vpcd, crate::serve::shutdown_signal()).await;
            eprintln!("card removed");
        }
        CardCommand::List { wait } => {
            let readers = match wait {
                Some(seconds) => pcsc_reader::wait_for_card(std::time::Duration::from_secs(seconds))?,
                None => pcsc_reader::list_readers()?,
            };
            emit(ctx, &readers, || {
                if readers.is_empty() {
                    return "no readers".into();
                }
                readers
                    .iter()
                    .map(|r| match &r.atr {
                        Some(atr) => format!("{}\tcard present\tATR {atr}", r.name),
                        None if r.card_present => format!("{}\tcard present", r.name),
                        None => format!("{}\tempty", r.name),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        CardCommand::Info(source) => {
            let mut card = source.open()?;
            let label = card.token_label()?;
            let record = card.read_card_record()?;
            let pins = [PinSlot::JpkiAuthentication, PinSlot::JpkiSignature, PinSlot::InputAssistancePin, PinSlot::ResidentRegistry]
                .into_iter()
                .map(|slot| card.pin_status(slot))
                .collect::<Result<Vec<_>, _>>()?;
            let info = serde_json::json!({ "token_label": label, "card": record, "pins": pins });
            emit(ctx, &info, || {
                let mut lines = vec![
                    format!("token {label}"),
                    format!("card serial {}, municipality {}, expires {}", record.card_serial, record.municipality_code, record.expires),
                ];
                lines.extend(pins.iter().map(|p| format!("{}: {} of {} tries left", p.pin, p.tries_left, p.max_tries)));
                lines.join("\n")
            });
        }
        CardCommand::ReadCert { source, which, ca, pin, out } => {
            let mut card = source.open()?;
            let der = if ca {
                card.read_ca_certificate(which.role())?
            } else if which.role() == KeyRole::Signature {
                let pin = pin_or_prompt(pin, "signature password")?;
                card.read_certificate(KeyRole::Signature, Some(&pin))?
            } else {
                card.read_certificate(KeyRole::Authentication, None)?
            };
            match out {
                Some(path) => write_file(&path, &der)?,
                None => stdout(&jpki_files::pem("CERTIFICATE", &der)),
            }
        }
        CardCommand::ReadInfo { source, pin, code_a, code_b, records } => {
            let credential = match (code_a, code_b) {
                (Some(a), _) => InfoCredential::CodeA(a),
                (None, Some(b)) => InfoCredential::CodeB(b),
                (None, None) => InfoCredential::Pin(pin_or_prompt(pin, "input-assistance PIN")?),
            };
            let read = source.open()?.read_input_assistance_records(&credential)?;
            if records {
                use base64::Engine;
                let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
                let body = serde_json::json!({
                    "my_number_record": read.my_number.as_deref().map(b64),
                    "attributes_record": read.attributes.as_deref().map(b64),
                    "integrity_record": b64(&read.integrity),
                    "card_certificate": b64(&read.card_certificate),
                });
                stdout(&body.to_string());
                return Ok(());
            }
            let data = read.read()?;
            emit(ctx, &data, || {
                let mut lines = Vec::new();
                if let Some(n) = &data.my_number {
                    lines.push(format!("My Number {n}"));
                }
                if let Some(info) = &data.four_info {
                    lines.push(format!("name {}\naddress {}\nbirth date {}\nsex {}", info.name, info.address, info.birth_date, info.sex.as_str()));
                }
                lines.push(if data.seal.intact {
                    format!("issuer's seal intact (key {})", data.seal.signer_key_id)
                } else {
                    "issuer's seal BROKEN: the data does not match what the issuer signed".into()
                });
                lines.join("\n")
            });
            if !data.seal.intact {
                return Err(CliError::Usage("the card's input-assistance data failed its integrity check".into()));
            }
        }
        CardCommand::ReadFace { source, code_a, code_b, photo_out } => {
            let credential = match (code_a, code_b) {
                (Some(a), _) => FaceCredential::CodeA(a),
                (None, Some(b)) => FaceCredential::CodeB(b),
                (None, None) => return Err(CliError::Usage("give --code-a or --code-b".into())),
            };
            let face = source.open()?.read_card_face(&credential)?;
            if let Some(path) = &photo_out {
                write_file(path, &face.photo)?;
            }
            emit(ctx, &face, || {
                format!(
                    "birth date {}\nsex {}\nexpires {}\nphoto {} bytes\nseal {}",
                    face.birth_date,
                    face.sex,
                    face.expires,
                    face.photo.len(),
                    if face.intact { "intact" } else { "BROKEN" }
                )
            });
        }
        CardCommand::Sign { source, which, input, out, pin } => {
            let data = std::fs::read(&input).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", input.display())))?;
            let pin = pin_or_prompt(pin, &PinSlot::of(which.role()).to_string())?;
            let digest_info = jpki_crypto::sha256_digest_info(&data);
            let signature = source.open()?.sign(which.role(), &pin, &digest_info)?;
            write_file(&out, &signature)?;
            emit(ctx, &serde_json::json!({ "signature": out, "bytes": signature.len() }), || {
                format!("{}-byte signature written to {}", signature.len(), out.display())
            });
        }
        CardCommand::Answer { source, challenge_id, challenge, pin, account, prove, sign_pin } => {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD;
            let challenge = b64.decode(challenge.trim()).map_err(|e| CliError::Usage(format!("--challenge is not base64: {e}")))?;
            let mut card = source.open()?;
            let certificate = card.read_certificate(KeyRole::Authentication, None)?;
            let pin = pin_or_prompt(pin, &PinSlot::of(KeyRole::Authentication).to_string())?;
            let digest_info = jpki_crypto::sha256_digest_info(&challenge);
            let signature = card.sign(KeyRole::Authentication, &pin, &digest_info)?;
            let mut body = serde_json::json!({ "challenge_id": challenge_id, "certificate": b64.encode(&certificate), "signature": b64.encode(&signature) });
            if let Some(account) = account {
                body["account_id"] = serde_json::json!(account);
            }
            if prove {
                let pin = pin_or_prompt(sign_pin, &PinSlot::of(KeyRole::Signature).to_string())?;
                let signer = card.read_certificate(KeyRole::Signature, Some(&pin))?;
                let now = time::OffsetDateTime::now_utc();
                let cms = jpki_verify::signed_data::build(&challenge, &signer, true, now, |digest_info| card.sign(KeyRole::Signature, &pin, digest_info))
                    .map_err(|e| CliError::Usage(e.to_string()))?;
                body["signature_proof"] = serde_json::json!(b64.encode(&cms));
            }
            stdout(&format!("{body}\n"));
        }
        CardCommand::Pin(PinCommand::Status(source)) => {
            let mut card = source.open()?;
            let statuses = PinSlot::ALL.into_iter().map(|slot| card.pin_status(slot)).collect::<Result<Vec<_>, _>>()?;
            emit(ctx, &statuses, || {
                statuses.iter().map(|p| format!("{}, {}: {} of {} tries left", p.application, p.pin, p.tries_left, p.max_tries)).collect::<Vec<_>>().join("\n")
            });
        }
        CardCommand::Pin(PinCommand::Change { source, which, pin, new_pin }) => {
            let slot = which.slot();
            let current = pin_or_prompt(pin, &format!("current {slot}"))?;
            let new_pin = match new_pin {
                Some(p) => p,
                None => {
                    let first = pin_or_prompt(None, &format!("new {slot}"))?;
                    if pin_or_prompt(None, "again")? != first {
                        return Err(CliError::Usage("the two new PINs differ; nothing was changed".into()));
                    }
                    first
                }
            };
            source.open()?.change_pin(slot, &current, &new_pin)?;
            emit(ctx, &serde_json::json!({ "changed": slot.name() }), || format!("{slot} changed"));
        }
        CardCommand::FreeArea(FreeAreaCommand::Read { app, out }) => {
            let (mut card, aid, key) = app.open()?;
            let record = card.read_free_area(&aid, &key)?;
            match out {
                Some(path) => write_file(&path, &record)?,
                None => stdout(&format!("{}\n", hex::encode(&record))),
            }
        }
        CardCommand::FreeArea(FreeAreaCommand::Write { app, input }) => {
            let data = std::fs::read(&input).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", input.display())))?;
            let (mut card, aid, key) = app.open()?;
            card.write_free_area(&aid, &key, &data)?;
            emit(ctx, &serde_json::json!({ "written": data.len() }), || format!("{} bytes written", data.len()));
        }
    }
    Ok(())
}
