//! The call's state machine, given/when/then: every transition the decider allows, every one
//! it refuses, and a property over random command sequences (one `call.initiated` first, at
//! most one `call.completed`, nothing after it) that is shown to catch a planted bug.

use super::*;
use crate::event::Event;
use proptest::prelude::*;

const STREAM: &str = "CA0000000000000000000000000000000a";
const ACCOUNT: &str = "AC0000000000000000000000000000000b";

type Decider = fn(&CallCommand, Option<&Call>) -> Result<Vec<Event>, CallError>;

/// Given `history` (commands that must all be accepted), the folded call.
fn given(history: &[CallCommand]) -> Option<Call> {
    let mut state = None;
    for (i, command) in history.iter().enumerate() {
        let events = decide(command, state.as_ref())
            .unwrap_or_else(|e| panic!("given step {i} ({}) refused: {e}", command.name()));
        state = fold(state, &events, i as i64);
    }
    state
}

fn fold(mut state: Option<Call>, events: &[Event], at: i64) -> Option<Call> {
    for event in events {
        state = evolve(state, 1_000 + at, ACCOUNT, STREAM, event);
    }
    state
}

fn initiate(direction: CallDirection) -> CallCommand {
    CallCommand::Initiate {
        direction,
        from: "sip:+15551230000@10.0.0.1".into(),
        to: "sip:+15559870000@switchboard".into(),
        sip_call_id: "abc@10.0.0.1".into(),
        remote_addr: "10.0.0.1:5060".into(),
        parent_call_sid: None,
    }
}

fn answer() -> CallCommand {
    CallCommand::Answer(CallAnswered {
        codec: "PCMU".into(),
        telephone_event: Some(101),
        local_rtp: "127.0.0.1:20000".into(),
        remote_rtp: "127.0.0.1:30000".into(),
    })
}

fn complete(status: CallEndStatus) -> CallCommand {
    CallCommand::Complete(CallCompleted {
        status,
        sip_code: 200,
        hung_up_by: HungUpBy::Remote,
        duration_ms: 0,
        reason: "test".into(),
    })
}

fn digit() -> CallCommand {
    CallCommand::RecordDigit(DtmfReceived {
        digit: "5".into(),
        method: DtmfMethod::Rfc4733,
    })
}

fn played() -> CallCommand {
    CallCommand::RecordPlayed(MediaPlayed {
        source: "beep.wav".into(),
        packets: 10,
        duration_ms: 200,
        completed: true,
    })
}

fn routed() -> CallCommand {
    CallCommand::Route(CallRouted {
        phone_number_sid: Some(format!("PN{}", "1".repeat(32))),
        application_sid: None,
        voice_url: "https://app.example/voice".into(),
        voice_method: HttpMethod::Post,
        voice_fallback_url: None,
        voice_fallback_method: HttpMethod::Post,
        status_callback: None,
        status_callback_method: HttpMethod::Post,
        status_callback_events: vec![super::StatusCallbackEvent::Completed],
        twiml: None,
    })
}

fn fetched() -> CallCommand {
    CallCommand::RecordFetch(InstructionsFetched {
        url: "https://app.example/voice".into(),
        method: HttpMethod::Post,
        status_code: 200,
        content_type: Some("text/xml".into()),
        bytes: 40,
        fallback: false,
    })
}

fn notification(code: u32) -> NotificationRaised {
    NotificationRaised {
        notification_sid: Sid::from_u128(crate::sid::SidPrefix::Alert, 7),
        error_code: code,
        log_level: NotificationLevel::Error,
        message_text: "Document parse failure".into(),
        request_url: "https://app.example/voice".into(),
        request_method: Some(HttpMethod::Post),
        request_variables: "CallSid=CA1".into(),
        response_headers: None,
        response_body: Some("<Response>".into()),
    }
}

fn redirect() -> CallCommand {
    CallCommand::Redirect {
        url: "https://app.example/next".into(),
        method: HttpMethod::Get,
    }
}

/// The commands that each record one event on a live call, with the history that makes
/// them valid (ringing or answered).
fn ringing() -> Vec<CallCommand> {
    vec![initiate(CallDirection::Inbound), CallCommand::Ring]
}

fn answered() -> Vec<CallCommand> {
    vec![
        initiate(CallDirection::Inbound),
        CallCommand::Ring,
        answer(),
    ]
}

fn ended() -> Vec<CallCommand> {
    let mut h = answered();
    h.push(complete(CallEndStatus::Completed));
    h
}

// ---- Initiate ----

#[test]
fn given_nothing_when_an_inbound_call_is_initiated_then_it_is_ringing() {
    let events = decide(&initiate(CallDirection::Inbound), None).expect("the test's given holds");
    assert!(
        matches!(events.as_slice(), [Event::CallInitiated(e)] if e.direction == CallDirection::Inbound)
    );
    let call = fold(None, &events, 0).expect("the test's given holds");
    assert_eq!(call.status, CallStatus::Ringing);
    assert_eq!(
        (call.sid.as_str(), call.account_sid.as_str()),
        (STREAM, ACCOUNT)
    );
    assert_eq!(call.created_at_ms, 1_000);
    assert!(!call.rang);
}

#[test]
fn given_nothing_when_an_outbound_call_is_initiated_then_it_is_queued() {
    let call = given(&[initiate(CallDirection::OutboundApi)]).expect("the test's given holds");
    assert_eq!(call.status, CallStatus::Queued);
}

#[test]
fn given_a_call_when_it_is_initiated_again_then_it_is_refused() {
    let call = given(&ringing()).expect("the test's given holds");
    assert_eq!(
        decide(&initiate(CallDirection::Inbound), Some(&call)),
        Err(CallError::AlreadyInitiated)
    );
}

#[test]
fn given_nothing_when_anything_but_initiate_comes_then_it_is_refused() {
    let commands = [
        routed(),
        CallCommand::Ring,
        answer(),
        complete(CallEndStatus::Failed),
        digit(),
        played(),
        fetched(),
        CallCommand::RaiseNotification(notification(12100)),
        redirect(),
        CallCommand::Cancel,
        CallCommand::Hangup,
    ];
    for command in commands {
        assert_eq!(
            decide(&command, None),
            Err(CallError::NotInitiated {
                command: command.name()
            }),
            "{}",
            command.name()
        );
    }
}

// ---- Route ----

#[test]
fn given_a_ringing_call_when_it_is_routed_then_the_route_is_kept_once() {
    let call = given(&[initiate(CallDirection::Inbound)]).expect("the test's given holds");
    let events = decide(&routed(), Some(&call)).expect("the test's given holds");
    assert!(matches!(events.as_slice(), [Event::CallRouted(_)]));
    let call = fold(Some(call), &events, 1).expect("the test's given holds");
    assert_eq!(
        call.routed.as_ref().map(|r| r.voice_url.as_str()),
        Some("https://app.example/voice")
    );
    assert_eq!(
        decide(&routed(), Some(&call)),
        Err(CallError::AlreadyRouted)
    );
}

// ---- Ring ----

#[test]
fn given_an_inbound_call_when_it_rings_then_the_180_is_recorded_once() {
    let call = given(&[initiate(CallDirection::Inbound)]).expect("the test's given holds");
    let events = decide(&CallCommand::Ring, Some(&call)).expect("the test's given holds");
    assert!(matches!(events.as_slice(), [Event::CallRinging(_)]));
    let call = fold(Some(call), &events, 1).expect("the test's given holds");
    assert!(call.rang);
    assert_eq!(call.status, CallStatus::Ringing);
    assert_eq!(
        decide(&CallCommand::Ring, Some(&call)),
        Err(CallError::AlreadyRinging)
    );
}

#[test]
fn given_a_queued_outbound_call_when_it_rings_then_it_is_ringing() {
    let call = given(&[initiate(CallDirection::OutboundDial), CallCommand::Ring])
        .expect("the test's given holds");
    assert_eq!(call.status, CallStatus::Ringing);
}

#[test]
fn given_an_answered_call_when_it_rings_then_it_is_refused() {
    let call =
        given(&[initiate(CallDirection::OutboundApi), answer()]).expect("the test's given holds");
    assert_eq!(
        decide(&CallCommand::Ring, Some(&call)),
        Err(CallError::AlreadyRinging)
    );
}

// ---- Answer ----

#[test]
fn given_a_ringing_call_when_it_is_answered_then_it_is_in_progress() {
    let call = given(&ringing()).expect("the test's given holds");
    let events = decide(&answer(), Some(&call)).expect("the test's given holds");
    assert!(matches!(events.as_slice(), [Event::CallAnswered(_)]));
    let call = fold(Some(call), &events, 5).expect("the test's given holds");
    assert_eq!(call.status, CallStatus::InProgress);
    assert_eq!(call.answered_at_ms, Some(1_005));
    assert_eq!(call.codec.as_deref(), Some("PCMU"));
}

#[test]
fn given_a_queued_call_when_it_is_answered_without_a_180_then_it_is_in_progress() {
    let call =
        given(&[initiate(CallDirection::OutboundApi), answer()]).expect("the test's given holds");
    assert_eq!(call.status, CallStatus::InProgress);
}

#[test]
fn given_an_answered_call_when_it_is_answered_again_then_it_is_refused() {
    let call = given(&answered()).expect("the test's given holds");
    assert_eq!(
        decide(&answer(), Some(&call)),
        Err(CallError::AlreadyAnswered)
    );
}

#[test]
fn given_an_ended_call_when_it_is_answered_then_it_is_refused() {
    let call = given(&[
        initiate(CallDirection::Inbound),
        complete(CallEndStatus::Canceled),
    ])
    .expect("the test's given holds");
    assert_eq!(
        decide(&answer(), Some(&call)),
        Err(CallError::Ended {
            command: "answer",
            status: CallStatus::Canceled
        })
    );
}

// ---- Complete ----

#[test]
fn given_an_answered_call_when_it_completes_then_it_is_completed_with_its_sip_outcome() {
    let call = given(&answered()).expect("the test's given holds");
    let events =
        decide(&complete(CallEndStatus::Completed), Some(&call)).expect("the test's given holds");
    let call = fold(Some(call), &events, 9).expect("the test's given holds");
    assert_eq!(call.status, CallStatus::Completed);
    assert!(call.is_ended() && call.status.is_terminal());
    assert_eq!(call.ended_at_ms, Some(1_009));
    assert_eq!(call.sip_code, Some(200));
    assert_eq!(call.hung_up_by, Some(HungUpBy::Remote));
    assert_eq!(call.duration_ms, Some(0));
}

#[test]
fn given_an_ended_call_when_it_completes_again_then_it_is_refused() {
    let call = given(&ended()).expect("the test's given holds");
    for status in [CallEndStatus::Completed, CallEndStatus::Failed] {
        assert_eq!(
            decide(&complete(status), Some(&call)),
            Err(CallError::Ended {
                command: "complete",
                status: CallStatus::Completed
            })
        );
    }
}

#[test]
fn the_end_status_must_agree_with_the_answer() {
    let before = given(&ringing()).expect("the test's given holds");
    let after = given(&answered()).expect("the test's given holds");
    let cases = [
        (CallEndStatus::Completed, &before, false),
        (CallEndStatus::Busy, &before, true),
        (CallEndStatus::NoAnswer, &before, true),
        (CallEndStatus::Canceled, &before, true),
        (CallEndStatus::Failed, &before, true),
        (CallEndStatus::Completed, &after, true),
        (CallEndStatus::Busy, &after, false),
        (CallEndStatus::NoAnswer, &after, false),
        (CallEndStatus::Canceled, &after, false),
        (CallEndStatus::Failed, &after, true),
    ];
    for (status, call, allowed) in cases {
        let result = decide(&complete(status), Some(call));
        if allowed {
            let call = fold(
                Some(call.clone()),
                &result.expect("the test's given holds"),
                3,
            )
            .expect("the test's given holds");
            assert_eq!(call.status, CallStatus::from(status));
        } else {
            assert_eq!(
                result,
                Err(CallError::EndStatusMismatch {
                    status,
                    answered: call.status == CallStatus::InProgress
                })
            );
        }
    }
}

// ---- Digits, playback ----

#[test]
fn given_an_answered_call_when_digits_and_playback_are_recorded_then_they_fold() {
    let call = given(&answered()).expect("the test's given holds");
    let events = decide(&digit(), Some(&call)).expect("the test's given holds");
    assert!(matches!(events.as_slice(), [Event::DtmfReceived(_)]));
    let call = fold(Some(call), &events, 4).expect("the test's given holds");
    let call = fold(
        Some(call.clone()),
        &decide(&digit(), Some(&call)).expect("the test's given holds"),
        5,
    )
    .expect("the test's given holds");
    assert_eq!(call.digits, "55");
    let events = decide(&played(), Some(&call)).expect("the test's given holds");
    assert!(matches!(events.as_slice(), [Event::MediaPlayed(_)]));
}

#[test]
fn given_a_call_not_answered_when_digits_or_playback_come_then_they_are_refused() {
    let call = given(&ringing()).expect("the test's given holds");
    for command in [digit(), played()] {
        assert_eq!(
            decide(&command, Some(&call)),
            Err(CallError::NotAnswered {
                command: command.name(),
                status: CallStatus::Ringing
            })
        );
    }
}

#[test]
fn given_an_ended_call_when_anything_comes_then_it_is_refused() {
    let call = given(&ended()).expect("the test's given holds");
    let commands = [
        routed(),
        CallCommand::Ring,
        answer(),
        digit(),
        played(),
        fetched(),
        CallCommand::RaiseNotification(notification(12100)),
        redirect(),
        CallCommand::Cancel,
        CallCommand::Hangup,
    ];
    for command in commands {
        assert_eq!(
            decide(&command, Some(&call)),
            Err(CallError::Ended {
                command: command.name(),
                status: CallStatus::Completed
            }),
            "{}",
            command.name()
        );
    }
}

// ---- Fetches, notifications ----

#[test]
fn given_a_ringing_call_when_instructions_are_fetched_then_the_fetch_is_recorded() {
    let call = given(&[initiate(CallDirection::Inbound)]).expect("the test's given holds");
    let events = decide(&fetched(), Some(&call)).expect("the test's given holds");
    assert!(
        matches!(events.as_slice(), [Event::CallInstructionsFetched(f)] if f.status_code == 200)
    );
    assert_eq!(
        fold(Some(call), &events, 1)
            .expect("the test's given holds")
            .fetches,
        1
    );
}

#[test]
fn given_a_call_when_a_notification_is_raised_then_it_is_recorded_bounded() {
    let call = given(&ringing()).expect("the test's given holds");
    let mut raised = notification(12100);
    raised.response_body = Some("é".repeat(MAX_NOTIFICATION_BODY));
    let events = decide(&CallCommand::RaiseNotification(raised), Some(&call))
        .expect("the test's given holds");
    let [Event::CallNotificationRaised(recorded)] = events.as_slice() else {
        panic!("one notification, got {events:?}");
    };
    let body = recorded.response_body.as_deref().unwrap_or_default();
    assert_eq!(body.len(), MAX_NOTIFICATION_BODY);
    assert_eq!(recorded.error_code, 12100);
    assert_eq!(
        fold(Some(call), &events, 2)
            .expect("the test's given holds")
            .notifications,
        1
    );
}

#[test]
fn a_notification_needs_a_twilio_code_and_a_notification_sid() {
    let call = given(&ringing()).expect("the test's given holds");
    assert_eq!(
        decide(
            &CallCommand::RaiseNotification(notification(999)),
            Some(&call)
        ),
        Err(CallError::ErrorCode(999))
    );
    let mut wrong = notification(12100);
    wrong.notification_sid = Sid::from_u128(crate::sid::SidPrefix::Call, 1);
    assert!(matches!(
        decide(&CallCommand::RaiseNotification(wrong), Some(&call)),
        Err(CallError::NotificationSid(_))
    ));
}

// ---- REST: Redirect, Cancel, Hangup ----

#[test]
fn given_an_answered_call_when_redirected_then_it_is_accepted_without_an_event() {
    let call = given(&answered()).expect("the test's given holds");
    assert_eq!(decide(&redirect(), Some(&call)), Ok(vec![]));
    assert_eq!(
        redirect().request(),
        Some(CallRequest::Redirect {
            url: "https://app.example/next".into(),
            method: HttpMethod::Get
        })
    );
}

#[test]
fn given_a_ringing_call_when_redirected_then_it_is_refused() {
    let call = given(&ringing()).expect("the test's given holds");
    assert_eq!(
        decide(&redirect(), Some(&call)),
        Err(CallError::NotAnswered {
            command: "redirect",
            status: CallStatus::Ringing
        })
    );
}

#[test]
fn given_a_queued_or_ringing_call_when_canceled_then_it_is_accepted() {
    for history in [vec![initiate(CallDirection::OutboundApi)], ringing()] {
        let call = given(&history).expect("the test's given holds");
        assert_eq!(decide(&CallCommand::Cancel, Some(&call)), Ok(vec![]));
    }
    assert_eq!(CallCommand::Cancel.request(), Some(CallRequest::Cancel));
}

#[test]
fn given_an_in_progress_call_when_canceled_then_it_is_refused_as_twilio_ignores_it() {
    let call = given(&answered()).expect("the test's given holds");
    assert_eq!(
        decide(&CallCommand::Cancel, Some(&call)),
        Err(CallError::CancelInProgress)
    );
}

#[test]
fn given_any_live_call_when_hung_up_then_it_is_accepted() {
    for history in [
        vec![initiate(CallDirection::OutboundApi)],
        ringing(),
        answered(),
    ] {
        let call = given(&history).expect("the test's given holds");
        assert_eq!(decide(&CallCommand::Hangup, Some(&call)), Ok(vec![]));
    }
    assert_eq!(CallCommand::Hangup.request(), Some(CallRequest::Hangup));
    assert_eq!(digit().request(), None);
}

// ---- The fold ----

#[test]
fn the_fold_ignores_what_does_not_fit() {
    let ring = Event::CallRinging(CallRinging {});
    assert_eq!(evolve(None, 1, ACCOUNT, STREAM, &ring), None);
    let call = given(&ended()).expect("the test's given holds");
    let after = evolve(Some(call.clone()), 99, ACCOUNT, STREAM, &ring);
    assert_eq!(after, Some(call));
}

#[test]
fn statuses_use_twilios_names() {
    let all = [
        (CallStatus::Queued, "queued"),
        (CallStatus::Ringing, "ringing"),
        (CallStatus::InProgress, "in-progress"),
        (CallStatus::Completed, "completed"),
        (CallStatus::Busy, "busy"),
        (CallStatus::NoAnswer, "no-answer"),
        (CallStatus::Canceled, "canceled"),
        (CallStatus::Failed, "failed"),
    ];
    for (status, name) in all {
        assert_eq!(status.as_str(), name);
        assert_eq!(
            serde_json::to_value(status).expect("the test's given holds"),
            serde_json::json!(name)
        );
        assert_eq!(
            status.is_terminal(),
            !matches!(name, "queued" | "ringing" | "in-progress")
        );
    }
}

// ---- The property ----

fn any_command() -> impl Strategy<Value = CallCommand> {
    let end = prop_oneof![
        Just(CallEndStatus::Completed),
        Just(CallEndStatus::Busy),
        Just(CallEndStatus::NoAnswer),
        Just(CallEndStatus::Canceled),
        Just(CallEndStatus::Failed),
    ];
    prop_oneof![
        prop_oneof![
            Just(CallDirection::Inbound),
            Just(CallDirection::OutboundApi),
            Just(CallDirection::OutboundDial)
        ]
        .prop_map(initiate),
        Just(routed()),
        Just(CallCommand::Ring),
        Just(answer()),
        end.prop_map(complete),
        Just(digit()),
        Just(played()),
        Just(fetched()),
        Just(CallCommand::RaiseNotification(notification(11200))),
        Just(redirect()),
        Just(CallCommand::Cancel),
        Just(CallCommand::Hangup),
        Just(CallCommand::Delete),
    ]
}

/// Runs `commands` through `decider`, folding what it accepts; returns the stream.
fn run(decider: Decider, commands: &[CallCommand]) -> Vec<Event> {
    let mut state = None;
    let mut stream = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        if let Ok(events) = decider(command, state.as_ref()) {
            state = fold(state, &events, i as i64);
            stream.extend(events);
        }
    }
    stream
}

/// What is wrong with a call stream, if anything.
fn violation(stream: &[Event]) -> Option<String> {
    let initiated = stream
        .iter()
        .filter(|e| matches!(e, Event::CallInitiated(_)))
        .count();
    if initiated > 1 || (!stream.is_empty() && !matches!(stream[0], Event::CallInitiated(_))) {
        return Some(format!(
            "{initiated} call.initiated, first {:?}",
            stream.first()
        ));
    }
    // At most one `call.deleted`, and only right after the end.
    let deleted = stream
        .iter()
        .filter(|e| matches!(e, Event::CallDeleted(_)))
        .count();
    let stream = match stream.split_last() {
        Some((Event::CallDeleted(_), rest)) if deleted == 1 => {
            if !matches!(rest.last(), Some(Event::CallCompleted(_))) {
                return Some("call.deleted before the end".into());
            }
            rest
        }
        _ if deleted > 0 => return Some(format!("{deleted} call.deleted, not last")),
        _ => stream,
    };
    let terminal: Vec<usize> = stream
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::CallCompleted(_)))
        .map(|(i, _)| i)
        .collect();
    match terminal.as_slice() {
        [] => None,
        [last] if *last == stream.len() - 1 => None,
        [only] => Some(format!(
            "{} event(s) after call.completed at {only}",
            stream.len() - 1 - only
        )),
        many => Some(format!("{} call.completed", many.len())),
    }
}

fn the_property(decider: Decider) -> impl Fn(Vec<CallCommand>) -> Result<(), TestCaseError> {
    move |commands| {
        let stream = run(decider, &commands);
        prop_assert!(
            violation(&stream).is_none(),
            "{:?}: {:?}",
            violation(&stream),
            stream.iter().map(Event::type_name).collect::<Vec<_>>()
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn no_sequence_of_commands_gives_two_ends_or_an_event_after_the_end(
        commands in proptest::collection::vec(any_command(), 0..40)
    ) {
        the_property(decide)(commands)?;
    }
}

/// A decider with the terminal check removed for one command: the property must catch it.
fn planted_bug(command: &CallCommand, state: Option<&Call>) -> Result<Vec<Event>, CallError> {
    match (command, state) {
        (CallCommand::RecordDigit(d), Some(call)) if call.is_ended() => {
            Ok(vec![Event::DtmfReceived(d.clone())])
        }
        _ => decide(command, state),
    }
}

#[test]
fn the_property_catches_a_planted_bug() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
    let found = runner.run(
        &proptest::collection::vec(any_command(), 0..40),
        the_property(planted_bug),
    );
    assert!(found.is_err(), "an event after the end went unnoticed");
    // And a second end is caught by the checker itself.
    let twice = vec![
        Event::CallInitiated(CallInitiated {
            direction: CallDirection::Inbound,
            from: String::new(),
            to: String::new(),
            sip_call_id: String::new(),
            remote_addr: String::new(),
            parent_call_sid: None,
        }),
        Event::CallCompleted(CallCompleted {
            status: CallEndStatus::Failed,
            sip_code: 500,
            hung_up_by: HungUpBy::Local,
            duration_ms: 0,
            reason: String::new(),
        }),
    ];
    let mut doubled = twice.clone();
    doubled.push(twice[1].clone());
    assert_eq!(violation(&twice), None);
    assert!(violation(&doubled).is_some());
}

// ---- Deletion ----

#[test]
fn given_an_ended_call_when_deleted_then_the_deletion_is_recorded_once() {
    let call = given(&ended()).expect("the test's given holds");
    let events = decide(&CallCommand::Delete, Some(&call)).expect("a finished call is deleted");
    assert_eq!(events, vec![Event::CallDeleted(super::CallDeleted {})]);
    let deleted = fold(Some(call), &events, 99).expect("still a call");
    assert!(deleted.deleted);
    assert_eq!(
        decide(&CallCommand::Delete, Some(&deleted)),
        Err(CallError::Deleted)
    );
    assert!(matches!(
        decide(&CallCommand::Hangup, Some(&deleted)),
        Err(CallError::Ended { .. })
    ));
}

#[test]
fn given_a_live_call_when_deleted_then_it_is_refused() {
    for history in [ringing(), answered()] {
        let call = given(&history).expect("the test's given holds");
        assert_eq!(
            decide(&CallCommand::Delete, Some(&call)),
            Err(CallError::NotEnded {
                status: call.status
            })
        );
    }
    assert!(matches!(
        decide(&CallCommand::Delete, None),
        Err(CallError::NotInitiated { .. })
    ));
}
