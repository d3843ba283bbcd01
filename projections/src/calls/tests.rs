//! The calls fold: a row follows its stream, ignores what does not fit, and goes when deleted.

use super::*;
use chrono::DateTime;
use switchboard_events::call::{
    CallAnswered, CallCompleted, CallDeleted, CallEndStatus, CallInitiated, CallRinging,
    CallRouted, DtmfMethod, DtmfReceived, HttpMethod, HungUpBy,
};
use switchboard_events::Position;
use uuid::Uuid;

fn call() -> Sid {
    Sid::from_u128(SidPrefix::Call, 7)
}

fn envelope(seq: u64, event: Event) -> Envelope {
    Envelope {
        id: Uuid::from_u128(u128::from(seq)),
        stream: call().to_string(),
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

fn initiated(direction: CallDirection) -> Event {
    Event::CallInitiated(CallInitiated {
        direction,
        from: "sip:+15551230000@10.0.0.1".into(),
        to: "sip:alice@example.com".into(),
        sip_call_id: "abc@host".into(),
        remote_addr: "10.0.0.1:5060".into(),
        parent_call_sid: None,
    })
}

fn routed() -> Event {
    Event::CallRouted(CallRouted {
        phone_number_sid: None,
        application_sid: Some(Sid::from_u128(SidPrefix::Application, 2).to_string()),
        voice_url: "https://app.example/voice".into(),
        voice_method: HttpMethod::Post,
        voice_fallback_url: None,
        voice_fallback_method: HttpMethod::Post,
        status_callback: None,
        status_callback_method: HttpMethod::Post,
        status_callback_events: vec![],
        twiml: None,
    })
}

fn answered() -> Event {
    Event::CallAnswered(CallAnswered {
        codec: "PCMU".into(),
        telephone_event: Some(101),
        local_rtp: "10.0.0.2:20000".into(),
        remote_rtp: "10.0.0.1:30000".into(),
    })
}

fn completed(status: CallEndStatus, duration_ms: u64) -> Event {
    Event::CallCompleted(CallCompleted {
        status,
        sip_code: 200,
        hung_up_by: HungUpBy::Remote,
        duration_ms,
        reason: "bye".into(),
    })
}

fn run(events: Vec<Event>) -> Option<CallRow> {
    events
        .into_iter()
        .enumerate()
        .fold(None, |row, (i, e)| fold(row, &envelope(i as u64 + 1, e)))
}

#[test]
fn a_placed_call_goes_queued_ringing_in_progress_completed() {
    let row = run(vec![initiated(CallDirection::OutboundApi)]).expect("a row");
    assert_eq!(row.status, CallStatus::Queued);
    assert_eq!((row.created_at_ms, row.start_time_ms), (1_000, Some(1_000)));
    assert_eq!(row.to(), "sip:alice@example.com");
    assert_eq!(row.from(), "+15551230000");
    let row = run(vec![
        initiated(CallDirection::OutboundApi),
        routed(),
        Event::CallRinging(CallRinging {}),
        answered(),
        completed(CallEndStatus::Completed, 2_500),
    ])
    .expect("a row");
    assert_eq!(row.status, CallStatus::Completed);
    assert_eq!(
        row.application_sid,
        Some(Sid::from_u128(SidPrefix::Application, 2).to_string())
    );
    assert_eq!(row.answered_at_ms, Some(4_000));
    assert_eq!(row.end_time_ms, Some(5_000));
    assert_eq!(row.duration_ms, Some(2_500));
    assert_eq!(row.sip_code, Some(200));
    assert_eq!(row.updated_at_ms, 5_000);
}

#[test]
fn an_inbound_call_rings_from_its_invite() {
    let row = run(vec![initiated(CallDirection::Inbound)]).expect("a row");
    assert_eq!(row.status, CallStatus::Ringing);
    assert_eq!(row.direction, CallDirection::Inbound);
}

#[test]
fn nothing_changes_a_finished_call_but_its_deletion_which_removes_it() {
    let ended = vec![
        initiated(CallDirection::Inbound),
        completed(CallEndStatus::Busy, 0),
    ];
    let mut late = ended.clone();
    late.push(answered());
    late.push(Event::CallRinging(CallRinging {}));
    assert_eq!(run(late), run(ended.clone()));
    let mut deleted = ended;
    deleted.push(Event::CallDeleted(CallDeleted {}));
    assert_eq!(run(deleted), None);
}

#[test]
fn events_before_the_initiation_and_media_facts_make_no_row_change() {
    assert_eq!(run(vec![answered()]), None);
    let digit = Event::DtmfReceived(DtmfReceived {
        digit: "5".into(),
        method: DtmfMethod::Rfc4733,
    });
    let base = vec![initiated(CallDirection::Inbound), answered()];
    let mut with_digit = base.clone();
    with_digit.push(digit);
    assert_eq!(run(with_digit), run(base));
}

#[test]
fn a_party_shows_as_its_number_or_as_the_uri() {
    assert_eq!(shown("sip:+15551230000@host;user=phone"), "+15551230000");
    assert_eq!(shown("+15551230000"), "+15551230000");
    assert_eq!(shown("sip:alice@example.com"), "sip:alice@example.com");
    assert_eq!(shown("client:bob"), "client:bob");
}

#[test]
fn statuses_parse_from_their_wire_values() {
    for s in [
        "queued",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "no-answer",
        "canceled",
        "failed",
    ] {
        assert_eq!(parse_status(s).map(CallStatus::as_str), Some(s));
    }
    assert_eq!(parse_status("initiated"), None);
}
