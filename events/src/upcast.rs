//! Upcasters: how data stored in an older schema version becomes the current one. The log is
//! never rewritten; instead [`Event::decode`](crate::Event::decode) lifts old data here, one
//! version at a time, before deserialising it into the current struct.
//!
//! Invariant: for every type at version N in `event_types!` there is an entry `(type, k)` for
//! every k in 1..N, so every event ever written still decodes (a unit test checks the table
//! against [`Event::TYPES`](crate::Event::TYPES)). Each upcaster is a pure function of the old
//! data alone (no state, no clock), so every node and every replay lifts the same bytes to the
//! same value; a field the old shape lacks is derived from what it has or given a documented
//! default.
//!
//! Adding a version: add `schemas/{type}.v{N+1}.json` (never edit `v{N}`), bump the version in
//! `event_types!`, add a function here and its row in [`UPCASTERS`], and a literal old-shape
//! example in `events/tests/contract.rs`.

use crate::event::DecodeError;
use serde_json::Value;

/// Lifts the data of one type from one version to the next.
pub type Upcaster = fn(Value) -> Result<Value, DecodeError>;

/// Every upcaster, keyed by the type and the version it lifts from (to that version + 1).
pub const UPCASTERS: &[(&str, u32, Upcaster)] = &[
    ("worker.capacity.update", 1, worker_capacity_update_v1),
    ("account.created", 1, account_created_v1),
    ("call.routed", 1, call_routed_v1),
];

/// Lifts `data` of `event_type` from version `from` to `to`, one step at a time.
pub fn lift(event_type: &str, from: u32, to: u32, mut data: Value) -> Result<Value, DecodeError> {
    let mut version = from;
    while version < to {
        let step = UPCASTERS
            .iter()
            .find(|(t, v, _)| *t == event_type && *v == version)
            .map(|(_, _, f)| *f)
            .ok_or_else(|| DecodeError::NoUpcaster {
                event_type: event_type.to_string(),
                found: version,
                known: to,
            })?;
        data = step(data)?;
        version += 1;
    }
    Ok(data)
}

/// The data as an object, or a [`DecodeError::Malformed`] naming the type.
fn object(event_type: &str, data: Value) -> Result<serde_json::Map<String, Value>, DecodeError> {
    match data {
        Value::Object(map) => Ok(map),
        other => Err(DecodeError::Malformed {
            event_type: event_type.to_string(),
            reason: format!("expected an object, got {other}"),
        }),
    }
}

/// `worker.capacity.update` v1 → v2: v2 records the capacity the channel had before
/// (`previous_capacity`, what Twilio's `WorkerChannelPreviousCapacity` reports). A v1 event
/// did not record it and it cannot be recovered from the event alone, so it is `null`:
/// "not recorded", never a guess.
fn worker_capacity_update_v1(data: Value) -> Result<Value, DecodeError> {
    let mut map = object("worker.capacity.update", data)?;
    map.entry("previous_capacity").or_insert(Value::Null);
    Ok(Value::Object(map))
}

/// `account.created` v1 → v2: v2 records the auth token sealed under the server key
/// (`auth_token_sealed`). A v1 event recorded only the token's hash, from which the token
/// cannot be had, so it is `null`: the account authenticates as before but has no signable
/// token until it rotates one (`/v1/AuthTokens/Secondary`, then `/Promote`).
fn account_created_v1(data: Value) -> Result<Value, DecodeError> {
    let mut map = object("account.created", data)?;
    map.entry("auth_token_sealed").or_insert(Value::Null);
    Ok(Value::Object(map))
}

/// `call.routed` v1 → v2: v2 records which status changes the status callback gets
/// (`status_callback_events`) and inline instructions (`twiml`). Every v1 event was routed by
/// a number, whose `StatusCallback` Twilio sends `completed` only, and fetched its URL.
fn call_routed_v1(data: Value) -> Result<Value, DecodeError> {
    let mut map = object("call.routed", data)?;
    map.entry("status_callback_events")
        .or_insert(Value::Array(vec![Value::String("completed".into())]));
    map.entry("twiml").or_insert(Value::Null);
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    #[test]
    fn every_older_version_of_every_type_has_an_upcaster() {
        for (event_type, current) in Event::TYPES {
            for from in 1..*current {
                assert!(
                    UPCASTERS
                        .iter()
                        .any(|(t, v, _)| t == event_type && *v == from),
                    "{event_type} is at v{current} but nothing lifts v{from}"
                );
            }
        }
        for (t, v, _) in UPCASTERS {
            let current = Event::TYPES.iter().find(|(n, _)| n == t).map(|(_, c)| *c);
            assert!(
                current.is_some_and(|c| *v < c),
                "upcaster ({t}, v{v}) lifts into a version this build does not have"
            );
        }
    }

    #[test]
    fn a_version_without_an_upcaster_is_a_clear_error() {
        assert_eq!(
            lift("worker.capacity.update", 0, 2, Value::Null),
            Err(DecodeError::NoUpcaster {
                event_type: "worker.capacity.update".into(),
                found: 0,
                known: 2
            })
        );
        assert!(matches!(
            lift("worker.capacity.update", 1, 2, Value::from(3)),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn lifting_to_the_same_version_changes_nothing() {
        let v = serde_json::json!({"a": 1});
        assert_eq!(lift("anything", 4, 4, v.clone()), Ok(v));
    }
}
