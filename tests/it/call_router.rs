//! The call router, black box: the real server routes INVITEs by the number they call and runs
//! the number's TwiML application, written here ([`switchboard::bench::voice_app`]): what the
//! caller gets on the wire, what the application is asked, and what the call's stream and its
//! notifications (`/Calls/{CA}/Notifications.json`) record. The must-show scenario with the
//! official twilio library's application, SIPp's RFC 4733 digits and the audio checked by
//! tshark and sox is in `voice_app.rs`.

use crate::sip::{answer_bye, exchange, request, tone_wav, types, Telephony, NUMBER};
use crate::sip_calls::{answered_rtp, offer};
use crate::Api;
use serde_json::Value;
use std::net::UdpSocket;
use std::time::Duration;
use switchboard::bench::voice_app::Reply;
use switchboard_telephony::Law;

/// Calls the fixture's number from a caller written here; returns the final response.
fn call(t: &Telephony, sig: &UdpSocket, rtp: &UdpSocket, call_id: &str) -> String {
    let local = sig.local_addr().expect("addr").port();
    let invite = request(
        "INVITE",
        t.sip_port,
        local,
        call_id,
        "Content-Type: application/sdp\r\n",
        &offer(rtp, Law::Ulaw, 1),
    );
    exchange(sig, &t.target(), &invite, Duration::from_secs(10)).expect("a final response")
}

/// The RTP packets (payload type 0) that reach `rtp` until it is quiet for `quiet`.
fn tone_packets(rtp: &UdpSocket, quiet: Duration) -> usize {
    rtp.set_read_timeout(Some(quiet)).expect("timeout");
    let mut buf = vec![0u8; 2048];
    let mut n = 0;
    while let Ok((len, _)) = rtp.recv_from(&mut buf) {
        if switchboard_telephony::rtp::RtpPacket::parse(&buf[..len])
            .is_ok_and(|p| p.header.payload_type == 0)
        {
            n += 1;
        }
    }
    n
}

/// The call's notifications, read over the API (waiting for the read model).
fn notifications(t: &Telephony, call_sid: &str, at_least: usize) -> Vec<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let api = Api::with_base(t.http_base(), Some((&t.account.sid, &t.account.token)));
        let path = format!(
            "/2010-04-01/Accounts/{}/Calls/{call_sid}/Notifications.json",
            t.account.sid
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let page = api.get_json(&path).await;
            let list = page["notifications"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if list.len() >= at_least || std::time::Instant::now() > deadline {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

#[test]
fn reject_busy_answers_486_and_never_200_and_the_call_ends_busy() {
    let mut t = Telephony::start(
        "router-reject",
        r#"<Response><Reject reason="busy"/></Response>"#,
    );
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp");
    let first = call(&t, &sig, &rtp, "reject-busy");
    assert!(
        first.starts_with("SIP/2.0 486"),
        "the first final response is 486: {first}"
    );
    let calls = t.stop_and_read_calls();
    let events = calls.values().next().expect("one call");
    assert!(
        !types(events).contains(&"call.answered"),
        "{:?}",
        types(events)
    );
    let done = &events.last().expect("events")["data"];
    assert_eq!(done["status"], "busy", "{done}");
    assert_eq!(done["sip_code"], 486);
    assert_eq!(done["duration_ms"], 0);
    let asked = t.app.received_at("/voice");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].param("CallStatus"), Some("ringing"));
    assert_eq!(asked[0].param("Direction"), Some("inbound"));
    assert_eq!(asked[0].param("To"), Some(NUMBER));
}

#[test]
fn reject_without_a_reason_answers_603_and_the_call_ends_no_answer() {
    let mut t = Telephony::start("router-reject-603", "<Response><Reject/></Response>");
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp");
    let first = call(&t, &sig, &rtp, "reject-603");
    assert!(first.starts_with("SIP/2.0 603"), "{first}");
    let calls = t.stop_and_read_calls();
    let done = &calls.values().next().expect("call").last().expect("events")["data"];
    assert_eq!(done["status"], "no-answer", "{done}");
}

/// A server whose `/voice` answers `voice` and whose `/fallback` plays the tone.
fn with_fallback(tag: &str, voice: Reply) -> Telephony {
    let scratch = tempfile::tempdir().expect("dir");
    let (wav, _) = tone_wav(scratch.path(), 1);
    Telephony::start_app(
        tag,
        &[
            ("/voice", voice),
            (
                "/fallback",
                Reply::twiml("<Response><Play>/tone.wav</Play></Response>"),
            ),
            ("/tone.wav", Reply::wav(std::fs::read(&wav).expect("wav"))),
        ],
        &[],
    )
}

/// Runs one call to a fallback-playing application: the tone arrives, then our BYE. Returns
/// the call's SID (from the application's first request) and the fallback request's
/// parameters; the server keeps running.
fn fallback_call(t: &Telephony, call_id: &str) -> (String, Vec<(String, String)>) {
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp");
    let answer = call(t, &sig, &rtp, call_id);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    let _ = answered_rtp(&answer);
    assert_eq!(
        tone_packets(&rtp, Duration::from_millis(1500)),
        50,
        "the fallback's tone"
    );
    answer_bye(t, &sig);
    let fallback = t.app.received_at("/fallback");
    assert_eq!(fallback.len(), 1, "the fallback was asked once");
    let params = fallback[0].params.clone();
    let call_sid = param(&params, "CallSid").expect("CallSid").to_string();
    (call_sid, params)
}

/// Stops the server and returns the one call's events.
fn the_call(t: &mut Telephony) -> Vec<Value> {
    let calls = t.stop_and_read_calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    calls.into_values().next().expect("one call")
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn an_application_answering_500_sends_the_call_to_the_fallback_with_error_code_and_url() {
    let mut t = with_fallback("router-500", Reply::status(500));
    let voice_url = t.app.url("/voice");
    let (_, params) = fallback_call(&t, "fallback-500");
    let events = the_call(&mut t);
    let code = param(&params, "ErrorCode").expect("ErrorCode").to_string();
    assert!(
        code == "11200" || code == "11217",
        "HTTP 500 is a retrieval failure: {code}"
    );
    assert_eq!(param(&params, "ErrorUrl"), Some(voice_url.as_str()));
    assert_eq!(param(&params, "CallStatus"), Some("ringing"));
    let kinds = types(&events);
    assert!(kinds.contains(&"call.notification.raised"), "{kinds:?}");
    assert!(kinds.contains(&"media.played"), "{kinds:?}");
    let raised = events
        .iter()
        .find(|e| e["type"] == "call.notification.raised")
        .expect("notification");
    assert_eq!(raised["data"]["error_code"].to_string(), code);
}

#[test]
fn malformed_twiml_is_a_12100_notification_and_the_fallback_plays() {
    let mut t = with_fallback(
        "router-12100",
        Reply::twiml("<Response><Say>unclosed</Response"),
    );
    let (call_sid, params) = fallback_call(&t, "fallback-12100");
    assert_eq!(param(&params, "ErrorCode"), Some("12100"));
    // Listed under the call, as Twilio lists a call's notifications.
    let listed = notifications(&t, &call_sid, 1);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["error_code"], "12100");
    assert_eq!(listed[0]["call_sid"], call_sid.as_str());
    let events = the_call(&mut t);
    let raised: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "call.notification.raised")
        .collect();
    assert_eq!(raised.len(), 1, "{events:#?}");
    assert_eq!(raised[0]["data"]["error_code"], 12100);
}

#[test]
fn an_application_that_is_down_sends_the_call_to_the_fallback() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let t = with_fallback("router-down", Reply::status(200));
    crate::sip::own_number(
        t.server(),
        &t.account,
        "+15550100002",
        &format!("http://{closed}/voice"),
        Some(&t.app.url("/fallback")),
    );
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp");
    let local = sig.local_addr().expect("addr").port();
    let invite = request(
        "INVITE",
        t.sip_port,
        local,
        "fallback-down",
        "Content-Type: application/sdp\r\n",
        &offer(&rtp, Law::Ulaw, 1),
    )
    .replace(NUMBER, "+15550100002");
    let answer = exchange(&sig, &t.target(), &invite, Duration::from_secs(30)).expect("answered");
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    assert_eq!(tone_packets(&rtp, Duration::from_millis(1500)), 50);
    let fallback = t.app.received_at("/fallback");
    assert_eq!(fallback.len(), 1);
    assert_eq!(
        fallback[0].param("ErrorCode"),
        Some("11205"),
        "a connection failure"
    );
}

#[test]
fn a_gather_with_no_input_falls_through_to_the_next_verb() {
    let scratch = tempfile::tempdir().expect("dir");
    let (wav, _) = tone_wav(scratch.path(), 1);
    let twiml = r#"<Response><Gather timeout="1" numDigits="1" action="/digits"/><Play>/tone.wav</Play></Response>"#;
    let mut t = Telephony::start_app(
        "router-gather-empty",
        &[
            ("/voice", Reply::twiml(twiml)),
            ("/tone.wav", Reply::wav(std::fs::read(&wav).expect("wav"))),
        ],
        &[],
    );
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp");
    let answer = call(&t, &sig, &rtp, "gather-empty");
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    let started = std::time::Instant::now();
    assert_eq!(
        tone_packets(&rtp, Duration::from_millis(2500)),
        50,
        "the verb after the Gather"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "after the gather's 1 s timeout"
    );
    answer_bye(&t, &sig);
    assert!(
        t.app.received_at("/digits").is_empty(),
        "no input: the action is not asked"
    );
    let calls = t.stop_and_read_calls();
    let events = calls.values().next().expect("call");
    assert_eq!(events.last().expect("end")["data"]["hung_up_by"], "local");
}
