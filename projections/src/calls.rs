//! The `calls` read model: one row per call (`CA…` stream), read by the 2010-04-01 Calls
//! resource (`GET /Calls.json`, `GET /Calls/{CA}.json`) on every node, and by the restart
//! path ([`live_calls`]: the calls a dead node left live).
//!
//! The invariant it protects: a row is what the call's stream says, in the stream's order, and
//! nothing else — so a rebuild gives the same rows. The fold ([`fold`]) mirrors the call's own
//! ([`switchboard_events::call::evolve`]): nothing changes a row after `call.completed` but
//! `call.deleted`, which removes it (the record left the API; the history stays in the log).
//! Times are the envelopes' (when each fact was recorded), never the clock's.

use crate::store::ProjectionStore;
use crate::{Projection, Table};
use async_trait::async_trait;
use sqlx::{AnyConnection, Row};
use switchboard_events::call::params::{direction, party};
use switchboard_events::call::{Call, CallDirection, CallStatus};
use switchboard_events::{Envelope, Event, Sid, SidPrefix};

/// One call as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    /// `CA…` (the stream).
    pub sid: Sid,
    /// Whose call it is (the envelope's account).
    pub account_sid: Sid,
    /// For a `<Dial>` leg, the call it was placed for.
    pub parent_call_sid: Option<String>,
    /// Inbound, outbound-api, outbound-dial.
    pub direction: CallDirection,
    /// `From` as signalled (a URI, or what `POST /Calls` gave).
    pub from_uri: String,
    /// `To` as signalled.
    pub to_uri: String,
    /// Twilio's status now.
    pub status: CallStatus,
    /// The `PN…` number that routed it (inbound).
    pub phone_number_sid: Option<String>,
    /// The `AP…` application whose URLs drive it.
    pub application_sid: Option<String>,
    /// When `call.initiated` was recorded, ms.
    pub created_at_ms: i64,
    /// When the last change to the row was recorded, ms.
    pub updated_at_ms: i64,
    /// Twilio's `start_time`: when the call arrived or was dialled, ms (`None`: not yet).
    pub start_time_ms: Option<i64>,
    /// When it was answered, ms.
    pub answered_at_ms: Option<i64>,
    /// When it ended, ms.
    pub end_time_ms: Option<i64>,
    /// Answer to end, ms (0 when never answered), once ended.
    pub duration_ms: Option<i64>,
    /// The SIP code that ended it.
    pub sip_code: Option<i64>,
    /// Time spent queued before dialling, ms (switchboard dials at once: 0).
    pub queue_time_ms: i64,
    /// The caller's forwarding number, when signalled.
    pub forwarded_from: Option<String>,
    /// The caller's name, when known.
    pub caller_name: Option<String>,
}

impl CallRow {
    /// The row of a call as its controller (or a fold of its stream) holds it: the same
    /// fields the fold writes (`None` once the record was deleted, or for a SID that is not a
    /// call's).
    pub fn from_call(call: &Call) -> Option<CallRow> {
        if call.deleted {
            return None;
        }
        Some(CallRow {
            sid: Sid::parse_as(&call.sid, SidPrefix::Call).ok()?,
            account_sid: Sid::parse(&call.account_sid).ok()?,
            parent_call_sid: call.parent_call_sid.clone(),
            direction: call.direction,
            from_uri: call.from.clone(),
            to_uri: call.to.clone(),
            status: call.status,
            phone_number_sid: call
                .routed
                .as_ref()
                .and_then(|r| r.phone_number_sid.clone()),
            application_sid: call.routed.as_ref().and_then(|r| r.application_sid.clone()),
            created_at_ms: call.created_at_ms,
            updated_at_ms: call.updated_at_ms,
            start_time_ms: Some(call.created_at_ms),
            answered_at_ms: call.answered_at_ms,
            end_time_ms: call.ended_at_ms,
            duration_ms: call
                .duration_ms
                .map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
            sip_code: call.sip_code.map(i64::from),
            queue_time_ms: 0,
            forwarded_from: call.forwarded_from.clone(),
            caller_name: call.caller_name.clone(),
        })
    }

    /// Whether the call is still going (queued, ringing, in progress).
    pub fn is_live(&self) -> bool {
        !self.status.is_terminal()
    }

    /// `to` as the API shows it (the number, or the URI when it names no number).
    pub fn to(&self) -> String {
        shown(&self.to_uri)
    }

    /// `from` as the API shows it.
    pub fn from(&self) -> String {
        shown(&self.from_uri)
    }
}

/// A party as the Calls API shows it: the number a URI carries (`sip:+1555…@host` →
/// `+1555…`), else the URI itself (`sip:alice@example.com`, as Twilio shows SIP calls).
pub fn shown(uri: &str) -> String {
    let p = party(uri);
    let digits = p.strip_prefix('+').unwrap_or(&p);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        p
    } else {
        uri.trim().to_string()
    }
}

/// The pure fold: the row after `envelope` (`None`: no row, or deleted). Events of other
/// streams and events that do not fit (before `call.initiated`, after the end) leave it.
pub fn fold(row: Option<CallRow>, envelope: &Envelope) -> Option<CallRow> {
    let at = envelope.occurred_at.timestamp_millis();
    let Some(mut row) = row else {
        let Event::CallInitiated(e) = &envelope.event else {
            return None;
        };
        let sid = Sid::parse_as(&envelope.stream, SidPrefix::Call).ok()?;
        return Some(CallRow {
            sid,
            account_sid: envelope.account_sid.clone(),
            parent_call_sid: e.parent_call_sid.clone(),
            direction: e.direction,
            from_uri: e.from.clone(),
            to_uri: e.to.clone(),
            // As the call's own fold: inbound rings from its INVITE; outbound is queued.
            status: match e.direction {
                CallDirection::Inbound => CallStatus::Ringing,
                CallDirection::OutboundApi | CallDirection::OutboundDial => CallStatus::Queued,
            },
            phone_number_sid: None,
            application_sid: None,
            created_at_ms: at,
            updated_at_ms: at,
            // switchboard has no CPS queue: a call is dialled (or arrived) when recorded.
            start_time_ms: Some(at),
            answered_at_ms: None,
            end_time_ms: None,
            duration_ms: None,
            sip_code: None,
            queue_time_ms: 0,
            forwarded_from: None,
            caller_name: None,
        });
    };
    if row.status.is_terminal() {
        return match envelope.event {
            Event::CallDeleted(_) => None,
            _ => Some(row),
        };
    }
    match &envelope.event {
        Event::CallRouted(e) => {
            row.phone_number_sid = e.phone_number_sid.clone();
            row.application_sid = e.application_sid.clone();
        }
        Event::CallRinging(_) => row.status = CallStatus::Ringing,
        Event::CallAnswered(_) => {
            row.status = CallStatus::InProgress;
            row.answered_at_ms = Some(at);
        }
        Event::CallCompleted(e) => {
            row.status = e.status.into();
            row.end_time_ms = Some(at);
            row.duration_ms = Some(i64::try_from(e.duration_ms).unwrap_or(i64::MAX));
            row.sip_code = Some(i64::from(e.sip_code));
        }
        _ => return Some(row),
    }
    row.updated_at_ms = at;
    Some(row)
}

fn is_call_event(e: &Event) -> bool {
    matches!(
        e,
        Event::CallInitiated(_)
            | Event::CallRouted(_)
            | Event::CallRinging(_)
            | Event::CallAnswered(_)
            | Event::CallCompleted(_)
            | Event::CallDeleted(_)
    )
}

/// Twilio's status from its wire value.
pub fn parse_status(s: &str) -> Option<CallStatus> {
    [
        CallStatus::Queued,
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::Completed,
        CallStatus::Busy,
        CallStatus::NoAnswer,
        CallStatus::Canceled,
        CallStatus::Failed,
    ]
    .into_iter()
    .find(|c| c.as_str() == s)
}

fn parse_direction(s: &str) -> Option<CallDirection> {
    [
        CallDirection::Inbound,
        CallDirection::OutboundApi,
        CallDirection::OutboundDial,
    ]
    .into_iter()
    .find(|d| direction(*d) == s)
}

const COLUMNS: &str = "sid, account_sid, parent_call_sid, direction, from_uri, to_uri, \
    from_shown, to_shown, status, phone_number_sid, application_sid, created_at_ms, \
    updated_at_ms, start_time_ms, answered_at_ms, end_time_ms, duration_ms, sip_code, \
    queue_time_ms, forwarded_from, caller_name";

/// Reads a row; a row that does not parse (edited by hand) reads as absent, never a panic.
fn decode(row: &sqlx::any::AnyRow) -> Option<CallRow> {
    Some(CallRow {
        sid: Sid::parse(&row.try_get::<String, _>(0).ok()?).ok()?,
        account_sid: Sid::parse(&row.try_get::<String, _>(1).ok()?).ok()?,
        parent_call_sid: row.try_get(2).ok()?,
        direction: parse_direction(&row.try_get::<String, _>(3).ok()?)?,
        from_uri: row.try_get(4).ok()?,
        to_uri: row.try_get(5).ok()?,
        status: parse_status(&row.try_get::<String, _>(8).ok()?)?,
        phone_number_sid: row.try_get(9).ok()?,
        application_sid: row.try_get(10).ok()?,
        created_at_ms: row.try_get(11).ok()?,
        updated_at_ms: row.try_get(12).ok()?,
        start_time_ms: row.try_get(13).ok()?,
        answered_at_ms: row.try_get(14).ok()?,
        end_time_ms: row.try_get(15).ok()?,
        duration_ms: row.try_get(16).ok()?,
        sip_code: row.try_get(17).ok()?,
        queue_time_ms: row.try_get(18).ok()?,
        forwarded_from: row.try_get(19).ok()?,
        caller_name: row.try_get(20).ok()?,
    })
}

/// One call by SID (any account's: the caller checks tenancy).
pub async fn get(conn: &mut AnyConnection, sid: &str) -> Result<Option<CallRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM calls WHERE sid = $1");
    let row = sqlx::query(&sql).bind(sid).fetch_optional(conn).await?;
    Ok(row.as_ref().and_then(decode))
}

/// Which of an account's calls a list shows, and from where.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `To` as shown (or as signalled).
    pub to: Option<String>,
    /// `From` as shown (or as signalled).
    pub from: Option<String>,
    /// Only this status.
    pub status: Option<CallStatus>,
    /// Only the legs of this call.
    pub parent_call_sid: Option<String>,
    /// `start_time` at or after (ms).
    pub start_from_ms: Option<i64>,
    /// `start_time` at or before (ms).
    pub start_to_ms: Option<i64>,
    /// `end_time` at or after (ms).
    pub end_from_ms: Option<i64>,
    /// `end_time` at or before (ms).
    pub end_to_ms: Option<i64>,
    /// The last call of the previous page (its `date_created` ms and SID).
    pub after: Option<(i64, String)>,
}

/// An account's calls, newest first (`date_created`, then SID, descending), at most `limit`.
pub async fn list(
    conn: &mut AnyConnection,
    account_sid: &str,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<CallRow>, sqlx::Error> {
    // A time bound given excludes rows without that time (a live call has no end_time).
    let sql = format!(
        "SELECT {COLUMNS} FROM calls WHERE account_sid = $1 \
         AND ($2 = '' OR to_shown = $2 OR to_uri = $2) \
         AND ($3 = '' OR from_shown = $3 OR from_uri = $3) \
         AND ($4 = '' OR status = $4) AND ($5 = '' OR parent_call_sid = $5) \
         AND ($6 = 0 OR (start_time_ms IS NOT NULL AND start_time_ms >= $7 AND start_time_ms <= $8)) \
         AND ($9 = 0 OR (end_time_ms IS NOT NULL AND end_time_ms >= $10 AND end_time_ms <= $11)) \
         AND (created_at_ms < $12 OR (created_at_ms = $12 AND sid < $13)) \
         ORDER BY created_at_ms DESC, sid DESC LIMIT $14"
    );
    let bounded = |from: Option<i64>, to: Option<i64>| i64::from(from.is_some() || to.is_some());
    // "Nothing after" is a key above every row: the newest date and a SID past every SID.
    let (after_ms, after_sid) = filter.after.clone().unwrap_or((i64::MAX, "~".to_string()));
    let rows = sqlx::query(&sql)
        .bind(account_sid)
        .bind(filter.to.clone().unwrap_or_default())
        .bind(filter.from.clone().unwrap_or_default())
        .bind(filter.status.map(CallStatus::as_str).unwrap_or(""))
        .bind(filter.parent_call_sid.clone().unwrap_or_default())
        .bind(bounded(filter.start_from_ms, filter.start_to_ms))
        .bind(filter.start_from_ms.unwrap_or(i64::MIN))
        .bind(filter.start_to_ms.unwrap_or(i64::MAX))
        .bind(bounded(filter.end_from_ms, filter.end_to_ms))
        .bind(filter.end_from_ms.unwrap_or(i64::MIN))
        .bind(filter.end_to_ms.unwrap_or(i64::MAX))
        .bind(after_ms)
        .bind(after_sid)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().filter_map(decode).collect())
}

/// Every call the read model shows live (`queued`, `ringing`, `in-progress`): the call and
/// its account, in SID order. After a crash these are the calls the dead node left without
/// an end (the restart path ends each with one terminal event).
pub async fn live_calls(store: &ProjectionStore) -> anyhow::Result<Vec<(Sid, Sid)>> {
    let rows = sqlx::query(
        "SELECT sid, account_sid FROM calls \
         WHERE status IN ('queued', 'ringing', 'in-progress') ORDER BY sid",
    )
    .fetch_all(store.pool())
    .await?;
    let mut live = Vec::with_capacity(rows.len());
    for row in rows {
        let sid: String = row.try_get(0)?;
        let account: String = row.try_get(1)?;
        live.push((Sid::parse(&sid)?, Sid::parse(&account)?));
    }
    Ok(live)
}

async fn upsert(tx: &mut AnyConnection, r: &CallRow) -> Result<(), sqlx::Error> {
    let placeholders: Vec<String> = (1..=21).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "sid")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO calls ({COLUMNS}) VALUES ({}) ON CONFLICT (sid) DO UPDATE SET {}",
        placeholders.join(", "),
        updates.join(", ")
    );
    sqlx::query(&sql)
        .bind(r.sid.as_str())
        .bind(r.account_sid.as_str())
        .bind(r.parent_call_sid.clone())
        .bind(direction(r.direction))
        .bind(r.from_uri.as_str())
        .bind(r.to_uri.as_str())
        .bind(r.from())
        .bind(r.to())
        .bind(r.status.as_str())
        .bind(r.phone_number_sid.clone())
        .bind(r.application_sid.clone())
        .bind(r.created_at_ms)
        .bind(r.updated_at_ms)
        .bind(r.start_time_ms)
        .bind(r.answered_at_ms)
        .bind(r.end_time_ms)
        .bind(r.duration_ms)
        .bind(r.sip_code)
        .bind(r.queue_time_ms)
        .bind(r.forwarded_from.clone())
        .bind(r.caller_name.clone())
        .execute(tx)
        .await?;
    Ok(())
}

/// See the module doc.
pub struct Calls;

#[async_trait]
impl Projection for Calls {
    fn name(&self) -> &'static str {
        "calls"
    }

    fn version(&self) -> u32 {
        1
    }

    fn wants(&self, e: &Envelope) -> bool {
        is_call_event(&e.event)
    }

    fn tables(&self) -> &'static [Table] {
        &[Table {
            name: "calls",
            order_by: "sid",
        }]
    }

    async fn apply(&self, tx: &mut AnyConnection, envelope: &Envelope) -> Result<(), sqlx::Error> {
        if !is_call_event(&envelope.event) {
            return Ok(());
        }
        let before = get(tx, &envelope.stream).await?;
        let existed = before.is_some();
        match fold(before, envelope) {
            Some(row) => upsert(tx, &row).await,
            None if existed => {
                sqlx::query("DELETE FROM calls WHERE sid = $1")
                    .bind(envelope.stream.as_str())
                    .execute(tx)
                    .await?;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
