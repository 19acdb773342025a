//! Life events and their JPKI consequences (../shared/reference/jpki-lifecycle.md, after J-LIS's
//! certification practice statements §4.9): which certificate each event revokes with which reason is
//! [`LifeEvent::revokes`] in the profile crate; a found card keeps its held certificates and gets new
//! ones.

use std::path::Path;

use jpki_profile::revocation_reason::{LifeEvent, RevocationReason};
use jpki_profile::Device;
use jpki_store::sqlx;
use serde::Serialize;
use time::OffsetDateTime;

use crate::cards::{lock_person, IssuedCertificate};
use crate::registry::Person;
use crate::{bump_status_epoch, now, Issuer, IssuerError};
use jpki_profile::KeyRole;

/// What a life event did.
#[derive(Debug, Clone, Serialize)]
pub struct EventOutcome {
    pub event: &'static str,
    pub person_id: String,
    pub revoked: Vec<RevokedSerial>,
    pub issued: Vec<IssuedCertificate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RevokedSerial {
    pub serial: String,
    pub reason: RevocationReason,
}

/// Revokes the person's certificates (those on `device`, or all) as `event` does.
async fn revoke_for(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person_id: &str,
    event: LifeEvent,
    device: Option<Device>,
    at: OffsetDateTime,
) -> Result<Vec<RevokedSerial>, IssuerError> {
    let mut revoked = Vec::new();
    for role in KeyRole::ALL {
        if let Some(reason) = event.revokes(role) {
            let serials = unrevoked_serials(tx, person_id, Some(role), device).await?;
            revoked.extend(revoke(tx, &serials, reason, at, Some(at)).await?);
        }
    }
    Ok(revoked)
}

/// Revokes the given certificates that are not yet revoked, recording reason and times, and tells OCSP
/// responders that statuses changed. A certificate already revoked keeps its first reason: J-LIS never
/// lifts a hold, and a revocation is final.
pub(crate) async fn revoke(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    serials: &[String],
    reason: RevocationReason,
    at: OffsetDateTime,
    invalidity: Option<OffsetDateTime>,
) -> Result<Vec<RevokedSerial>, IssuerError> {
    let mut revoked = Vec::new();
    for serial in serials {
        let done = sqlx::query("UPDATE certificate SET revoked_at = $1, revocation_reason = $2, invalidity_date = $3 WHERE serial = $4 AND revoked_at IS NULL")
            .bind(at.unix_timestamp())
            .bind(i64::from(reason.code()))
            .bind(invalidity.map(|t| t.unix_timestamp()))
            .bind(serial)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() == 1 {
            revoked.push(RevokedSerial { serial: serial.clone(), reason });
        }
    }
    if !revoked.is_empty() {
        bump_status_epoch(tx).await?;
    }
    Ok(revoked)
}

async fn unrevoked_serials(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person_id: &str,
    role: Option<KeyRole>,
    device: Option<Device>,
) -> Result<Vec<String>, IssuerError> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.serial, c.ca_role, k.device FROM certificate c JOIN card k ON k.id = c.card_id
         WHERE c.person_id = $1 AND c.revoked_at IS NULL",
    )
    .bind(person_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, r, d)| role.is_none_or(|role| KeyRole::parse(r) == Some(role)) && device.is_none_or(|dev| Device::parse(d) == Some(dev)))
        .map(|(s, _, _)| s)
        .collect())
}

fn serials(revoked: &[RevokedSerial]) -> Vec<&str> {
    revoked.iter().map(|r| r.serial.as_str()).collect()
}

pub(crate) async fn record_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person_id: &str,
    kind: &str,
    detail: serde_json::Value,
    at: OffsetDateTime,
) -> Result<(), IssuerError> {
    sqlx::query("INSERT INTO life_event (id, person_id, kind, detail, occurred_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(jpki_store::new_id("event"))
        .bind(person_id)
        .bind(kind)
        .bind(detail.to_string())
        .bind(at.unix_timestamp())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn living(person: &Person) -> Result<(), IssuerError> {
    match person.deceased_at {
        Some(_) => Err(IssuerError::Deceased(person.id.clone())),
        None => Ok(()),
    }
}

impl Issuer {
    /// 転居 (move): a new address; the signature certificates carrying the old one are revoked.
    pub async fn move_address(&self, person_id: &str, address: &str) -> Result<EventOutcome, IssuerError> {
        let person = self.person(person_id).await?;
        living(&person)?;
        let info = person.four_info.with_address(address)?;
        self.change_four_info(person, info, "move").await
    }

    /// 氏名変更 (rename): a new name; the signature certificates carrying the old one are revoked.
    pub async fn rename(&self, person_id: &str, name: &str) -> Result<EventOutcome, IssuerError> {
        let person = self.person(person_id).await?;
        living(&person)?;
        let info = person.four_info.with_name(name)?;
        self.change_four_info(person, info, "rename").await
    }

    async fn change_four_info(&self, person: Person, info: jpki_profile::FourInfo, event: &'static str) -> Result<EventOutcome, IssuerError> {
        let at = now();
        let mut tx = self.db.begin_write().await?;
        lock_person(&mut tx, &person.id, at).await?;
        sqlx::query("UPDATE person SET name = $1, name_alt = $2, address = $3, address_alt = $4 WHERE id = $5")
            .bind(&info.name)
            .bind(info.name_alt.to_string())
            .bind(&info.address)
            .bind(info.address_alt.to_string())
            .bind(&person.id)
            .execute(&mut *tx)
            .await?;
        let revoked = revoke_for(&mut tx, &person.id, LifeEvent::FourInfoChange, None, at).await?;
        crate::mdoc_pki::invalidate_records(&mut tx, &person.id, at).await?;
        record_event(&mut tx, &person.id, event, serde_json::json!({ "revoked": serials(&revoked) }), at).await?;
        tx.commit().await?;
        Ok(EventOutcome { event, person_id: person.id, revoked, issued: vec![] })
    }

    /// 紛失届 (loss report): every certificate on the person's cards (or phones) of `device` goes on
    /// certificateHold at once.
    pub async fn report_lost(&self, person_id: &str, device: Device) -> Result<EventOutcome, IssuerError> {
        let person = self.person(person_id).await?;
        let at = now();
        let mut tx = self.db.begin_write().await?;
        lock_person(&mut tx, &person.id, at).await?;
        let lost = sqlx::query("UPDATE card SET status = 'lost' WHERE person_id = $1 AND device = $2 AND status IN ('active', 'found')")
            .bind(&person.id)
            .bind(device.as_str())
            .execute(&mut *tx)
            .await?;
        if lost.rows_affected() == 0 {
            return Err(IssuerError::Refused(format!("person {} has no {} in use to report lost", person.id, device.as_str())));
        }
        let revoked = revoke_for(&mut tx, &person.id, LifeEvent::Loss, Some(device), at).await?;
        record_event(&mut tx, &person.id, "lost", serde_json::json!({ "device": device.as_str(), "held": serials(&revoked) }), at).await?;
        tx.commit().await?;
        Ok(EventOutcome { event: "lost", person_id: person.id, revoked, issued: vec![] })
    }

    /// A lost card was found: it can be used again, but its held certificates stay held; new ones are
    /// issued onto it.
    pub async fn report_found(&self, person_id: &str, card_dir: &Path) -> Result<EventOutcome, IssuerError> {
        let person = self.person(person_id).await?;
        living(&person)?;
        let state = jpki_card::CardDir::new(card_dir).load()?;
        if state.person_id != person.id {
            return Err(IssuerError::Refused(format!("the card in {} belongs to another person", card_dir.display())));
        }
        let at = now();
        let mut tx = self.db.begin_write().await?;
        lock_person(&mut tx, &person.id, at).await?;
        let found = sqlx::query("UPDATE card SET status = 'found' WHERE id = $1 AND status = 'lost'").bind(&state.card_id).execute(&mut *tx).await?;
        if found.rows_affected() == 0 {
            return Err(IssuerError::Refused(format!("card {} is not reported lost", state.card_id)));
        }
        record_event(&mut tx, &person.id, "found", serde_json::json!({ "card": state.card_id }), at).await?;
        tx.commit().await?;
        let roles: Vec<KeyRole> = state.keys.keys().filter_map(|r| KeyRole::parse(r)).collect();
        let issued = self.reissue_certificates(card_dir, &roles).await?;
        Ok(EventOutcome { event: "found", person_id: person.id, revoked: vec![], issued })
    }

    /// 死亡: every certificate ends (cessationOfOperation) and the cards are retired.
    pub async fn record_death(&self, person_id: &str) -> Result<EventOutcome, IssuerError> {
        let person = self.person(person_id).await?;
        living(&person)?;
        let at = now();
        let mut tx = self.db.begin_write().await?;
        lock_person(&mut tx, &person.id, at).await?;
        sqlx::query("UPDATE person SET deceased_at = $1 WHERE id = $2").bind(at.unix_timestamp()).bind(&person.id).execute(&mut *tx).await?;
        sqlx::query("UPDATE card SET status = 'retired' WHERE person_id = $1").bind(&person.id).execute(&mut *tx).await?;
        let revoked = revoke_for(&mut tx, &person.id, LifeEvent::Death, None, at).await?;
        crate::mdoc_pki::invalidate_records(&mut tx, &person.id, at).await?;
        record_event(&mut tx, &person.id, "death", serde_json::json!({ "revoked": serials(&revoked) }), at).await?;
        tx.commit().await?;
        Ok(EventOutcome { event: "death", person_id: person.id, revoked, issued: vec![] })
    }
}
