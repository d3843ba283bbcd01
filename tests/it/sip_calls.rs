//! Calls switchboard places and connects, black box: `switchboard call` answered by SIPp
//! as the callee (Debian's `sip-tester`), `<Dial><Sip>URI</Sip></Dial>` relaying a caller
//! written here to a SIPp callee that echoes RTP, and re-INVITEs moving a call's media. Each test
//! checks the wire and the recorded call streams together.

use crate::sip::{
    answer_bye, exchange, in_dialog, read_calls, request, rtp_packet, scenario, spawn_sipp,
    tone_wav, types, Telephony,
};
use crate::{cli_output, create_account, DataDir};
use serde_json::Value;
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};
use switchboard_telephony::rtp::{RtpPacket, TelephoneEvent};
use switchboard_telephony::Law;

const SIPP_WAIT: Duration = Duration::from_secs(40);

/// Runs `switchboard call`; returns whether it succeeded and the JSON it printed.
fn place(dir: &Path, account: &str, to: &str, extra: &[&str]) -> (bool, Value) {
    let mut args = vec!["call", "--account", account, "--to", to];
    args.extend_from_slice(extra);
    let out = cli_output(dir, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("switchboard call printed no JSON ({e}): {stdout}\n{stderr}"));
    (out.status.success(), json)
}

/// The only call stream, or the one whose first event has this direction.
fn stream<'a>(
    calls: &'a std::collections::BTreeMap<String, Vec<Value>>,
    direction: &str,
) -> (&'a String, &'a Vec<Value>) {
    calls
        .iter()
        .find(|(_, events)| events[0]["data"]["direction"] == direction)
        .unwrap_or_else(|| panic!("no {direction} call in {calls:#?}"))
}

#[test]
fn a_sipp_uas_answers_a_call_placed_by_the_call_command_which_plays_then_hangs_up() {
    let dir = DataDir::new("sip-outbound");
    let account = create_account(dir.path(), "Outbound");
    let scratch = tempfile::tempdir().expect("dir");
    let (wav, _) = tone_wav(scratch.path(), 1);
    let callee = spawn_sipp(None, &["-sn", "uas", "-m", "1"]);
    let media = format!("play:{}", wav.display());
    let (ok, result) = place(
        dir.path(),
        &account.sid,
        &callee.uri("agent"),
        &["--media", &media],
    );
    let media_port = callee.media_port;
    let to = callee.uri("agent");
    let run = callee.wait(SIPP_WAIT);
    assert!(ok, "{result}\n{}", run.describe());
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(run.stat("SuccessfulCall(C)"), 1, "{}", run.describe());
    assert_eq!(result["answered"], true);
    assert_eq!(result["status"], "completed");

    let calls = read_calls(dir.path());
    assert_eq!(calls.len(), 1);
    let (sid, events) = calls.iter().next().expect("one call");
    assert_eq!(result["call_sid"], sid.as_str());
    assert_eq!(
        types(events),
        [
            "call.initiated",
            "call.ringing",
            "call.answered",
            "media.played",
            "call.completed"
        ]
    );
    let initiated = &events[0]["data"];
    assert_eq!(initiated["direction"], "outbound-api");
    assert_eq!(initiated["to"], to);
    assert!(initiated.get("parent_call_sid").is_none());
    // SIPp's uas answers PCMU at its media port whatever was offered.
    assert_eq!(events[2]["data"]["codec"], "PCMU");
    assert_eq!(
        events[2]["data"]["remote_rtp"],
        format!("127.0.0.1:{media_port}")
    );
    assert_eq!(events[3]["data"]["packets"], 50);
    assert_eq!(events[3]["data"]["completed"], true);
    let done = &events[4]["data"];
    assert_eq!(done["hung_up_by"], "local");
    assert_eq!(done["sip_code"], 200);
    assert!(done["duration_ms"].as_u64().expect("duration") >= 950);
}

#[test]
fn a_callee_that_hangs_up_first_is_recorded_as_a_remote_hang_up() {
    let dir = DataDir::new("sip-outbound-bye");
    let account = create_account(dir.path(), "Outbound");
    let file = scenario("uas_bye.xml");
    let callee = spawn_sipp(None, &["-sf", file.to_str().expect("utf-8"), "-m", "1"]);
    let (ok, result) = place(
        dir.path(),
        &account.sid,
        &callee.uri("agent"),
        &["--media", "echo"],
    );
    let run = callee.wait(SIPP_WAIT);
    assert!(ok, "{result}\n{}", run.describe());
    assert_eq!(run.stat("SuccessfulCall(C)"), 1, "{}", run.describe());
    let calls = read_calls(dir.path());
    let (_, events) = calls.iter().next().expect("one call");
    assert_eq!(
        types(events),
        [
            "call.initiated",
            "call.ringing",
            "call.answered",
            "call.completed"
        ]
    );
    let done = &events[3]["data"];
    assert_eq!(done["hung_up_by"], "remote");
    assert_eq!(done["status"], "completed");
    assert!(
        done["duration_ms"].as_u64().expect("duration") >= 400,
        "{done}"
    );
}

#[test]
fn a_busy_callee_gives_busy_486_and_one_that_never_answers_is_canceled_at_the_ring_timeout() {
    let dir = DataDir::new("sip-outbound-fail");
    let account = create_account(dir.path(), "Outbound");

    let busy = scenario("uas_busy.xml");
    let callee = spawn_sipp(None, &["-sf", busy.to_str().expect("utf-8"), "-m", "1"]);
    let (ok, result) = place(dir.path(), &account.sid, &callee.uri("busy"), &[]);
    let run = callee.wait(SIPP_WAIT);
    assert!(!ok, "an unanswered call fails the command: {result}");
    assert_eq!(result["status"], "busy");
    assert_eq!(result["sip_code"], 486);
    assert_eq!(result["answered"], false);
    assert_eq!(
        run.stat("SuccessfulCall(C)"),
        1,
        "the 486 was ACKed: {}",
        run.describe()
    );

    let silent = scenario("uas_no_answer.xml");
    let callee = spawn_sipp(None, &["-sf", silent.to_str().expect("utf-8"), "-m", "1"]);
    let started = Instant::now();
    let (ok, result) = place(
        dir.path(),
        &account.sid,
        &callee.uri("nobody"),
        &["--ring-timeout-secs", "1"],
    );
    let run = callee.wait(SIPP_WAIT);
    assert!(!ok);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(result["status"], "no-answer");
    assert_eq!(result["sip_code"], 487);
    assert_eq!(
        run.stat("SuccessfulCall(C)"),
        1,
        "SIPp got the CANCEL and its 487 was ACKed: {}",
        run.describe()
    );

    let calls = read_calls(dir.path());
    assert_eq!(calls.len(), 2);
    let (_, busy_events) = calls
        .iter()
        .find(|(_, events)| events.last().expect("event")["data"]["sip_code"] == 486)
        .expect("the busy call");
    assert_eq!(types(busy_events), ["call.initiated", "call.completed"]);
    assert_eq!(busy_events[1]["data"]["status"], "busy");
    assert_eq!(busy_events[1]["data"]["hung_up_by"], "remote");
    let unanswered = &calls[result["call_sid"].as_str().expect("call_sid")];
    assert_eq!(
        types(unanswered),
        ["call.initiated", "call.ringing", "call.completed"]
    );
    assert_eq!(unanswered[2]["data"]["status"], "no-answer");
    assert_eq!(unanswered[2]["data"]["duration_ms"], 0);
}

/// A caller written here: INVITE with a PCMA + telephone-event offer for `rtp`, returns
/// the 200's text.
pub(crate) fn invite(
    t: &Telephony,
    sig: &UdpSocket,
    rtp: &UdpSocket,
    call_id: &str,
    law: Law,
) -> String {
    let local = sig.local_addr().expect("addr").port();
    let offer = offer(rtp, law, 1);
    let invite = request(
        "INVITE",
        t.sip_port,
        local,
        call_id,
        "Content-Type: application/sdp\r\n",
        &offer,
    );
    let answer = exchange(sig, &t.target(), &invite, Duration::from_secs(5)).expect("answered");
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    answer
}

pub(crate) fn offer(rtp: &UdpSocket, law: Law, version: u32) -> String {
    let pt = match law {
        Law::Ulaw => 0,
        Law::Alaw => 8,
    };
    format!(
        "v=0\r\no=- 9 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP {pt} 101\r\na=rtpmap:{pt} {}/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n",
        rtp.local_addr().expect("addr").port(),
        law.encoding_name(),
    )
}

/// The RTP address in an SDP answer.
pub(crate) fn answered_rtp(answer: &str) -> String {
    let port: u16 = answer
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the answer has an m=audio port");
    format!("127.0.0.1:{port}")
}

#[test]
fn a_bridged_call_relays_audio_both_ways_transcoding_and_the_callers_bye_hangs_up_both() {
    // The far end: SIPp's uas answering PCMU and echoing every RTP packet (-rtp_echo).
    let callee = spawn_sipp(None, &["-sn", "uas", "-rtp_echo", "-m", "1"]);
    let dial = format!(
        "<Response><Dial><Sip>{}</Sip></Dial></Response>",
        callee.uri("agent")
    );
    let mut t = Telephony::start("sip-bridge", &dial);
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp socket");
    rtp.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // The caller speaks A-law; SIPp answers µ-law: the bridge transcodes both ways.
    let answer = invite(&t, &sig, &rtp, "bridge-check", Law::Alaw);
    let server_rtp = answered_rtp(&answer);

    // Every A-law code once per packet, shifted, so each packet differs.
    let payload = |i: u16| -> Vec<u8> { (0..160u16).map(|b| ((b + i * 7) % 256) as u8).collect() };
    let round_trip =
        |a: u8| Law::Alaw.encode(Law::Ulaw.decode(Law::Ulaw.encode(Law::Alaw.decode(a))));
    let mut buf = vec![0u8; 2048];
    // Until the far end answered and echoes, packets are not bridged yet: send until one
    // returns (bounded), then check 25 in a row.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seq = 1000u16;
    loop {
        assert!(Instant::now() < deadline, "no echo through the bridge");
        let packet = rtp_packet(8, false, seq, u32::from(seq) * 160, 77, &payload(seq));
        rtp.send_to(&packet, &server_rtp).expect("send");
        seq += 1;
        if rtp.recv_from(&mut buf).is_ok() {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    while rtp.recv_from(&mut buf).is_ok() {}
    let mut echoed = 0;
    // The caller's leg is one RTP stream of the server's own, whatever it carries (a Say, then
    // the bridge): its SSRC and sequence numbers, continuing packet by packet.
    let mut ours: Option<(u32, u16)> = None;
    for i in 0..25u16 {
        let s = seq + i;
        let sent = payload(s);
        let packet = rtp_packet(8, i == 0, s, u32::from(s) * 160, 77, &sent);
        rtp.send_to(&packet, &server_rtp).expect("send");
        let (n, from) = rtp.recv_from(&mut buf).expect("echo through the bridge");
        assert_eq!(
            from.to_string(),
            server_rtp,
            "the bridge answers from our leg's port"
        );
        let back = RtpPacket::parse(&buf[..n]).expect("RTP");
        assert_eq!(
            back.header.payload_type, 8,
            "PCMA again on the caller's leg"
        );
        if let Some((ssrc, last)) = ours {
            assert_eq!(back.header.ssrc, ssrc, "one SSRC on the caller's leg");
            assert_eq!(
                back.header.sequence,
                last.wrapping_add(1),
                "no sequence gap"
            );
        }
        assert_ne!(
            back.header.ssrc, 77,
            "the leg's own stream, not the far end's"
        );
        ours = Some((back.header.ssrc, back.header.sequence));
        let expected: Vec<u8> = sent.iter().map(|&a| round_trip(a)).collect();
        assert_eq!(back.payload, &expected[..], "A-law → µ-law → echo → A-law");
        echoed += 1;
    }
    assert_eq!(echoed, 25);
    // Key 5 on the caller's leg: recorded once on that leg's stream.
    for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
        let event = TelephoneEvent {
            event: 5,
            end,
            volume: 10,
            duration: 160 * (i as u16 + 1),
        };
        let packet = rtp_packet(101, i == 0, 3000 + i as u16, 90_000, 77, &event.to_bytes());
        rtp.send_to(&packet, &server_rtp).expect("send event");
    }
    std::thread::sleep(Duration::from_millis(200));

    let bye = in_dialog(&t, &sig, &answer, "bridge-check", ("BYE", 2), "");
    let ok = exchange(&sig, &t.target(), &bye, Duration::from_secs(5)).expect("BYE answered");
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let run = callee.wait(SIPP_WAIT);
    assert_eq!(
        run.code,
        Some(0),
        "the far end got our BYE: {}",
        run.describe()
    );
    assert_eq!(run.stat("SuccessfulCall(C)"), 1, "{}", run.describe());

    let calls = t.stop_and_read_calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    let (a_sid, a) = stream(&calls, "inbound");
    let (_, b) = stream(&calls, "outbound-dial");
    assert_eq!(
        types(a),
        [
            "call.initiated",
            "call.routed",
            "call.ringing",
            "call.instructions.fetched",
            "call.answered",
            "dtmf.received",
            "call.completed"
        ]
    );
    assert_eq!(a[4]["data"]["codec"], "PCMA");
    assert_eq!(a[5]["data"]["digit"], "5");
    assert_eq!(a[6]["data"]["hung_up_by"], "remote");
    assert_eq!(
        types(b),
        [
            "call.initiated",
            "call.ringing",
            "call.answered",
            "call.completed"
        ]
    );
    assert_eq!(b[0]["data"]["parent_call_sid"], a_sid.as_str());
    assert_eq!(b[2]["data"]["codec"], "PCMU");
    assert_eq!(b[3]["data"]["hung_up_by"], "local");
    assert_eq!(b[3]["data"]["status"], "completed");
}

#[test]
fn when_the_bridge_target_is_busy_the_caller_is_hung_up() {
    let busy = scenario("uas_busy.xml");
    let callee = spawn_sipp(None, &["-sf", busy.to_str().expect("utf-8"), "-m", "1"]);
    let dial = format!(
        "<Response><Dial><Sip>{}</Sip></Dial></Response>",
        callee.uri("agent")
    );
    let mut t = Telephony::start("sip-bridge-busy", &dial);
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp socket");
    invite(&t, &sig, &rtp, "bridge-busy", Law::Ulaw);
    answer_bye(&t, &sig);
    let run = callee.wait(SIPP_WAIT);
    assert_eq!(run.stat("SuccessfulCall(C)"), 1, "{}", run.describe());

    let calls = t.stop_and_read_calls();
    let (_, a) = stream(&calls, "inbound");
    let (_, b) = stream(&calls, "outbound-dial");
    // Without `action` the caller goes on with the next verb; there is none: we hang up.
    let a_end = &a.last().expect("events")["data"];
    assert_eq!(a_end["hung_up_by"], "local", "{a_end}");
    assert_eq!(a_end["status"], "completed", "{a_end}");
    assert_eq!(types(b), ["call.initiated", "call.completed"]);
    assert_eq!(b[1]["data"]["status"], "busy");
}

#[test]
fn a_re_invite_moves_the_media_and_one_that_drops_the_codec_gets_488() {
    let scratch = tempfile::tempdir().expect("dir");
    let (wav, _) = tone_wav(scratch.path(), 4);
    let mut t = Telephony::playing("sip-reinvite", &wav);
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
    let first = UdpSocket::bind("127.0.0.1:0").expect("rtp socket");
    let second = UdpSocket::bind("127.0.0.1:0").expect("rtp socket");
    for s in [&first, &second] {
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
    }
    let answer = invite(&t, &sig, &first, "reinvite", Law::Ulaw);
    let server_rtp = answered_rtp(&answer);
    let mut buf = vec![0u8; 2048];
    for _ in 0..5 {
        first
            .recv_from(&mut buf)
            .expect("playback reaches the first address");
    }

    // A re-offer without µ-law, the codec in use: 488, the call goes on.
    let pcma_only = offer(&second, Law::Alaw, 2);
    let refused = in_dialog(&t, &sig, &answer, "reinvite", ("INVITE", 2), &pcma_only);
    let reply = exchange(&sig, &t.target(), &refused, Duration::from_secs(5)).expect("answered");
    assert!(reply.starts_with("SIP/2.0 488"), "{reply}");
    first
        .recv_from(&mut buf)
        .expect("playback still reaches the first address");

    // The same codec at a new address: 200 from the same port; packets move there.
    let moved = offer(&second, Law::Ulaw, 3);
    let reinvite = in_dialog(&t, &sig, &answer, "reinvite", ("INVITE", 3), &moved);
    let reply = exchange(&sig, &t.target(), &reinvite, Duration::from_secs(5)).expect("answered");
    assert!(reply.starts_with("SIP/2.0 200"), "{reply}");
    assert_eq!(answered_rtp(&reply), server_rtp, "same RTP port");
    assert!(reply.contains("PCMU/8000"), "{reply}");
    for _ in 0..5 {
        let (n, _) = second
            .recv_from(&mut buf)
            .expect("playback reaches the new address");
        let packet = RtpPacket::parse(&buf[..n]).expect("RTP");
        assert_eq!(packet.header.payload_type, 0);
    }
    // Nothing more goes to the old address once the packets in flight are drained.
    std::thread::sleep(Duration::from_millis(100));
    first.set_nonblocking(true).expect("nonblocking");
    while first.recv_from(&mut buf).is_ok() {}
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        first.recv_from(&mut buf).is_err(),
        "no packet to the old address after the re-INVITE"
    );

    let bye = in_dialog(&t, &sig, &answer, "reinvite", ("BYE", 4), "");
    let ok = exchange(&sig, &t.target(), &bye, Duration::from_secs(5)).expect("BYE answered");
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let calls = t.stop_and_read_calls();
    let (_, events) = calls.iter().next().expect("one call");
    assert_eq!(
        events.last().expect("events")["data"]["hung_up_by"],
        "remote"
    );
    // The caller hung up during the 4 s tone: how much of it went out is on the record.
    let played = events
        .iter()
        .find(|e| e["type"] == "media.played")
        .expect("media.played for the interrupted <Play>");
    assert_eq!(played["data"]["completed"], false, "{played}");
    let packets = played["data"]["packets"].as_u64().expect("packets");
    assert!(
        (10..200).contains(&packets),
        "{packets} of the tone's 200 packets"
    );
}
