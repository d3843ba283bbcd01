//! What a record on a switchboard topic holds: key = the stream (a SID), value = the event's
//! envelope as JSON (`schemas/envelope.json` without `position`, which only the broker knows
//! once it has placed the record). Ordinary Kafka tools (kcat, a Java consumer) read it as is.
//!
//! Beside the frozen envelope, two record headers (ASCII, so kcat's `%h` shows them):
//! - [`EPOCH_HEADER`]: the writer lease epoch that sent the record; readers drop a record
//!   whose epoch is below one already seen on its partition ([`super::fence`]). Records
//!   written before the header existed read as epoch 0.
//! - [`CAUSATION_HEADER`]: `partition:offset` of the event that caused this one (a process
//!   manager's command, `Engine::execute_caused`), so a workspace loaded from Kafka gets its
//!   causation watermarks back, as the SQL logs' header flag 2 gives them there.

use super::super::Damaged;
use chrono::{DateTime, Utc};
use rdkafka::message::{Header, Headers, OwnedHeaders};
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

/// The header naming the writer lease epoch that sent a record.
pub const EPOCH_HEADER: &str = "switchboard-epoch";

/// The header holding the causing event's position, `partition:offset`.
pub const CAUSATION_HEADER: &str = "switchboard-causation";

/// What a record's headers say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordHeaders {
    /// The writer epoch (0 for records written before epochs were recorded).
    pub epoch: i64,
    /// The causing event's position, if any.
    pub causation: Option<Position>,
}

/// The headers of a record the writer of `epoch` sends for `event`.
pub fn headers(epoch: i64, event: &NewEvent) -> OwnedHeaders {
    let epoch = epoch.to_string();
    let headers = OwnedHeaders::new_with_capacity(2).insert(Header {
        key: EPOCH_HEADER,
        value: Some(epoch.as_bytes()),
    });
    match event.causation_position {
        Some(p) => {
            let causation = format!("{}:{}", p.partition, p.offset);
            headers.insert(Header {
                key: CAUSATION_HEADER,
                value: Some(causation.as_bytes()),
            })
        }
        None => headers,
    }
}

/// Reads a record's headers; a malformed switchboard header is an error (the record is
/// damaged), other headers are ignored.
pub fn read_headers<H: Headers>(headers: Option<&H>) -> Result<RecordHeaders, String> {
    let mut out = RecordHeaders::default();
    let Some(headers) = headers else {
        return Ok(out);
    };
    for i in 0..headers.count() {
        let Some(h) = headers.try_get(i) else {
            continue;
        };
        let text = || {
            h.value
                .and_then(|v| std::str::from_utf8(v).ok())
                .ok_or_else(|| format!("header {} is not text", h.key))
        };
        match h.key {
            EPOCH_HEADER => {
                out.epoch = text()?
                    .parse()
                    .map_err(|e| format!("header {EPOCH_HEADER}: {e}"))?
            }
            CAUSATION_HEADER => {
                let bad = |e: String| format!("header {CAUSATION_HEADER}: {e}");
                let (partition, offset) = text()?
                    .split_once(':')
                    .ok_or_else(|| bad("not partition:offset".into()))?;
                out.causation = Some(Position {
                    partition: partition.parse().map_err(|e| bad(format!("{e}")))?,
                    offset: offset.parse().map_err(|e| bad(format!("{e}")))?,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Decodes a record (value and headers) at `position`.
pub fn decode_message<M: rdkafka::Message>(
    position: Position,
    m: &M,
) -> Result<(RecordedEvent, RecordHeaders), Damaged> {
    let mut event = decode(position, m.key(), m.payload())?;
    let headers = read_headers(m.headers()).map_err(|reason| Damaged {
        position,
        stream: Some(event.stream.clone()),
        reason,
    })?;
    event.event.causation_position = headers.causation;
    Ok((event, headers))
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
            // In a record header, not the frozen envelope: see [`decode_message`].
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
    fn epoch_and_causation_headers_round_trip_and_bad_ones_are_refused() {
        let mut e = event();
        e.causation_position = Some(Position {
            partition: 131_074,
            offset: 9,
        });
        let h = headers(7, &e);
        let back = read_headers(Some(&h)).expect("reads");
        assert_eq!(
            back,
            RecordHeaders {
                epoch: 7,
                causation: e.causation_position
            }
        );
        let plain = headers(3, &event());
        assert_eq!(read_headers(Some(&plain)).expect("reads").causation, None);
        assert_eq!(
            read_headers::<OwnedHeaders>(None),
            Ok(RecordHeaders::default())
        );
        for (key, value) in [
            (EPOCH_HEADER, &b"x"[..]),
            (CAUSATION_HEADER, &b"12"[..]),
            (CAUSATION_HEADER, &b"a:1"[..]),
        ] {
            let bad = OwnedHeaders::new().insert(Header {
                key,
                value: Some(value),
            });
            assert!(read_headers(Some(&bad)).is_err(), "{key}={value:?}");
        }
    }

    #[test]
    fn event_data_that_is_not_json_is_refused_at_encode() {
        let mut e = event();
        e.data = "{".into();
        assert!(encode("x", 1, &e).is_err());
    }
}
