//! The create request's checks, one rule each.

use super::*;

fn params(pairs: &[(&str, &str)]) -> Params {
    Params(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn code(pairs: &[(&str, &str)]) -> Option<u32> {
    Request::parse(&params(pairs)).err().map(|e| e.code)
}

const BASE: [(&str, &str); 3] = [
    ("To", "sip:alice@example.com"),
    ("From", "+15551230000"),
    ("Url", "https://app.example/voice"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut all = BASE.to_vec();
    all.extend_from_slice(extra);
    all
}

#[test]
fn to_from_and_one_source_are_required() {
    assert_eq!(code(&BASE[1..]), Some(21201));
    assert_eq!(code(&[BASE[0], BASE[2]]), Some(21213));
    assert_eq!(code(&BASE[..2]), Some(20001));
    let app = ("ApplicationSid", "AP0123456789abcdef0123456789abcdef");
    assert_eq!(code(&with(&[app])), Some(20001));
    assert_eq!(
        code(&[BASE[0], BASE[1], ("Twiml", "<Response/>"), app]),
        Some(20001)
    );
    assert_eq!(code(&with(&[("Url", "")])), None);
    assert_eq!(code(&[BASE[0], BASE[1], ("Url", "not a url")]), Some(21205));
    assert_eq!(
        code(&[BASE[0], BASE[1], ("ApplicationSid", "PN0123")]),
        Some(21218)
    );
}

#[test]
fn twiml_is_ignored_beside_a_url_and_bounded_alone() {
    let r = Request::parse(&params(&with(&[("Twiml", "<Response/>")]))).expect("valid");
    assert_eq!(r.source, Source::Url("https://app.example/voice".into()));
    let long = "x".repeat(MAX_TWIML_CHARS + 1);
    let p = Params(vec![
        ("To".into(), "sip:a@b".into()),
        ("From".into(), "+1555".into()),
        ("Twiml".into(), long),
    ]);
    assert_eq!(Request::parse(&p).err().map(|e| e.code), Some(20001));
    let fits = "é".repeat(MAX_TWIML_CHARS);
    let p = Params(vec![
        ("To".into(), "sip:a@b".into()),
        ("From".into(), "+1555".into()),
        ("Twiml".into(), fits.clone()),
    ]);
    assert_eq!(
        Request::parse(&p).map(|r| r.source).ok(),
        Some(Source::Twiml(fits))
    );
}

#[test]
fn methods_default_to_post_and_take_get_or_post_only() {
    let r = Request::parse(&params(&with(&[("Method", "get")]))).expect("valid");
    let placed = r.place(
        &Sid::from_u128(switchboard_events::SidPrefix::Account, 1),
        None,
    );
    let routed = placed.expect("placed").routed;
    assert_eq!(routed.voice_method, HttpMethod::Get);
    assert_eq!(routed.voice_fallback_method, HttpMethod::Post);
    assert_eq!(routed.status_callback_method, HttpMethod::Post);
    assert_eq!(code(&with(&[("FallbackMethod", "PUT")])), Some(20001));
    assert_eq!(
        code(&with(&[("StatusCallbackMethod", "DELETE")])),
        Some(20001)
    );
}

#[test]
fn status_callback_events_repeat_or_share_a_value_and_default_to_completed() {
    let events = |extra: &[(&'static str, &'static str)]| {
        Request::parse(&params(&with(extra)))
            .map(|r| r.status_callback_events)
            .map_err(|e| e.code)
    };
    use StatusCallbackEvent::*;
    assert_eq!(events(&[]), Ok(vec![Completed]));
    assert_eq!(
        events(&[
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
        ]),
        Ok(vec![Initiated, Ringing, Answered, Completed])
    );
    assert_eq!(
        events(&[(
            "StatusCallbackEvent",
            "initiated ringing answered completed"
        )]),
        Ok(vec![Initiated, Ringing, Answered, Completed])
    );
    assert_eq!(
        events(&[("StatusCallbackEvent", "in-progress")]),
        Err(20001)
    );
}

#[test]
fn timeout_time_limit_and_send_digits_are_bounded() {
    let r = Request::parse(&params(&BASE)).expect("valid");
    assert_eq!((r.timeout, r.time_limit), (60, 14_400));
    assert_eq!(code(&with(&[("Timeout", "600")])), None);
    assert_eq!(code(&with(&[("Timeout", "601")])), Some(20001));
    assert_eq!(code(&with(&[("Timeout", "0")])), Some(20001));
    assert_eq!(code(&with(&[("TimeLimit", "86401")])), Some(20001));
    assert_eq!(code(&with(&[("SendDigits", "1234wW#*ABCD")])), None);
    assert_eq!(code(&with(&[("SendDigits", "12E")])), Some(20001));
    let long = "1".repeat(33);
    let mut p = params(&BASE);
    p.0.push(("SendDigits".into(), long));
    assert_eq!(Request::parse(&p).err().map(|e| e.code), Some(20001));
}

#[test]
fn an_application_gives_its_urls_and_the_requests_are_ignored() {
    use switchboard_events::application::Settings;
    let account = Sid::from_u128(switchboard_events::SidPrefix::Account, 1);
    let sid = Sid::from_u128(switchboard_events::SidPrefix::Application, 2);
    let sid_text = sid.to_string();
    let p = Params(vec![
        ("To".into(), "sip:a@b".into()),
        ("From".into(), "+1555".into()),
        ("ApplicationSid".into(), sid_text),
        ("Method".into(), "GET".into()),
        ("StatusCallback".into(), "https://mine.example/s".into()),
        ("StatusCallbackEvent".into(), "ringing".into()),
    ]);
    let r = Request::parse(&p).expect("valid");
    assert!(r.place(&account, None).is_err());
    let app = Application {
        sid: sid.clone(),
        account_sid: account.clone(),
        friendly_name: "app".into(),
        message_status_callback: None,
        sms_status_callback: None,
        public_application_connect_enabled: false,
        date_created: chrono::DateTime::default(),
        date_updated: chrono::DateTime::default(),
        settings: Settings {
            api_version: "2010-04-01".into(),
            voice_url: Some("https://app.example/voice".into()),
            voice_method: "POST".into(),
            voice_fallback_url: None,
            voice_fallback_method: "POST".into(),
            status_callback: Some("https://app.example/status".into()),
            status_callback_method: "GET".into(),
            voice_caller_id_lookup: false,
            sms_url: None,
            sms_method: "POST".into(),
            sms_fallback_url: None,
            sms_fallback_method: "POST".into(),
        },
        deleted: false,
    };
    let routed = r.place(&account, Some(&app)).expect("placed").routed;
    assert_eq!(routed.voice_url, "https://app.example/voice");
    assert_eq!(routed.voice_method, HttpMethod::Post);
    assert_eq!(
        routed.status_callback.as_deref(),
        Some("https://app.example/status")
    );
    assert_eq!(routed.status_callback_method, HttpMethod::Get);
    assert_eq!(
        routed.status_callback_events,
        vec![StatusCallbackEvent::Completed]
    );
    assert_eq!(routed.application_sid, Some(sid.to_string()));
}
