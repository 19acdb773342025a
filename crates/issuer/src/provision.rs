//! Platform operators and the latest-4-info provision (最新の利用者情報提供, seed 001 §3-2-2).
//!
//! A platform operator learns from the daily CRL that a customer's signature certificate was revoked
//! (a 4-info change), then presents that certificate's serial and receives the customer's current
//! 4 information and the serial of the certificate that replaced it — only when the customer consented
//! beforehand to provision to that operator.

use jpki_profile::fees::FeeCertKind;
use jpki_profile::FourInfo;
use jpki_store::sqlx;
use serde::Serialize;
use time::OffsetDateTime;

use crate::meter::{Meter, Provision};
use crate::{from_unix, now, Issuer, IssuerError};
use jpki_profile::revocation_reason::RevocationReason;
use jpki_profile::KeyRole;

#[derive(Debug, Clone, Serialize)]
pub struct Operator {
    pub id: String,
    pub name: String,
}

/// An operator just created, with its API key (shown once; only its hash is stored).
#[derive(Debug, Clone, Serialize)]
pub struct NewOperator {
    pub id: String,
    pub name: String,
    pub api_key: String,
}

/// The answer to a latest-4-info request.
#[derive(Debug, Clone, Serialize)]
pub struct LatestFourInfo {
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
    pub revocation_reason: RevocationReason,
    pub deceased: bool,
    pub four_info: FourInfo,
    /// The certificate that replaced this one, if one is in force: a signature certificate of the same
    /// holder on the same kind of device (card or smartphone), issued after it.
    pub current_serial: Option<String>,
}

pub fn hash_api_key(key: &str) -> String {
    hex::encode(jpki_crypto::sha256(key.as_bytes()))
}

impl Issuer {
    pub async fn add_operator(&self, name: &str) -> Result<NewOperator, IssuerError> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(IssuerError::Refused("an operator name must be non-empty printable text".into()));
        }
        let id = jpki_store::new_id("operator");
        let api_key = format!("jpki_op_{}", hex::encode(jpki_crypto::random_bytes::<32>()));
        let mut tx = self.db.begin_write().await?;
        let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM operator WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        if exists.is_some() {
            return Err(IssuerError::OperatorExists(name.to_owned()));
        }
        sqlx::query("INSERT INTO operator (id, name, api_key_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(name)
            .bind(hash_api_key(&api_key))
            .bind(now().unix_timestamp())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(NewOperator { id, name: name.to_owned(), api_key })
    }

    pub async fn operator_by_name(&self, name: &str) -> Result<Operator, IssuerError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT id, name FROM operator WHERE name = $1 OR id = $1").bind(name).fetch_optional(self.db.pool()).await?;
        let (id, name) = row.ok_or_else(|| IssuerError::UnknownOperatorName(name.to_owned()))?;
        Ok(Operator { id, name })
    }

    /// The operator an API key belongs to, if it is live.
    pub async fn authenticate_operator(&self, api_key: &str) -> Result<Operator, IssuerError> {
        let row: Option<(String, String)> = sqlx::query_as("SELECT id, name FROM operator WHERE api_key_hash = $1 AND revoked_at IS NULL")
            .bind(hash_api_key(api_key))
            .fetch_optional(self.db.pool())
            .await?;
        let (id, name) = row.ok_or(IssuerError::UnknownOperator)?;
        Ok(Operator { id, name })
    }

    /// Records the person's consent to provision of their latest 4 information to `operator`.
    pub async fn grant_consent(&self, person_id: &str, operator: &str) -> Result<(), IssuerError> {
        let person = self.person(person_id).await?;
        let operator = self.operator_by_name(operator).await?;
        let at = now().unix_timestamp();
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO consent (person_id, operator_id, granted_at) VALUES ($1, $2, $3)
             ON CONFLICT (person_id, operator_id) DO UPDATE SET granted_at = $3, withdrawn_at = NULL",
        )
        .bind(&person.id)
        .bind(&operator.id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn withdraw_consent(&self, person_id: &str, operator: &str) -> Result<(), IssuerError> {
        let operator = self.operator_by_name(operator).await?;
        let done = sqlx::query("UPDATE consent SET withdrawn_at = $1 WHERE person_id = $2 AND operator_id = $3 AND withdrawn_at IS NULL")
            .bind(now().unix_timestamp())
            .bind(person_id)
            .bind(&operator.id)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(IssuerError::Refused(format!("person {person_id} has no consent in force for {}", operator.name)));
        }
        Ok(())
    }

    /// The latest-4-info provision for the revoked signature certificate `serial`, metered to `operator`.
    pub async fn latest_four_info(&self, operator: &Operator, serial: &str, meter: &Meter) -> Result<LatestFourInfo, IssuerError> {
        let serial = serial.trim().trim_start_matches("0x").to_ascii_lowercase();
        let row: Option<(String, Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT person_id, revoked_at, revocation_reason FROM certificate WHERE serial = $1 AND ca_role = 'signature'")
                .bind(&serial)
                .fetch_optional(self.db.pool())
                .await?;
        let (person_id, revoked_at, reason) = row.ok_or_else(|| IssuerError::UnknownCertificate(serial.clone()))?;
        let consent: Option<(i64,)> = sqlx::query_as("SELECT granted_at FROM consent WHERE person_id = $1 AND operator_id = $2 AND withdrawn_at IS NULL")
            .bind(&person_id)
            .bind(&operator.id)
            .fetch_optional(self.db.pool())
            .await?;
        if consent.is_none() {
            return Err(IssuerError::NoConsent { serial });
        }
        let Some(revoked_at) = revoked_at else { return Err(IssuerError::NotRevoked(serial)) };
        let person = self.person(&person_id).await?;
        let at = now();
        // The successor is the certificate that replaced this one: a signature certificate of the same
        // person on the same kind of device (a re-issued card's, not a phone's), issued after it and in force.
        let current: Option<(String,)> = sqlx::query_as(
            "SELECT c.serial FROM certificate c JOIN card d ON d.id = c.card_id
             JOIN certificate old ON old.serial = $3 JOIN card old_device ON old_device.id = old.card_id
             WHERE c.person_id = $1 AND c.ca_role = 'signature' AND c.revoked_at IS NULL AND c.not_after > $2
               AND d.device = old_device.device AND c.not_before >= old.not_before AND c.serial <> old.serial
             ORDER BY c.not_before DESC LIMIT 1",
        )
        .bind(&person.id)
        .bind(at.unix_timestamp())
        .bind(&serial)
        .fetch_optional(self.db.pool())
        .await?;
        meter
            .record(vec![Provision {
                operator_id: Some(operator.id.clone()),
                at,
                method: "latest_4_info",
                cert_kind: FeeCertKind::from(KeyRole::Signature),
                fee_yen: None,
            }])
            .await?;
        Ok(LatestFourInfo {
            serial,
            revoked_at: from_unix(revoked_at),
            revocation_reason: RevocationReason::from_code(reason.unwrap_or(0)),
            deceased: person.deceased_at.is_some(),
            four_info: person.four_info,
            current_serial: current.map(|(s,)| s),
        })
    }
}
