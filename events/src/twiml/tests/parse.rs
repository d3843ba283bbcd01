//! The parser, given a document, then the program or error it yields (VOICE-NOTES §1.1–1.11).

use crate::twiml::program::*;
use crate::twiml::xml::{MAX_DEPTH, MAX_ELEMENTS};
use crate::twiml::{parse, ParseError, Parsed};

fn ok(text: &str) -> Parsed {
    match parse(text) {
        Ok(p) => p,
        Err(e) => panic!("{text:?} should parse: {e}"),
    }
}

fn err(text: &str) -> ParseError {
    match parse(text) {
        Ok(p) => panic!("{text:?} should fail, got {p:?}"),
        Err(e) => e,
    }
}

fn verbs(text: &str) -> Vec<Verb> {
    ok(text).program.verbs
}

/// The one verb of a document with no warnings.
fn only(text: &str) -> Verb {
    let parsed = ok(text);
    assert_eq!(parsed.warnings, vec![], "{text}");
    assert_eq!(parsed.program.verbs.len(), 1, "{text}");
    parsed.program.verbs[0].clone()
}

fn warned(text: &str) -> (Vec<Verb>, Vec<String>) {
    let parsed = ok(text);
    for w in &parsed.warnings {
        assert_eq!(w.code, 12200, "{w:?}");
    }
    let messages = parsed.warnings.into_iter().map(|w| w.message).collect();
    (parsed.program.verbs, messages)
}

#[test]
fn an_empty_response_is_an_empty_program() {
    assert_eq!(
        ok("<Response/>"),
        Parsed {
            program: Program::default(),
            warnings: vec![]
        }
    );
    assert_eq!(
        verbs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response></Response>\n"),
        vec![]
    );
}

#[test]
fn a_say_has_twilios_defaults() {
    assert_eq!(
        only("<Response><Say>Hello  there\n world</Say></Response>"),
        Verb::Say(Say {
            text: "Hello there world".into(),
            voice: "man".into(),
            language: "en-US".into(),
            loops: 1
        })
    );
}

#[test]
fn a_say_keeps_voice_language_and_loop() {
    assert_eq!(
        only(
            r#"<Response><Say voice="Polly.Joanna" language="en-GB" loop="0">Hi &amp; bye &#x21;</Say></Response>"#
        ),
        Verb::Say(Say {
            text: "Hi & bye !".into(),
            voice: "Polly.Joanna".into(),
            language: "en-GB".into(),
            loops: 0
        })
    );
}

#[test]
fn ssml_inside_say_is_spoken_as_text() {
    let v = only(
        r#"<Response><Say>One<break time="1s"/>two <emphasis>three</emphasis><prosody rate="slow"><s>four</s></prosody></Say></Response>"#,
    );
    assert!(matches!(v, Verb::Say(s) if s.text == "One two three four"));
}

#[test]
fn comments_are_ignored() {
    let v = verbs("<!-- a --><Response><!-- b --><Hangup/><!-- c --></Response><!-- d -->");
    assert_eq!(v, vec![Verb::Hangup]);
}

#[test]
fn element_names_are_case_sensitive_so_say_lowercase_is_an_unknown_verb() {
    let (v, w) = warned("<Response><say>hi</say><Hangup/></Response>");
    assert_eq!(v, vec![Verb::Hangup]);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("'say'"), "{w:?}");
}

#[test]
fn a_lowercase_root_is_not_response() {
    assert_eq!(err("<response><Hangup/></response>").code, 12102);
}

#[test]
fn a_root_other_than_response_is_a_12102() {
    let e = err("<Foo><Say>hi</Say></Foo>");
    assert_eq!(e.code, 12102);
    assert!(e.message.contains("<Foo>"));
}

#[test]
fn invalid_xml_is_a_12100() {
    for text in [
        "<Response><Say>hi</Response>",
        "<Response><Say>hi</Say>",
        "<Response>&bogus;</Response>",
        "<Response><Say a='1' a='2'>x</Say></Response>",
        "<Response>a & b</Response>",
        "<Response/><Response/>",
        "<Response/>trailing",
        "leading<Response/>",
        "<Response><Say>hi</Say></Response></Response>",
        "<?xml version=\"1.0\"?><?xml version=\"1.0\"?><Response/>",
        "<Response><?xml version=\"1.0\"?></Response>",
        "<Response><!-- a -- b --></Response>",
    ] {
        assert_eq!(err(text).code, 12100, "{text}");
    }
}

#[test]
fn a_document_without_a_root_is_a_12100() {
    for text in [
        "",
        "   ",
        "<?xml version=\"1.0\"?>",
        "<!-- only a comment -->",
        "hello",
    ] {
        assert_eq!(err(text).code, 12100, "{text:?}");
    }
}

#[test]
fn whitespace_before_the_xml_declaration_is_a_12100() {
    assert_eq!(err(" <?xml version=\"1.0\"?><Response/>").code, 12100);
    assert_eq!(err("\n<?xml version=\"1.0\"?><Response/>").code, 12100);
    assert!(
        parse("\n<Response/>").is_ok(),
        "whitespace without a declaration is fine"
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_a_12100() {
    let deep = format!(
        "<Response>{}{}</Response>",
        "<Say>".repeat(MAX_DEPTH),
        "</Say>".repeat(MAX_DEPTH)
    );
    let e = err(&deep);
    assert_eq!(e.code, 12100);
    assert!(e.message.contains("deeper"), "{e}");
    let ok_depth = format!(
        "<Response>{}x{}</Response>",
        "<p>".repeat(MAX_DEPTH - 2),
        "</p>".repeat(MAX_DEPTH - 2)
    );
    let (v, _) = warned(&ok_depth.replacen("<p>", "<Say>", 1).replacen(
        "</p></Response>",
        "</Say></Response>",
        1,
    ));
    assert_eq!(v.len(), 1);
}

#[test]
fn more_elements_than_the_limit_is_a_12100() {
    let many = format!("<Response>{}</Response>", "<Hangup/>".repeat(MAX_ELEMENTS));
    let e = err(&many);
    assert_eq!(e.code, 12100);
    assert!(e.message.contains("elements"), "{e}");
    let fits = format!(
        "<Response>{}</Response>",
        "<Hangup/>".repeat(MAX_ELEMENTS - 1)
    );
    assert_eq!(verbs(&fits).len(), MAX_ELEMENTS - 1);
}

#[test]
fn the_warning_list_is_bounded() {
    let many = format!("<Response>{}</Response>", "<Nope/>".repeat(500));
    let (_, w) = warned(&many);
    assert_eq!(w.len(), 101);
    assert!(w[100].contains("400 more"), "{}", w[100]);
}

#[test]
fn verbs_not_built_yet_are_a_12200_and_the_rest_runs() {
    for verb in [
        "Enqueue", "Record", "Leave", "Start", "Stop", "Connect", "Refer", "Pay", "Sms", "Message",
        "Echo",
    ] {
        let (v, w) = warned(&format!("<Response><{verb}>x</{verb}><Hangup/></Response>"));
        assert_eq!(v, vec![Verb::Hangup], "{verb}");
        assert_eq!(w.len(), 1, "{verb}");
        assert!(w[0].contains("not supported yet"), "{w:?}");
    }
}

#[test]
fn an_unknown_attribute_is_a_12200_and_the_verb_still_runs() {
    let (v, w) = warned(r#"<Response><Say colour="red">hi</Say></Response>"#);
    assert_eq!(v.len(), 1);
    assert_eq!(
        w,
        vec!["Attribute 'colour' is not allowed to appear in element 'Say'; ignored"]
    );
}

#[test]
fn bad_attribute_values_are_a_12200_and_the_default_is_used() {
    let (v, w) = warned(
        r#"<Response>
            <Say loop="x">a</Say>
            <Gather numDigits="0" timeout="-1" method="PUT" finishOnKey="ab" actionOnEmptyResult="maybe"/>
            <Reject reason="nope"/>
            <Pause length="0"/>
        </Response>"#,
    );
    assert_eq!(w.len(), 8, "{w:#?}");
    assert_eq!(
        v,
        vec![
            Verb::Say(Say {
                text: "a".into(),
                ..Say::default()
            }),
            Verb::Gather(Gather::default()),
            Verb::Reject(Reject {
                reason: RejectReason::Rejected
            }),
            Verb::Pause(Pause { length_secs: 1 }),
        ]
    );
}

#[test]
fn a_play_has_a_url_and_a_loop() {
    assert_eq!(
        only(r#"<Response><Play loop="3"> https://example.com/a.wav </Play></Response>"#),
        Verb::Play(Play {
            url: Some("https://example.com/a.wav".into()),
            digits: None,
            loops: 3
        })
    );
}

#[test]
fn a_play_with_an_empty_body_and_digits_sends_digits() {
    assert_eq!(
        only(r#"<Response><Play digits="wwww3#"/></Response>"#),
        Verb::Play(Play {
            url: None,
            digits: Some("wwww3#".into()),
            loops: 1
        })
    );
}

#[test]
fn a_play_with_bad_digits_or_nothing_to_play_is_skipped() {
    let (v, w) = warned(r#"<Response><Play digits="12x"/><Play/></Response>"#);
    assert_eq!(v, vec![]);
    assert_eq!(w.len(), 3, "{w:?}");
}

#[test]
fn a_pause_has_a_length() {
    assert_eq!(
        only("<Response><Pause/></Response>"),
        Verb::Pause(Pause { length_secs: 1 })
    );
    assert_eq!(
        only(r#"<Response><Pause length="7"/></Response>"#),
        Verb::Pause(Pause { length_secs: 7 })
    );
}

#[test]
fn a_gather_reads_every_dtmf_attribute_and_its_prompts() {
    let v = only(
        r#"<Response><Gather action="/next" method="GET" timeout="3" finishOnKey="" numDigits="4" actionOnEmptyResult="true">
            <Say>Press</Say><Play>beep.wav</Play><Pause length="2"/>
        </Gather></Response>"#,
    );
    assert_eq!(
        v,
        Verb::Gather(Gather {
            action: Some("/next".into()),
            method: Method::Get,
            timeout_secs: 3,
            finish_on_key: None,
            num_digits: Some(4),
            action_on_empty_result: true,
            prompts: vec![
                Prompt::Say(Say {
                    text: "Press".into(),
                    ..Say::default()
                }),
                Prompt::Play(Play {
                    url: Some("beep.wav".into()),
                    digits: None,
                    loops: 1
                }),
                Prompt::Pause(Pause { length_secs: 2 }),
            ],
        })
    );
}

#[test]
fn a_gather_takes_only_say_play_and_pause() {
    let (v, w) = warned("<Response><Gather><Say>a</Say><Redirect>/x</Redirect><Gather/><Hangup/></Gather></Response>");
    let Verb::Gather(g) = &v[0] else {
        panic!("{v:?}")
    };
    assert_eq!(g.prompts.len(), 1);
    assert_eq!(w.len(), 3, "{w:?}");
}

#[test]
fn a_play_with_digits_inside_a_gather_is_not_allowed() {
    let (v, w) = warned(
        r#"<Response><Gather><Play digits="1"/><Play digits="2">a.wav</Play></Gather></Response>"#,
    );
    let Verb::Gather(g) = &v[0] else {
        panic!("{v:?}")
    };
    assert_eq!(
        g.prompts,
        vec![Prompt::Play(Play {
            url: Some("a.wav".into()),
            digits: None,
            loops: 1
        })]
    );
    assert!(
        w.iter().filter(|m| m.contains("inside <Gather>")).count() == 2,
        "{w:?}"
    );
}

#[test]
fn speech_input_is_a_12200_and_the_gather_collects_dtmf() {
    let (v, w) = warned(r#"<Response><Gather input="speech" hints="yes,no"/></Response>"#);
    assert_eq!(v, vec![Verb::Gather(Gather::default())]);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[1].contains("not supported yet"));
}

#[test]
fn a_redirect_has_a_url_and_a_method() {
    assert_eq!(
        only(r#"<Response><Redirect method="GET">../other.xml</Redirect></Response>"#),
        Verb::Redirect(Redirect {
            url: "../other.xml".into(),
            method: Method::Get
        })
    );
    let (v, w) = warned("<Response><Redirect/></Response>");
    assert_eq!((v.len(), w.len()), (0, 1));
}

#[test]
fn reject_reads_its_reason() {
    assert_eq!(
        only("<Response><Reject/></Response>"),
        Verb::Reject(Reject {
            reason: RejectReason::Rejected
        })
    );
    assert_eq!(
        only(r#"<Response><Reject reason="busy"/></Response>"#),
        Verb::Reject(Reject {
            reason: RejectReason::Busy
        })
    );
}

#[test]
fn a_dial_reads_its_attributes_and_nouns() {
    let v = only(
        r#"<Response><Dial action="/after" timeout="10" callerId="+15550001" timeLimit="60" hangupOnStar="true" answerOnBridge="true">
            <Number sendDigits="ww12" url="/screen">+15551234</Number>
            <Sip username="u" password="p">sip:bob@example.com</Sip>
            <Client><Identity>alice</Identity></Client>
            <Client>carol</Client>
        </Dial></Response>"#,
    );
    assert_eq!(
        v,
        Verb::Dial(Dial {
            action: Some("/after".into()),
            method: Method::Post,
            timeout_secs: 10,
            caller_id: Some("+15550001".into()),
            time_limit_secs: 60,
            hangup_on_star: true,
            answer_on_bridge: true,
            targets: vec![
                DialTarget::Number {
                    number: "+15551234".into(),
                    send_digits: Some("ww12".into()),
                    url: Some("/screen".into()),
                    method: Method::Post,
                    callbacks: NounCallbacks::default(),
                },
                DialTarget::Sip {
                    uri: "sip:bob@example.com".into(),
                    url: None,
                    method: Method::Post,
                    username: Some("u".into()),
                    password: Some("p".into()),
                    callbacks: NounCallbacks::default(),
                },
                DialTarget::Client {
                    identity: "alice".into()
                },
                DialTarget::Client {
                    identity: "carol".into()
                },
            ],
        })
    );
}

#[test]
fn a_dial_noun_reads_its_status_callback() {
    let v = only(
        r#"<Response><Dial><Sip statusCallback="/child" statusCallbackMethod="GET" statusCallbackEvent="initiated ringing answered completed">sip:bob@example.com</Sip></Dial></Response>"#,
    );
    let Verb::Dial(d) = v else { panic!() };
    let [DialTarget::Sip { callbacks, .. }] = &d.targets[..] else {
        panic!("{d:?}")
    };
    use crate::call::StatusCallbackEvent as E;
    assert_eq!(
        callbacks,
        &NounCallbacks {
            url: Some("/child".into()),
            method: Method::Get,
            events: vec![E::Initiated, E::Ringing, E::Answered, E::Completed],
        }
    );
    let parsed = ok(
        r#"<Response><Dial><Number statusCallback="/c" statusCallbackEvent="bogus">+15551234</Number></Dial></Response>"#,
    );
    assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
    let Verb::Dial(d) = &parsed.program.verbs[0] else {
        panic!()
    };
    let [DialTarget::Number { callbacks, .. }] = &d.targets[..] else {
        panic!("{d:?}")
    };
    assert_eq!(callbacks.events, vec![E::Completed]);
}

#[test]
fn plain_text_in_a_dial_is_a_number() {
    let v = only("<Response><Dial> +15551234 </Dial></Response>");
    let Verb::Dial(d) = v else { panic!() };
    assert_eq!(d.timeout_secs, 30);
    assert_eq!(d.time_limit_secs, 14_400);
    assert!(matches!(&d.targets[..], [DialTarget::Number { number, .. }] if number == "+15551234"));
}

#[test]
fn dial_conference_and_queue_are_a_12200_for_now() {
    for noun in ["Conference", "Queue"] {
        let (v, w) = warned(&format!(
            "<Response><Dial><{noun}>room</{noun}></Dial><Hangup/></Response>"
        ));
        assert_eq!(v, vec![Verb::Hangup], "{noun}");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("not supported yet"));
    }
}

#[test]
fn a_dial_rings_at_most_ten_targets() {
    let numbers: String = (0..12)
        .map(|i| format!("<Number>+1555000{i:02}</Number>"))
        .collect();
    let (v, w) = warned(&format!("<Response><Dial>{numbers}</Dial></Response>"));
    let Verb::Dial(d) = &v[0] else { panic!() };
    assert_eq!(d.targets.len(), 10);
    assert_eq!(w.len(), 1);
}

#[test]
fn a_sip_noun_needs_a_sip_uri() {
    let (v, w) = warned("<Response><Dial><Sip>bob@example.com</Sip></Dial></Response>");
    assert_eq!((v.len(), w.len()), (0, 2), "{w:?}");
}

#[test]
fn text_and_children_where_none_belong_are_warnings() {
    let (v, w) = warned("<Response>stray<Hangup>x</Hangup><Pause><Say>a</Say></Pause></Response>");
    assert_eq!(v, vec![Verb::Hangup, Verb::Pause(Pause::default())]);
    assert_eq!(w.len(), 3, "{w:?}");
}

#[test]
fn cdata_is_text() {
    assert!(matches!(
        only("<Response><Say><![CDATA[a < b]]></Say></Response>"),
        Verb::Say(s) if s.text == "a < b"
    ));
}

#[test]
fn a_doctype_is_skipped_unread() {
    let text = r#"<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]><Response><Say>&a;</Say></Response>"#;
    assert_eq!(
        err(text).code,
        12100,
        "entities a DTD declares are never expanded"
    );
    assert_eq!(
        verbs("<!DOCTYPE Response><Response><Hangup/></Response>"),
        vec![Verb::Hangup]
    );
}
