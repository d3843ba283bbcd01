//! The must-show scenarios of the call router, every part played by a tool switchboard did not
//! write: the application is `tests/voice/app.py` (the official twilio library's
//! `VoiceResponse`, every webhook checked by its `RequestValidator`), the caller is SIPp with
//! the RFC 4733 captures Debian's sip-tester ships, and what the caller heard is captured by
//! tshark and decoded by sox, then compared with espeak-ng's own rendering of the same text
//! (with the voice the server maps `<Say>`'s default to) and with the WAV the application
//! served — by length and correlation, so silence or noise cannot pass.

use super::app::{AppOptions, VoiceApp, FALLBACK_SAY, NO_INPUT, WELCOME};
use super::audio::{beeps, espeak_reference_with, heard, locate, samples};
use super::sipp::{call, CallSpec, PCAP_DIGIT};
use crate::sip::{own_number, types, Telephony, NUMBER};
use std::path::Path;
use std::time::Duration;

/// The espeak-ng voice the server speaks `<Say>` with by default (`voice="man"`, `en-US`).
const SAY_VOICE: &[&str] = &["-v", "en-us+m3"];

/// A server whose account's number leads to `app.py`'s `path`, and the application.
fn start(tag: &str, dir: &Path, path: &str) -> (Telephony, VoiceApp) {
    let t = Telephony::bare(tag, &[], &[]);
    // Beeps, not a steady tone: an envelope the comparison can recognise.
    let tone = beeps(
        dir,
        "tone",
        &[(440, 250), (0, 150), (880, 400), (0, 150), (660, 300)],
    );
    let speech = espeak_reference_with(dir, "speech", "served speech", SAY_VOICE);
    let app = VoiceApp::start(&AppOptions::new(&t.account.token, &tone, &speech));
    own_number(
        t.server(),
        &t.account,
        NUMBER,
        &app.url(path),
        Some(&app.url("/fallback")),
    );
    (t, app)
}

#[test]
fn a_twilio_library_application_answers_a_sipp_caller_say_gather_digits_play_redirect_hangup() {
    let scratch = tempfile::tempdir().expect("dir");
    let d = scratch.path();
    let (mut t, app) = start("voice-must-show", d, "/voice");
    let welcome = espeak_reference_with(d, "welcome", WELCOME, SAY_VOICE);
    let welcome_ms = samples(&welcome).len() as u64 / 8;
    // The key goes while the Gather's prompt plays (after the welcome): it interrupts it.
    let spec = CallSpec::answered(NUMBER, "1", Duration::from_millis(welcome_ms + 600));
    let result = call(&t.target(), &spec, d);
    result.assert_ok();
    assert_eq!(result.received("BYE "), 1, "our BYE: {}", result.describe());

    // What the application was asked, each request signed as Twilio signs.
    let webhooks: Vec<_> = app
        .assert_every_webhook_signed()
        .into_iter()
        .filter(|r| r.webhook)
        .collect();
    let paths: Vec<&str> = webhooks.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/voice", "/gathered", "/goodbye"], "{webhooks:#?}");
    let first = &webhooks[0];
    assert_eq!(first.param("CallStatus"), Some("ringing"));
    assert_eq!(first.param("Direction"), Some("inbound"));
    assert_eq!(first.param("To"), Some(NUMBER));
    assert_eq!(first.param("AccountSid"), Some(t.account.sid.as_str()));
    assert_eq!(first.param("ApiVersion"), Some("2010-04-01"));
    let call_sid = first.param("CallSid").expect("CallSid").to_string();
    let gathered = &webhooks[1];
    assert_eq!(
        gathered.param("Digits"),
        Some(PCAP_DIGIT.to_string().as_str())
    );
    assert_eq!(gathered.param("CallStatus"), Some("in-progress"));
    assert_eq!(gathered.param("CallSid"), Some(call_sid.as_str()));
    // The cookie /voice set comes back on the call's next requests.
    let cookie = gathered
        .headers
        .get("Cookie")
        .or(gathered.headers.get("cookie"));
    assert_eq!(
        cookie.map(String::as_str),
        Some(format!("call={call_sid}").as_str())
    );
    assert_eq!(
        app.requests_to("/tone.wav").len(),
        1,
        "the Play fetched the WAV once"
    );

    // What SIPp heard: the welcome as espeak-ng says it, then the WAV the application served.
    let heard = heard(&result.pcap, d, "heard");
    locate(&heard, &samples(&welcome)).assert_matches("the welcome <Say>");
    locate(&heard, &samples(&d.join("tone.wav"))).assert_matches("the <Play>ed WAV");

    let calls = t.stop_and_read_calls();
    let events = calls.get(&call_sid).expect("the call's stream");
    let kinds = types(events);
    assert!(kinds.contains(&"dtmf.received"), "{kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "call.instructions.fetched")
            .count(),
        3
    );
    let end = &events.last().expect("end")["data"];
    assert_eq!(end["status"], "completed", "{end}");
    assert_eq!(end["hung_up_by"], "local");
}

#[test]
fn reject_busy_gives_sipp_a_486_and_never_a_200() {
    let scratch = tempfile::tempdir().expect("dir");
    let (mut t, app) = start("voice-busy", scratch.path(), "/busy");
    let result = call(&t.target(), &CallSpec::refused(NUMBER, 486), scratch.path());
    result.assert_ok();
    assert_eq!(result.received("SIP/2.0 200"), 0, "{}", result.describe());
    app.assert_every_webhook_signed();
    let calls = t.stop_and_read_calls();
    let end = &calls.values().next().expect("call").last().expect("end")["data"];
    assert_eq!(end["status"], "busy", "{end}");
}

#[test]
fn an_unowned_number_gets_404_from_sipp_s_point_of_view() {
    let scratch = tempfile::tempdir().expect("dir");
    let (mut t, app) = start("voice-unowned", scratch.path(), "/voice");
    let result = call(
        &t.target(),
        &CallSpec::refused("+15550199999", 404),
        scratch.path(),
    );
    result.assert_ok();
    assert!(app.log().is_empty(), "no application was asked");
    assert!(t.stop_and_read_calls().is_empty());
}

/// A call to `path` whose failure sends it to the fallback: SIPp hears the fallback's `<Say>`.
fn falls_back(tag: &str, path: &str, code: &str) {
    let scratch = tempfile::tempdir().expect("dir");
    let d = scratch.path();
    let (mut t, app) = start(tag, d, path);
    let result = call(
        &t.target(),
        &CallSpec::answered(NUMBER, "", Duration::ZERO),
        d,
    );
    result.assert_ok();
    let fallback = app.requests_to("/fallback");
    assert_eq!(fallback.len(), 1, "{:#?}", app.log());
    assert_eq!(fallback[0].param("ErrorCode"), Some(code));
    assert_eq!(fallback[0].param("ErrorUrl"), Some(app.url(path).as_str()));
    app.assert_every_webhook_signed();
    let said = espeak_reference_with(d, "fallback", FALLBACK_SAY, SAY_VOICE);
    locate(&heard(&result.pcap, d, "heard"), &samples(&said))
        .assert_matches("the fallback's <Say>");
    let calls = t.stop_and_read_calls();
    let events = calls.values().next().expect("call");
    let raised: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "call.notification.raised")
        .collect();
    assert_eq!(raised.len(), 1, "{events:#?}");
    assert_eq!(raised[0]["data"]["error_code"].to_string(), code);
}

#[test]
fn an_application_answering_500_sends_the_call_to_the_fallback_whose_twiml_plays() {
    // Twilio's 11217: the application answered 4xx/5xx.
    falls_back("voice-500", "/fail", "11217");
}

#[test]
fn malformed_twiml_is_a_12100_notification_and_the_fallback_plays() {
    falls_back("voice-malformed", "/malformed", "12100");
}

#[test]
fn an_application_that_is_down_sends_the_call_to_the_fallback() {
    let scratch = tempfile::tempdir().expect("dir");
    let d = scratch.path();
    let (mut t, app) = start("voice-down", d, "/voice");
    // Another number whose VoiceUrl is a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let down = "+15550100003";
    own_number(
        t.server(),
        &t.account,
        down,
        &format!("http://{closed}/voice"),
        Some(&app.url("/fallback")),
    );
    let result = call(
        &t.target(),
        &CallSpec::answered(down, "", Duration::ZERO),
        d,
    );
    result.assert_ok();
    let fallback = app.requests_to("/fallback");
    assert_eq!(fallback.len(), 1);
    assert_eq!(
        fallback[0].param("ErrorCode"),
        Some("11205"),
        "a connection failure"
    );
    let said = espeak_reference_with(d, "fallback", FALLBACK_SAY, SAY_VOICE);
    locate(&heard(&result.pcap, d, "heard"), &samples(&said))
        .assert_matches("the fallback's <Say>");
    drop(t.stop_and_read_calls());
}

#[test]
fn a_gather_with_no_input_falls_through_to_the_next_verb() {
    let scratch = tempfile::tempdir().expect("dir");
    let d = scratch.path();
    let (mut t, app) = start("voice-no-input", d, "/silent-gather");
    let result = call(
        &t.target(),
        &CallSpec::answered(NUMBER, "", Duration::ZERO),
        d,
    );
    result.assert_ok();
    assert!(
        app.requests_to("/gathered").is_empty(),
        "no input: the action is not asked"
    );
    let said = espeak_reference_with(d, "no-input", NO_INPUT, SAY_VOICE);
    locate(&heard(&result.pcap, d, "heard"), &samples(&said))
        .assert_matches("the verb after the Gather");
    drop(t.stop_and_read_calls());
}
