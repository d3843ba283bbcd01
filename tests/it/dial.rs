//! `<Dial>` end to end: a caller written here calls the fixture's number, whose application
//! (the Rust test app, recording every request) dials SIPp callees; each test checks what the
//! Dial's `action` was told, the SIP the callees saw, and the recorded call streams.
//!
//! - a child that hangs up: `DialCallStatus=completed` with a duration; a busy one: `busy`;
//! - two `<Sip>` nouns rung at once: the first answer wins, the other is CANCELed (487) and
//!   its stream ends `canceled`;
//! - `<Number>` through `--sip-trunk` (the Request-URI's user is the number), `sendDigits`
//!   (RFC 4733 events at the child), the noun's `statusCallback` (the child's `call.routed`),
//!   `timeLimit`;
//!   without a trunk: `failed` and a 13224 notification;
//! - `hangupOnStar` with an RFC 4733 `*` from the caller; `answerOnBridge` (no 200 to the
//!   caller before the child's, and an unanswered caller when nobody answers);
//! - audio both ways through the bridge, captured by tshark on loopback and decoded by sox.

use crate::sip::{
    answer_bye, exchange, request, rtp_packet, scenario, spawn_sipp, types, Telephony,
};
use crate::sip_calls::{answered_rtp, invite, offer};
use crate::voice::audio::{beeps, decode_alaw, decode_ulaw, locate, samples, sox};
use crate::voice::capture::Capture;
use crate::voice::run_tool;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use switchboard::bench::voice_app::{Received, Reply};
use switchboard_telephony::rtp::TelephoneEvent;
use switchboard_telephony::Law;

const SIPP_WAIT: Duration = Duration::from_secs(40);

/// What `/after` (the Dial's action) answers: the caller is hung up.
const HANG_UP: &str = "<Response><Hangup/></Response>";

/// A server whose number runs `dial` at `/voice`, with `/after` hanging up.
fn start(tag: &str, dial: &str, extra: &[&str]) -> Telephony {
    Telephony::start_app(
        tag,
        &[
            ("/voice", Reply::twiml(dial)),
            ("/after", Reply::twiml(HANG_UP)),
        ],
        extra,
    )
}

/// The action's one request, waited for.
fn action(t: &Telephony) -> Received {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(r) = t.app.received_at("/after").into_iter().next() {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "the Dial's action was never requested"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn streams<'a>(
    calls: &'a BTreeMap<String, Vec<Value>>,
    direction: &str,
) -> Vec<(&'a String, &'a Vec<Value>)> {
    calls
        .iter()
        .filter(|(_, events)| events[0]["data"]["direction"] == direction)
        .collect()
}

fn last(events: &[Value]) -> &Value {
    &events.last().expect("events")["data"]
}

/// A caller on fresh sockets, answered (its 200's text).
fn call(t: &Telephony, call_id: &str, law: Law) -> (UdpSocket, UdpSocket, String) {
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp socket");
    let answer = invite(t, &sig, &rtp, call_id, law);
    (sig, rtp, answer)
}

#[test]
fn a_child_that_hangs_up_gives_the_action_completed_with_its_duration() {
    let talk = scenario("uas_talk_bye.xml");
    let callee = spawn_sipp(
        None,
        &[
            "-sf",
            talk.to_str().expect("utf-8"),
            "-d",
            "1500",
            "-m",
            "1",
        ],
    );
    let dial = format!(
        r#"<Response><Dial action="/after" timeout="10"><Sip>{}</Sip></Dial></Response>"#,
        callee.uri("agent")
    );
    let mut t = start("dial-completed", &dial, &[]);
    let (sig, _rtp, _) = call(&t, "dial-completed", Law::Ulaw);
    let after = action(&t);
    answer_bye(&t, &sig);
    let run = callee.wait(SIPP_WAIT);
    assert_eq!(run.stat("SuccessfulCall(C)"), 1, "{}", run.describe());

    assert_eq!(
        after.param("DialCallStatus"),
        Some("completed"),
        "{after:?}"
    );
    assert_eq!(after.param("DialBridged"), Some("true"));
    assert_eq!(after.param("DialSipResponseCode"), Some("200"));
    assert!(after.param("DialSipCallId").is_some_and(|c| !c.is_empty()));
    let duration: u64 = after
        .param("DialCallDuration")
        .and_then(|d| d.parse().ok())
        .expect("a DialCallDuration");
    assert!((1..=3).contains(&duration), "{duration}");
    let calls = t.stop_and_read_calls();
    let children = streams(&calls, "outbound-dial");
    assert_eq!(children.len(), 1, "{calls:#?}");
    let (child_sid, child) = children[0];
    assert_eq!(after.param("DialCallSid"), Some(child_sid.as_str()));
    assert_eq!(
        types(child),
        [
            "call.initiated",
            "call.ringing",
            "call.answered",
            "call.dialog.recorded",
            "call.completed"
        ]
    );
    assert_eq!(last(child)["hung_up_by"], "remote");
}

#[test]
fn a_busy_child_gives_the_action_busy() {
    let busy = scenario("uas_busy.xml");
    let callee = spawn_sipp(None, &["-sf", busy.to_str().expect("utf-8"), "-m", "1"]);
    let dial = format!(
        r#"<Response><Dial action="/after"><Sip>{}</Sip></Dial></Response>"#,
        callee.uri("agent")
    );
    let mut t = start("dial-busy", &dial, &[]);
    let (sig, _rtp, _) = call(&t, "dial-busy", Law::Ulaw);
    let after = action(&t);
    answer_bye(&t, &sig);
    callee.wait(SIPP_WAIT);
    assert_eq!(after.param("DialCallStatus"), Some("busy"), "{after:?}");
    assert_eq!(after.param("DialBridged"), Some("false"));
    assert_eq!(after.param("DialSipResponseCode"), Some("486"));
    let calls = t.stop_and_read_calls();
    let (child_sid, child) = streams(&calls, "outbound-dial")[0];
    assert_eq!(after.param("DialCallSid"), Some(child_sid.as_str()));
    assert_eq!(last(child)["status"], "busy");
}

#[test]
fn of_two_sip_nouns_the_first_to_answer_wins_and_the_other_is_canceled() {
    let ringing = scenario("uas_no_answer.xml");
    let talk = scenario("uas_talk_bye.xml");
    let slow = spawn_sipp(None, &["-sf", ringing.to_str().expect("utf-8"), "-m", "1"]);
    let quick = spawn_sipp(
        None,
        &[
            "-sf",
            talk.to_str().expect("utf-8"),
            "-d",
            "1000",
            "-m",
            "1",
        ],
    );
    let dial = format!(
        r#"<Response><Dial action="/after" timeout="20"><Sip>{}</Sip><Sip>{}</Sip></Dial></Response>"#,
        slow.uri("slow"),
        quick.uri("quick")
    );
    let mut t = start("dial-parallel", &dial, &[]);
    let (sig, _rtp, _) = call(&t, "dial-parallel", Law::Ulaw);
    let after = action(&t);
    answer_bye(&t, &sig);
    // The ringing one got our CANCEL (its scenario answers it 200 and the INVITE 487).
    let slow_run = slow.wait(SIPP_WAIT);
    assert_eq!(
        slow_run.stat("SuccessfulCall(C)"),
        1,
        "{}",
        slow_run.describe()
    );
    let quick_run = quick.wait(SIPP_WAIT);
    assert_eq!(
        quick_run.stat("SuccessfulCall(C)"),
        1,
        "{}",
        quick_run.describe()
    );

    assert_eq!(
        after.param("DialCallStatus"),
        Some("completed"),
        "{after:?}"
    );
    let calls = t.stop_and_read_calls();
    let children = streams(&calls, "outbound-dial");
    assert_eq!(children.len(), 2, "{calls:#?}");
    let answered: Vec<_> = children
        .iter()
        .filter(|(_, events)| types(events).contains(&"call.answered"))
        .collect();
    assert_eq!(
        answered.len(),
        1,
        "exactly one child is bridged: {children:#?}"
    );
    assert_eq!(after.param("DialCallSid"), Some(answered[0].0.as_str()));
    assert!(answered[0].1[0]["data"]["to"]
        .as_str()
        .is_some_and(|to| to.contains("quick")));
    let (_, canceled) = children
        .iter()
        .find(|(_, events)| !types(events).contains(&"call.answered"))
        .expect("the other child");
    assert_eq!(
        types(canceled),
        ["call.initiated", "call.ringing", "call.completed"]
    );
    assert_eq!(last(canceled)["status"], "canceled", "{canceled:#?}");
    assert_eq!(last(canceled)["sip_code"], 487);
}

#[test]
fn a_number_goes_through_the_sip_trunk_and_time_limit_ends_the_bridge() {
    // The carrier answers with telephone-event and waits for our BYE: timeLimit sends it.
    let scratch = tempfile::tempdir().expect("dir");
    let events = scenario("uas_events_wait_bye.xml");
    let carrier = spawn_sipp(
        None,
        &[
            "-sf",
            events.to_str().expect("utf-8"),
            "-m",
            "1",
            "-trace_msg",
            "-message_file",
            "messages.log",
        ],
    );
    let carrier_port = carrier.port;
    let trunk = format!("sip:127.0.0.1:{carrier_port}");
    let dial = r#"<Response><Dial action="/after" timeLimit="3" callerId="+15550009999"><Number sendDigits="1w2" statusCallback="/child" statusCallbackEvent="ringing answered">+1 (555) 123-0000</Number></Dial></Response>"#;
    let mut t = start("dial-trunk", dial, &["--sip-trunk", &trunk]);
    let to_carrier = Capture::start(scratch.path(), carrier.media_port);
    let (sig, _rtp, _) = call(&t, "dial-trunk", Law::Ulaw);
    let after = action(&t);
    answer_bye(&t, &sig);
    // sendDigits went to the child as RFC 4733 events, as tshark reads them.
    assert_eq!(to_carrier.stop().digits(), "12");
    let run = carrier.wait(SIPP_WAIT);
    assert_eq!(
        run.stat("SuccessfulCall(C)"),
        1,
        "our BYE: {}",
        run.describe()
    );
    let invite_line = run
        .messages
        .lines()
        .find(|l| l.starts_with("INVITE "))
        .unwrap_or_else(|| panic!("no INVITE in {}", run.messages));
    assert!(
        invite_line.starts_with(&format!(
            "INVITE sip:+15551230000@127.0.0.1:{}",
            carrier_port
        )),
        "{invite_line}"
    );
    assert!(
        run.messages.contains("From: <sip:+15550009999@"),
        "callerId is the From: {}",
        run.messages
    );
    assert_eq!(
        after.param("DialCallStatus"),
        Some("completed"),
        "{after:?}"
    );
    assert_eq!(after.param("DialSipCallId"), None, "not a <Sip> child");
    let duration: u64 = after
        .param("DialCallDuration")
        .and_then(|d| d.parse().ok())
        .expect("duration");
    assert!((3..=4).contains(&duration), "timeLimit=3: {duration}");
    let calls = t.stop_and_read_calls();
    let (_, child) = streams(&calls, "outbound-dial")[0];
    assert_eq!(last(child)["hung_up_by"], "local");
    // The noun's statusCallback is the child's call.routed, right after call.initiated.
    assert_eq!(types(child)[..2], ["call.initiated", "call.routed"]);
    let routed = &child[1]["data"];
    assert_eq!(routed["status_callback"], t.app.url("/child"), "{routed}");
    assert_eq!(
        routed["status_callback_events"],
        serde_json::json!(["ringing", "answered"])
    );
}

#[test]
fn a_number_without_a_trunk_is_failed_with_a_13224() {
    let dial = r#"<Response><Dial action="/after"><Number>+15551230000</Number></Dial></Response>"#;
    let mut t = start("dial-no-trunk", dial, &[]);
    let (sig, _rtp, _) = call(&t, "dial-no-trunk", Law::Ulaw);
    let after = action(&t);
    answer_bye(&t, &sig);
    assert_eq!(after.param("DialCallStatus"), Some("failed"), "{after:?}");
    assert_eq!(after.param("DialCallSid"), None, "nothing was dialled");
    let calls = t.stop_and_read_calls();
    assert!(streams(&calls, "outbound-dial").is_empty(), "{calls:#?}");
    let (_, parent) = streams(&calls, "inbound")[0];
    let notification = parent
        .iter()
        .find(|e| e["type"] == "call.notification.raised")
        .unwrap_or_else(|| panic!("no notification: {parent:#?}"));
    assert_eq!(notification["data"]["error_code"], 13224);
}

/// Sends silence from the caller until something comes back through the bridge (the child
/// echoes); returns the next sequence number.
fn until_bridged(rtp: &UdpSocket, server_rtp: &str, pt: u8, silence: u8) -> u16 {
    rtp.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut buf = vec![0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seq = 100u16;
    loop {
        assert!(Instant::now() < deadline, "no echo through the bridge");
        let packet = rtp_packet(pt, false, seq, u32::from(seq) * 160, 77, &[silence; 160]);
        rtp.send_to(&packet, server_rtp).expect("send");
        seq += 1;
        if rtp.recv_from(&mut buf).is_ok() {
            return seq;
        }
    }
}

#[test]
fn hangup_on_star_hangs_up_the_child_and_the_caller_goes_on_with_the_action() {
    let callee = spawn_sipp(None, &["-sn", "uas", "-rtp_echo", "-m", "1"]);
    let dial = format!(
        r#"<Response><Dial action="/after" hangupOnStar="true"><Sip>{}</Sip></Dial></Response>"#,
        callee.uri("agent")
    );
    let mut t = start("dial-star", &dial, &[]);
    let (sig, rtp, answer) = call(&t, "dial-star", Law::Ulaw);
    let server_rtp = answered_rtp(&answer);
    let seq = until_bridged(&rtp, &server_rtp, 0, 0xFF);
    // `*` is event 10 (RFC 4733): a start, then three end packets.
    for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
        let event = TelephoneEvent {
            event: 10,
            end,
            volume: 10,
            duration: 160 * (i as u16 + 1),
        };
        let packet = rtp_packet(101, i == 0, seq + i as u16, 90_000, 77, &event.to_bytes());
        rtp.send_to(&packet, &server_rtp).expect("send event");
    }
    let after = action(&t);
    answer_bye(&t, &sig);
    let run = callee.wait(SIPP_WAIT);
    assert_eq!(
        run.stat("SuccessfulCall(C)"),
        1,
        "the child got our BYE: {}",
        run.describe()
    );
    assert_eq!(
        after.param("DialCallStatus"),
        Some("completed"),
        "{after:?}"
    );
    assert_eq!(after.param("DialBridged"), Some("true"));
    let calls = t.stop_and_read_calls();
    let (_, parent) = streams(&calls, "inbound")[0];
    assert!(
        parent
            .iter()
            .any(|e| e["type"] == "dtmf.received" && e["data"]["digit"] == "*"),
        "{parent:#?}"
    );
    let (_, child) = streams(&calls, "outbound-dial")[0];
    assert_eq!(last(child)["hung_up_by"], "local");
    assert_eq!(last(child)["status"], "completed");
}

#[test]
fn answer_on_bridge_answers_the_caller_only_after_the_child_answers() {
    let ring = scenario("uas_ring_answer.xml");
    let callee = spawn_sipp(
        None,
        &[
            "-sf",
            ring.to_str().expect("utf-8"),
            "-d",
            "2000",
            "-m",
            "1",
        ],
    );
    let dial = format!(
        r#"<Response><Dial action="/after" answerOnBridge="true"><Sip>{}</Sip></Dial></Response>"#,
        callee.uri("agent")
    );
    let mut t = start("dial-answer-on-bridge", &dial, &[]);
    let sent = Instant::now();
    let (sig, _rtp, _) = call(&t, "dial-aob", Law::Ulaw);
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(1800),
        "the caller's 200 came {waited:?} after its INVITE, before the child's"
    );
    let after = action(&t);
    answer_bye(&t, &sig);
    callee.wait(SIPP_WAIT);
    assert_eq!(
        after.param("DialCallStatus"),
        Some("completed"),
        "{after:?}"
    );
    let calls = t.stop_and_read_calls();
    let answered_at = |events: &Vec<Value>| -> String {
        events
            .iter()
            .find(|e| e["type"] == "call.answered")
            .and_then(|e| e["occurred_at"].as_str())
            .unwrap_or_else(|| panic!("not answered: {events:#?}"))
            .to_string()
    };
    let (_, parent) = streams(&calls, "inbound")[0];
    let (_, child) = streams(&calls, "outbound-dial")[0];
    assert!(
        answered_at(child) <= answered_at(parent),
        "{parent:#?}\n{child:#?}"
    );
}

#[test]
fn answer_on_bridge_with_nobody_answering_runs_the_action_on_an_unanswered_caller() {
    let ringing = scenario("uas_no_answer.xml");
    let callee = spawn_sipp(None, &["-sf", ringing.to_str().expect("utf-8"), "-m", "1"]);
    let dial = format!(
        r#"<Response><Dial action="/after" answerOnBridge="true" timeout="5"><Sip>{}</Sip></Dial></Response>"#,
        callee.uri("agent")
    );
    // `<Hangup>` first in a document answers (as Twilio); `<Reject>` keeps it unanswered.
    let mut t = Telephony::start_app(
        "dial-aob-no-answer",
        &[
            ("/voice", Reply::twiml(&dial)),
            ("/after", Reply::twiml("<Response><Reject/></Response>")),
        ],
        &[],
    );
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp socket");
    let local = sig.local_addr().expect("addr").port();
    let invite = request(
        "INVITE",
        t.sip_port,
        local,
        "dial-aob-none",
        "Content-Type: application/sdp\r\n",
        &offer(&rtp, Law::Ulaw, 1),
    );
    let final_response =
        exchange(&sig, &t.target(), &invite, Duration::from_secs(20)).expect("a final response");
    assert!(
        final_response.starts_with("SIP/2.0 603"),
        "never answered, then rejected: {final_response}"
    );
    let after = action(&t);
    let run = callee.wait(SIPP_WAIT);
    assert_eq!(
        run.stat("SuccessfulCall(C)"),
        1,
        "our CANCEL: {}",
        run.describe()
    );
    assert_eq!(
        after.param("DialCallStatus"),
        Some("no-answer"),
        "{after:?}"
    );
    assert_eq!(after.param("CallStatus"), Some("ringing"), "{after:?}");
    let calls = t.stop_and_read_calls();
    let (_, parent) = streams(&calls, "inbound")[0];
    assert!(!types(parent).contains(&"call.answered"), "{parent:#?}");
}

/// `wav` as raw G.711 (`al` or `ul`), encoded by sox.
fn encode(wav: &std::path::Path, kind: &str) -> Vec<u8> {
    let out = wav.with_extension(kind);
    run_tool(
        &sox(),
        &[
            wav.to_str().expect("utf-8"),
            "-t",
            kind,
            "-r",
            "8000",
            "-c",
            "1",
            out.to_str().expect("utf-8"),
        ],
    );
    std::fs::read(&out).expect("encoded audio")
}

#[test]
fn audio_crosses_the_bridge_both_ways_as_tshark_and_sox_see_it() {
    let scratch = tempfile::tempdir().expect("dir");
    let d = scratch.path();
    // The far end: SIPp's uas in µ-law, echoing what it gets; the caller speaks A-law.
    let callee = spawn_sipp(None, &["-sn", "uas", "-rtp_echo", "-m", "1"]);
    let dial = format!(
        r#"<Response><Dial action="/after"><Sip>{}</Sip></Dial></Response>"#,
        callee.uri("agent")
    );
    let mut t = start("dial-audio", &dial, &[]);
    let tone = beeps(
        d,
        "spoken",
        &[(440, 250), (0, 150), (880, 400), (0, 150), (660, 300)],
    );
    let spoken = encode(&tone, "al");
    let (sig, rtp, answer) = call(&t, "dial-audio", Law::Alaw);
    let server_rtp = answered_rtp(&answer);
    let to_child = Capture::start(d, callee.media_port);
    let to_caller = Capture::start(d, rtp.local_addr().expect("addr").port());
    let mut seq = until_bridged(&rtp, &server_rtp, 8, 0xD5);
    // The tone, paced at 20 ms, then half a second of silence for the echo to come back.
    let mut chunks: Vec<Vec<u8>> = spoken.chunks(160).map(<[u8]>::to_vec).collect();
    chunks.extend(std::iter::repeat_n(vec![0xD5; 160], 25));
    let start = Instant::now();
    for (i, chunk) in chunks.iter().enumerate() {
        let packet = rtp_packet(8, i == 0, seq, u32::from(seq) * 160, 77, chunk);
        rtp.send_to(&packet, &server_rtp).expect("send");
        seq = seq.wrapping_add(1);
        let due = start + Duration::from_millis(20 * (i as u64 + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(300));
    let child_heard = to_child.stop();
    let caller_heard = to_caller.stop();
    let bye = crate::sip::in_dialog(&t, &sig, &answer, "dial-audio", ("BYE", 2), "");
    let ok = exchange(&sig, &t.target(), &bye, Duration::from_secs(5)).expect("BYE answered");
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    callee.wait(SIPP_WAIT);

    let reference = samples(&tone);
    // Caller → child: µ-law (transcoded by the bridge) at the child's port.
    let at_child = samples(&decode_ulaw(
        d,
        "at-child",
        &child_heard.audio_by_arrival(0),
    ));
    locate(&at_child, &reference).assert_matches("the caller's audio at the child");
    // Child → caller: the child's echo, A-law again at the caller's port.
    let at_caller = samples(&decode_alaw(
        d,
        "at-caller",
        &caller_heard.audio_by_arrival(8),
    ));
    locate(&at_caller, &reference).assert_matches("the child's audio at the caller");
    t.stop_and_read_calls();
}

#[test]
fn redirecting_the_caller_through_the_rest_api_hangs_up_the_child_and_runs_the_new_twiml() {
    let callee = spawn_sipp(None, &["-sn", "uas", "-rtp_echo", "-m", "1"]);
    let dial = format!(
        r#"<Response><Dial action="/after"><Sip>{}</Sip></Dial></Response>"#,
        callee.uri("agent")
    );
    let mut t = start("dial-rest-redirect", &dial, &[]);
    let (sig, rtp, answer) = call(&t, "dial-rest", Law::Ulaw);
    until_bridged(&rtp, &answered_rtp(&answer), 0, 0xFF);
    let parent_sid = t.app.received_at("/voice")[0]
        .param("CallSid")
        .expect("CallSid")
        .to_string();
    let api = crate::Api::new(t.server(), &t.account);
    let path = format!(
        "/2010-04-01/Accounts/{}/Calls/{parent_sid}.json",
        t.account.sid
    );
    let twiml = "<Response><Hangup/></Response>";
    let status = t
        .app
        .block_on(async { api.post(&path, &[("Twiml", twiml)]).await.status() });
    assert_eq!(status.as_u16(), 200, "the redirect is accepted");
    answer_bye(&t, &sig);
    let run = callee.wait(SIPP_WAIT);
    assert_eq!(
        run.stat("SuccessfulCall(C)"),
        1,
        "the child got our BYE: {}",
        run.describe()
    );
    assert!(
        t.app.received_at("/after").is_empty(),
        "a redirected dial has no action"
    );
    let calls = t.stop_and_read_calls();
    let (_, child) = streams(&calls, "outbound-dial")[0];
    assert_eq!(last(child)["hung_up_by"], "local");
    assert_eq!(last(child)["status"], "completed");
}
