//! Login with the authentication certificate (use case ⑤; modelled on web-eid's token validation):
//! the server issues a single-use challenge of 256 random bits that expires in minutes, stored in the
//! database so any server process can check it; the holder signs it with the authentication key
//! (sha256WithRSAEncryption, PKCS#1 v1.5 — what `jpki card sign --which auth` does); the server checks
//! the signature, the certificate chain and OCSP, then resolves the tenant's account linked to the
//! certificate. An account is linked at registration (after the tenant's identity proofing) and can be
//! re-linked to a re-issued certificate by the same person's signature-certificate proof.

use jpki_store::{sqlx, Database};
use jpki_verify::verifier::Signer;
use serde::Serialize;
use time::OffsetDateTime;

use crate::PlatformError;

/// How long a challenge can be answered.
pub const CHALLENGE_LIFETIME: time::Duration = time::Duration::minutes(5);

#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    pub challenge_id: String,
    /// 32 random bytes, base64: sign these bytes.
    pub challenge: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

pub async fn issue(db: &Database, tenant_id: &str, now: OffsetDateTime) -> Result<Challenge, PlatformError> {
    use base64::Engine;
    let challenge = base64::engine::general_purpose::STANDARD.encode(jpki_crypto::random_bytes::<32>());
    let id = jpki_store::new_id("challenge");
    let expires_at = now + CHALLENGE_LIFETIME;
    sqlx::query("INSERT INTO auth_challenge (id, tenant_id, challenge, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(tenant_id)
        .bind(&challenge)
        .bind(now.unix_timestamp())
        .bind(expires_at.unix_timestamp())
        .execute(db.pool())
        .await?;
    Ok(Challenge { challenge_id: id, challenge, expires_at })
}

/// Why a challenge cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeProblem {
    Unknown,
    Expired,
    Used,
}

/// Marks the challenge used (whatever the outcome of the login: one attempt per challenge) and returns
/// its bytes. Atomic across processes: of two concurrent attempts, one gets it.
pub async fn consume(db: &Database, tenant_id: &str, challenge_id: &str, now: OffsetDateTime) -> Result<Result<Vec<u8>, ChallengeProblem>, PlatformError> {
    use base64::Engine;
    let taken = sqlx::query("UPDATE auth_challenge SET used_at = $1 WHERE id = $2 AND tenant_id = $3 AND used_at IS NULL AND expires_at >= $1")
        .bind(now.unix_timestamp())
        .bind(challenge_id)
        .bind(tenant_id)
        .execute(db.pool())
        .await?;
    let row: Option<(String, i64, Option<i64>)> = sqlx::query_as("SELECT challenge, expires_at, used_at FROM auth_challenge WHERE id = $1 AND tenant_id = $2")
        .bind(challenge_id)
        .bind(tenant_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(match (taken.rows_affected(), row) {
        (1, Some((challenge, _, _))) => Ok(base64::engine::general_purpose::STANDARD.decode(challenge).unwrap_or_default()),
        (_, None) => Err(ChallengeProblem::Unknown),
        (_, Some((_, expires_at, _))) if expires_at < now.unix_timestamp() => Err(ChallengeProblem::Expired),
        (_, Some(_)) => Err(ChallengeProblem::Used),
    })
}

/// SHA-256 over the identity a signature certificate proves (name, birth date, sex).
pub fn identity_hash(signer: &Signer) -> Option<String> {
    let info = signer.four_info.as_ref()?;
    Some(hex::encode(jpki_crypto::sha256(format!("{}\n{}\n{}", info.name, info.birth_date, info.sex.code()).as_bytes())))
}

pub async fn account_of(db: &Database, tenant_id: &str, auth_serial: &str) -> Result<Option<String>, PlatformError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT account_id FROM account_link WHERE tenant_id = $1 AND auth_serial = $2")
        .bind(tenant_id)
        .bind(auth_serial)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|(a,)| a))
}

/// Why a registration cannot link a certificate to an account: an account holds one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// The certificate is linked to another account of the tenant.
    LinkedElsewhere,
    /// The account's proofed person is not the one the signature proof shows.
    AnotherPerson,
    /// The account has a proofed person and the registration proves none.
    ProofRequired,
}

impl LinkRefusal {
    pub fn code(self) -> &'static str {
        match self {
            LinkRefusal::LinkedElsewhere => "conflict",
            LinkRefusal::AnotherPerson => "account_holds_another_person",
            LinkRefusal::ProofRequired => "identity_proof_required",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            LinkRefusal::LinkedElsewhere => "this certificate is linked to another account",
            LinkRefusal::AnotherPerson => {
                "the account holds another person (the signature proof shows a different name, birth date or sex); send replace_link: true to replace its links"
            }
            LinkRefusal::ProofRequired => "the account holds a proofed person: prove this one with signature_proof (or send replace_link: true)",
        }
    }
}

/// Links `auth_serial` to `account_id` (registration), with the proofing signature's identity if any.
/// An account holds one person: a link whose proven identity differs from the account's, or that
/// proves none for an account that has one, is refused unless `replace`, which first removes the
/// account's links (the caller audits it). Returns how many links were replaced.
pub async fn link(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    account_id: &str,
    auth_serial: &str,
    identity_hash: Option<&str>,
    replace: bool,
    now: OffsetDateTime,
) -> Result<Result<u64, LinkRefusal>, PlatformError> {
    let existing: Option<(String,)> = sqlx::query_as("SELECT account_id FROM account_link WHERE tenant_id = $1 AND auth_serial = $2")
        .bind(tenant_id)
        .bind(auth_serial)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some((other,)) = existing {
        return Ok(if other == account_id { Ok(0) } else { Err(LinkRefusal::LinkedElsewhere) });
    }
    let mut replaced = 0;
    if replace {
        replaced = sqlx::query("DELETE FROM account_link WHERE tenant_id = $1 AND account_id = $2")
            .bind(tenant_id)
            .bind(account_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    } else {
        let held: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT identity_hash FROM account_link WHERE tenant_id = $1 AND account_id = $2 AND identity_hash IS NOT NULL")
                .bind(tenant_id)
                .bind(account_id)
                .fetch_all(&mut **tx)
                .await?;
        match identity_hash {
            _ if held.is_empty() => {}
            None => return Ok(Err(LinkRefusal::ProofRequired)),
            Some(proven) if held.iter().any(|(h,)| h != proven) => return Ok(Err(LinkRefusal::AnotherPerson)),
            Some(_) => {}
        }
    }
    sqlx::query("INSERT INTO account_link (tenant_id, auth_serial, account_id, identity_hash, linked_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant_id)
        .bind(auth_serial)
        .bind(account_id)
        .bind(identity_hash)
        .bind(now.unix_timestamp())
        .execute(&mut **tx)
        .await?;
    Ok(Ok(replaced))
}

/// The account whose proofed identity is `identity_hash` (for re-linking a re-issued certificate).
pub async fn account_by_identity(db: &Database, tenant_id: &str, identity_hash: &str) -> Result<Option<String>, PlatformError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT account_id FROM account_link WHERE tenant_id = $1 AND identity_hash = $2 ORDER BY linked_at DESC LIMIT 1")
            .bind(tenant_id)
            .bind(identity_hash)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(a,)| a))
}

/// Links the re-issued authentication certificate `auth_serial` to the account one of `predecessors`
/// (its earlier certificates, newest first, from the issuer's link information) is linked to, with that
/// link's proofed identity. Returns the account, if one of them was linked.
pub async fn link_successor(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    auth_serial: &str,
    predecessors: &[String],
    now: OffsetDateTime,
) -> Result<Option<String>, PlatformError> {
    for old in predecessors {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT account_id, identity_hash FROM account_link WHERE tenant_id = $1 AND auth_serial = $2")
                .bind(tenant_id)
                .bind(old)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some((account_id, identity_hash)) = row {
            sqlx::query(
                "INSERT INTO account_link (tenant_id, auth_serial, account_id, identity_hash, linked_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant_id, auth_serial) DO NOTHING",
            )
            .bind(tenant_id)
            .bind(auth_serial)
            .bind(&account_id)
            .bind(identity_hash)
            .bind(now.unix_timestamp())
            .execute(&mut **tx)
            .await?;
            return Ok(Some(account_id));
        }
    }
    Ok(None)
}

/// Whether the tenant links any account to a certificate (only then is a login's unknown certificate
/// worth asking the issuer about).
pub async fn has_links(db: &Database, tenant_id: &str) -> Result<bool, PlatformError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT auth_serial FROM account_link WHERE tenant_id = $1 LIMIT 1").bind(tenant_id).fetch_optional(db.pool()).await?;
    Ok(row.is_some())
}
