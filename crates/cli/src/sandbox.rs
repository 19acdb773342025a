//! `jpki sandbox …`: the simulated issuer.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use jpki_card::card_dir::Photo;
use jpki_issuer::cards::CardPins;
use jpki_issuer::lifecycle::EventOutcome;
use jpki_profile::pin_policy::PinKind;
use jpki_profile::KeyRole;
use jpki_profile::{BirthDate, Device, FourInfo, MyNumber, Sex};

use crate::context::{display, CliError, CliResult, Context};
use crate::output::emit;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Create the sandbox CAs (never replaces existing ones) and export them to <data-dir>/trust.
    Init,
    /// The resident registry.
    #[command(subcommand)]
    Person(PersonCommand),
    /// Cards.
    #[command(subcommand)]
    Card(CardCommand),
    /// Certificates on an issued card.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Life events and their consequences for certificates.
    #[command(subcommand)]
    Event(EventCommand),
    /// Certificate revocation lists.
    #[command(subcommand)]
    Crl(CrlCommand),
    /// Platform operators who receive revocation information.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// A person's consent to latest-4-info provision to an operator.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Metered provisions per operator and month, with fees.
    Usage,
    /// Smartphones: smartphone JPKI certificates and the card-substitute record.
    #[command(subcommand)]
    Phone(PhoneCommand),
    /// Reader certificates for relying parties that verify records (OpenID4VP, in person).
    #[command(subcommand)]
    Reader(ReaderCommand),
    /// Write the records' current status list token.
    StatusList {
        /// Where to write the status list token (CWT, as the issuer serves it).
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
pub enum PhoneCommand {
    /// Check a card (its authentication key and input-assistance data), then issue a phone.
    Issue(crate::mdoc::PhoneIssueArgs),
}

#[derive(Subcommand)]
pub enum ReaderCommand {
    /// Issue a reader certificate and key.
    Issue(crate::mdoc::ReaderIssueArgs),
}

#[derive(Subcommand)]
pub enum PersonCommand {
    /// Register a person; prints the person id and My Number.
    Add {
        /// Name as the resident registry writes it (full-width space between family and given name).
        #[arg(long)]
        name: String,
        /// Address as the resident registry writes it.
        #[arg(long)]
        address: String,
        /// YYYY-MM-DD
        #[arg(long)]
        birth_date: String,
        /// male, female, not_known or not_applicable (ISO/IEC 5218; its codes 1, 2, 0 and 9 too)
        #[arg(long)]
        sex: String,
        /// 12 digits with a valid check digit; drawn at random when omitted.
        #[arg(long)]
        my_number: Option<String>,
    },
    /// Show a person.
    Show {
        /// The person's id (person_…).
        id: String,
    },
    /// List everyone.
    List,
}

#[derive(Subcommand)]
pub enum CardCommand {
    /// Issue a card (retiring any card the person already has) into a new directory.
    Issue {
        /// The holder's person id (person_…).
        #[arg(long)]
        person: String,
        /// The new card directory.
        #[arg(long)]
        out: PathBuf,
        /// Signature password: 6-16 capital letters and digits, mixing both.
        #[arg(long)]
        sign_pin: String,
        /// Authentication PIN: 4 digits.
        #[arg(long)]
        auth_pin: String,
        /// Input-assistance PIN: 4 digits.
        #[arg(long)]
        input_pin: String,
        /// Resident-registry PIN: 4 digits (defaults to the authentication PIN, as many holders choose).
        #[arg(long)]
        resident_pin: Option<String>,
        /// Face photo (any image file; a portrait is generated when omitted).
        #[arg(long)]
        photo: Option<PathBuf>,
    },
    /// The municipality's PIN reset after a lock or a forgotten PIN (暗証番号の再設定).
    ResetPin {
        /// The card directory.
        #[arg(long)]
        card: PathBuf,
        /// Which PIN or code to reset.
        #[arg(long, value_enum)]
        pin: PinArg,
        /// The holder's new PIN (not for the codes printed on the card, whose tries are just restored).
        #[arg(long)]
        new_pin: Option<String>,
    },
    /// Put a business's application in the card's free area; prints its AID and access key once.
    AuthorizeFreeArea {
        /// The card directory.
        #[arg(long)]
        card: PathBuf,
        /// The business's name, as the card's free-area record shows it.
        #[arg(long)]
        business: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PinArg {
    Sign,
    Auth,
    Input,
    Resident,
    /// 照合番号A.
    CodeA,
    /// 照合番号B.
    CodeB,
    BirthDate,
}

impl PinArg {
    pub fn kind(self) -> PinKind {
        match self {
            PinArg::Sign => PinKind::Signature,
            PinArg::Auth => PinKind::Authentication,
            PinArg::Input => PinKind::InputAssistance,
            PinArg::Resident => PinKind::ResidentRegistry,
            PinArg::CodeA => PinKind::CardNumberCode,
            PinArg::CodeB => PinKind::CardFaceCode,
            PinArg::BirthDate => PinKind::BirthDateCode,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Which {
    Sign,
    Auth,
    Both,
}

impl Which {
    fn roles(self) -> Vec<KeyRole> {
        match self {
            Which::Sign => vec![KeyRole::Signature],
            Which::Auth => vec![KeyRole::Authentication],
            Which::Both => KeyRole::ALL.to_vec(),
        }
    }
}

#[derive(Subcommand)]
pub enum CertCommand {
    /// Put new certificates on a card: renewal, or replacement after a 4-info change.
    Reissue {
        /// The card directory.
        #[arg(long)]
        card: PathBuf,
        /// Which certificates to renew.
        #[arg(long, value_enum, default_value = "both")]
        which: Which,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DeviceArg {
    Card,
    Smartphone,
}

#[derive(Subcommand)]
pub enum EventCommand {
    /// 転居: new address; signature certificates are revoked (affiliationChanged).
    Move {
        /// The person's id (person_…).
        #[arg(long)]
        person: String,
        /// The new address.
        #[arg(long)]
        address: String,
    },
    /// 氏名変更: new name; signature certificates are revoked (affiliationChanged).
    Rename {
        /// The person's id (person_…).
        #[arg(long)]
        person: String,
        /// The new name.
        #[arg(long)]
        name: String,
    },
    /// 紛失届: every certificate on the device goes on hold (certificateHold, never lifted).
    Lost {
        /// The person's id (person_…).
        #[arg(long)]
        person: String,
        /// Which device was lost.
        #[arg(long, value_enum, default_value = "card")]
        device: DeviceArg,
    },
    /// A lost card was found: held certificates stay held, new ones are put on the card.
    Found {
        /// The person's id (person_…).
        #[arg(long)]
        person: String,
        /// The found card's directory.
        #[arg(long)]
        card: PathBuf,
    },
    /// 死亡: every certificate ends (cessationOfOperation).
    Death {
        /// The person's id (person_…).
        #[arg(long)]
        person: String,
    },
}

#[derive(Subcommand)]
pub enum CrlCommand {
    /// Write the CRLs (DER) into <data-dir>/crl: auth.crl, and sign-<id>.crl per municipality (the
    /// signature CA's list is partitioned by the distribution point its certificates name, as J-LIS's is).
    Publish,
}

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Register a platform operator; prints its API key once.
    Add {
        /// The operator's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Record the person's consent to the operator receiving their latest 4 info.
    Grant {
        /// The person's id (person_…).
        #[arg(long)]
        person: String,
        /// Operator name or id.
        #[arg(long)]
        operator: String,
    },
    /// Withdraw the person's consent.
    Withdraw {
        /// The person's id (person_…).
        #[arg(long)]
        person: String,
        /// Operator name or id.
        #[arg(long)]
        operator: String,
    },
}

fn four_info(name: &str, address: &str, birth_date: &str, sex: &str) -> CliResult<FourInfo> {
    let birth_date = BirthDate::parse_iso(birth_date).map_err(jpki_issuer::IssuerError::from)?;
    let sex: Sex = sex.parse().map_err(jpki_issuer::IssuerError::from)?;
    Ok(FourInfo::new(name, address, birth_date, sex).map_err(jpki_issuer::IssuerError::from)?)
}

fn event_lines(o: &EventOutcome) -> String {
    let mut lines = vec![format!("{} recorded for {}", o.event, o.person_id)];
    lines.extend(o.revoked.iter().map(|r| format!("revoked {} ({})", r.serial, r.reason)));
    lines.extend(o.issued.iter().map(|c| format!("issued {} certificate {}", c.role.as_str(), c.serial)));
    lines.join("\n")
}

pub async fn run(ctx: &Context, cmd: SandboxCommand) -> CliResult {
    match cmd {
        SandboxCommand::Phone(PhoneCommand::Issue(args)) => crate::mdoc::issue_phone(ctx, args).await?,
        SandboxCommand::Reader(ReaderCommand::Issue(args)) => crate::mdoc::issue_reader(ctx, args).await?,
        SandboxCommand::StatusList { out } => {
            let token = ctx.issuer().await?.status_list_token().await?;
            crate::card::write_file(&out, &token)?;
            emit(ctx, &serde_json::json!({ "out": out }), || format!("status list written to {}", display(&out)));
        }
        SandboxCommand::Init => {
            let (issuer, created) = jpki_issuer::Issuer::init(ctx.database(true).await?).await?;
            let files = ctx.export_trust(&issuer).await?;
            let report = serde_json::json!({ "created": created, "trust_anchors": files });
            emit(ctx, &report, || {
                let verb = if created { "created" } else { "already initialized; kept" };
                format!("sandbox CAs {verb}\n{}", files.iter().map(|f| format!("trust anchor: {}", display(f))).collect::<Vec<_>>().join("\n"))
            });
        }
        SandboxCommand::Person(PersonCommand::Add { name, address, birth_date, sex, my_number }) => {
            let info = four_info(&name, &address, &birth_date, &sex)?;
            let my_number = my_number.map(|n| n.parse::<MyNumber>()).transpose().map_err(|e| CliError::Usage(format!("--my-number: {e}")))?;
            let person = ctx.issuer().await?.add_person(info, my_number).await?;
            let digits = person.my_number.as_digits();
            let report = serde_json::json!({ "id": person.id, "my_number": digits, "four_info": person.four_info });
            emit(ctx, &report, || format!("person {}\nMy Number {}", person.id, digits));
        }
        SandboxCommand::Person(PersonCommand::Show { id }) => {
            let p = ctx.issuer().await?.person(&id).await?;
            emit(ctx, &p, || {
                let f = &p.four_info;
                format!(
                    "person {}\nname {}\naddress {}\nbirth date {}\nsex {}{}",
                    p.id,
                    f.name,
                    f.address,
                    f.birth_date,
                    f.sex.as_str(),
                    p.deceased_at.map(|d| format!("\ndeceased {d}")).unwrap_or_default()
                )
            });
        }
        SandboxCommand::Person(PersonCommand::List) => {
            let people = ctx.issuer().await?.people().await?;
            emit(ctx, &people, || people.iter().map(|p| format!("{}\t{}\t{}", p.id, p.four_info.name, p.four_info.birth_date)).collect::<Vec<_>>().join("\n"));
        }
        SandboxCommand::Card(CardCommand::Issue { person, out, sign_pin, auth_pin, input_pin, resident_pin, photo }) => {
            let photo = photo
                .map(|path| {
                    let bytes = std::fs::read(&path).map_err(|e| CliError::Usage(format!("cannot read the photo {}: {e}", path.display())))?;
                    Ok::<_, CliError>(Photo::new(media_type(&bytes), &bytes))
                })
                .transpose()?;
            let resident_registry = resident_pin.unwrap_or_else(|| auth_pin.clone());
            let pins = CardPins { signature: sign_pin, authentication: auth_pin, input_assistance: input_pin, resident_registry };
            let card = ctx.issuer().await?.issue_card(&person, &pins, photo, &out).await?;
            emit(ctx, &card, || {
                let mut lines = vec![format!("card {} issued into {}", card.card_id, display(&card.directory))];
                lines.extend(
                    card.certificates.iter().map(|c| format!("{} certificate {} valid until {}", c.role.as_str(), c.serial, crate::output::time(c.not_after))),
                );
                lines.extend(card.notes.iter().cloned());
                lines.push(format!("card face: security code {}, 照合番号B {}", card.card_face.security_code, card.card_face.code_b));
                lines.join("\n")
            });
        }
        SandboxCommand::Card(CardCommand::ResetPin { card, pin, new_pin }) => {
            ctx.issuer().await?.reset_pin(&card, pin.kind(), new_pin.as_deref()).await?;
            emit(ctx, &serde_json::json!({ "reset": format!("{:?}", pin.kind()) }), || format!("{} reset", pin.kind()));
        }
        SandboxCommand::Card(CardCommand::AuthorizeFreeArea { card, business }) => {
            let grant = ctx.issuer().await?.authorize_free_area(&card, &business).await?;
            emit(ctx, &grant, || {
                format!("free-area application for {}\naid {}\naccess key {} (shown once; keep it secret)", grant.business, grant.aid, grant.access_key)
            });
        }
        SandboxCommand::Cert(CertCommand::Reissue { card, which }) => {
            let issued = ctx.issuer().await?.reissue_certificates(&card, &which.roles()).await?;
            emit(ctx, &issued, || issued.iter().map(|c| format!("issued {} certificate {}", c.role.as_str(), c.serial)).collect::<Vec<_>>().join("\n"));
        }
        SandboxCommand::Event(event) => {
            let issuer = ctx.issuer().await?;
            let outcome = match event {
                EventCommand::Move { person, address } => issuer.move_address(&person, &address).await?,
                EventCommand::Rename { person, name } => issuer.rename(&person, &name).await?,
                EventCommand::Lost { person, device } => {
                    let device = match device {
                        DeviceArg::Card => Device::Card,
                        DeviceArg::Smartphone => Device::Smartphone,
                    };
                    issuer.report_lost(&person, device).await?
                }
                EventCommand::Found { person, card } => issuer.report_found(&person, &card).await?,
                EventCommand::Death { person } => issuer.record_death(&person).await?,
            };
            emit(ctx, &outcome, || event_lines(&outcome));
        }
        SandboxCommand::Crl(CrlCommand::Publish) => {
            let issuer = ctx.issuer().await?;
            let mut summaries = Vec::new();
            for role in KeyRole::ALL {
                summaries.extend(issuer.publish_crl(role, &ctx.crl_dir()).await?);
            }
            emit(ctx, &summaries, || {
                summaries
                    .iter()
                    .map(|s| {
                        format!(
                            "{}: CRL #{} of {} with {} entries, next update {}",
                            display(&s.path),
                            s.number,
                            s.scope,
                            s.entries,
                            crate::output::time(s.next_update)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        SandboxCommand::Operator(OperatorCommand::Add { name }) => {
            let op = ctx.issuer().await?.add_operator(&name).await?;
            emit(ctx, &op, || format!("operator {} ({})\nAPI key (shown once): {}", op.name, op.id, op.api_key));
        }
        SandboxCommand::Consent(ConsentCommand::Grant { person, operator }) => {
            ctx.issuer().await?.grant_consent(&person, &operator).await?;
            emit(ctx, &serde_json::json!({ "granted": true }), || format!("{person} consents to provision to {operator}"));
        }
        SandboxCommand::Consent(ConsentCommand::Withdraw { person, operator }) => {
            ctx.issuer().await?.withdraw_consent(&person, &operator).await?;
            emit(ctx, &serde_json::json!({ "withdrawn": true }), || format!("{person} withdrew consent for {operator}"));
        }
        SandboxCommand::Usage => {
            let issuer = ctx.issuer().await?;
            let lines = jpki_issuer::meter::usage(issuer.db()).await?;
            emit(ctx, &lines, || {
                let mut out = vec!["month\toperator\tmethod\tkind\tcount\tfee_yen".to_owned()];
                out.extend(lines.iter().map(|l| {
                    format!("{}\t{}\t{}\t{}\t{}\t{}", l.month, l.operator_id.as_deref().unwrap_or("-"), l.method, l.cert_kind.as_str(), l.count, l.fee_yen)
                }));
                out.join("\n")
            });
        }
    }
    Ok(())
}

/// The media type of an image file, from its signature bytes.
pub(crate) fn media_type(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xff, 0xd8, 0xff, ..] => "image/jpeg",
        [0, 0, 0, 0x0c, b'j', b'P', b' ', b' ', ..] => "image/jp2",
        _ => "application/octet-stream",
    }
}
