//! The envelope every event travels in, in three forms:
//!
//! - [`NewEvent`]: what a command produced, before the log placed it (no `seq`, no position);
//! - [`RecordedEvent`]: what the log holds: the raw type name, schema version and JSON data,
//!   with the stream, `seq` and [`Position`] the log assigned. Reading never fails at this
//!   level, so an event written by a newer version, or a damaged row, is still carried to
//!   whoever can report it;
//! - [`Envelope<Event>`]: a recorded event decoded into the typed [`Event`].
//!
//! Positions are per partition: the embedded log has one partition (0), the Kafka log one per
//! topic partition, so callers never assume a single global order.

use crate::event::{DecodeError, Event};
use crate::sid::Sid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Where an event sits in the log: a partition and an offset within it (from 1 in the
/// embedded log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    /// The partition (always 0 in the embedded log).
    pub partition: u32,
    /// The offset within the partition.
    pub offset: u64,
}

impl Position {
    /// A position in partition 0.
    pub fn embedded(offset: u64) -> Position {
        Position {
            partition: 0,
            offset,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.partition, self.offset)
    }
}

impl std::str::FromStr for Position {
    type Err = String;
    fn from_str(s: &str) -> Result<Position, String> {
        let (p, o) = s
            .split_once(':')
            .ok_or_else(|| format!("a position is PARTITION:OFFSET, got {s:?}"))?;
        Ok(Position {
            partition: p.parse().map_err(|_| format!("bad partition in {s:?}"))?,
            offset: o.parse().map_err(|_| format!("bad offset in {s:?}"))?,
        })
    }
}

/// Where a reader of the log stands: the last offset it has seen (or applied) in each
/// partition. A partition not in the map is read from its start. The log's subscribers and
/// the projections' stored checkpoints are both this map, so one can be handed to the other.
pub type Checkpoint = BTreeMap<u32, u64>;

/// What the caller of a command supplies about the events it causes: identity, time, tenant
/// and tracing. The shell fills it (clock, UUIDv7); deciders never read a clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// When the command was taken.
    pub occurred_at: DateTime<Utc>,
    /// The tenant.
    pub account_sid: Sid,
    /// Ties together everything one request caused.
    pub correlation_id: Uuid,
    /// The event or request that caused these events, if any.
    pub causation_id: Option<Uuid>,
    /// The region of the node that took the command.
    pub region: String,
}

/// An event ready to append: the envelope fields but `stream`, `seq` and `position`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// UUIDv7 of the event.
    pub id: Uuid,
    /// When it happened (millisecond precision is kept).
    pub occurred_at: DateTime<Utc>,
    /// The tenant.
    pub account_sid: Sid,
    /// See [`Metadata::correlation_id`].
    pub correlation_id: Uuid,
    /// See [`Metadata::causation_id`].
    pub causation_id: Option<Uuid>,
    /// The log position of the event that caused the command that produced this one (set by
    /// a process manager's command, [`crate::Metadata::causation_id`] naming the event). The
    /// stream's writer folds it into a watermark per source partition so a command it already
    /// applied is dropped, even after a reload. Kept in the log's own header (and not in the
    /// published envelope JSON, which is frozen): only the writer of the stream reads it.
    pub causation_position: Option<Position>,
    /// See [`Metadata::region`].
    pub region: String,
    /// The dotted wire name, e.g. `account.created`.
    pub event_type: String,
    /// The version of the type's schema the data follows.
    pub schema_version: u32,
    /// The event's data as JSON text.
    pub data: String,
}

impl NewEvent {
    /// Wraps a typed event; `id` is drawn by the shell (UUIDv7).
    pub fn new(id: Uuid, meta: &Metadata, event: &Event) -> NewEvent {
        NewEvent {
            id,
            occurred_at: meta.occurred_at,
            account_sid: meta.account_sid.clone(),
            correlation_id: meta.correlation_id,
            causation_id: meta.causation_id,
            causation_position: None,
            region: meta.region.clone(),
            event_type: event.type_name().to_string(),
            schema_version: event.schema_version(),
            data: event.data_json(),
        }
    }
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Where the log put it.
    pub position: Position,
    /// The stream (a SID) it belongs to.
    pub stream: String,
    /// Its version within the stream, from 1.
    pub seq: u64,
    /// Everything else.
    pub event: NewEvent,
}

impl RecordedEvent {
    /// Decodes the data into a typed [`Event`], upcasting older schema versions.
    pub fn decode(&self) -> Result<Envelope, DecodeError> {
        self.clone().into_envelope()
    }

    /// Like [`RecordedEvent::decode`], without copying the envelope's strings.
    pub fn into_envelope(self) -> Result<Envelope, DecodeError> {
        let event = Event::decode(
            &self.event.event_type,
            self.event.schema_version,
            &self.event.data,
        )?;
        Ok(Envelope {
            id: self.event.id,
            stream: self.stream,
            seq: self.seq,
            position: self.position,
            occurred_at: self.event.occurred_at,
            account_sid: self.event.account_sid,
            correlation_id: self.event.correlation_id,
            causation_id: self.event.causation_id,
            region: self.event.region,
            schema_version: event.schema_version(),
            event,
        })
    }
}

/// A decoded event in its envelope. Serialises to the published envelope shape
/// (`schemas/envelope.json`): the event's wire name under `type` and its fields under `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<E = Event> {
    /// UUIDv7.
    pub id: Uuid,
    /// The consistency scope (a SID).
    pub stream: String,
    /// Version within the stream, from 1.
    pub seq: u64,
    /// Where the log put it.
    pub position: Position,
    /// When it happened (UTC, milliseconds).
    pub occurred_at: DateTime<Utc>,
    /// The tenant.
    pub account_sid: Sid,
    /// Ties together everything one request caused.
    pub correlation_id: Uuid,
    /// The event or request that caused this one.
    pub causation_id: Option<Uuid>,
    /// Region of the node that took the command.
    pub region: String,
    /// Version of the type's schema.
    pub schema_version: u32,
    /// `type` and `data`.
    #[serde(flatten)]
    pub event: E,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountCreated, AccountStatus, AccountType};
    use crate::sid::SidPrefix;

    fn recorded() -> RecordedEvent {
        let account = Sid::from_u128(SidPrefix::Account, 1);
        let meta = Metadata {
            occurred_at: DateTime::from_timestamp_millis(1_764_000_000_123).unwrap_or_default(),
            account_sid: account.clone(),
            correlation_id: Uuid::from_u128(2),
            causation_id: None,
            region: "us1".into(),
        };
        let event = Event::AccountCreated(AccountCreated {
            friendly_name: "Main".into(),
            owner_account_sid: None,
            auth_token_hash: "00".repeat(32),
            auth_token_sealed: None,
            status: AccountStatus::Active,
            account_type: AccountType::Full,
        });
        RecordedEvent {
            position: Position::embedded(9),
            stream: account.to_string(),
            seq: 1,
            event: NewEvent::new(Uuid::from_u128(3), &meta, &event),
        }
    }

    #[test]
    fn an_envelope_serialises_with_type_and_data_beside_the_metadata() {
        let envelope = recorded().decode().expect("decodes");
        let json = serde_json::to_value(&envelope).expect("serialises");
        assert_eq!(json["type"], "account.created");
        assert_eq!(json["data"]["friendly_name"], "Main");
        assert_eq!(json["seq"], 1);
        assert_eq!(json["position"]["offset"], 9);
        assert_eq!(json["occurred_at"], "2025-11-24T16:00:00.123Z");
        assert_eq!(json["schema_version"], 2);
        assert_eq!(json["causation_id"], serde_json::Value::Null);
        let back: Envelope = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, envelope);
    }

    #[test]
    fn an_unknown_type_decodes_to_a_clear_error_not_a_panic() {
        let mut r = recorded();
        r.event.event_type = "account.teleported".into();
        assert_eq!(
            r.decode().err(),
            Some(DecodeError::UnknownType("account.teleported".into()))
        );
    }

    #[test]
    fn a_newer_schema_version_is_refused_rather_than_misread() {
        let mut r = recorded();
        r.event.schema_version = 99;
        assert!(matches!(
            r.decode(),
            Err(DecodeError::NewerSchema { found: 99, .. })
        ));
    }

    #[test]
    fn damaged_data_decodes_to_an_error_naming_the_type() {
        let mut r = recorded();
        r.event.data = "{\"friendly_name\": 12".into();
        assert!(matches!(r.decode(), Err(DecodeError::Malformed { .. })));
    }

    #[test]
    fn positions_print_and_parse_as_partition_colon_offset() {
        let p = Position {
            partition: 3,
            offset: 42,
        };
        assert_eq!(p.to_string(), "3:42");
        assert_eq!("3:42".parse::<Position>(), Ok(p));
        assert!("42".parse::<Position>().is_err());
        assert!("a:1".parse::<Position>().is_err());
    }
}
