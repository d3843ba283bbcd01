//! What a record on a switchboard topic holds: key = the stream (a SID), value = the event's
//! envelope as JSON (`schemas/envelope.json` without `position`, which only the broker knows
//! once it has placed the record). Ordinary Kafka tools (kcat, a Java consumer) read it as is.

use super::super::Damaged;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use switchboard_events::{NewEvent, Position, RecordedEvent, Sid};
use uuid::Uuid;

#[derive(Serialize)]
struct WireOut<'a> {
    id: Uuid,
    stream: &'a str,
    seq: u64,
    occurred_at: DateTime<Utc>,
    account_sid: &'a Sid,
    correlation_id: Uuid,
    causation_id: Option<Uuid>,
    region: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    schema_version: u32,
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct WireIn {
    id: Uuid,
    stream: String,
    seq: u64,
    occurred_at: DateTime<Utc>,
    account_sid: Sid,
    correlation_id: Uuid,
    causation_id: Option<Uuid>,
    region: String,
    #[serde(rename = "type")]
    event_type: String,
    schema_version: u32,
    data: Box<RawValue>,
}

/// Just the version, for scans that only rebuild stream heads.
#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

/// Encodes one event of `stream` at `seq` as a record value.
pub fn encode(stream: &str, seq: u64, event: &NewEvent) -> Result<Vec<u8>, String> {
    let data: &RawValue =
        serde_json::from_str(&event.data).map_err(|e| format!("event data is not JSON ({e})"))?;
    serde_json::to_vec(&WireOut {
        id: event.id,
        stream,
        seq,
        occurred_at: event.occurred_at,
        account_sid: &event.account_sid,
        correlation_id: event.correlation_id,
        causation_id: event.causation_id,
        region: &event.region,
        event_type: &event.event_type,
        schema_version: event.schema_version,
        data,
    })
    .map_err(|e| e.to_string())
}

/// Decodes a record at `position`; a record that is not a switchboard event is `Damaged`.
pub fn decode(
    position: Position,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<RecordedEvent, Damaged> {
    let key = key.and_then(|k| std::str::from_utf8(k).ok());
    let damaged = |reason: String| Damaged {
        position,
        stream: key.map(str::to_string),
        reason,
    };
    let value = value.ok_or_else(|| damaged("record has no value".into()))?;
    let wire: WireIn = serde_json::from_slice(value)
        .map_err(|e| damaged(format!("record value is not an event envelope: {e}")))?;
    if key != Some(wire.stream.as_str()) {
        return Err(damaged(format!(
            "record key {key:?} is not the envelope's stream {:?}",
            wire.stream
        )));
    }
    Ok(RecordedEvent {
        position,
        stream: wire.stream,
        seq: wire.seq,
        event: NewEvent {
            id: wire.id,
            occurred_at: wire.occurred_at,
            account_sid: wire.account_sid,
            correlation_id: wire.correlation_id,
            causation_id: wire.causation_id,
            // Not on the Kafka wire yet (the record value is the frozen envelope): see the
            // README's "Commands across streams".
            causation_position: None,
            region: wire.region,
            event_type: wire.event_type,
            schema_version: wire.schema_version,
            data: wire.data.get().to_string(),
        },
    })
}

/// The `seq` of a record value, without decoding the rest.
pub fn seq_of(value: Option<&[u8]>) -> Option<u64> {
    serde_json::from_slice::<SeqOnly>(value?)
        .ok()
        .map(|s| s.seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::SidPrefix;

    fn event() -> NewEvent {
        NewEvent {
            id: Uuid::from_u128(7),
            occurred_at: DateTime::from_timestamp_millis(1_764_000_000_123).unwrap_or_default(),
            account_sid: Sid::from_u128(SidPrefix::Account, 1),
            correlation_id: Uuid::from_u128(8),
            causation_id: None,
            causation_position: None,
            region: "us1".into(),
            event_type: "account.updated".into(),
            schema_version: 1,
            data: r#"{"friendly_name":"x"}"#.into(),
        }
    }

    #[test]
    fn a_record_round_trips_and_carries_its_position() {
        let stream = Sid::from_u128(SidPrefix::Account, 1).to_string();
        let value = encode(&stream, 3, &event()).expect("encodes");
        let position = Position {
            partition: 65536,
            offset: 41,
        };
        let back = decode(position, Some(stream.as_bytes()), Some(&value)).expect("decodes");
        assert_eq!(back.event, event());
        assert_eq!((back.seq, back.position), (3, position));
        assert_eq!(seq_of(Some(&value)), Some(3));
    }

    #[test]
    fn foreign_or_mismatched_records_are_damaged_not_panics() {
        let p = Position::embedded(0);
        let stream = Sid::from_u128(SidPrefix::Account, 1).to_string();
        let value = encode(&stream, 1, &event()).expect("encodes");
        for (key, value) in [
            (Some(stream.as_bytes()), Some(&b"not json"[..])),
            (Some(stream.as_bytes()), None),
            (Some(&b"ACother"[..]), Some(&value[..])),
            (None, Some(&value[..])),
        ] {
            let err = decode(p, key, value).expect_err("damaged");
            assert_eq!(err.position, p);
        }
    }

    #[test]
    fn event_data_that_is_not_json_is_refused_at_encode() {
        let mut e = event();
        e.data = "{".into();
        assert!(encode("x", 1, &e).is_err());
    }
}
