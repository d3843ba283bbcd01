//! The `alerts` read model: one row per Monitor alert (`alert.raised`), read by
//! `GET /v1/Alerts` (an account's alerts, newest first, by level and date) and
//! `GET /v1/Alerts/{NO…}`. The fold is the write model's own
//! ([`switchboard_events::alert::evolve`]); an alert never changes once raised, so a row is
//! written once and a redelivered event changes nothing (`ON CONFLICT DO NOTHING`).

use crate::{Projection, Table};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};
use switchboard_events::alert::{self, Alert, AlertRaised, LogLevel};
use switchboard_events::{Envelope, Event, Sid};

/// The pure fold: the alert after `envelope`. Events of other streams leave it as it is.
pub fn fold(row: Option<Alert>, envelope: &Envelope) -> Option<Alert> {
    if !matches!(envelope.event, Event::AlertRaised(_)) {
        return row;
    }
    let Ok(sid) = Sid::parse(&envelope.stream) else {
        return row;
    };
    alert::evolve(
        row,
        &sid,
        &envelope.account_sid,
        envelope.occurred_at,
        &envelope.event,
    )
}

/// See the module doc.
pub struct Alerts;

const COLUMNS: &str = "sid, account_sid, date_created, delivery_id, error_code, log_level, \
    alert_text, api_version, more_info, date_generated, request_method, request_url, \
    request_variables, request_headers, response_body, response_headers, resource_sid, \
    service_sid";

fn ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn sid_opt(s: Option<String>) -> Option<Sid> {
    s.and_then(|s| Sid::parse(&s).ok())
}

/// Reads a row; a row that does not parse (edited by hand) reads as absent, never a panic.
fn decode(row: &sqlx::any::AnyRow) -> Option<Alert> {
    Some(Alert {
        sid: Sid::parse(&row.try_get::<String, _>(0).ok()?).ok()?,
        account_sid: Sid::parse(&row.try_get::<String, _>(1).ok()?).ok()?,
        date_created: ms(row.try_get(2).ok()?),
        raised: AlertRaised {
            delivery_id: row.try_get(3).ok()?,
            error_code: u32::try_from(row.try_get::<i64, _>(4).ok()?).ok()?,
            log_level: LogLevel::parse(&row.try_get::<String, _>(5).ok()?)?,
            alert_text: row.try_get(6).ok()?,
            api_version: row.try_get(7).ok()?,
            more_info: row.try_get(8).ok()?,
            date_generated: ms(row.try_get(9).ok()?),
            request_method: row.try_get(10).ok()?,
            request_url: row.try_get(11).ok()?,
            request_variables: row.try_get(12).ok()?,
            request_headers: row.try_get(13).ok()?,
            response_body: row.try_get(14).ok()?,
            response_headers: row.try_get(15).ok()?,
            resource_sid: sid_opt(row.try_get(16).ok()?),
            service_sid: sid_opt(row.try_get(17).ok()?),
        },
    })
}

/// One alert by SID.
pub async fn get(conn: &mut AnyConnection, sid: &str) -> Result<Option<Alert>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM alerts WHERE sid = $1");
    let row = sqlx::query(&sql).bind(sid).fetch_optional(conn).await?;
    Ok(row.as_ref().and_then(decode))
}

/// Which of an account's alerts a list shows, and from where.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this level.
    pub log_level: Option<LogLevel>,
    /// Generated at or after (ms).
    pub start_ms: Option<i64>,
    /// Generated at or before (ms).
    pub end_ms: Option<i64>,
    /// The last alert of the previous page (its `date_generated` ms and SID): the list
    /// continues after it, so a page stays stable while alerts are added.
    pub after: Option<(i64, String)>,
}

/// An account's alerts, newest first (`date_generated`, then SID, descending), at most `limit`.
pub async fn list(
    conn: &mut AnyConnection,
    account_sid: &str,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Alert>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM alerts WHERE account_sid = $1 AND ($2 = '' OR log_level = $2) \
         AND date_generated >= $3 AND date_generated <= $4 \
         AND (date_generated < $5 OR (date_generated = $5 AND sid < $6)) \
         ORDER BY date_generated DESC, sid DESC LIMIT $7"
    );
    // "Nothing after" is a key above every row: the newest date and a SID past every SID.
    let (after_ms, after_sid) = filter.after.clone().unwrap_or((i64::MAX, "~".to_string()));
    let rows = sqlx::query(&sql)
        .bind(account_sid)
        .bind(filter.log_level.map(LogLevel::as_str).unwrap_or(""))
        .bind(filter.start_ms.unwrap_or(i64::MIN))
        .bind(filter.end_ms.unwrap_or(i64::MAX))
        .bind(after_ms)
        .bind(after_sid)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().filter_map(decode).collect())
}

async fn insert(tx: &mut AnyConnection, a: &Alert) -> Result<(), sqlx::Error> {
    let placeholders: Vec<String> = (1..=18).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO alerts ({COLUMNS}) VALUES ({}) ON CONFLICT (sid) DO NOTHING",
        placeholders.join(", ")
    );
    let r = &a.raised;
    let sid = |s: &Option<Sid>| s.as_ref().map(|s| s.as_str().to_string());
    sqlx::query(&sql)
        .bind(a.sid.as_str())
        .bind(a.account_sid.as_str())
        .bind(a.date_created.timestamp_millis())
        .bind(r.delivery_id.as_str())
        .bind(i64::from(r.error_code))
        .bind(r.log_level.as_str())
        .bind(r.alert_text.as_str())
        .bind(r.api_version.as_str())
        .bind(r.more_info.as_str())
        .bind(r.date_generated.timestamp_millis())
        .bind(r.request_method.as_str())
        .bind(r.request_url.as_str())
        .bind(r.request_variables.as_str())
        .bind(r.request_headers.clone())
        .bind(r.response_body.clone())
        .bind(r.response_headers.clone())
        .bind(sid(&r.resource_sid))
        .bind(sid(&r.service_sid))
        .execute(tx)
        .await?;
    Ok(())
}

#[async_trait]
impl Projection for Alerts {
    fn name(&self) -> &'static str {
        "alerts"
    }

    fn wants(&self, e: &Envelope) -> bool {
        matches!(e.event, Event::AlertRaised(_))
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [Table] {
        &[Table {
            name: "alerts",
            order_by: "sid",
        }]
    }

    async fn apply(&self, tx: &mut AnyConnection, envelope: &Envelope) -> Result<(), sqlx::Error> {
        // Only an alert's first (and only) event makes its row: no read before the write.
        match fold(None, envelope) {
            Some(a) => insert(tx, &a).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::{Position, SidPrefix};
    use uuid::Uuid;

    fn envelope(stream: &str, event: Event) -> Envelope {
        Envelope {
            id: Uuid::from_u128(1),
            stream: stream.to_string(),
            seq: 1,
            position: Position::embedded(1),
            occurred_at: DateTime::from_timestamp_millis(2_000).unwrap_or_default(),
            account_sid: Sid::from_u128(SidPrefix::Account, 4),
            correlation_id: Uuid::nil(),
            causation_id: None,
            region: "us1".into(),
            schema_version: 1,
            event,
        }
    }

    fn raised() -> AlertRaised {
        AlertRaised {
            delivery_id: "d".into(),
            error_code: 11200,
            log_level: LogLevel::Error,
            alert_text: "timeout".into(),
            api_version: "v1".into(),
            more_info: alert::more_info(11200),
            date_generated: DateTime::from_timestamp_millis(1_000).unwrap_or_default(),
            request_method: "POST".into(),
            request_url: "https://a.example/".into(),
            request_variables: String::new(),
            request_headers: None,
            response_body: None,
            response_headers: None,
            resource_sid: None,
            service_sid: None,
        }
    }

    #[test]
    fn an_alert_row_takes_its_account_and_creation_date_from_the_envelope() {
        let sid = Sid::from_u128(SidPrefix::Alert, 9);
        let row = fold(None, &envelope(sid.as_str(), Event::AlertRaised(raised()))).expect("a row");
        assert_eq!(row.sid, sid);
        assert_eq!(row.account_sid, Sid::from_u128(SidPrefix::Account, 4));
        assert_eq!(row.date_created.timestamp_millis(), 2_000);
        assert_eq!(row.raised, raised());
    }

    #[test]
    fn other_events_and_a_second_raise_leave_the_row_as_it_was() {
        let sid = Sid::from_u128(SidPrefix::Alert, 9);
        let first = fold(None, &envelope(sid.as_str(), Event::AlertRaised(raised())));
        let mut later = raised();
        later.error_code = 11750;
        let again = fold(
            first.clone(),
            &envelope(sid.as_str(), Event::AlertRaised(later)),
        );
        assert_eq!(again, first, "an alert never changes");
        let other =
            Event::ReservationAccepted(switchboard_events::taskrouter::events::ResourceRef {
                sid: Sid::from_u128(SidPrefix::Reservation, 1),
            });
        assert_eq!(fold(None, &envelope(sid.as_str(), other)), None);
    }
}
