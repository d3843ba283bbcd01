//! The harness proved against today's server and on its own: each oracle accepts what it
//! should and refuses what it should, so a router test built on it can fail.
//!
//! - the shipped digit captures carry the digits their names say (tshark's `rtpevent`);
//! - the audio comparison matches espeak-ng's speech after a G.711 round trip through sox, and
//!   rejects silence, white noise and another sentence; `locate` finds a sound in a longer one;
//! - app.py's `RequestValidator` accepts requests signed by `signature.rs` and records a wrong
//!   or missing signature as invalid;
//! - a number whose application `<Play>`s an espeak-ng WAV, called by SIPp (`uac_dtmf.xml`): what
//!   tshark captured at SIPp's media port, decoded by sox, sounds like espeak-ng's reference
//!   and not like the controls; `uac_refused.xml` passes on the status it expects only.

use super::app::{AppOptions, VoiceApp, NO_INPUT, WELCOME};
use super::audio::{
    beeps, compare, decode_ulaw, espeak_reference, heard, locate, samples, segments, silence,
    white_noise, ENVELOPE_MIN, SAMPLE_MIN,
};
use super::capture::Pcap;
use super::sipp::{call, digit_pcap, CallSpec, PCAP_DIGIT, PCAP_RTP_PORT};
use crate::sip::{free_sip_port, types, Telephony};
use crate::{DataDir, Server};
use std::path::Path;
use std::time::Duration;
use switchboard::http::twilio::signature::signature;

/// What the server plays in the proof, and a sentence it must not be taken for.
const SENTENCE: &str = "the quick brown fox jumps over the lazy dog";
const OTHER_SENTENCE: &str = "please hold while we connect your call";

#[test]
fn the_shipped_digit_captures_carry_the_digits_their_names_say() {
    let digits = "0123456789*#";
    for d in digits.chars() {
        let pcap = Pcap::open(&digit_pcap(d), PCAP_RTP_PORT);
        assert_eq!(pcap.digits(), d.to_string(), "{}", pcap.path.display());
        let events = pcap.events();
        assert!(events.iter().any(|e| e.end), "an end packet: {events:?}");
    }
    let one = Pcap::open(&digit_pcap('1'), PCAP_RTP_PORT);
    assert_eq!(one.digits(), PCAP_DIGIT.to_string());
}

/// The reference through G.711 and back, by sox alone: what a faithful server delivers.
fn through_ulaw(dir: &Path, wav: &Path) -> Vec<i16> {
    let ul = dir.join("roundtrip.ul");
    super::run_tool(
        &super::audio::sox(),
        &[
            wav.to_str().expect("utf-8"),
            "-t",
            "ul",
            ul.to_str().expect("utf-8"),
        ],
    );
    let bytes = std::fs::read(&ul).expect("µ-law bytes");
    samples(&decode_ulaw(dir, "roundtrip", &bytes))
}

#[test]
fn the_comparison_matches_espeak_speech_and_rejects_silence_noise_and_another_sentence() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let reference = samples(&espeak_reference(d, "ref", SENTENCE));
    let heard = through_ulaw(d, &espeak_reference(d, "again", SENTENCE));
    let same = compare(&heard, &reference);
    eprintln!("the sentence through µ-law: {same:?}");
    same.assert_matches("the sentence through µ-law");

    // Silence and noise as long as the sentence: only the measures of sound can refuse them.
    let secs = reference.len() as f64 / 8000.0;
    let controls = [
        ("silence", samples(&silence(d, "silence", secs))),
        ("white noise", samples(&white_noise(d, "noise", secs))),
        (
            "another sentence",
            samples(&espeak_reference(d, "other", OTHER_SENTENCE)),
        ),
        (
            "beeps",
            samples(&beeps(d, "beeps", &[(440, 300), (0, 200), (660, 500)])),
        ),
    ];
    for (what, signal) in &controls {
        let c = compare(signal, &reference);
        eprintln!("{what}: {c:?}");
        assert!(!c.matches(), "{what} passed for the sentence: {c:?}");
        assert!(
            c.envelope_correlation < ENVELOPE_MIN && c.sample_correlation < SAMPLE_MIN,
            "{what} is refused by the correlations, not the length alone: {c:?}"
        );
        let c = locate(signal, &reference);
        eprintln!("{what}, located: {c:?}");
        assert!(!c.matches(), "{what} was located as the sentence: {c:?}");
    }

    // In a longer signal (noise-free pause, the sentence, a pause, beeps): located, and the
    // segments come apart at the pauses.
    let pause = samples(&silence(d, "pause", 0.7));
    let tail = &controls[3].1;
    let long: Vec<i16> = [&pause[..], &heard[..], &pause[..], &tail[..]].concat();
    let found = locate(&long, &reference);
    eprintln!("located in a longer signal: {found:?}");
    found.assert_matches("the sentence inside a longer capture");
    assert!(
        (found.lag_ms - 0.0).abs() < 60.0,
        "the sentence starts the active part: {found:?}"
    );
    let parts = segments(&long, 400);
    assert_eq!(parts.len(), 2, "sentence and beeps");
    compare(&parts[0], &reference).assert_matches("the first segment");
    assert!(!compare(&parts[1], &reference).matches());
}

#[tokio::test]
async fn app_py_validates_signed_webhooks_and_records_a_wrong_signature_as_invalid() {
    let dir = tempfile::tempdir().expect("dir");
    let tone = beeps(dir.path(), "tone", &[(440, 200)]);
    let speech = espeak_reference(dir.path(), "speech", "hello");
    let token = "the-auth-token-of-the-account";
    let app = VoiceApp::start(&AppOptions::new(token, &tone, &speech));
    let client = crate::http();
    let params = [
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "+15550001111"),
        ("To", "+15551230000"),
        ("CallStatus", "ringing"),
        ("Digits", ""),
    ];
    let post = |path: &str, sig: Option<String>| {
        let mut r = client.post(app.url(path)).form(&params);
        if let Some(s) = sig {
            r = r.header("X-Twilio-Signature", s);
        }
        r.send()
    };
    let good = signature(token, &app.url("/voice"), &params);
    let voice = post("/voice", Some(good)).await.expect("sent");
    assert_eq!(voice.status(), 200);
    assert_eq!(
        voice.headers()["set-cookie"],
        "call=CA0123456789abcdef0123456789abcdef; Path=/"
    );
    let twiml = voice.text().await.expect("body");
    assert!(twiml.contains(&format!("<Say>{WELCOME}</Say>")), "{twiml}");
    assert!(twiml.contains("<Gather action=\"/gathered\""), "{twiml}");
    // Signed with another token; signed for another URL; not signed at all.
    let wrong = signature("another-token", &app.url("/busy"), &params);
    post("/busy", Some(wrong)).await.expect("sent");
    let elsewhere = signature(token, &app.url("/voice"), &params);
    post("/gathered", Some(elsewhere)).await.expect("sent");
    post("/goodbye", None).await.expect("sent");
    // A GET is signed as its URL, query included.
    let get_url = app.url("/fallback?ErrorCode=11200&ErrorUrl=http%3A%2F%2Fx%2F");
    let no_params: [(&str, &str); 0] = [];
    let get_sig = signature(token, &get_url, &no_params);
    let fallback = client
        .get(&get_url)
        .header("X-Twilio-Signature", get_sig)
        .send()
        .await
        .expect("sent");
    assert!(fallback.text().await.expect("body").contains("<Hangup"));
    let wav = client.get(app.url("/tone.wav")).send().await.expect("sent");
    assert_eq!(
        wav.bytes().await.expect("wav"),
        std::fs::read(&tone).expect("tone")
    );
    let fail = post("/fail", None).await.expect("sent");
    assert_eq!(fail.status(), 500);

    let log = app.log();
    let verdicts: Vec<(&str, bool, bool)> = log
        .iter()
        .map(|r| (r.path.as_str(), r.signature_valid, r.webhook))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("/voice", true, true),
            ("/busy", false, true),
            ("/gathered", false, true),
            ("/goodbye", false, true),
            ("/fallback", true, true),
            ("/tone.wav", false, false),
            ("/fail", false, true),
        ]
    );
    assert_eq!(log[0].param("Digits"), Some(""), "blank values are kept");
    assert_eq!(log[4].param("ErrorCode"), Some("11200"));
    assert_eq!(log[4].param("ErrorUrl"), Some("http://x/"));
    let refused = std::panic::catch_unwind(|| app.assert_every_webhook_signed());
    assert!(refused.is_err(), "one bad signature fails the check");

    // What each route answers, as the twilio library wrote it.
    let mut twiml = Vec::new();
    for path in ["/gathered", "/busy", "/silent-gather", "/malformed"] {
        let sig = signature(token, &app.url(path), &params);
        let r = post(path, Some(sig)).await.expect("sent");
        assert_eq!(r.status(), 200, "{path}");
        twiml.push(r.text().await.expect("body"));
    }
    let tone_url = app.url("/tone.wav");
    assert!(
        twiml[0].contains(&format!(
            "<Play>{tone_url}</Play><Redirect>/goodbye</Redirect>"
        )),
        "{}",
        twiml[0]
    );
    assert!(
        twiml[1].contains("<Reject reason=\"busy\" />"),
        "{}",
        twiml[1]
    );
    assert!(
        twiml[2].contains(&format!(
            "<Gather action=\"/gathered\" timeout=\"1\" /><Say>{NO_INPUT}</Say><Hangup />"
        )),
        "{}",
        twiml[2]
    );
    assert!(!twiml[3].contains("</Response>"), "{}", twiml[3]);
    assert_eq!(app.requests_to("/gathered").len(), 2);
    assert!(app.requests_to("/gathered")[1].signature_valid);
}

#[test]
fn a_played_wav_of_espeak_speech_reaches_sipp_as_espeak_said_it() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let speech = espeak_reference(d, "speech", SENTENCE);
    let mut t = Telephony::playing("voice-play", &speech);
    // The digit goes while the sentence plays: the server records it, the call goes on.
    let spec = CallSpec::answered(crate::sip::NUMBER, "1", Duration::from_millis(500));
    let result = call(&t.target(), &spec, d);
    result.assert_ok();
    assert_eq!(result.received("BYE "), 1, "{}", result.describe());

    let payload = result.pcap.audio(0);
    let heard_in_order = samples(&decode_ulaw(d, "in-order", &payload));
    let reference = samples(&speech);
    let c = compare(&heard_in_order, &reference);
    eprintln!("the sentence SIPp received: {c:?}");
    c.assert_matches("the sentence SIPp received");
    // The same placed by arrival time: played without gaps, so nothing changes.
    let heard = heard(&result.pcap, d, "heard");
    let gaps = heard.len().abs_diff(heard_in_order.len());
    assert!(gaps <= 480, "no pause in sending: {gaps} samples");
    compare(&heard, &reference).assert_matches("the sentence by arrival time");
    // The controls fail against the same reference, and the capture against another one.
    let secs = reference.len() as f64 / 8000.0;
    for (what, signal) in [
        ("silence", samples(&silence(d, "silence", secs))),
        ("white noise", samples(&white_noise(d, "noise", secs))),
    ] {
        let c = compare(&signal, &reference);
        eprintln!("{what}: {c:?}");
        assert!(!c.matches(), "{what} passed for the sentence: {c:?}");
        assert!(c.envelope_correlation < ENVELOPE_MIN && c.sample_correlation < SAMPLE_MIN);
    }
    let other = samples(&espeak_reference(d, "other", OTHER_SENTENCE));
    let c = compare(&heard, &other);
    eprintln!("the capture against another sentence: {c:?}");
    assert!(
        !c.matches(),
        "the capture passed for another sentence: {c:?}"
    );

    let recorded = t.stop_and_read_calls();
    let events = recorded.values().next().expect("one call");
    let kinds = types(events);
    assert!(kinds.contains(&"media.played"), "{kinds:?}");
    let digits: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "dtmf.received")
        .filter_map(|e| e["data"]["digit"].as_str())
        .collect();
    assert_eq!(digits, [PCAP_DIGIT.to_string()], "{kinds:?}");
}

#[test]
fn the_refused_scenario_passes_on_its_status_only() {
    // A server that owns no number answers every INVITE 404.
    let dir = DataDir::new("voice-refused");
    let sip_port = free_sip_port();
    let sip_addr = format!("127.0.0.1:{sip_port}");
    let _server = Server::start_with(dir.path(), &["--sip-addr", &sip_addr]);
    let scratch = tempfile::tempdir().expect("dir");
    let ok = call(
        &sip_addr,
        &CallSpec::refused("+15551230000", 404),
        scratch.path(),
    );
    ok.assert_ok();
    assert_eq!(ok.received("SIP/2.0 404"), 1, "{}", ok.describe());
    assert_eq!(ok.received("SIP/2.0 200"), 0);
    let wrong = call(
        &sip_addr,
        &CallSpec::refused("+15551230000", 486),
        scratch.path(),
    );
    assert_ne!(wrong.code, Some(0), "a 404 is not the 486 expected");
}
