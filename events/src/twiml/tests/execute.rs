//! The executor, given a program and a cursor, when an input arrives, then the next action.

use crate::twiml::program::*;
use crate::twiml::{parse, step, Action, Context, Cursor, Input, Phase, Step};

const DOC: &str = "https://app.example.com/voice/start.xml";

fn program(text: &str) -> Program {
    match parse(text) {
        Ok(p) => p.program,
        Err(e) => panic!("{text}: {e}"),
    }
}

fn ctx(answered: bool) -> Context<'static> {
    Context {
        document_url: Some(DOC),
        answered,
    }
}

/// Drive a program from Begin, feeding `inputs` in order after the first step and tracking
/// `answered` as a controller would. Returns every action.
fn run(text: &str, document_url: Option<&str>, inputs: &[Input]) -> Vec<Action> {
    let program = program(text);
    let mut answered = false;
    let c = |answered| Context {
        document_url,
        answered,
    };
    let mut s = step(&program, Cursor::START, Input::Begin, &c(answered));
    let mut actions = vec![s.action.clone()];
    for input in inputs {
        if s.action == Action::Answer {
            answered = true;
        }
        s = step(&program, s.next, input.clone(), &c(answered));
        actions.push(s.action.clone());
    }
    actions
}

fn say(text: &str) -> Action {
    Action::Say {
        say: Say {
            text: text.into(),
            ..Say::default()
        },
    }
}

fn fetch(url: &str, method: Method, params: &[(&str, &str)]) -> Action {
    Action::Fetch {
        url: url.into(),
        method,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn an_unanswered_first_say_answers_then_says() {
    let actions = run(
        "<Response><Say>hi</Say></Response>",
        Some(DOC),
        &[Input::Answered, Input::Done],
    );
    assert_eq!(actions, vec![Action::Answer, say("hi"), Action::End]);
}

#[test]
fn an_answered_call_is_not_answered_again() {
    let p = program("<Response><Say>hi</Say></Response>");
    let s = step(&p, Cursor::START, Input::Begin, &ctx(true));
    assert_eq!(s.action, say("hi"));
    assert_eq!(
        s.next,
        Cursor {
            verb: 0,
            phase: Phase::Running
        }
    );
}

#[test]
fn a_leading_pause_waits_without_answering() {
    let actions = run(
        r#"<Response><Pause length="2"/><Say>hi</Say></Response>"#,
        Some(DOC),
        &[Input::Done, Input::Answered, Input::Done],
    );
    assert_eq!(
        actions,
        vec![
            Action::Wait { ms: 2000 },
            Action::Answer,
            say("hi"),
            Action::End
        ]
    );
}

#[test]
fn a_first_reject_rejects_without_answering() {
    let actions = run(
        r#"<Response><Reject reason="busy"/><Say>never</Say></Response>"#,
        Some(DOC),
        &[Input::Done],
    );
    assert_eq!(
        actions,
        vec![
            Action::Reject {
                reason: RejectReason::Busy
            },
            Action::End
        ]
    );
}

#[test]
fn a_reject_after_an_answer_is_a_hangup() {
    let actions = run(
        "<Response><Say>hi</Say><Reject/></Response>",
        Some(DOC),
        &[Input::Answered, Input::Done],
    );
    assert_eq!(actions, vec![Action::Answer, say("hi"), Action::Hangup]);
}

#[test]
fn a_first_hangup_still_answers() {
    let actions = run(
        "<Response><Hangup/><Say>never</Say></Response>",
        Some(DOC),
        &[Input::Answered, Input::Done],
    );
    assert_eq!(actions, vec![Action::Answer, Action::Hangup, Action::End]);
}

#[test]
fn say_loop_zero_is_normalised_to_a_thousand() {
    let p = program(r#"<Response><Say loop="0">hi</Say></Response>"#);
    let s = step(&p, Cursor::START, Input::Begin, &ctx(true));
    assert!(matches!(s.action, Action::Say { say } if say.loops == 1000));
}

#[test]
fn a_play_url_is_made_absolute() {
    let p = program(r#"<Response><Play loop="0">media/a.wav</Play></Response>"#);
    let s = step(&p, Cursor::START, Input::Begin, &ctx(true));
    assert_eq!(
        s.action,
        Action::Play {
            url: "https://app.example.com/voice/media/a.wav".into(),
            loops: 1000
        }
    );
}

#[test]
fn a_play_with_an_empty_body_and_digits_sends_digits() {
    let actions = run(
        r#"<Response><Play digits="w1#"/></Response>"#,
        Some(DOC),
        &[Input::Answered, Input::Done],
    );
    assert_eq!(
        actions,
        vec![
            Action::Answer,
            Action::SendDigits {
                digits: "w1#".into()
            },
            Action::End
        ]
    );
}

#[test]
fn a_gather_with_digits_fetches_its_action_with_digits_and_finished_on_key() {
    let text = r#"<Response><Gather action="next" method="GET"><Say>Press</Say></Gather><Say>missed</Say></Response>"#;
    let actions = run(
        text,
        Some(DOC),
        &[
            Input::Answered,
            Input::Gathered {
                digits: "42".into(),
                finished_on_key: Some('#'),
            },
        ],
    );
    assert!(
        matches!(&actions[1], Action::Gather { gather } if gather.action.as_deref() == Some("https://app.example.com/voice/next"))
    );
    assert_eq!(
        actions[2],
        fetch(
            "https://app.example.com/voice/next",
            Method::Get,
            &[("Digits", "42"), ("FinishedOnKey", "#")]
        )
    );
}

#[test]
fn finished_on_key_is_empty_when_no_key_ended_the_gather() {
    let actions = run(
        r#"<Response><Gather numDigits="2" action="/a"/></Response>"#,
        Some(DOC),
        &[
            Input::Answered,
            Input::Gathered {
                digits: "12".into(),
                finished_on_key: None,
            },
        ],
    );
    assert_eq!(
        actions[2],
        fetch(
            "https://app.example.com/a",
            Method::Post,
            &[("Digits", "12"), ("FinishedOnKey", "")]
        )
    );
}

#[test]
fn a_gather_without_action_fetches_the_document_url() {
    let actions = run(
        "<Response><Gather/></Response>",
        Some(DOC),
        &[
            Input::Answered,
            Input::Gathered {
                digits: "7".into(),
                finished_on_key: None,
            },
        ],
    );
    assert_eq!(
        actions[2],
        fetch(DOC, Method::Post, &[("Digits", "7"), ("FinishedOnKey", "")])
    );
}

#[test]
fn no_input_falls_through_to_the_next_verb() {
    let actions = run(
        r#"<Response><Gather action="/a"/><Say>bye</Say></Response>"#,
        Some(DOC),
        &[Input::Answered, Input::NoInput, Input::Done],
    );
    assert_eq!(actions[2..], [say("bye"), Action::End]);
}

#[test]
fn empty_digits_fall_through_like_no_input() {
    let actions = run(
        r#"<Response><Gather action="/a"/><Say>bye</Say></Response>"#,
        Some(DOC),
        &[
            Input::Answered,
            Input::Gathered {
                digits: String::new(),
                finished_on_key: Some('#'),
            },
        ],
    );
    assert_eq!(actions[2], say("bye"));
}

#[test]
fn action_on_empty_result_fetches_with_empty_digits() {
    let text =
        r#"<Response><Gather action="/a" actionOnEmptyResult="true"/><Say>bye</Say></Response>"#;
    let actions = run(text, Some(DOC), &[Input::Answered, Input::NoInput]);
    assert_eq!(
        actions[2],
        fetch(
            "https://app.example.com/a",
            Method::Post,
            &[("Digits", ""), ("FinishedOnKey", "")]
        )
    );
    let actions = run(
        text,
        Some(DOC),
        &[
            Input::Answered,
            Input::Gathered {
                digits: String::new(),
                finished_on_key: Some('#'),
            },
        ],
    );
    assert_eq!(
        actions[2],
        fetch(
            "https://app.example.com/a",
            Method::Post,
            &[("Digits", ""), ("FinishedOnKey", "#")]
        )
    );
}

#[test]
fn a_gather_prompt_url_is_made_absolute() {
    let p = program("<Response><Gather><Play>/beep.wav</Play></Gather></Response>");
    let s = step(&p, Cursor::START, Input::Begin, &ctx(true));
    let Action::Gather { gather } = s.action else {
        panic!("{s:?}")
    };
    assert_eq!(
        gather.prompts[0],
        Prompt::Play(Play {
            url: Some("https://app.example.com/beep.wav".into()),
            digits: None,
            loops: 1
        })
    );
}

#[test]
fn a_redirect_fetches_the_resolved_url_without_answering() {
    let actions = run(
        r#"<Response><Redirect method="GET">../menu</Redirect><Say>never</Say></Response>"#,
        Some(DOC),
        &[Input::Done],
    );
    assert_eq!(
        actions,
        vec![
            fetch("https://app.example.com/menu", Method::Get, &[]),
            Action::End
        ]
    );
}

#[test]
fn a_relative_redirect_without_a_document_url_is_an_11100() {
    let actions = run(
        "<Response><Redirect>/next</Redirect></Response>",
        None,
        &[Input::Done],
    );
    assert!(
        matches!(&actions[0], Action::Error { code: 11100, .. }),
        "{actions:?}"
    );
    assert_eq!(actions[1], Action::End);
}

#[test]
fn an_absolute_redirect_needs_no_document_url() {
    let actions = run(
        "<Response><Redirect>http://h/next</Redirect></Response>",
        None,
        &[],
    );
    assert_eq!(actions[0], fetch("http://h/next", Method::Post, &[]));
}

#[test]
fn a_gather_without_action_in_inline_twiml_is_an_11100_once_digits_arrive() {
    let actions = run(
        "<Response><Gather/><Say>bye</Say></Response>",
        None,
        &[
            Input::Answered,
            Input::Gathered {
                digits: "1".into(),
                finished_on_key: None,
            },
        ],
    );
    assert!(
        matches!(&actions[2], Action::Error { code: 11100, .. }),
        "{actions:?}"
    );
}

#[test]
fn a_hangup_hangs_up_and_later_verbs_are_unreachable() {
    let actions = run(
        "<Response><Say>a</Say><Hangup/><Say>b</Say></Response>",
        Some(DOC),
        &[Input::Answered, Input::Done, Input::Done],
    );
    assert_eq!(
        actions,
        vec![Action::Answer, say("a"), Action::Hangup, Action::End]
    );
}

#[test]
fn a_document_that_runs_out_of_verbs_ends() {
    assert_eq!(run("<Response/>", Some(DOC), &[]), vec![Action::End]);
    assert_eq!(
        run("<Response/>", Some(DOC), &[Input::Done, Input::NoInput]),
        vec![Action::End; 3]
    );
}

#[test]
fn a_dial_without_action_goes_on_with_the_next_verb() {
    let actions = run(
        "<Response><Dial>+15551234</Dial><Say>after</Say></Response>",
        Some(DOC),
        &[Input::Answered, Input::Done],
    );
    assert!(matches!(&actions[1], Action::Dial { .. }));
    assert_eq!(actions[2], say("after"));
}

#[test]
fn a_dial_nouns_status_callback_is_made_absolute() {
    let text = r#"<Response><Dial><Sip statusCallback="child-status">sip:bob@example.com</Sip></Dial></Response>"#;
    let actions = run(text, Some(DOC), &[Input::Answered]);
    let Some(Action::Dial { dial }) = actions.get(1) else {
        panic!("{actions:?}")
    };
    assert!(
        matches!(&dial.targets[0], DialTarget::Sip { callbacks, .. } if callbacks.url.as_deref() == Some("https://app.example.com/voice/child-status")),
        "{dial:?}"
    );
}

#[test]
fn a_dial_with_action_fetches_it_with_the_dial_result() {
    let text = r#"<Response><Dial action="done" answerOnBridge="true"><Number url="whisper">+15551234</Number></Dial><Say>never</Say></Response>"#;
    let params = vec![("DialCallStatus".to_string(), "busy".to_string())];
    let actions = run(text, Some(DOC), &[Input::Dialed { params }]);
    let Action::Dial { dial } = &actions[0] else {
        panic!("answerOnBridge dials before any answer: {actions:?}")
    };
    assert_eq!(
        dial.action.as_deref(),
        Some("https://app.example.com/voice/done")
    );
    assert!(
        matches!(&dial.targets[0], DialTarget::Number { url: Some(u), .. } if u == "https://app.example.com/voice/whisper")
    );
    assert_eq!(
        actions[1],
        fetch(
            "https://app.example.com/voice/done",
            Method::Post,
            &[("DialCallStatus", "busy")]
        )
    );
}

#[test]
fn begin_restarts_at_the_first_verb_whatever_the_cursor() {
    let p = program("<Response><Say>a</Say><Say>b</Say></Response>");
    let s = step(
        &p,
        Cursor {
            verb: 1,
            phase: Phase::Finished,
        },
        Input::Begin,
        &ctx(true),
    );
    assert_eq!(
        s,
        Step {
            next: Cursor {
                verb: 0,
                phase: Phase::Running
            },
            action: say("a")
        }
    );
}

#[test]
fn an_input_that_does_not_fit_the_verb_moves_on() {
    let p = program("<Response><Say>a</Say><Say>b</Say></Response>");
    let s = step(
        &p,
        Cursor {
            verb: 0,
            phase: Phase::Running,
        },
        Input::NoInput,
        &ctx(true),
    );
    assert_eq!(s.action, say("b"));
    let s = step(
        &p,
        Cursor {
            verb: 9,
            phase: Phase::Running,
        },
        Input::Done,
        &ctx(true),
    );
    assert_eq!(s.action, Action::End);
}

#[test]
fn a_hand_built_program_of_many_plays_with_nothing_to_play_is_skipped_without_recursion() {
    let mut verbs = vec![Verb::Play(Play::default()); 200_000];
    verbs.push(Verb::Hangup);
    let p = Program { verbs };
    let s = step(&p, Cursor::START, Input::Begin, &ctx(true));
    assert_eq!(
        s,
        Step {
            next: Cursor {
                verb: 200_000,
                phase: Phase::Finished
            },
            action: Action::Hangup
        }
    );
}
