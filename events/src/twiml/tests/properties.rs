//! Properties of the executor and the parser over random programs, inputs and documents.
//!
//! The executor's invariant (see `execute.rs`): whatever the inputs, each step moves the
//! cursor strictly forward or finishes, so a program of n verbs ends within 2n + 1 steps; a
//! terminal action (End, Hangup, Reject, Fetch, Error) comes with a Finished cursor and
//! nothing else does.

use proptest::prelude::*;

use crate::twiml::program::*;
use crate::twiml::{parse, step, Action, Context, Cursor, Input, Phase};

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("next".to_owned()),
        Just("/abs/path?x=1".to_owned()),
        Just("https://other.example.com/a.wav".to_owned()),
        Just("http://bad_host/x".to_owned()),
        Just("ftp://h/x".to_owned()),
        "[a-z/.]{0,8}",
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![Just(Method::Get), Just(Method::Post)]
}

fn say() -> impl Strategy<Value = Say> {
    ("[a-z ]{1,10}", 0u32..3).prop_map(|(text, loops)| Say {
        text,
        loops,
        ..Say::default()
    })
}

fn play() -> impl Strategy<Value = Play> {
    (
        proptest::option::of(url()),
        proptest::option::of("[0-9#*w]{1,4}"),
        0u32..3,
    )
        .prop_map(|(url, digits, loops)| Play { url, digits, loops })
}

fn pause() -> impl Strategy<Value = Pause> {
    (0u32..5).prop_map(|length_secs| Pause { length_secs })
}

fn prompt() -> impl Strategy<Value = Prompt> {
    prop_oneof![
        say().prop_map(Prompt::Say),
        play().prop_map(Prompt::Play),
        pause().prop_map(Prompt::Pause)
    ]
}

fn target() -> impl Strategy<Value = DialTarget> {
    prop_oneof![
        (proptest::option::of(url()), method()).prop_map(|(url, method)| DialTarget::Number {
            number: "+15551234".into(),
            send_digits: None,
            url,
            method,
            callbacks: Default::default(),
        }),
        Just(DialTarget::Client {
            identity: "alice".into()
        }),
    ]
}

fn verb() -> impl Strategy<Value = Verb> {
    prop_oneof![
        say().prop_map(Verb::Say),
        play().prop_map(Verb::Play),
        pause().prop_map(Verb::Pause),
        (
            proptest::option::of(url()),
            method(),
            any::<bool>(),
            proptest::collection::vec(prompt(), 0..3)
        )
            .prop_map(
                |(action, method, action_on_empty_result, prompts)| Verb::Gather(Gather {
                    action,
                    method,
                    action_on_empty_result,
                    prompts,
                    ..Gather::default()
                })
            ),
        (url(), method()).prop_map(|(url, method)| Verb::Redirect(Redirect { url, method })),
        Just(Verb::Hangup),
        prop_oneof![Just(RejectReason::Rejected), Just(RejectReason::Busy)]
            .prop_map(|reason| Verb::Reject(Reject { reason })),
        (
            proptest::option::of(url()),
            any::<bool>(),
            proptest::collection::vec(target(), 1..3)
        )
            .prop_map(|(action, answer_on_bridge, targets)| Verb::Dial(Dial {
                action,
                answer_on_bridge,
                targets,
                ..Dial::default()
            })),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        Just(Input::Answered),
        Just(Input::Done),
        Just(Input::NoInput),
        (
            "[0-9]{0,3}",
            proptest::option::of(prop_oneof![Just('#'), Just('*')])
        )
            .prop_map(|(digits, finished_on_key)| Input::Gathered {
                digits,
                finished_on_key
            }),
        Just(Input::Dialed {
            params: vec![("DialCallStatus".into(), "completed".into())]
        }),
    ]
}

/// Position in the executor's forward order; Finished is past every verb.
fn rank(c: Cursor) -> Option<u64> {
    let phase = match c.phase {
        Phase::Ready => 0,
        Phase::Answering => 1,
        Phase::Running => 2,
        Phase::Finished => return None,
    };
    Some(u64::from(c.verb) * 3 + phase)
}

fn terminal(a: &Action) -> bool {
    matches!(
        a,
        Action::End
            | Action::Hangup
            | Action::Reject { .. }
            | Action::Fetch { .. }
            | Action::Error { .. }
    )
}

proptest! {
    #[test]
    fn the_executor_always_moves_forward_and_ends_within_two_steps_per_verb(
        verbs in proptest::collection::vec(verb(), 0..12),
        inputs in proptest::collection::vec((input(), any::<bool>()), 0..40),
        has_document_url in any::<bool>(),
    ) {
        let program = Program { verbs };
        let n = program.verbs.len();
        let document_url = has_document_url.then_some("https://app.example.com/voice/doc.xml");
        let mut s = step(&program, Cursor::START, Input::Begin, &Context { document_url, answered: false });
        let mut steps = 1;
        let mut ended = terminal(&s.action);
        prop_assert_eq!(ended, s.next.phase == Phase::Finished, "{:?}", s);
        for (input, answered) in inputs {
            let before = s.next;
            s = step(&program, before, input, &Context { document_url, answered });
            prop_assert!(s.next.verb as usize <= n, "{:?}", s);
            prop_assert_eq!(terminal(&s.action), s.next.phase == Phase::Finished, "{:?}", s);
            if ended {
                prop_assert_eq!(&s.action, &Action::End);
                continue;
            }
            steps += 1;
            match (rank(before), rank(s.next)) {
                (Some(b), Some(a)) => prop_assert!(a > b, "{:?} -> {:?}", before, s),
                (_, None) => ended = true,
                (None, Some(_)) => prop_assert!(false, "left Finished: {:?}", s),
            }
            prop_assert!(steps <= 2 * n + 1 || ended, "{} steps for {} verbs", steps, n);
        }
    }

    #[test]
    fn the_parser_never_panics_on_tag_soup(
        parts in proptest::collection::vec(prop_oneof![
            Just("<Response>"), Just("</Response>"), Just("<Say>"), Just("</Say>"), Just("<Gather numDigits=\"2\">"),
            Just("</Gather>"), Just("<Play digits=\"1\"/>"), Just("<Dial>"), Just("</Dial>"), Just("<Number>"),
            Just("</Number>"), Just("hello"), Just("&amp;"), Just("&"), Just("<!--x-->"), Just("<?xml version=\"1.0\"?>"),
            Just(" "), Just("<Pause length=\"x\"/>"), Just("<Redirect>/x</Redirect>"), Just("<Client>"), Just("</Client>"),
        ], 0..30),
    ) {
        let text: String = parts.concat();
        if let Ok(parsed) = parse(&text) {
            // A parsed program runs to its end with Done inputs.
            let ctx = Context { document_url: Some("http://h/doc"), answered: false };
            let mut s = step(&parsed.program, Cursor::START, Input::Begin, &ctx);
            let mut answered = false;
            for _ in 0..=2 * parsed.program.verbs.len() + 1 {
                if s.next.phase == Phase::Finished { break; }
                answered |= s.action == Action::Answer;
                s = step(&parsed.program, s.next, Input::Done, &Context { answered, ..ctx });
            }
            prop_assert_eq!(s.next.phase, Phase::Finished);
        }
    }
}
