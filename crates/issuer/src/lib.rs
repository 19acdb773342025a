//! The sandbox issuer: a simulated J-LIS for relying parties that build and test without real cards.
//!
//! - [`registry`]: the resident registry (people, their 4 information and My Number);
//! - [`ca`]: the signature and authentication CAs and their OCSP responder certificates;
//! - [`cards`]: issuing cards and certificates into the card directory a virtual card runs from
//!   (`jpki_card::card_dir`), sealed with the issuer's card-data key;
//! - [`lifecycle`]: life events (move, rename, loss, found card, death) and their JPKI consequences;
//! - [`crl`]: full CRLs, streamed to disk and published atomically;
//! - [`ocsp`]: the OCSP responder (RFC 6960);
//! - [`provision`]: platform operators, consent, and the latest-4-info provision;
//! - [`mdoc_pki`] and [`phone`]: the mdoc PKI, and issuing smartphone certificates and the
//!   card-substitute record to a phone after checking the card;
//! - [`meter`]: metering of every revocation-information provision against the fee table.
//!
//! Its HTTP endpoints (`/issuer/…`) are served by the server crate.
#![forbid(unsafe_code)]

pub mod ca;
pub mod cards;
pub mod crl;
pub mod lifecycle;
pub mod mdoc_pki;
pub mod meter;
pub mod ocsp;
pub mod phone;
pub mod provision;
pub mod registry;

use std::collections::HashMap;
use std::sync::Arc;

use jpki_profile::KeyRole;
use jpki_store::{sqlx, Database};
use time::OffsetDateTime;

pub use ca::Ca;

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("the sandbox is not initialized: run `jpki sandbox init` first")]
    NotInitialized,
    #[error("no person with id {0:?} in the sandbox registry")]
    UnknownPerson(String),
    #[error("My Number {0} is already registered to another person")]
    MyNumberTaken(String),
    #[error("person {0} is recorded as deceased")]
    Deceased(String),
    #[error("{0}")]
    FourInfo(#[from] jpki_profile::FourInfoError),
    #[error("{0}")]
    Pin(#[from] jpki_profile::pin_policy::PinError),
    #[error("no certificate with serial {0} was issued by the sandbox")]
    UnknownCertificate(String),
    #[error("{0}")]
    Refused(String),
    #[error("card directory {path}: {reason}")]
    CardDirectory { path: String, reason: String },
    #[error(transparent)]
    Card(#[from] jpki_card::card_dir::CardDirError),
    #[error(transparent)]
    File(#[from] jpki_files::FileError),
    #[error("no operator with that API key (or it was revoked)")]
    UnknownOperator,
    #[error("no operator named {0:?}")]
    UnknownOperatorName(String),
    #[error("the holder of certificate {serial} has not consented to provision to this operator")]
    NoConsent { serial: String },
    #[error("certificate {0} is not revoked: its 4 information is current")]
    NotRevoked(String),
    #[error("operator {0:?} already exists")]
    OperatorExists(String),
    #[error("date out of the supported range")]
    Time,
    #[error("ASN.1 encoding: {0}")]
    Der(#[from] der::Error),
    #[error("{0}")]
    Crypto(#[from] jpki_crypto::CryptoError),
    #[error("{0}")]
    Mdoc(#[from] jpki_mdoc::MdocError),
    #[error("phone directory {path}: {reason}")]
    PhoneDirectory { path: String, reason: String },
    #[error("{0}")]
    Store(#[from] jpki_store::StoreError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("I/O on {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl IssuerError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        IssuerError::Io { path: path.display().to_string(), source }
    }
}

/// The sandbox issuer over one database.
#[derive(Clone)]
pub struct Issuer {
    db: Database,
    cas: Arc<HashMap<KeyRole, Ca>>,
    card_data_key: Arc<jpki_crypto::RsaKey>,
    /// Where the records' status list is published, as the records it issues name it.
    status_list_uri: Arc<str>,
}

/// Where `jpki serve --sandbox` is reached by default: its default listen address.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

const CARD_DATA_KEY: &str = "card_data";

impl Issuer {
    /// Creates the CAs if the database has none; never replaces existing ones. Returns whether any CA
    /// was created. Safe to run concurrently: the first writer's CAs win.
    pub async fn init(db: Database) -> Result<(Issuer, bool), IssuerError> {
        let now = now();
        let mut created = false;
        for role in KeyRole::ALL {
            let exists: Option<(String,)> = sqlx::query_as("SELECT role FROM issuer_ca WHERE role = $1").bind(role.as_str()).fetch_optional(db.pool()).await?;
            if exists.is_some() {
                continue;
            }
            let ca = Ca::create(role, now)?;
            let inserted = sqlx::query(
                "INSERT INTO issuer_ca (role, certificate, private_key, responder_certificate, responder_private_key, next_crl_number, created_at)
                 VALUES ($1, $2, $3, $4, $5, 1, $6) ON CONFLICT (role) DO NOTHING",
            )
            .bind(role.as_str())
            .bind(ca.certificate_der.clone())
            .bind(ca.key.pkcs8_der().to_vec())
            .bind(ca.responder_certificate_der.clone())
            .bind(ca.responder_key.pkcs8_der().to_vec())
            .bind(now.unix_timestamp())
            .execute(db.pool())
            .await?;
            created |= inserted.rows_affected() == 1;
        }
        let key = jpki_crypto::RsaKey::generate_2048()?;
        sqlx::query("INSERT INTO issuer_key (name, private_key, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(CARD_DATA_KEY)
            .bind(key.pkcs8_der().to_vec())
            .bind(now.unix_timestamp())
            .execute(db.pool())
            .await?;
        Ok((Issuer::open(db).await?, created))
    }

    /// Loads the CAs of an initialized sandbox.
    pub async fn open(db: Database) -> Result<Issuer, IssuerError> {
        type CaRow = (String, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);
        let rows: Vec<CaRow> =
            sqlx::query_as("SELECT role, certificate, private_key, responder_certificate, responder_private_key FROM issuer_ca").fetch_all(db.pool()).await?;
        let mut cas = HashMap::new();
        for (role, cert, key, responder_cert, responder_key) in rows {
            let Some(role) = KeyRole::parse(&role) else { continue };
            let ca =
                Ca::from_parts(role, &cert, jpki_crypto::RsaKey::from_pkcs8_der(&key)?, &responder_cert, jpki_crypto::RsaKey::from_pkcs8_der(&responder_key)?)?;
            cas.insert(role, ca);
        }
        if KeyRole::ALL.iter().any(|r| !cas.contains_key(r)) {
            return Err(IssuerError::NotInitialized);
        }
        let key: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT private_key FROM issuer_key WHERE name = $1").bind(CARD_DATA_KEY).fetch_optional(db.pool()).await?;
        let card_data_key = jpki_crypto::RsaKey::from_pkcs8_der(&key.ok_or(IssuerError::NotInitialized)?.0)?;
        let status_list_uri = mdoc_pki::status_list_uri(DEFAULT_PUBLIC_URL).into();
        Ok(Issuer { db, cas: Arc::new(cas), card_data_key: Arc::new(card_data_key), status_list_uri })
    }

    /// The issuer as reached at `base` (e.g. `https://sandbox.example`): the records it issues name
    /// their status list under it, and it serves that list at `/issuer/status/mnc`.
    pub fn with_public_url(mut self, base: &str) -> Issuer {
        self.status_list_uri = mdoc_pki::status_list_uri(base).into();
        self
    }

    /// The URI the records' status list has (`<public URL>/issuer/status/mnc`).
    pub fn status_list_uri(&self) -> &str {
        &self.status_list_uri
    }

    pub fn ca(&self, role: KeyRole) -> &Ca {
        self.cas.get(&role).expect("both CAs are loaded by open()")
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Writes the trust anchors a relying party configures into `dir`: `sign-ca.pem`, `auth-ca.pem`
    /// (JPKI) and `iaca.pem`, `reader-ca.pem` (the card-substitute record's issuers and readers).
    pub async fn export_trust(&self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, IssuerError> {
        let pki = self.mdoc_pki().await?;
        std::fs::create_dir_all(dir).map_err(|e| IssuerError::io(dir, e))?;
        let mut files: Vec<(String, String)> =
            KeyRole::ALL.iter().map(|&role| (format!("{}-ca.pem", role.file_stem()), self.ca(role).certificate_pem())).collect();
        files.push(("iaca.pem".into(), pki.iaca.certificate_pem()));
        files.push(("reader-ca.pem".into(), pki.reader_ca.certificate_pem()));
        let mut files: Vec<(String, Vec<u8>)> = files.into_iter().map(|(name, pem)| (name, pem.into_bytes())).collect();
        // The card issuer's card-verifiable certificate (binary): the key that seals the card's text
        // records, which the number check trusts.
        files.push((CARD_ISSUER_FILE.into(), jpki_card::applications::card_data::cv_certificate(&self.card_data_key)?));
        files
            .into_iter()
            .map(|(name, bytes)| {
                let path = dir.join(name);
                jpki_files::write_atomic(&path, &bytes)?;
                Ok(path)
            })
            .collect()
    }
}

/// The file [`Issuer::export_trust`] writes the card issuer's card-verifiable certificate to; a
/// platform trusts the card issuer keys of the `*.cvc` files in its trust directory.
pub const CARD_ISSUER_FILE: &str = "card-issuer.cvc";

/// The current time, truncated to whole seconds (certificates and CRLs carry seconds).
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

pub(crate) fn from_unix(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Records that certificate statuses changed, inside the transaction that changed them; OCSP responders
/// in every process watch this counter and drop their cached responses.
pub(crate) async fn bump_status_epoch(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<(), IssuerError> {
    sqlx::query("UPDATE issuer_state SET status_epoch = status_epoch + 1 WHERE id = 1").execute(&mut **tx).await?;
    Ok(())
}
