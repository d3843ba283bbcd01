//! The status-callback process manager, given a call stream: what each event sends, with
//! which parameters, and three properties over random event sequences (sequence numbers
//! 0..n without gaps, at most one `completed` and exactly one when one is owed, nothing
//! without a `status_callback`), each shown to catch a planted bug.

use super::*;
use crate::call::{
    evolve, CallAnswered, CallCompleted, CallEndStatus, CallInitiated, CallRinging, CallRouted,
    DtmfMethod, DtmfReceived, HttpMethod, HungUpBy, MediaPlayed,
};
use crate::event::Event;
use crate::sid::SidPrefix;
use proptest::prelude::*;
use uuid::Uuid;

const STREAM: &str = "CA0000000000000000000000000000000a";
const PARENT: &str = "CA0000000000000000000000000000000f";
const URL: &str = "https://app.example/status?x=1";
/// 2026-12-01 09:05:03 UTC, ms: a one-digit day and hour, to pin the padding.
const T0: i64 = 1_796_115_903_000;

type Fold = fn(Option<Call>, i64, &str, &str, &Event) -> Option<Call>;

fn account() -> Sid {
    Sid::from_u128(SidPrefix::Account, 0xb)
}

fn initiated(direction: CallDirection) -> Event {
    Event::CallInitiated(CallInitiated {
        direction,
        from: "sip:+15551230000@10.0.0.1".into(),
        to: "sip:+15559870000@switchboard".into(),
        sip_call_id: "abc@10.0.0.1".into(),
        remote_addr: "10.0.0.1:5060".into(),
        parent_call_sid: (direction == CallDirection::OutboundDial).then(|| PARENT.to_string()),
    })
}

fn routed(url: Option<&str>, events: &[StatusCallbackEvent], method: HttpMethod) -> Event {
    Event::CallRouted(CallRouted {
        phone_number_sid: None,
        application_sid: None,
        voice_url: "https://app.example/voice".into(),
        voice_method: HttpMethod::Post,
        voice_fallback_url: None,
        voice_fallback_method: HttpMethod::Post,
        status_callback: url.map(str::to_string),
        status_callback_method: method,
        status_callback_events: events.to_vec(),
        twiml: None,
    })
}

fn ringing() -> Event {
    Event::CallRinging(CallRinging {})
}

fn answered() -> Event {
    Event::CallAnswered(CallAnswered {
        codec: "PCMU".into(),
        telephone_event: None,
        local_rtp: "127.0.0.1:20000".into(),
        remote_rtp: "127.0.0.1:30000".into(),
    })
}

fn completed(status: CallEndStatus, sip_code: u16, duration_ms: u64) -> Event {
    Event::CallCompleted(CallCompleted {
        status,
        sip_code,
        hung_up_by: HungUpBy::Remote,
        duration_ms,
        reason: "test".into(),
    })
}

fn digit() -> Event {
    Event::DtmfReceived(DtmfReceived {
        digit: "5".into(),
        method: DtmfMethod::Rfc4733,
    })
}

fn played() -> Event {
    Event::MediaPlayed(MediaPlayed {
        source: "beep.wav".into(),
        packets: 10,
        duration_ms: 200,
        completed: true,
    })
}

fn envelope(i: usize, event: &Event) -> Envelope {
    Envelope {
        id: Uuid::from_u128(i as u128 + 1),
        stream: STREAM.into(),
        seq: i as u64 + 1,
        position: crate::Position::embedded(i as u64),
        occurred_at: DateTime::from_timestamp_millis(at(i)).unwrap_or_default(),
        account_sid: account(),
        correlation_id: Uuid::from_u128(99),
        causation_id: None,
        region: "test".into(),
        schema_version: 1,
        event: event.clone(),
    }
}

/// The `i`-th event's time: one second apart from [`T0`].
fn at(i: usize) -> i64 {
    T0 + 1_000 * i as i64
}

/// Folds `events` with `fold` and reacts to each as the runner does: every delivery, in order.
fn run_with(fold: Fold, events: &[Event]) -> Vec<Delivery> {
    let mut state = None;
    let mut out = Vec::new();
    for (i, event) in events.iter().enumerate() {
        state = fold(state, at(i), account().as_str(), STREAM, event);
        if let Some(call) = &state {
            out.extend(react(call, &envelope(i, event)).deliveries);
        }
    }
    out
}

fn run(events: &[Event]) -> Vec<Delivery> {
    run_with(evolve, events)
}

fn param<'d>(d: &'d Delivery, name: &str) -> Option<&'d str> {
    d.form
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn statuses(ds: &[Delivery]) -> Vec<(&str, &str)> {
    ds.iter()
        .map(|d| {
            (
                param(d, "CallStatus").unwrap_or("?"),
                param(d, "SequenceNumber").unwrap_or("?"),
            )
        })
        .collect()
}

const ALL: [StatusCallbackEvent; 4] = [
    StatusCallbackEvent::Initiated,
    StatusCallbackEvent::Ringing,
    StatusCallbackEvent::Answered,
    StatusCallbackEvent::Completed,
];

#[test]
fn an_inbound_call_to_a_number_gets_one_completed_with_the_terminal_parameters() {
    let ds = run(&[
        initiated(CallDirection::Inbound),
        routed(
            Some(URL),
            &[StatusCallbackEvent::Completed],
            HttpMethod::Post,
        ),
        ringing(),
        answered(),
        digit(),
        completed(CallEndStatus::Completed, 200, 61_001),
    ]);
    assert_eq!(ds.len(), 1, "{:?}", statuses(&ds));
    let d = &ds[0];
    assert_eq!(
        d.id,
        Delivery::id_for(Uuid::from_u128(6), WebhookKind::StatusCallback, 0)
    );
    assert_eq!(d.kind, WebhookKind::StatusCallback);
    assert_eq!(d.urls, [URL]);
    assert_eq!(d.method, HttpMethod::Post);
    assert_eq!(d.account_sid, account());
    assert_eq!(d.order_key.as_ref().map(Sid::as_str), Some(STREAM));
    assert_eq!(d.acts_on, None);
    let expected: Vec<(String, String)> = [
        ("CallSid", STREAM),
        ("AccountSid", account().as_str()),
        ("From", "+15551230000"),
        ("To", "+15559870000"),
        ("CallStatus", "completed"),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
        ("Caller", "+15551230000"),
        ("Called", "+15559870000"),
        ("Timestamp", "Tue, 01 Dec 2026 09:05:08 +0000"),
        ("CallbackSource", "call-progress-events"),
        ("SequenceNumber", "0"),
        ("CallDuration", "62"),
        ("Duration", "2"),
        ("SipResponseCode", "200"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(d.form, expected);
}

#[test]
fn a_placed_call_subscribed_to_all_four_gets_them_numbered_0_to_3() {
    let events = [
        initiated(CallDirection::OutboundApi),
        routed(Some(URL), &ALL, HttpMethod::Get),
        ringing(),
        answered(),
        played(),
        completed(CallEndStatus::Completed, 200, 3_000),
    ];
    let ds = run(&events);
    assert_eq!(
        statuses(&ds),
        [
            ("initiated", "0"),
            ("ringing", "1"),
            ("in-progress", "2"),
            ("completed", "3")
        ]
    );
    // `initiated` is decided at call.routed (event 1), the rest at their own events.
    let sources: Vec<String> = [1, 2, 3, 5]
        .iter()
        .map(|i| Delivery::id_for(Uuid::from_u128(i + 1), WebhookKind::StatusCallback, 0))
        .collect();
    assert_eq!(ds.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), sources);
    assert!(ds.iter().all(|d| d.method == HttpMethod::Get));
    assert!(ds
        .iter()
        .all(|d| param(d, "Direction") == Some("outbound-api")));
    assert!(
        ds[..3]
            .iter()
            .all(|d| param(d, "CallDuration").is_none() && param(d, "SipResponseCode").is_none()),
        "terminal parameters on the terminal event only"
    );
    assert_eq!(param(&ds[3], "CallDuration"), Some("3"));
    assert_eq!(param(&ds[3], "Duration"), Some("1"));
    assert_eq!(run(&events), ds, "a replay gives the same deliveries");
}

#[test]
fn every_terminal_status_is_completed_with_that_status() {
    let table = [
        (CallEndStatus::Busy, 486, "busy"),
        (CallEndStatus::NoAnswer, 487, "no-answer"),
        (CallEndStatus::Failed, 404, "failed"),
        (CallEndStatus::Canceled, 487, "canceled"),
    ];
    for (status, code, wire) in table {
        let ds = run(&[
            initiated(CallDirection::OutboundApi),
            routed(
                Some(URL),
                &[StatusCallbackEvent::Completed],
                HttpMethod::Post,
            ),
            ringing(),
            completed(status, code, 0),
        ]);
        assert_eq!(statuses(&ds), [(wire, "0")], "{wire}");
        assert_eq!(param(&ds[0], "CallDuration"), Some("0"));
        assert_eq!(param(&ds[0], "Duration"), Some("0"));
        assert_eq!(
            param(&ds[0], "SipResponseCode"),
            Some(code.to_string().as_str())
        );
    }
}

#[test]
fn durations_round_up_to_the_second_and_the_billable_minute() {
    let table = [
        (0, 0, 0),
        (1, 1, 1),
        (999, 1, 1),
        (1_000, 1, 1),
        (60_000, 60, 1),
        (60_001, 61, 2),
        (120_000, 120, 2),
    ];
    for (ms, secs, minutes) in table {
        let ds = run(&[
            initiated(CallDirection::Inbound),
            routed(
                Some(URL),
                &[StatusCallbackEvent::Completed],
                HttpMethod::Post,
            ),
            answered(),
            completed(CallEndStatus::Completed, 200, ms),
        ]);
        assert_eq!(
            param(&ds[0], "CallDuration"),
            Some(secs.to_string().as_str()),
            "{ms}"
        );
        assert_eq!(
            param(&ds[0], "Duration"),
            Some(minutes.to_string().as_str()),
            "{ms}"
        );
    }
}

#[test]
fn a_child_leg_carries_its_parent_and_inbound_calls_are_never_initiated() {
    let child = run(&[
        initiated(CallDirection::OutboundDial),
        routed(Some(URL), &ALL, HttpMethod::Post),
        completed(CallEndStatus::Busy, 486, 0),
    ]);
    assert_eq!(statuses(&child), [("initiated", "0"), ("busy", "1")]);
    assert!(child
        .iter()
        .all(|d| param(d, "ParentCallSid") == Some(PARENT)
            && param(d, "Direction") == Some("outbound-dial")));
    let inbound = run(&[
        initiated(CallDirection::Inbound),
        routed(Some(URL), &ALL, HttpMethod::Post),
        ringing(),
        completed(CallEndStatus::Canceled, 487, 0),
    ]);
    assert_eq!(statuses(&inbound), [("ringing", "0"), ("canceled", "1")]);
    assert!(inbound.iter().all(|d| param(d, "ParentCallSid").is_none()));
}

#[test]
fn only_subscribed_points_are_sent_and_numbered() {
    let ds = run(&[
        initiated(CallDirection::OutboundApi),
        routed(
            Some(URL),
            &[
                StatusCallbackEvent::Answered,
                StatusCallbackEvent::Completed,
            ],
            HttpMethod::Post,
        ),
        ringing(),
        answered(),
        completed(CallEndStatus::Completed, 200, 1_000),
    ]);
    assert_eq!(statuses(&ds), [("in-progress", "0"), ("completed", "1")]);
    let ringing_only = run(&[
        initiated(CallDirection::OutboundApi),
        routed(Some(URL), &[StatusCallbackEvent::Ringing], HttpMethod::Post),
        ringing(),
        completed(CallEndStatus::NoAnswer, 487, 0),
    ]);
    assert_eq!(
        statuses(&ringing_only),
        [("ringing", "0")],
        "no completed unless asked"
    );
}

#[test]
fn no_status_callback_url_sends_nothing() {
    for url in [None, Some(""), Some("  ")] {
        let ds = run(&[
            initiated(CallDirection::OutboundApi),
            routed(url, &ALL, HttpMethod::Post),
            ringing(),
            answered(),
            completed(CallEndStatus::Completed, 200, 1_000),
        ]);
        assert!(ds.is_empty(), "{url:?}: {:?}", statuses(&ds));
    }
    let unrouted = run(&[
        initiated(CallDirection::Inbound),
        completed(CallEndStatus::Failed, 488, 0),
    ]);
    assert!(unrouted.is_empty(), "a call never routed has no URL");
}

#[test]
fn progress_before_the_route_is_not_sent_late_but_initiated_is() {
    let ds = run(&[
        initiated(CallDirection::OutboundApi),
        ringing(),
        routed(Some(URL), &ALL, HttpMethod::Post),
        answered(),
        completed(CallEndStatus::Completed, 200, 1_000),
    ]);
    assert_eq!(
        statuses(&ds),
        [("initiated", "0"), ("in-progress", "1"), ("completed", "2")]
    );
}

#[test]
fn events_after_the_end_send_nothing() {
    let ds = run(&[
        initiated(CallDirection::Inbound),
        routed(Some(URL), &ALL, HttpMethod::Post),
        completed(CallEndStatus::Busy, 486, 0),
        completed(CallEndStatus::Failed, 500, 0),
        ringing(),
        answered(),
        digit(),
    ]);
    assert_eq!(statuses(&ds), [("busy", "0")]);
}

/// A call that never went on the wire (what issue 19's CPS queue will record), folded by
/// hand: `dialled` cleared after `call.initiated`, then the rest of `events`.
fn undialled(direction: CallDirection, events: &[Event]) -> Vec<Delivery> {
    let first = initiated(direction);
    let mut state = evolve(None, at(0), account().as_str(), STREAM, &first);
    if let Some(call) = &mut state {
        call.dialled = false;
    }
    let mut out = Vec::new();
    for (i, event) in events.iter().enumerate() {
        state = evolve(state, at(i + 1), account().as_str(), STREAM, event);
        if let Some(call) = &state {
            out.extend(react(call, &envelope(i + 1, event)).deliveries);
        }
    }
    out
}

#[test]
fn a_call_canceled_while_queued_gets_no_callback_but_one_canceled_after_dialling_does() {
    let queued = undialled(
        CallDirection::OutboundApi,
        &[
            routed(Some(URL), &ALL, HttpMethod::Post),
            completed(CallEndStatus::Canceled, 487, 0),
        ],
    );
    assert!(queued.is_empty(), "{:?}", statuses(&queued));
    // Not dialled but failed (not canceled): its completed is owed.
    let failed = undialled(
        CallDirection::OutboundApi,
        &[
            routed(Some(URL), &ALL, HttpMethod::Post),
            completed(CallEndStatus::Failed, 503, 0),
        ],
    );
    assert_eq!(statuses(&failed), [("failed", "0")]);
    // Today's placed call: dialled from call.initiated, canceled before it rang (the fold's
    // status is still `queued`): it was initiated on the wire, so it gets both.
    let dialled = run(&[
        initiated(CallDirection::OutboundApi),
        routed(Some(URL), &ALL, HttpMethod::Post),
        completed(CallEndStatus::Canceled, 487, 0),
    ]);
    assert_eq!(statuses(&dialled), [("initiated", "0"), ("canceled", "1")]);
}

// ---- properties over random event sequences ----

fn any_direction() -> impl Strategy<Value = CallDirection> {
    prop_oneof![
        Just(CallDirection::Inbound),
        Just(CallDirection::OutboundApi),
        Just(CallDirection::OutboundDial),
    ]
}

fn any_routed() -> impl Strategy<Value = Event> {
    let url = prop_oneof![Just(None), Just(Some("")), Just(Some(URL))];
    let events = proptest::sample::subsequence(ALL.to_vec(), 0..=4);
    let method = prop_oneof![Just(HttpMethod::Get), Just(HttpMethod::Post)];
    (url, events, method).prop_map(|(url, events, method)| routed(url, &events, method))
}

fn any_end() -> impl Strategy<Value = Event> {
    let status = prop_oneof![
        Just(CallEndStatus::Completed),
        Just(CallEndStatus::Busy),
        Just(CallEndStatus::NoAnswer),
        Just(CallEndStatus::Canceled),
        Just(CallEndStatus::Failed),
    ];
    (status, 100u16..700, 0u64..200_000).prop_map(|(s, code, ms)| completed(s, code, ms))
}

fn any_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        any_direction().prop_map(initiated),
        any_routed(),
        Just(ringing()),
        Just(answered()),
        any_end(),
        Just(digit()),
        Just(played()),
    ]
}

/// A call stream, mostly well-formed (it starts with `call.initiated`), in any order after.
fn any_stream() -> impl Strategy<Value = Vec<Event>> {
    (
        proptest::option::weighted(0.9, any_direction()),
        proptest::collection::vec(any_event(), 0..24),
    )
        .prop_map(|(first, rest)| first.map(initiated).into_iter().chain(rest).collect())
}

/// Whether the stream owes exactly one `completed`: it has a `call.initiated` (the fold
/// starts there; anything before it folds into nothing), is
/// routed (the last `call.routed` before its first `call.completed`, as the fold keeps it;
/// the decider records only one) to a non-empty URL that subscribes to `completed`, and ends.
fn owes_completed(events: &[Event]) -> bool {
    let Some(start) = events
        .iter()
        .position(|e| matches!(e, Event::CallInitiated(_)))
    else {
        return false;
    };
    let mut route = None;
    for event in &events[start + 1..] {
        match event {
            Event::CallRouted(r) => route = Some(r),
            Event::CallCompleted(_) => {
                return route.is_some_and(|r| {
                    r.status_callback
                        .as_deref()
                        .is_some_and(|u| !u.trim().is_empty())
                        && r.status_callback_events
                            .contains(&StatusCallbackEvent::Completed)
                })
            }
            _ => {}
        }
    }
    false
}

fn has_url(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(e, Event::CallRouted(r)
            if r.status_callback.as_deref().is_some_and(|u| !u.trim().is_empty()))
    })
}

fn sequence_numbers(ds: &[Delivery]) -> Vec<String> {
    ds.iter()
        .map(|d| param(d, "SequenceNumber").unwrap_or("?").to_string())
        .collect()
}

fn gapless(fold: Fold) -> impl Fn(Vec<Event>) -> Result<(), TestCaseError> {
    move |events| {
        let ds = run_with(fold, &events);
        let expected: Vec<String> = (0..ds.len()).map(|n| n.to_string()).collect();
        prop_assert_eq!(sequence_numbers(&ds), expected);
        Ok(())
    }
}

fn one_completed(fold: Fold) -> impl Fn(Vec<Event>) -> Result<(), TestCaseError> {
    move |events| {
        let ds = run_with(fold, &events);
        let terminal = ds
            .iter()
            .filter(|d| param(d, "SipResponseCode").is_some())
            .count();
        let owed = usize::from(owes_completed(&events));
        prop_assert_eq!(terminal, owed, "{:?}", statuses(&ds));
        Ok(())
    }
}

fn none_without_url(fold: Fold) -> impl Fn(Vec<Event>) -> Result<(), TestCaseError> {
    move |events| {
        let ds = run_with(fold, &events);
        prop_assert!(has_url(&events) || ds.is_empty(), "{:?}", statuses(&ds));
        prop_assert!(ds
            .iter()
            .all(|d| d.urls.iter().all(|u| !u.trim().is_empty())));
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn sequence_numbers_run_from_0_without_gaps(events in any_stream()) {
        gapless(evolve)(events)?;
    }

    #[test]
    fn exactly_one_completed_when_owed_and_none_otherwise(events in any_stream()) {
        one_completed(evolve)(events)?;
    }

    #[test]
    fn nothing_is_sent_without_a_status_callback_url(events in any_stream()) {
        none_without_url(evolve)(events)?;
    }
}

/// Planted: an unsubscribed `ringing` still takes a number (a gap in what is sent).
fn numbers_unsent(
    state: Option<Call>,
    at: i64,
    account: &str,
    stream: &str,
    event: &Event,
) -> Option<Call> {
    let mut call = evolve(state, at, account, stream, event)?;
    let subscribed = call.routed.as_ref().is_some_and(|r| {
        r.status_callback_events
            .contains(&StatusCallbackEvent::Ringing)
    });
    if matches!(event, Event::CallRinging(_)) && !subscribed && !call.is_ended() {
        call.status_callbacks += 1;
    }
    Some(call)
}

/// Planted: an event after the end repeats what the end produced.
fn repeats_the_end(
    state: Option<Call>,
    at: i64,
    account: &str,
    stream: &str,
    event: &Event,
) -> Option<Call> {
    let before = state
        .as_ref()
        .map(|c| (c.is_ended(), c.callbacks_due.clone()));
    let mut call = evolve(state, at, account, stream, event)?;
    if let Some((true, due)) = before {
        call.callbacks_due = due;
    }
    Some(call)
}

/// Planted: a call without a status callback URL has its callbacks sent to its voice URL.
fn falls_back_to_the_voice_url(
    state: Option<Call>,
    at: i64,
    account: &str,
    stream: &str,
    event: &Event,
) -> Option<Call> {
    let event = match event {
        Event::CallRouted(r) if r.status_callback.is_none() => {
            let mut r = r.clone();
            r.status_callback = Some(r.voice_url.clone());
            Event::CallRouted(r)
        }
        other => other.clone(),
    };
    evolve(state, at, account, stream, &event)
}

#[test]
fn each_property_catches_its_planted_bug() {
    let config = ProptestConfig::with_cases(512);
    let mut runner = proptest::test_runner::TestRunner::new(config.clone());
    assert!(
        runner.run(&any_stream(), gapless(numbers_unsent)).is_err(),
        "a gap went unnoticed"
    );
    let mut runner = proptest::test_runner::TestRunner::new(config.clone());
    assert!(
        runner
            .run(&any_stream(), one_completed(repeats_the_end))
            .is_err(),
        "a second completed went unnoticed"
    );
    let mut runner = proptest::test_runner::TestRunner::new(config);
    assert!(
        runner
            .run(&any_stream(), none_without_url(falls_back_to_the_voice_url))
            .is_err(),
        "a callback without a URL went unnoticed"
    );
}
