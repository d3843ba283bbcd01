//! The `notifications` read model: one row per call notification (`call.notification.raised`
//! on a call's stream), read by `GET /2010-04-01/Accounts/{AC}/Notifications.json` (an
//! account's, newest first) and `/Calls/{CA}/Notifications.json` (one call's), and each
//! instance. A notification never changes once raised, so a row is written once and a
//! redelivered event changes nothing (`ON CONFLICT DO NOTHING`); its account, call and
//! `message_date` are the envelope's (the account that owns the call stream, the stream, the
//! time it was recorded), never what the event says.

use crate::{Projection, Table};
use async_trait::async_trait;
use sqlx::{AnyConnection, Row};
use switchboard_events::call::{HttpMethod, NotificationLevel, NotificationRaised};
use switchboard_events::{Envelope, Event, Sid, SidPrefix};

/// One notification as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Its `NO…` SID.
    pub sid: Sid,
    /// Whose it is (the call stream's account).
    pub account_sid: Sid,
    /// The call it is about (the stream).
    pub call_sid: Sid,
    /// When it was recorded, ms since the epoch (`message_date`, `date_created`).
    pub message_date_ms: i64,
    /// The facts.
    pub raised: NotificationRaised,
}

/// The pure fold: the notification `envelope` raises, if it raises one.
pub fn fold(envelope: &Envelope) -> Option<Notification> {
    let Event::CallNotificationRaised(raised) = &envelope.event else {
        return None;
    };
    let call_sid = Sid::parse_as(&envelope.stream, SidPrefix::Call).ok()?;
    Some(Notification {
        sid: raised.notification_sid.clone(),
        account_sid: envelope.account_sid.clone(),
        call_sid,
        message_date_ms: envelope.occurred_at.timestamp_millis(),
        raised: raised.clone(),
    })
}

/// See the module doc.
pub struct Notifications;

const COLUMNS: &str = "sid, account_sid, call_sid, message_date, error_code, log_level, \
    message_text, request_url, request_method, request_variables, response_headers, \
    response_body";

fn level(s: &str) -> Option<NotificationLevel> {
    match s {
        "error" => Some(NotificationLevel::Error),
        "warning" => Some(NotificationLevel::Warning),
        _ => None,
    }
}

/// Reads a row; a row that does not parse (edited by hand) reads as absent, never a panic.
fn decode(row: &sqlx::any::AnyRow) -> Option<Notification> {
    let method: Option<String> = row.try_get(8).ok()?;
    Some(Notification {
        sid: Sid::parse(&row.try_get::<String, _>(0).ok()?).ok()?,
        account_sid: Sid::parse(&row.try_get::<String, _>(1).ok()?).ok()?,
        call_sid: Sid::parse(&row.try_get::<String, _>(2).ok()?).ok()?,
        message_date_ms: row.try_get(3).ok()?,
        raised: NotificationRaised {
            notification_sid: Sid::parse(&row.try_get::<String, _>(0).ok()?).ok()?,
            error_code: u32::try_from(row.try_get::<i64, _>(4).ok()?).ok()?,
            log_level: level(&row.try_get::<String, _>(5).ok()?)?,
            message_text: row.try_get(6).ok()?,
            request_url: row.try_get(7).ok()?,
            request_method: match method {
                None => None,
                Some(m) => Some(HttpMethod::parse(&m)?),
            },
            request_variables: row.try_get(9).ok()?,
            response_headers: row.try_get(10).ok()?,
            response_body: row.try_get(11).ok()?,
        },
    })
}

/// One notification by SID.
pub async fn get(conn: &mut AnyConnection, sid: &str) -> Result<Option<Notification>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE sid = $1");
    let row = sqlx::query(&sql).bind(sid).fetch_optional(conn).await?;
    Ok(row.as_ref().and_then(decode))
}

/// Which of an account's notifications a list shows, and from where.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this call's.
    pub call_sid: Option<String>,
    /// Only this level (Twilio's `Log`).
    pub log_level: Option<NotificationLevel>,
    /// Recorded at or after (ms).
    pub start_ms: Option<i64>,
    /// Recorded at or before (ms).
    pub end_ms: Option<i64>,
    /// The last notification of the previous page (its `message_date` ms and SID): the list
    /// continues after it, so a page stays stable while notifications are added.
    pub after: Option<(i64, String)>,
}

/// An account's notifications, newest first (`message_date`, then SID, descending), at most
/// `limit`.
pub async fn list(
    conn: &mut AnyConnection,
    account_sid: &str,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM notifications WHERE account_sid = $1 \
         AND ($2 = '' OR call_sid = $2) AND ($3 = '' OR log_level = $3) \
         AND message_date >= $4 AND message_date <= $5 \
         AND (message_date < $6 OR (message_date = $6 AND sid < $7)) \
         ORDER BY message_date DESC, sid DESC LIMIT $8"
    );
    // "Nothing after" is a key above every row: the newest date and a SID past every SID.
    let (after_ms, after_sid) = filter.after.clone().unwrap_or((i64::MAX, "~".to_string()));
    let rows = sqlx::query(&sql)
        .bind(account_sid)
        .bind(filter.call_sid.clone().unwrap_or_default())
        .bind(
            filter
                .log_level
                .map(NotificationLevel::as_str)
                .unwrap_or(""),
        )
        .bind(filter.start_ms.unwrap_or(i64::MIN))
        .bind(filter.end_ms.unwrap_or(i64::MAX))
        .bind(after_ms)
        .bind(after_sid)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().filter_map(decode).collect())
}

async fn insert(tx: &mut AnyConnection, n: &Notification) -> Result<(), sqlx::Error> {
    let placeholders: Vec<String> = (1..=12).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO notifications ({COLUMNS}) VALUES ({}) ON CONFLICT (sid) DO NOTHING",
        placeholders.join(", ")
    );
    let r = &n.raised;
    sqlx::query(&sql)
        .bind(n.sid.as_str())
        .bind(n.account_sid.as_str())
        .bind(n.call_sid.as_str())
        .bind(n.message_date_ms)
        .bind(i64::from(r.error_code))
        .bind(r.log_level.as_str())
        .bind(r.message_text.as_str())
        .bind(r.request_url.as_str())
        .bind(r.request_method.map(|m| m.as_str().to_string()))
        .bind(r.request_variables.as_str())
        .bind(r.response_headers.clone())
        .bind(r.response_body.clone())
        .execute(tx)
        .await?;
    Ok(())
}

#[async_trait]
impl Projection for Notifications {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn wants(&self, e: &Envelope) -> bool {
        matches!(e.event, Event::CallNotificationRaised(_))
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [Table] {
        &[Table {
            name: "notifications",
            order_by: "sid",
        }]
    }

    async fn apply(&self, tx: &mut AnyConnection, envelope: &Envelope) -> Result<(), sqlx::Error> {
        match fold(envelope) {
            Some(n) => insert(tx, &n).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use switchboard_events::Position;
    use uuid::Uuid;

    fn envelope(stream: &str, event: Event) -> Envelope {
        Envelope {
            id: Uuid::from_u128(1),
            stream: stream.to_string(),
            seq: 3,
            position: Position::embedded(3),
            occurred_at: DateTime::from_timestamp_millis(2_000).unwrap_or_default(),
            account_sid: Sid::from_u128(SidPrefix::Account, 4),
            correlation_id: Uuid::nil(),
            causation_id: None,
            region: "us1".into(),
            schema_version: 1,
            event,
        }
    }

    fn raised() -> NotificationRaised {
        NotificationRaised {
            notification_sid: Sid::from_u128(SidPrefix::Alert, 9),
            error_code: 12100,
            log_level: NotificationLevel::Error,
            message_text: "Document parse failure".into(),
            request_url: "https://app.example/voice".into(),
            request_method: Some(HttpMethod::Post),
            request_variables: "CallSid=CA1".into(),
            response_headers: None,
            response_body: Some("<Response>".into()),
        }
    }

    #[test]
    fn a_row_takes_its_account_call_and_date_from_the_envelope() {
        let call = Sid::from_u128(SidPrefix::Call, 7);
        let row = fold(&envelope(
            call.as_str(),
            Event::CallNotificationRaised(raised()),
        ))
        .expect("a row");
        assert_eq!(row.sid, Sid::from_u128(SidPrefix::Alert, 9));
        assert_eq!(row.account_sid, Sid::from_u128(SidPrefix::Account, 4));
        assert_eq!(row.call_sid, call);
        assert_eq!(row.message_date_ms, 2_000);
        assert_eq!(row.raised, raised());
    }

    #[test]
    fn other_events_and_other_streams_make_no_row() {
        let call = Sid::from_u128(SidPrefix::Call, 7);
        let ring = Event::CallRinging(switchboard_events::call::CallRinging {});
        assert_eq!(fold(&envelope(call.as_str(), ring)), None);
        let not_a_call = Sid::from_u128(SidPrefix::Workspace, 7);
        assert_eq!(
            fold(&envelope(
                not_a_call.as_str(),
                Event::CallNotificationRaised(raised())
            )),
            None
        );
    }
}
