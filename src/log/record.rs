//! The stored form of an event's envelope header: everything but the stream, `seq`,
//! position and data, packed into one small binary value.
//!
//! Why: sqlx copies every column of every row it reads into its own allocation, and binds
//! every column of every row it writes one by one. Twelve columns per event made replay cost
//! about four times what it does with this header plus the data; the log still keeps `data`
//! as readable JSON text beside it.
//!
//! Layout (little-endian), version 1:
//!
//! ```text
//! u8  format (= 1)
//! 16  id (UUID)
//! i64 occurred_at (ms since the epoch, UTC)
//! 16  correlation_id
//! u8  has_causation (0 | 1 | 2), then 16 bytes of causation_id when 1 or 2, and when 2 the
//!     causing event's position: u32 partition, u64 offset (a process manager's command;
//!     headers written before positions were recorded only hold 0 or 1, and still read)
//! u32 schema_version
//! u8 len + bytes: account_sid, region, type (each at most 255 bytes)
//! ```

use chrono::DateTime;
use switchboard_events::{NewEvent, Position, Sid};
use uuid::Uuid;

const FORMAT: u8 = 1;

/// Why a header cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("{0} is longer than 255 bytes")]
pub struct TooLong(&'static str);

/// Packs the header of `e`.
pub fn encode_header(e: &NewEvent) -> Result<Vec<u8>, TooLong> {
    let mut out = Vec::with_capacity(96);
    out.push(FORMAT);
    out.extend_from_slice(e.id.as_bytes());
    out.extend_from_slice(&e.occurred_at.timestamp_millis().to_le_bytes());
    out.extend_from_slice(e.correlation_id.as_bytes());
    match (e.causation_id, e.causation_position) {
        (Some(c), Some(p)) => {
            out.push(2);
            out.extend_from_slice(c.as_bytes());
            out.extend_from_slice(&p.partition.to_le_bytes());
            out.extend_from_slice(&p.offset.to_le_bytes());
        }
        (Some(c), None) => {
            out.push(1);
            out.extend_from_slice(c.as_bytes());
        }
        // A position without the event's id is never produced (execute_caused sets both).
        (None, _) => out.push(0),
    }
    out.extend_from_slice(&e.schema_version.to_le_bytes());
    for (what, s) in [
        ("account_sid", e.account_sid.as_str()),
        ("region", e.region.as_str()),
        ("type", e.event_type.as_str()),
    ] {
        let len = u8::try_from(s.len()).map_err(|_| TooLong(what))?;
        out.push(len);
        out.extend_from_slice(s.as_bytes());
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("header is truncated".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn text(&mut self, what: &str) -> Result<&'a str, String> {
        let len = self.array::<1>()?[0] as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| format!("{what} is not UTF-8"))
    }
}

/// Unpacks a header and the data into an event. Any damage is a message, never a panic.
pub fn decode(header: &[u8], data: String) -> Result<NewEvent, String> {
    let mut r = Reader(header);
    let format = r.array::<1>()?[0];
    if format != FORMAT {
        return Err(format!(
            "unknown header format {format} (written by a newer version?)"
        ));
    }
    let id = Uuid::from_bytes(r.array()?);
    let ms = i64::from_le_bytes(r.array()?);
    let correlation_id = Uuid::from_bytes(r.array()?);
    let (causation_id, causation_position) = match r.array::<1>()?[0] {
        0 => (None, None),
        1 => (Some(Uuid::from_bytes(r.array()?)), None),
        2 => {
            let id = Uuid::from_bytes(r.array()?);
            let partition = u32::from_le_bytes(r.array()?);
            let offset = u64::from_le_bytes(r.array()?);
            (Some(id), Some(Position { partition, offset }))
        }
        other => return Err(format!("bad causation flag {other}")),
    };
    let schema_version = u32::from_le_bytes(r.array()?);
    let account = r.text("account_sid")?;
    let region = r.text("region")?.to_string();
    let event_type = r.text("type")?.to_string();
    if !r.0.is_empty() {
        return Err("header has trailing bytes".into());
    }
    Ok(NewEvent {
        id,
        occurred_at: DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| format!("occurred_at {ms} is out of range"))?,
        account_sid: Sid::parse(account).map_err(|e| format!("account_sid: {e}"))?,
        correlation_id,
        causation_id,
        causation_position,
        region,
        event_type,
        schema_version,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use switchboard_events::SidPrefix;

    fn event(causation: Option<Uuid>) -> NewEvent {
        NewEvent {
            id: Uuid::from_u128(1),
            occurred_at: DateTime::from_timestamp_millis(1_764_000_000_123).unwrap_or_default(),
            account_sid: Sid::from_u128(SidPrefix::Account, 9),
            correlation_id: Uuid::from_u128(2),
            causation_id: causation,
            causation_position: None,
            region: "eu1".into(),
            event_type: "account.created".into(),
            schema_version: 1,
            data: "{}".into(),
        }
    }

    #[test]
    fn a_header_round_trips_with_and_without_causation() {
        for e in [event(None), event(Some(Uuid::from_u128(3)))] {
            let header = encode_header(&e).expect("encodes");
            assert_eq!(decode(&header, e.data.clone()), Ok(e));
        }
    }

    #[test]
    fn a_causation_position_round_trips_and_an_old_header_still_reads() {
        let mut caused = event(Some(Uuid::from_u128(3)));
        caused.causation_position = Some(Position {
            partition: 7,
            offset: 1 << 40,
        });
        let header = encode_header(&caused).expect("encodes");
        assert_eq!(header[41], 2, "the flag that carries a position");
        assert_eq!(decode(&header, caused.data.clone()), Ok(caused));
        // A header as written before positions were recorded (flag 1), byte for byte.
        let mut old = vec![1u8];
        old.extend_from_slice(Uuid::from_u128(1).as_bytes());
        old.extend_from_slice(&1_764_000_000_123i64.to_le_bytes());
        old.extend_from_slice(Uuid::from_u128(2).as_bytes());
        old.push(1);
        old.extend_from_slice(Uuid::from_u128(3).as_bytes());
        old.extend_from_slice(&1u32.to_le_bytes());
        for s in [
            "AC00000000000000000000000000000009",
            "eu1",
            "account.created",
        ] {
            old.push(s.len() as u8);
            old.extend_from_slice(s.as_bytes());
        }
        assert_eq!(
            decode(&old, "{}".into()),
            Ok(event(Some(Uuid::from_u128(3))))
        );
        for cut in 0..header.len() {
            assert!(decode(&header[..cut], String::new()).is_err());
        }
    }

    #[test]
    fn an_overlong_region_is_refused_at_write() {
        let mut e = event(None);
        e.region = "r".repeat(256);
        assert!(encode_header(&e).is_err());
    }

    #[test]
    fn damaged_headers_are_reported_not_panicked_on() {
        let header = encode_header(&event(None)).expect("encodes");
        for cut in 0..header.len() {
            assert!(decode(&header[..cut], String::new()).is_err());
        }
        let mut newer = header.clone();
        newer[0] = 2;
        assert!(decode(&newer, String::new()).is_err());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes, String::new());
        }
    }
}
