//! The change feed: a watched certificate that a CRL generation lists becomes one event per customer
//! and certificate, numbered in commit order, read by cursor (`GET /v1/changes?after=`) and pushed to
//! the tenant's webhooks.
//!
//! A delivery is a POST of the event as JSON with the headers `Webhook-Id` (the event id, the same on
//! every retry: receivers deduplicate by it) and `Webhook-Signature: t=<unix time>,v1=<hex>`, where the
//! hex is HMAC-SHA256 keyed with the endpoint's secret over `<unix time>.<body>`. A 2xx answer delivers
//! it; anything else (an error status, a refused or timed-out connection) is retried with exponential
//! backoff ([`retry_delay`]) until [`GIVE_UP_AFTER`] has passed since the event. Deliveries live in the
//! database, so a restart loses none; a process claims a due one for [`LEASE`] before posting it, so
//! two processes do not post it together, and a process that dies mid-post leaves it to be retried:
//! delivery is at least once.

use jpki_profile::revocation_reason::RevocationReason;
use jpki_profile::KeyRole;
use jpki_store::{sqlx, Database};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::{stored_time, PlatformError};

/// Retries stop once the event is this old (the issue asks for at least a day).
pub const GIVE_UP_AFTER: Duration = Duration::hours(72);
/// How long a process holds a delivery it is posting.
pub const LEASE: Duration = Duration::minutes(2);
/// The most events one page of the feed holds.
pub const MAX_PAGE: i64 = 1000;

/// The wait after the `attempt`-th failed attempt: 30 s, doubling, at most an hour.
pub fn retry_delay(attempt: u32) -> Duration {
    Duration::seconds((30i64 << attempt.saturating_sub(1).min(7)).min(3600))
}

/// The `Webhook-Signature` header's value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let signed = [timestamp.to_string().as_bytes(), b".", body].concat();
    format!("t={timestamp},v1={}", hex::encode(jpki_crypto::hmac_sha256(secret.as_bytes(), &signed)))
}

/// One change: the customer's watched certificate was revoked.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeEvent {
    pub id: String,
    /// The feed position: `GET /v1/changes?after=<cursor>` lists what follows.
    pub cursor: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub customer_id: String,
    pub reference: String,
    pub certificate_kind: KeyRole,
    pub certificate_serial: String,
    /// Serialized as its RFC 5280 name (`affiliationChanged`: the holder moved or changed name).
    pub reason: RevocationReason,
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
    /// The CRL generation that listed it.
    pub generation: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A found revocation of a watched certificate: customer, tenant, reference, kind, serial, reason, time.
type Found = (String, String, String, String, String, Option<i32>, i64);

const COLUMNS: &str = "SELECT c.customer_id, cu.tenant_id, cu.reference, c.kind, c.serial, e.reason, e.revoked_at";
const FOUND: &str = "SELECT c.customer_id, cu.tenant_id, cu.reference, c.kind, c.serial, e.reason, e.revoked_at
     FROM crl_entry e JOIN customer_certificate c ON c.issuer = e.issuer AND c.serial = e.serial JOIN customer cu ON cu.id = c.customer_id";
const NOT_REPORTED: &str = "NOT EXISTS (SELECT 1 FROM change_event v WHERE v.customer_id = c.customer_id AND v.issuer = c.issuer AND v.serial = c.serial)";

/// The events for generation `generation` of `issuer`, just switched in: every watched certificate it
/// is the first to list. Customers registered later are checked when registered.
/// The join walks the smaller side, the new entries or the watched certificates, and looks the other
/// up by its index: `CROSS JOIN` keeps SQLite's planner to that order (PostgreSQL plans by its
/// statistics either way), so that a daily delta costs what the delta holds.
pub(crate) async fn detect(tx: &mut sqlx::Transaction<'_, sqlx::Any>, issuer: &str, generation: i64, new_entries: i64) -> Result<u64, PlatformError> {
    // Only whether more are watched than listed matters: counting stops there, so that a daily delta
    // does not count millions of watched certificates.
    let (watched,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM (SELECT 1 FROM customer_certificate WHERE issuer = $1 LIMIT $2) w")
        .bind(issuer)
        .bind(new_entries + 1)
        .fetch_one(&mut **tx)
        .await?;
    if watched == 0 || new_entries == 0 {
        return Ok(0);
    }
    // A generation belongs to one CA: the entry side is named by its generation alone, so that SQLite
    // takes the generation's index and not the (issuer, serial) key, which would walk every entry.
    let sql = if new_entries <= watched {
        format!(
            "{COLUMNS} FROM crl_entry e CROSS JOIN customer_certificate c CROSS JOIN customer cu
             WHERE e.generation_id = $1 AND c.issuer = e.issuer AND c.serial = e.serial AND cu.id = c.customer_id AND {NOT_REPORTED}"
        )
    } else {
        format!(
            "{COLUMNS} FROM customer_certificate c CROSS JOIN crl_entry e CROSS JOIN customer cu
             WHERE c.issuer = $1 AND e.issuer = c.issuer AND e.serial = c.serial AND e.generation_id = $2 AND cu.id = c.customer_id AND {NOT_REPORTED}"
        )
    };
    let query = sqlx::query_as(&sql);
    let query = if new_entries <= watched { query.bind(generation) } else { query.bind(issuer).bind(generation) };
    let found: Vec<Found> = query.fetch_all(&mut **tx).await?;
    add(tx, issuer, generation, found).await
}

/// The event for a customer just registered, if the generation in force already lists its certificate.
pub(crate) async fn detect_for_customer(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer_id: &str,
    issuer: &str,
    serial: &str,
) -> Result<u64, PlatformError> {
    let current: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT current_generation FROM crl_issuer WHERE issuer = $1").bind(issuer).fetch_optional(&mut **tx).await?;
    let Some((Some(generation),)) = current else { return Ok(0) };
    let found: Vec<Found> =
        sqlx::query_as(&format!("{FOUND} WHERE e.issuer = $1 AND e.serial = $2 AND e.generation_id <= $3 AND c.customer_id = $4 AND {NOT_REPORTED}"))
            .bind(issuer)
            .bind(serial)
            .bind(generation)
            .bind(customer_id)
            .fetch_all(&mut **tx)
            .await?;
    add(tx, issuer, generation, found).await
}

/// Numbers the events under the feed's head lock, stores them, and queues a delivery to each of the
/// tenant's webhooks.
async fn add(tx: &mut sqlx::Transaction<'_, sqlx::Any>, issuer: &str, generation: i64, found: Vec<Found>) -> Result<u64, PlatformError> {
    if found.is_empty() {
        return Ok(0);
    }
    let n = found.len() as i64;
    let (last,): (i64,) = sqlx::query_as("UPDATE change_feed_head SET seq = seq + $1 WHERE id = 1 RETURNING seq").bind(n).fetch_one(&mut **tx).await?;
    let (first, now) = (last - n + 1, OffsetDateTime::now_utc().unix_timestamp());
    let ids: Vec<String> = (0..found.len()).map(|_| jpki_store::new_id("event")).collect();
    let mut statements = jpki_store::Statements::new(tx);
    // 12 parameters a row, 200 rows a statement.
    for (chunk, offset) in found.chunks(200).zip((0..).step_by(200)) {
        let sql = format!(
            "INSERT INTO change_event (seq, id, tenant_id, customer_id, reference, certificate_kind, issuer, serial, reason, revoked_at, generation_id, created_at) VALUES {}",
            statements.values_placeholders(chunk.len(), 12)
        );
        let mut rows = statements.push(&sql);
        for (i, (customer, tenant, reference, kind, serial, reason, revoked_at)) in chunk.iter().enumerate() {
            rows.bind(first + offset + i as i64)
                .bind(ids[offset as usize + i].as_str())
                .bind(tenant.as_str())
                .bind(customer.as_str())
                .bind(reference.as_str())
                .bind(kind.as_str())
                .bind(issuer)
                .bind(serial.as_str())
                .bind(*reason)
                .bind(*revoked_at)
                .bind(generation)
                .bind(now);
        }
    }
    // This backend's four placeholders, from the one function that writes them.
    let p = statements.values_placeholders(1, 4);
    let p: Vec<&str> = p.trim_matches(['(', ')']).split(", ").collect();
    let deliveries = format!(
        "INSERT INTO webhook_delivery (event_id, webhook_id, tenant_id, state, attempts, next_attempt_at, lease_until, created_at)
         SELECT v.id, w.id, w.tenant_id, 'pending', 0, {}, 0, {} FROM change_event v JOIN webhook w ON w.tenant_id = v.tenant_id WHERE v.seq >= {} AND v.seq <= {}",
        p[0], p[1], p[2], p[3]
    );
    statements.push(&deliveries).bind(now).bind(now).bind(first).bind(last);
    statements.execute(tx).await?;
    Ok(n as u64)
}

type EventRow = (i64, String, String, String, String, String, Option<i32>, i64, i64, i64);
const EVENT_COLUMNS: &str = "seq, id, customer_id, reference, certificate_kind, serial, reason, revoked_at, generation_id, created_at";

fn event((seq, id, customer_id, reference, kind, serial, reason, revoked_at, generation, created_at): EventRow) -> Result<ChangeEvent, PlatformError> {
    Ok(ChangeEvent {
        id,
        cursor: seq.to_string(),
        kind: "certificate.revoked",
        customer_id,
        reference,
        certificate_kind: KeyRole::parse(&kind).ok_or_else(|| PlatformError::Corrupt(format!("certificate kind {kind:?}")))?,
        certificate_serial: serial,
        reason: RevocationReason::from_code(reason.map_or(0, i64::from)),
        revoked_at: stored_time(revoked_at)?,
        generation,
        created_at: stored_time(created_at)?,
    })
}

/// The tenant's events after the cursor `after` (0 for the start), oldest first.
pub async fn feed(db: &Database, tenant_id: &str, after: i64, limit: i64) -> Result<Vec<ChangeEvent>, PlatformError> {
    let rows: Vec<EventRow> = sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM change_event WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"))
        .bind(tenant_id)
        .bind(after)
        .bind(limit.clamp(1, MAX_PAGE))
        .fetch_all(db.pool())
        .await?;
    rows.into_iter().map(event).collect()
}

/// The tenant's event `id`.
pub async fn get(db: &Database, tenant_id: &str, id: &str) -> Result<ChangeEvent, PlatformError> {
    let row: Option<EventRow> = sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM change_event WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    event(row.ok_or_else(|| PlatformError::NotFound(format!("no event {id}")))?)
}

#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A webhook just registered, with its signing secret: shown here once.
#[derive(Debug, Clone, Serialize)]
pub struct NewWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

/// Registers `url` (checked by the caller) for the tenant's events from now on.
pub async fn add_webhook(db: &Database, tenant_id: &str, url: &str) -> Result<NewWebhook, PlatformError> {
    let (id, secret, now) = (jpki_store::new_id("webhook"), format!("whsec_{}", hex::encode(jpki_crypto::random_bytes::<32>())), OffsetDateTime::now_utc());
    sqlx::query("INSERT INTO webhook (id, tenant_id, url, secret, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(tenant_id)
        .bind(url)
        .bind(&secret)
        .bind(now.unix_timestamp())
        .execute(db.pool())
        .await?;
    Ok(NewWebhook { webhook: Webhook { id, url: url.to_owned(), created_at: now }, secret })
}

pub async fn webhooks(db: &Database, tenant_id: &str) -> Result<Vec<Webhook>, PlatformError> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT id, url, created_at FROM webhook WHERE tenant_id = $1 ORDER BY id").bind(tenant_id).fetch_all(db.pool()).await?;
    rows.into_iter().map(|(id, url, created_at)| Ok(Webhook { id, url, created_at: stored_time(created_at)? })).collect()
}

/// Removes the tenant's webhook `id` and what was queued for it.
pub async fn delete_webhook(db: &Database, tenant_id: &str, id: &str) -> Result<(), PlatformError> {
    let deletes =
        ["DELETE FROM webhook_attempt WHERE webhook_id = $1", "DELETE FROM webhook_delivery WHERE webhook_id = $1", "DELETE FROM webhook WHERE id = $1"];
    crate::delete_owned(db, "SELECT id FROM webhook WHERE id = $1 AND tenant_id = $2", "webhook", id, tenant_id, &deletes).await
}

/// One attempt to deliver an event to an endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub attempt: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The HTTP status answered, if any.
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Where an event's delivery to one endpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Retries given up after [`GIVE_UP_AFTER`].
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed].into_iter().find(|d| d.as_str() == s)
    }
}

/// An event's delivery to one endpoint, with every attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub webhook_id: String,
    pub state: DeliveryState,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    pub attempts: Vec<Attempt>,
}

/// The delivery log of the tenant's event `event_id`.
pub async fn deliveries(db: &Database, tenant_id: &str, event_id: &str) -> Result<Vec<Delivery>, PlatformError> {
    get(db, tenant_id, event_id).await?;
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT webhook_id, state, next_attempt_at, delivered_at FROM webhook_delivery WHERE event_id = $1 AND tenant_id = $2 ORDER BY webhook_id",
    )
    .bind(event_id)
    .bind(tenant_id)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (webhook_id, state, next, delivered) in rows {
        let state = DeliveryState::parse(&state).ok_or_else(|| PlatformError::Corrupt(format!("delivery state {state:?}")))?;
        type AttemptRow = (i32, i64, Option<i32>, Option<String>, i64);
        let attempts: Vec<AttemptRow> =
            sqlx::query_as("SELECT attempt, at, status, error, duration_ms FROM webhook_attempt WHERE event_id = $1 AND webhook_id = $2 ORDER BY attempt")
                .bind(event_id)
                .bind(&webhook_id)
                .fetch_all(db.pool())
                .await?;
        out.push(Delivery {
            next_attempt_at: (state == DeliveryState::Pending).then(|| stored_time(next)).transpose()?,
            delivered_at: delivered.map(stored_time).transpose()?,
            attempts: attempts
                .into_iter()
                .map(|(attempt, at, status, error, duration_ms)| Ok(Attempt { attempt, at: stored_time(at)?, status, error, duration_ms }))
                .collect::<Result<_, PlatformError>>()?,
            webhook_id,
            state,
        });
    }
    Ok(out)
}

/// Queues the tenant's event `event_id` again, now, to every webhook the tenant has (also one
/// registered after the event). Returns how many deliveries were queued.
pub async fn redeliver(db: &Database, tenant_id: &str, event_id: &str) -> Result<u64, PlatformError> {
    get(db, tenant_id, event_id).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO webhook_delivery (event_id, webhook_id, tenant_id, state, attempts, next_attempt_at, lease_until, created_at)
         SELECT $1, w.id, w.tenant_id, 'pending', 0, $2, 0, $2 FROM webhook w WHERE w.tenant_id = $3
         AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.event_id = $1 AND d.webhook_id = w.id)",
    )
    .bind(event_id)
    .bind(now)
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    let queued = sqlx::query("UPDATE webhook_delivery SET state = 'pending', next_attempt_at = $1, created_at = $1 WHERE event_id = $2 AND tenant_id = $3")
        .bind(now)
        .bind(event_id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(queued)
}

/// A delivery this process has claimed: post `body` to `url`, then [`record_attempt`].
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub event_id: String,
    pub webhook_id: String,
    pub url: String,
    pub secret: String,
    pub attempts: i32,
    pub created_at: i64,
    pub body: Vec<u8>,
}

/// Claims up to `limit` deliveries due at `now`, each for [`LEASE`].
pub async fn claim_due(db: &Database, now: OffsetDateTime, limit: i64) -> Result<Vec<DueDelivery>, PlatformError> {
    let candidates: Vec<(String, String)> = sqlx::query_as(
        "SELECT event_id, webhook_id FROM webhook_delivery WHERE state = 'pending' AND next_attempt_at <= $1 AND lease_until < $1 ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now.unix_timestamp())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let mut claimed = Vec::new();
    for (event_id, webhook_id) in candidates {
        let took =
            sqlx::query("UPDATE webhook_delivery SET lease_until = $1 WHERE event_id = $2 AND webhook_id = $3 AND state = 'pending' AND lease_until < $4")
                .bind((now + LEASE).unix_timestamp())
                .bind(&event_id)
                .bind(&webhook_id)
                .bind(now.unix_timestamp())
                .execute(db.pool())
                .await?;
        if took.rows_affected() != 1 {
            continue;
        }
        let row: Option<(String, String, i32, i64, String)> = sqlx::query_as(
            "SELECT w.url, w.secret, d.attempts, d.created_at, d.tenant_id FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id WHERE d.event_id = $1 AND d.webhook_id = $2",
        )
        .bind(&event_id)
        .bind(&webhook_id)
        .fetch_optional(db.pool())
        .await?;
        let Some((url, secret, attempts, created_at, tenant_id)) = row else { continue };
        let body = serde_json::to_vec(&get(db, &tenant_id, &event_id).await?).map_err(|e| PlatformError::Corrupt(e.to_string()))?;
        claimed.push(DueDelivery { event_id, webhook_id, url, secret, attempts, created_at, body });
    }
    Ok(claimed)
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration: std::time::Duration,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Logs the attempt and moves the delivery on: delivered, retried later, or given up.
pub async fn record_attempt(db: &Database, delivery: &DueDelivery, outcome: &Outcome, now: OffsetDateTime) -> Result<(), PlatformError> {
    let attempt = delivery.attempts + 1;
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO webhook_attempt (event_id, webhook_id, attempt, at, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING")
        .bind(&delivery.event_id)
        .bind(&delivery.webhook_id)
        .bind(attempt)
        .bind(now.unix_timestamp())
        .bind(outcome.status.map(i32::from))
        .bind(outcome.error.as_deref())
        .bind(outcome.duration.as_millis() as i64)
        .execute(&mut *tx)
        .await?;
    let (state, next) = if outcome.delivered() {
        (DeliveryState::Delivered, now)
    } else if now - stored_time(delivery.created_at)? >= GIVE_UP_AFTER {
        (DeliveryState::Failed, now)
    } else {
        (DeliveryState::Pending, now + retry_delay(attempt as u32))
    };
    sqlx::query(
        "UPDATE webhook_delivery SET state = $1, attempts = $2, next_attempt_at = $3, lease_until = 0, delivered_at = $4 WHERE event_id = $5 AND webhook_id = $6",
    )
    .bind(state.as_str())
    .bind(attempt)
    .bind(next.unix_timestamp())
    .bind((state == DeliveryState::Delivered).then(|| now.unix_timestamp()))
    .bind(&delivery.event_id)
    .bind(&delivery.webhook_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
