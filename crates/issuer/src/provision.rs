//! Platform operators and the latest-4-info provision (最新の利用者情報提供, seed 001 §3-2-2).
//!
//! A platform operator learns from the daily CRL that a customer's signature certificate was revoked
//! (a 4-info change), then presents that certificate's serial and receives the customer's current
//! 4 information and the serial of the certificate that replaced it — only when the customer consented
//! beforehand to provision to that operator.

use jpki_profile::cert_profile::JST;
use jpki_profile::fees::{fee_yen, FeeCertKind, ProvisionMethod};
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
        let current = self.successor(&serial, KeyRole::Signature, at).await?;
        meter
            .record(vec![Provision {
                operator_id: Some(operator.id.clone()),
                at,
                method: ProvisionMethod::Latest4Info,
                cert_kind: FeeCertKind::from(KeyRole::Signature),
                fee_yen: fee_yen(ProvisionMethod::Latest4Info, FeeCertKind::Signature, at.to_offset(JST).date()),
            }])
            .await?;
        Ok(LatestFourInfo {
            serial,
            revoked_at: from_unix(revoked_at),
            revocation_reason: RevocationReason::from_code(reason.unwrap_or(0)),
            deceased: person.deceased_at.is_some(),
            four_info: person.four_info,
            current_serial: current,
        })
    }

    /// The certificate that replaced `serial` (of `role`), if one is in force at `at`: the same holder's
    /// certificate of that role on the same kind of device (a re-issued card's, not a phone's), issued
    /// after it.
    async fn successor(&self, serial: &str, role: KeyRole, at: OffsetDateTime) -> Result<Option<String>, IssuerError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT c.serial FROM certificate c JOIN card d ON d.id = c.card_id
             JOIN certificate old ON old.serial = $1 JOIN card old_device ON old_device.id = old.card_id
             WHERE c.person_id = old.person_id AND c.ca_role = $2 AND old.ca_role = $2 AND c.revoked_at IS NULL AND c.not_after > $3
               AND d.device = old_device.device AND c.not_before >= old.not_before AND c.serial <> old.serial
             ORDER BY c.not_before DESC, c.serial LIMIT 1",
        )
        .bind(serial)
        .bind(role.as_str())
        .bind(at.unix_timestamp())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|(s,)| s))
    }

    /// The old → new certificate link information for each of `serials` (J-LIS provides platform
    /// operators with the links between a holder's old and new certificates, which commercial operators
    /// use to keep one user across renewal — ../shared/reference/relying-party-apis.md, "user across
    /// re-issue"; the format of J-LIS's own data is not public). For each serial: its role, the holder's
    /// earlier certificates of that role on the same kind of device (newest first) and the one in force
    /// that replaced it. An unknown serial is answered as unknown. Each known serial is metered to
    /// `operator`.
    pub async fn certificate_links(&self, operator: &Operator, serials: &[String], meter: &Meter) -> Result<Vec<CertificateLink>, IssuerError> {
        let at = now();
        let mut links = Vec::with_capacity(serials.len());
        let mut provisions = Vec::new();
        for asked in serials {
            let serial = asked.trim().trim_start_matches("0x").to_ascii_lowercase();
            let row: Option<(String,)> =
                sqlx::query_as("SELECT ca_role FROM certificate WHERE serial = $1").bind(&serial).fetch_optional(self.db.pool()).await?;
            let Some(role) = row.and_then(|(r,)| KeyRole::parse(&r)) else {
                links.push(CertificateLink { serial, role: None, predecessors: Vec::new(), successor: None });
                continue;
            };
            let predecessors: Vec<(String,)> = sqlx::query_as(
                "SELECT c.serial FROM certificate c JOIN card d ON d.id = c.card_id
                 JOIN certificate new ON new.serial = $1 JOIN card new_device ON new_device.id = new.card_id
                 WHERE c.person_id = new.person_id AND c.ca_role = new.ca_role AND d.device = new_device.device
                   AND c.not_before <= new.not_before AND c.serial <> new.serial
                 ORDER BY c.not_before DESC, c.serial",
            )
            .bind(&serial)
            .fetch_all(self.db.pool())
            .await?;
            let successor = self.successor(&serial, role, at).await?;
            let cert_kind = FeeCertKind::from(role);
            let fee = fee_yen(ProvisionMethod::CertificateLink, cert_kind, at.to_offset(JST).date());
            provisions.push(Provision { operator_id: Some(operator.id.clone()), at, method: ProvisionMethod::CertificateLink, cert_kind, fee_yen: fee });
            links.push(CertificateLink { serial, role: Some(role), predecessors: predecessors.into_iter().map(|(s,)| s).collect(), successor });
        }
        if !provisions.is_empty() {
            meter.record(provisions).await?;
        }
        Ok(links)
    }

    /// The operator named `name`, added (without an API key: it is asked in-process) if there is none:
    /// the sandbox platform's own operator account at its issuer.
    pub async fn in_process_operator(&self, name: &str) -> Result<Operator, IssuerError> {
        match self.operator_by_name(name).await {
            Err(IssuerError::UnknownOperatorName(_)) => {
                let id = jpki_store::new_id("operator");
                sqlx::query("INSERT INTO operator (id, name, api_key_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING")
                    .bind(&id)
                    .bind(name)
                    .bind(hash_api_key(&hex::encode(jpki_crypto::random_bytes::<32>())))
                    .bind(now().unix_timestamp())
                    .execute(self.db.pool())
                    .await?;
                self.operator_by_name(name).await
            }
            found => found,
        }
    }

    /// The holder of certificate `serial` (either role).
    async fn holder_of(&self, serial: &str) -> Result<String, IssuerError> {
        let serial = serial.trim().trim_start_matches("0x").to_ascii_lowercase();
        let row: Option<(String,)> = sqlx::query_as("SELECT person_id FROM certificate WHERE serial = $1").bind(&serial).fetch_optional(self.db.pool()).await?;
        row.map(|(p,)| p).ok_or(IssuerError::UnknownCertificate(serial))
    }

    /// The consent of the holder of certificate `serial` to provision to `operator`, as the operator
    /// forwards it: granted, or withdrawn.
    pub async fn forward_consent(&self, operator: &Operator, serial: &str, granted: bool) -> Result<(), IssuerError> {
        let person_id = self.holder_of(serial).await?;
        if granted {
            self.grant_consent(&person_id, &operator.id).await
        } else {
            // Withdrawing what is not in force is already done.
            match self.withdraw_consent(&person_id, &operator.id).await {
                Err(IssuerError::Refused(_)) => Ok(()),
                other => other,
            }
        }
    }
}

/// The link information of one certificate ([`Issuer::certificate_links`]).
#[derive(Debug, Clone, Serialize)]
pub struct CertificateLink {
    pub serial: String,
    /// `None`: the issuer knows no certificate with this serial.
    pub role: Option<KeyRole>,
    /// The holder's earlier certificates of the same role and kind of device, newest first.
    pub predecessors: Vec<String>,
    /// The certificate in force that replaced it.
    pub successor: Option<String>,
}
