//! The `numbers` read model: the accounts' incoming phone numbers and applications, read by
//! the 2010-04-01 `IncomingPhoneNumbers` and `Applications` resources and by the SIP router's
//! number directory (`src/voice/numbers.rs`: which account and which URLs answer a called
//! number). The folds are the write model's own ([`number::evolve`], [`application::evolve`]);
//! a deleted resource's row is removed.
//!
//! The read model does not enforce "one account per number" (the write model's claim streams
//! do, `switchboard_events::number`): on a partitioned log a new holder's creation may be
//! applied before the previous holder's deletion, so `phone_number` is indexed but not
//! unique, and a lookup takes the newest row ([`by_phone_number`]).

use crate::{Projection, Table};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};
use switchboard_events::application::{self, Application, Settings};
use switchboard_events::number::{self, IncomingPhoneNumber};
use switchboard_events::{Envelope, Event, Sid};

/// See the module doc.
pub struct Numbers;

const SETTINGS: &str = "api_version, voice_url, voice_method, voice_fallback_url, \
    voice_fallback_method, status_callback, status_callback_method, voice_caller_id_lookup, \
    sms_url, sms_method, sms_fallback_url, sms_fallback_method";

const NUMBER_COLUMNS: &str = "sid, account_sid, phone_number, friendly_name, \
    voice_application_sid, sms_application_sid, date_created, date_updated";

const APPLICATION_COLUMNS: &str = "sid, account_sid, friendly_name, message_status_callback, \
    sms_status_callback, public_application_connect_enabled, date_created, date_updated";

/// Columns each table's own part has before the shared settings.
const OWN: usize = 8;

fn ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn is_number_event(e: &Event) -> bool {
    matches!(
        e,
        Event::IncomingPhoneNumberCreated(_)
            | Event::IncomingPhoneNumberUpdated(_)
            | Event::IncomingPhoneNumberDeleted(_)
    )
}

fn is_application_event(e: &Event) -> bool {
    matches!(
        e,
        Event::ApplicationCreated(_) | Event::ApplicationUpdated(_) | Event::ApplicationDeleted(_)
    )
}

/// Reads the shared settings starting at column `at`.
fn decode_settings(row: &sqlx::any::AnyRow, at: usize) -> Option<Settings> {
    Some(Settings {
        api_version: row.try_get(at).ok()?,
        voice_url: row.try_get(at + 1).ok()?,
        voice_method: row.try_get(at + 2).ok()?,
        voice_fallback_url: row.try_get(at + 3).ok()?,
        voice_fallback_method: row.try_get(at + 4).ok()?,
        status_callback: row.try_get(at + 5).ok()?,
        status_callback_method: row.try_get(at + 6).ok()?,
        voice_caller_id_lookup: row.try_get::<i64, _>(at + 7).ok()? != 0,
        sms_url: row.try_get(at + 8).ok()?,
        sms_method: row.try_get(at + 9).ok()?,
        sms_fallback_url: row.try_get(at + 10).ok()?,
        sms_fallback_method: row.try_get(at + 11).ok()?,
    })
}

fn sid_opt(s: Option<String>) -> Option<Sid> {
    s.and_then(|s| Sid::parse(&s).ok())
}

/// Reads a number row; a row that does not parse (edited by hand) reads as absent.
fn decode_number(row: &sqlx::any::AnyRow) -> Option<IncomingPhoneNumber> {
    Some(IncomingPhoneNumber {
        sid: Sid::parse(&row.try_get::<String, _>(0).ok()?).ok()?,
        account_sid: Sid::parse(&row.try_get::<String, _>(1).ok()?).ok()?,
        phone_number: row.try_get(2).ok()?,
        friendly_name: row.try_get(3).ok()?,
        voice_application_sid: sid_opt(row.try_get(4).ok()?),
        sms_application_sid: sid_opt(row.try_get(5).ok()?),
        date_created: ms(row.try_get(6).ok()?),
        date_updated: ms(row.try_get(7).ok()?),
        settings: decode_settings(row, OWN)?,
        deleted: false,
    })
}

/// Reads an application row.
fn decode_application(row: &sqlx::any::AnyRow) -> Option<Application> {
    Some(Application {
        sid: Sid::parse(&row.try_get::<String, _>(0).ok()?).ok()?,
        account_sid: Sid::parse(&row.try_get::<String, _>(1).ok()?).ok()?,
        friendly_name: row.try_get(2).ok()?,
        message_status_callback: row.try_get(3).ok()?,
        sms_status_callback: row.try_get(4).ok()?,
        public_application_connect_enabled: row.try_get::<i64, _>(5).ok()? != 0,
        date_created: ms(row.try_get(6).ok()?),
        date_updated: ms(row.try_get(7).ok()?),
        settings: decode_settings(row, OWN)?,
        deleted: false,
    })
}

/// One number by SID (any account's: the caller checks tenancy).
pub async fn number(
    conn: &mut AnyConnection,
    sid: &str,
) -> Result<Option<IncomingPhoneNumber>, sqlx::Error> {
    let sql =
        format!("SELECT {NUMBER_COLUMNS}, {SETTINGS} FROM incoming_phone_numbers WHERE sid = $1");
    let row = sqlx::query(&sql).bind(sid).fetch_optional(conn).await?;
    Ok(row.as_ref().and_then(decode_number))
}

/// The number resource holding `e164` (the newest, should two rows briefly hold it: module
/// doc).
pub async fn by_phone_number(
    conn: &mut AnyConnection,
    e164: &str,
) -> Result<Option<IncomingPhoneNumber>, sqlx::Error> {
    let sql = format!(
        "SELECT {NUMBER_COLUMNS}, {SETTINGS} FROM incoming_phone_numbers WHERE phone_number = $1 \
         ORDER BY date_created DESC, sid DESC LIMIT 1"
    );
    let row = sqlx::query(&sql).bind(e164).fetch_optional(conn).await?;
    Ok(row.as_ref().and_then(decode_number))
}

/// What a number list shows.
#[derive(Debug, Clone, Default)]
pub struct NumberFilter {
    /// Digits the number contains, `*` standing for any one digit (Twilio's partial match).
    pub phone_number: Option<String>,
    /// Exact friendly name.
    pub friendly_name: Option<String>,
    /// The last SID of the previous page.
    pub after: Option<String>,
}

/// The SQL `LIKE` pattern of a partial number: only digits, `+` and `*` (any one digit)
/// count, so nothing in the request can be a `LIKE` wildcard of its own.
pub fn like_pattern(partial: &str) -> String {
    let body: String = partial
        .chars()
        .filter_map(|c| match c {
            '0'..='9' | '+' => Some(c),
            '*' => Some('_'),
            _ => None,
        })
        .collect();
    format!("%{body}%")
}

/// An account's numbers in SID order, at most `limit`.
pub async fn list_numbers(
    conn: &mut AnyConnection,
    account_sid: &str,
    filter: &NumberFilter,
    limit: i64,
) -> Result<Vec<IncomingPhoneNumber>, sqlx::Error> {
    let sql = format!(
        "SELECT {NUMBER_COLUMNS}, {SETTINGS} FROM incoming_phone_numbers WHERE account_sid = $1 \
         AND sid > $2 AND phone_number LIKE $3 AND ($4 = '' OR friendly_name = $4) \
         ORDER BY sid LIMIT $5"
    );
    let rows = sqlx::query(&sql)
        .bind(account_sid)
        .bind(filter.after.as_deref().unwrap_or(""))
        .bind(like_pattern(filter.phone_number.as_deref().unwrap_or("")))
        .bind(filter.friendly_name.as_deref().unwrap_or(""))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().filter_map(decode_number).collect())
}

/// One application by SID (any account's: the caller checks tenancy).
pub async fn application(
    conn: &mut AnyConnection,
    sid: &str,
) -> Result<Option<Application>, sqlx::Error> {
    let sql = format!("SELECT {APPLICATION_COLUMNS}, {SETTINGS} FROM applications WHERE sid = $1");
    let row = sqlx::query(&sql).bind(sid).fetch_optional(conn).await?;
    Ok(row.as_ref().and_then(decode_application))
}

/// An account's applications in SID order after `after`, optionally by exact friendly name.
pub async fn list_applications(
    conn: &mut AnyConnection,
    account_sid: &str,
    friendly_name: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Application>, sqlx::Error> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS}, {SETTINGS} FROM applications WHERE account_sid = $1 \
         AND sid > $2 AND ($3 = '' OR friendly_name = $3) ORDER BY sid LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(account_sid)
        .bind(after.unwrap_or(""))
        .bind(friendly_name.unwrap_or(""))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().filter_map(decode_application).collect())
}

/// `$from, …, $to` (placeholders for one row).
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `col = excluded.col` for every column but the key.
fn updates(columns: &str) -> String {
    columns
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "sid")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bind_settings<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    s: &'q Settings,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(s.api_version.as_str())
        .bind(s.voice_url.as_deref())
        .bind(s.voice_method.as_str())
        .bind(s.voice_fallback_url.as_deref())
        .bind(s.voice_fallback_method.as_str())
        .bind(s.status_callback.as_deref())
        .bind(s.status_callback_method.as_str())
        .bind(i64::from(s.voice_caller_id_lookup))
        .bind(s.sms_url.as_deref())
        .bind(s.sms_method.as_str())
        .bind(s.sms_fallback_url.as_deref())
        .bind(s.sms_fallback_method.as_str())
}

async fn upsert_number(tx: &mut AnyConnection, n: &IncomingPhoneNumber) -> Result<(), sqlx::Error> {
    let columns = format!("{NUMBER_COLUMNS}, {SETTINGS}");
    let sql = format!(
        "INSERT INTO incoming_phone_numbers ({columns}) VALUES ({}) ON CONFLICT (sid) DO UPDATE SET {}",
        placeholders(OWN + 12),
        updates(&columns)
    );
    let q = sqlx::query(&sql)
        .bind(n.sid.as_str())
        .bind(n.account_sid.as_str())
        .bind(n.phone_number.as_str())
        .bind(n.friendly_name.as_str())
        .bind(n.voice_application_sid.as_ref().map(Sid::as_str))
        .bind(n.sms_application_sid.as_ref().map(Sid::as_str))
        .bind(n.date_created.timestamp_millis())
        .bind(n.date_updated.timestamp_millis());
    bind_settings(q, &n.settings).execute(tx).await?;
    Ok(())
}

async fn upsert_application(tx: &mut AnyConnection, a: &Application) -> Result<(), sqlx::Error> {
    let columns = format!("{APPLICATION_COLUMNS}, {SETTINGS}");
    let sql = format!(
        "INSERT INTO applications ({columns}) VALUES ({}) ON CONFLICT (sid) DO UPDATE SET {}",
        placeholders(OWN + 12),
        updates(&columns)
    );
    let q = sqlx::query(&sql)
        .bind(a.sid.as_str())
        .bind(a.account_sid.as_str())
        .bind(a.friendly_name.as_str())
        .bind(a.message_status_callback.as_deref())
        .bind(a.sms_status_callback.as_deref())
        .bind(i64::from(a.public_application_connect_enabled))
        .bind(a.date_created.timestamp_millis())
        .bind(a.date_updated.timestamp_millis());
    bind_settings(q, &a.settings).execute(tx).await?;
    Ok(())
}

/// The pure fold of a number row: the row after `envelope` (`None`: no row, or deleted).
pub fn fold_number(
    row: Option<IncomingPhoneNumber>,
    envelope: &Envelope,
) -> Option<IncomingPhoneNumber> {
    let sid = Sid::parse(&envelope.stream).ok()?;
    number::evolve(
        row,
        &sid,
        &envelope.account_sid,
        envelope.occurred_at,
        &envelope.event,
    )
    .filter(|n| !n.deleted)
}

/// The pure fold of an application row (`None`: no row, or deleted).
pub fn fold_application(row: Option<Application>, envelope: &Envelope) -> Option<Application> {
    let sid = Sid::parse(&envelope.stream).ok()?;
    application::evolve(
        row,
        &sid,
        &envelope.account_sid,
        envelope.occurred_at,
        &envelope.event,
    )
    .filter(|a| !a.deleted)
}

async fn delete(tx: &mut AnyConnection, table: &str, sid: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("DELETE FROM {table} WHERE sid = $1"))
        .bind(sid)
        .execute(tx)
        .await?;
    Ok(())
}

#[async_trait]
impl Projection for Numbers {
    fn name(&self) -> &'static str {
        "numbers"
    }

    fn version(&self) -> u32 {
        1
    }

    fn wants(&self, e: &Envelope) -> bool {
        is_number_event(&e.event) || is_application_event(&e.event)
    }

    fn tables(&self) -> &'static [Table] {
        &[
            Table {
                name: "incoming_phone_numbers",
                order_by: "sid",
            },
            Table {
                name: "applications",
                order_by: "sid",
            },
        ]
    }

    async fn apply(&self, tx: &mut AnyConnection, envelope: &Envelope) -> Result<(), sqlx::Error> {
        if is_number_event(&envelope.event) {
            let before = number(tx, &envelope.stream).await?;
            match fold_number(before, envelope) {
                Some(n) => upsert_number(tx, &n).await,
                None => delete(tx, "incoming_phone_numbers", &envelope.stream).await,
            }
        } else if is_application_event(&envelope.event) {
            let before = application(tx, &envelope.stream).await?;
            match fold_application(before, envelope) {
                Some(a) => upsert_application(tx, &a).await,
                None => delete(tx, "applications", &envelope.stream).await,
            }
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::application::SettingsChange;
    use switchboard_events::number::{CreateIncomingPhoneNumber, DeleteIncomingPhoneNumber};
    use switchboard_events::{Position, SidPrefix};
    use uuid::Uuid;

    fn envelope(stream: &Sid, seq: u64, event: Event) -> Envelope {
        Envelope {
            id: Uuid::from_u128(u128::from(seq)),
            stream: stream.to_string(),
            seq,
            position: Position::embedded(seq),
            occurred_at: DateTime::from_timestamp_millis(1_000 * seq as i64).unwrap_or_default(),
            account_sid: Sid::from_u128(SidPrefix::Account, 4),
            correlation_id: Uuid::nil(),
            causation_id: None,
            region: "us1".into(),
            schema_version: 1,
            event,
        }
    }

    #[test]
    fn a_number_row_is_the_write_models_state_and_goes_when_deleted() {
        let sid = Sid::from_u128(SidPrefix::PhoneNumber, 1);
        let account = Sid::from_u128(SidPrefix::Account, 4);
        let create = CreateIncomingPhoneNumber {
            sid: sid.clone(),
            account_sid: account.clone(),
            phone_number: "+15551230000".into(),
            friendly_name: None,
            voice_application_sid: None,
            sms_application_sid: None,
            settings: SettingsChange::default(),
            applications: vec![],
        };
        let created = create.decide(None).unwrap_or_default().remove(0);
        let row = fold_number(None, &envelope(&sid, 1, created)).expect("a row");
        assert_eq!(row.account_sid, account);
        assert_eq!(row.date_created.timestamp_millis(), 1_000);
        let delete = DeleteIncomingPhoneNumber {
            sid: sid.clone(),
            account_sid: account,
        };
        let deleted = delete.decide(Some(&row)).unwrap_or_default().remove(0);
        assert_eq!(fold_number(Some(row), &envelope(&sid, 2, deleted)), None);
    }

    #[test]
    fn a_partial_number_is_a_like_pattern_of_digits_and_single_digit_wildcards() {
        assert_eq!(like_pattern(""), "%%");
        assert_eq!(like_pattern("+1555*23"), "%+1555_23%");
        assert_eq!(
            like_pattern("55%_'x"),
            "%55%",
            "no wildcard or quote of its own"
        );
    }
}
