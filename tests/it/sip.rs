//! The telephony engine, black box: the real `switchboard serve` with its SIP engine on a
//! free UDP port, driven by SIPp (Debian's `sip-tester`, installed by `scripts/test.sh`) and
//! by raw datagrams, every call running a TwiML application written in the test; the call
//! events are read back with `switchboard tail` after the server stopped, so each test checks
//! the wire behaviour and the recorded history together. The fixture is `telephony.rs`.

pub(crate) use crate::telephony::*;
use serde_json::Value;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use switchboard::bench::voice_app::Reply;
use switchboard_telephony::Law;
/// SIPp's built-in `uac` (20 calls, 10/s, each held 1 s) over `transport` (`u1` or `t1`):
/// every call succeeds and its four events are on its stream.
fn steady_uac_run(tag: &str, transport: &str) {
    let mut t = Telephony::start(tag, WAIT);
    let calls = 20;
    let run = run_sipp(
        &t.target(),
        &[
            "-sn",
            "uac",
            "-t",
            transport,
            "-m",
            &calls.to_string(),
            "-r",
            "10",
            "-l",
            "10",
            "-d",
            "1000",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(0), "all calls succeed\n{}", run.describe());
    assert_eq!(run.stat("SuccessfulCall(C)"), calls, "{}", run.describe());
    assert_eq!(run.stat("FailedCall(C)"), 0, "{}", run.describe());

    let recorded = t.stop_and_read_calls();
    assert_eq!(recorded.len() as u64, calls, "one call stream per call");
    for (sid, events) in &recorded {
        assert_eq!(
            types(events),
            [
                "call.initiated",
                "call.routed",
                "call.ringing",
                "call.instructions.fetched",
                "call.answered",
                "call.dialog.recorded",
                "call.completed"
            ],
            "{sid}"
        );
        let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7], "{sid}");
        assert_eq!(events[0]["data"]["direction"], "inbound");
        assert_eq!(events[4]["data"]["codec"], "PCMU");
        assert_eq!(events[5]["data"]["role"], "uas");
        let done = &events[6]["data"];
        assert_eq!(done["status"], "completed", "{sid}: {done}");
        assert_eq!(done["sip_code"], 200);
        assert_eq!(done["hung_up_by"], "remote");
        // SIPp holds each call for -d 1000 ms.
        let ms = done["duration_ms"].as_u64().expect("duration");
        assert!((900..10_000).contains(&ms), "{sid}: duration {ms} ms");
    }
}

#[test]
fn sipp_uac_at_a_steady_rate_completes_every_call_and_each_call_is_recorded() {
    steady_uac_run("sip-uac", "u1");
}

#[test]
fn sipp_uac_over_tcp_completes_every_call_and_each_call_is_recorded() {
    steady_uac_run("sip-tcp", "t1");
}

#[test]
fn garbage_and_an_oversized_message_over_tcp_close_that_connection_only() {
    use std::io::{Read, Write};
    let t = Telephony::start("sip-tcp-garbage", WAIT);
    let target = t.target();
    // Garbage, then 100 kB with no end of headers (past the 64 kB message limit).
    let mut bad = std::net::TcpStream::connect(&target).expect("tcp connect");
    bad.write_all(b"\x00\x01garbage\r\n\r\nNOT SIP AT ALL\r\n\r\n")
        .expect("write");
    let _ = bad.write_all(&vec![b'X'; 100_000]);
    bad.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut sink = Vec::new();
    let _ = bad.read_to_end(&mut sink);
    assert!(
        !String::from_utf8_lossy(&sink).contains("SIP/2.0 200"),
        "nothing is answered on the broken connection"
    );
    // A new connection is served.
    let mut good = std::net::TcpStream::connect(&target).expect("tcp connect");
    let local = good.local_addr().expect("addr").port();
    let options = request("OPTIONS", t.sip_port, local, "tcp-options", "", "")
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    good.write_all(options.as_bytes()).expect("write");
    good.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = vec![0u8; 4096];
    let n = good.read(&mut buf).expect("an answer over TCP");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    assert!(answer.contains("Allow:"), "{answer}");
}

#[test]
fn a_cancel_before_the_answer_gets_487_and_the_call_is_recorded_as_canceled() {
    let mut t = Telephony::start(
        "sip-cancel",
        r#"<Response><Pause length="3"/><Hangup/></Response>"#,
    );
    let file = scenario("uac_cancel.xml");
    let run = run_sipp(
        &t.target(),
        &["-sf", file.to_str().expect("utf-8"), "-m", "3", "-r", "3"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(run.stat("SuccessfulCall(C)"), 3, "{}", run.describe());

    let recorded = t.stop_and_read_calls();
    assert_eq!(recorded.len(), 3);
    for (sid, events) in &recorded {
        // SIPp cancels as soon as it has the 180: whether the first document came back
        // before the CANCEL is a race, and either way nothing is answered.
        let kinds: Vec<&str> = types(events)
            .into_iter()
            .filter(|k| *k != "call.instructions.fetched")
            .collect();
        assert_eq!(
            kinds,
            [
                "call.initiated",
                "call.routed",
                "call.ringing",
                "call.completed"
            ],
            "{sid}"
        );
        let done = &events.last().expect("events")["data"];
        assert_eq!(done["status"], "canceled", "{sid}: {done}");
        assert_eq!(done["sip_code"], 487);
        assert_eq!(done["hung_up_by"], "remote");
        assert_eq!(done["duration_ms"], 0);
    }
}

/// The messages of a SIPp message trace that SIPp received and that start with `first_line`.
pub(crate) fn received(messages: &str, first_line: &str) -> usize {
    messages
        .split("-----------------------------------------------")
        .filter(|block| block.contains("message received"))
        .filter(|block| {
            block
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("SIP/2.0") || l.contains(" SIP/2.0"))
                .is_some_and(|l| l.starts_with(first_line))
        })
        .count()
}

#[test]
fn a_lost_ack_and_a_lost_200_to_bye_are_recovered_by_retransmission() {
    let scratch = tempfile::tempdir().expect("dir");
    let (wav, _) = tone_wav(scratch.path(), 3);
    let mut t = Telephony::playing("sip-drop", &wav);
    let file = scenario("uac_drop_once.xml");
    let run = run_sipp(
        &t.target(),
        &[
            "-sf",
            file.to_str().expect("utf-8"),
            "-m",
            "1",
            "-trace_msg",
            "-message_file",
            "messages.log",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        received(&run.messages, "SIP/2.0 200") >= 2,
        "the unacknowledged 200 OK was retransmitted:\n{}",
        run.messages
    );
    assert!(
        received(&run.messages, "BYE ") >= 2,
        "the unanswered BYE was retransmitted:\n{}",
        run.messages
    );
    let recorded = t.stop_and_read_calls();
    let events = recorded.values().next().expect("one call");
    let done = &events.last().expect("events")["data"];
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["hung_up_by"], "local");
}

#[test]
fn an_rfc_4733_digit_from_sipp_uac_pcap_arrives_as_one_dtmf_received_event() {
    // uac_pcap: PCMA audio (8 s) then an RFC 4733 "1" (payload type 101), then BYE.
    let mut t = Telephony::start("sip-pcap", WAIT);
    let run = run_sipp(
        &t.target(),
        &["-sn", "uac_pcap", "-m", "1"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let recorded = t.stop_and_read_calls();
    assert_eq!(recorded.len(), 1);
    let events = recorded.values().next().expect("one call");
    assert_eq!(
        types(events),
        [
            "call.initiated",
            "call.routed",
            "call.ringing",
            "call.instructions.fetched",
            "call.answered",
            "call.dialog.recorded",
            "dtmf.received",
            "call.completed"
        ]
    );
    assert_eq!(events[4]["data"]["codec"], "PCMA");
    assert_eq!(events[4]["data"]["telephone_event"], 101);
    assert_eq!(events[6]["data"]["digit"], "1");
    assert_eq!(events[6]["data"]["method"], "rfc4733");
}

#[test]
fn digits_sent_as_sip_info_dtmf_relay_arrive_as_dtmf_received_events() {
    let mut t = Telephony::start("sip-info", WAIT);
    let file = scenario("uac_info_dtmf.xml");
    let run = run_sipp(
        &t.target(),
        &["-sf", file.to_str().expect("utf-8"), "-m", "1"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let recorded = t.stop_and_read_calls();
    let events = recorded.values().next().expect("one call");
    assert_eq!(
        types(events),
        [
            "call.initiated",
            "call.routed",
            "call.ringing",
            "call.instructions.fetched",
            "call.answered",
            "call.dialog.recorded",
            "dtmf.received",
            "dtmf.received",
            "call.completed"
        ]
    );
    assert_eq!(events[6]["data"]["digit"], "5");
    assert_eq!(events[7]["data"]["digit"], "#");
    assert_eq!(events[7]["data"]["method"], "sip-info");
    assert_eq!(events[8]["data"]["hung_up_by"], "remote");
}

/// `seconds` of a 440 Hz tone as an 8 kHz µ-law WAV: its path and its µ-law bytes.
pub(crate) fn tone_wav(dir: &Path, seconds: u32) -> (PathBuf, Vec<u8>) {
    let samples: Vec<u8> = (0..8000 * seconds)
        .map(|n| {
            let s = (f64::from(n) * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0;
            Law::Ulaw.encode(s as i16)
        })
        .collect();
    let bytes = switchboard_telephony::wav::write_g711(Law::Ulaw, &samples).expect("wav");
    let path = dir.join("tone.wav");
    std::fs::write(&path, bytes).expect("write wav");
    (path, samples)
}

#[test]
fn with_the_play_behaviour_the_server_plays_the_file_then_hangs_up_with_bye() {
    let scratch = tempfile::tempdir().expect("dir");
    let (wav, _) = tone_wav(scratch.path(), 1);
    let mut t = Telephony::playing("sip-play", &wav);
    let file = scenario("uac_wait_bye.xml");
    let run = run_sipp(
        &t.target(),
        &["-sf", file.to_str().expect("utf-8"), "-m", "2", "-r", "2"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(run.stat("SuccessfulCall(C)"), 2, "{}", run.describe());

    let recorded = t.stop_and_read_calls();
    assert_eq!(recorded.len(), 2);
    for (sid, events) in &recorded {
        assert_eq!(
            types(events),
            [
                "call.initiated",
                "call.routed",
                "call.ringing",
                "call.instructions.fetched",
                "call.answered",
                "call.dialog.recorded",
                "media.played",
                "call.completed"
            ],
            "{sid}"
        );
        let played = &events[6]["data"];
        assert_eq!(played["packets"], 50, "1 s = 50 packets of 20 ms: {played}");
        assert_eq!(played["completed"], true);
        let done = &events[7]["data"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["hung_up_by"], "local");
        // Paced in real time: 50 packets take about a second.
        let ms = done["duration_ms"].as_u64().expect("duration");
        assert!(ms >= 950, "playback was paced in real time: {ms} ms");
    }
}

/// Sends `request` and returns the first final response with the same Call-ID (its text),
/// or None after `wait`. Responses to other requests (retransmissions) are skipped.
pub(crate) fn exchange(
    socket: &UdpSocket,
    target: &str,
    request: &str,
    wait: Duration,
) -> Option<String> {
    let call_id = header(request, "Call-ID").expect("request has a Call-ID");
    let cseq = header(request, "CSeq").expect("request has a CSeq");
    socket.send_to(request.as_bytes(), target).expect("send");
    socket.set_read_timeout(Some(wait)).expect("timeout");
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        let Ok((n, _)) = socket.recv_from(&mut buf) else {
            return None;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with("SIP/2.0 1")
            || header(&text, "Call-ID") != Some(call_id.clone())
            || header(&text, "CSeq") != Some(cseq.clone())
        {
            continue;
        }
        // A refused INVITE is ACKed, so the server stops retransmitting its answer.
        if request.starts_with("INVITE") {
            let ack = request.replacen("INVITE ", "ACK ", 1).replace(
                &format!("CSeq: {cseq}"),
                &format!("CSeq: {}", cseq.replace("INVITE", "ACK")),
            );
            let to = header(&text, "To").expect("response has To");
            let ack = ack.replace(
                &format!("To: {}", header(request, "To").expect("To")),
                &format!("To: {to}"),
            );
            let ack = match ack.find("Content-Type") {
                Some(i) => format!("{}Content-Length: 0\r\n\r\n", &ack[..i]),
                None => ack,
            };
            socket.send_to(ack.as_bytes(), target).expect("ack");
        }
        return Some(text);
    }
    None
}

/// The value of the first header called `name` (case-insensitive).
pub(crate) fn header(message: &str, name: &str) -> Option<String> {
    message
        .split("\r\n")
        .take_while(|l| !l.is_empty())
        .find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
}

/// A request from a probe socket bound at `local`.
pub(crate) fn request(
    method: &str,
    port: u16,
    local: u16,
    call_id: &str,
    extra: &str,
    body: &str,
) -> String {
    format!(
        "{method} sip:{NUMBER}@127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{local};rport;branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@127.0.0.1>;tag=probe-{call_id}\r\n\
         To: <sip:{NUMBER}@127.0.0.1:{port}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:probe@127.0.0.1:{local}>\r\n\
         {extra}\
         Content-Length: {len}\r\n\r\n{body}",
        len = body.len()
    )
}

#[test]
fn garbage_truncated_and_oversized_datagrams_never_stop_the_sip_engine() {
    let mut t = Telephony::start("sip-garbage", WAIT);
    let target = t.target();
    let probe = UdpSocket::bind("127.0.0.1:0").expect("probe socket");
    let port = t.sip_port;
    let local = probe.local_addr().expect("probe address").port();

    // Before: OPTIONS is answered.
    let options = request("OPTIONS", port, local, "opt-before", "", "");
    let answer = exchange(&probe, &target, &options, Duration::from_secs(5));
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("SIP/2.0 200")),
        "{answer:?}"
    );

    let mut junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![0u8; 1],
        b"\r\n\r\n".to_vec(),
        b"INVITE".to_vec(),
        b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP".to_vec(),
        b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
        b"FROBNICATE sip:x@127.0.0.1 SIP/2.0\r\n\r\n".to_vec(),
        (0..=255u8).cycle().take(1400).collect(),
    ];
    // A truncated INVITE: a valid start, cut in the middle of the headers.
    let invite = request(
        "INVITE",
        port,
        local,
        "cut",
        "Content-Type: application/sdp\r\n",
        "v=0\r\n",
    );
    junk.push(invite.as_bytes()[..invite.len() / 2].to_vec());
    // Content-Length larger than the datagram.
    junk.push(
        request("OPTIONS", port, local, "too-long", "", "")
            .replace("Content-Length: 0", "Content-Length: 99999")
            .into_bytes(),
    );
    // Oversized: a 60 kB header value (close to the largest UDP datagram).
    junk.push(
        request(
            "OPTIONS",
            port,
            local,
            "huge",
            &format!("X-Filler: {}\r\n", "a".repeat(60_000)),
            "",
        )
        .into_bytes(),
    );
    // Deterministic pseudo-random bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [13usize, 200, 1500, 9000] {
        junk.push(
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x & 0xFF) as u8
                })
                .collect(),
        );
    }
    for datagram in &junk {
        probe.send_to(datagram, &target).expect("send junk");
    }

    // A method we know but do not serve: 405 with Allow.
    let register = request("REGISTER", port, local, "reg", "", "");
    let answer =
        exchange(&probe, &target, &register, Duration::from_secs(5)).expect("REGISTER is answered");
    assert!(answer.starts_with("SIP/2.0 405"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("allow:"), "{answer}");

    // Malformed SDP: 488 with a Warning saying why.
    let bad_sdp = request(
        "INVITE",
        port,
        local,
        "bad-sdp",
        "Content-Type: application/sdp\r\n",
        "v=0\r\nthis is not sdp\r\n",
    );
    let answer = exchange(&probe, &target, &bad_sdp, Duration::from_secs(5))
        .expect("the INVITE is answered");
    assert!(answer.starts_with("SIP/2.0 488"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("warning:"), "{answer}");

    // No common codec: 488 too.
    let g729 = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    let invite = request(
        "INVITE",
        port,
        local,
        "g729",
        "Content-Type: application/sdp\r\n",
        g729,
    );
    let answer =
        exchange(&probe, &target, &invite, Duration::from_secs(5)).expect("the INVITE is answered");
    assert!(answer.starts_with("SIP/2.0 488"), "{answer}");

    // After: still alive.
    let options = request("OPTIONS", port, local, "opt-after", "", "");
    let answer = exchange(&probe, &target, &options, Duration::from_secs(5));
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("SIP/2.0 200")),
        "the engine still answers after the junk: {answer:?}"
    );

    // The refused INVITEs are on the record as failed calls.
    let recorded = t.stop_and_read_calls();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    for events in recorded.values() {
        assert_eq!(
            types(events),
            ["call.initiated", "call.routed", "call.completed"]
        );
        assert_eq!(events[2]["data"]["sip_code"], 488);
        assert_eq!(events[2]["data"]["status"], "failed");
    }
}

#[test]
fn an_invite_for_a_number_nobody_owns_is_answered_404_and_records_no_call() {
    let mut t = Telephony::start("sip-unowned", WAIT);
    let probe = UdpSocket::bind("127.0.0.1:0").expect("probe socket");
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let local = probe.local_addr().expect("probe address").port();
    let invite = request(
        "INVITE",
        t.sip_port,
        local,
        "unowned",
        "Content-Type: application/sdp\r\n",
        sdp,
    )
    .replace(NUMBER, "+15550199999");
    let answer = exchange(&probe, &t.target(), &invite, Duration::from_secs(5))
        .expect("the INVITE is answered");
    assert!(answer.starts_with("SIP/2.0 404"), "{answer}");
    assert!(t.app.received().is_empty(), "no application was asked");
    assert!(
        t.stop_and_read_calls().is_empty(),
        "no call stream for an unrouted INVITE"
    );
}

#[test]
fn the_played_audio_reaches_the_caller_intact_in_order_and_paced_at_20_ms() {
    let scratch = tempfile::tempdir().expect("dir");
    let (wav, source) = tone_wav(scratch.path(), 1);
    let mut t = Telephony::playing("sip-audio", &wav);
    let target = t.target();
    // A caller written here: a SIP socket and an RTP socket whose packets are kept.
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp socket");
    let local = sig.local_addr().expect("addr").port();
    let rtp_port = rtp.local_addr().expect("addr").port();
    let offer = format!(
        "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n"
    );
    let invite = request(
        "INVITE",
        t.sip_port,
        local,
        "audio-check",
        "Content-Type: application/sdp\r\n",
        &offer,
    );
    let answer = exchange(&sig, &target, &invite, Duration::from_secs(5)).expect("answered");
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");

    // Every RTP packet until the stream goes quiet.
    rtp.set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");
    let mut buf = vec![0u8; 2048];
    let mut packets: Vec<(Instant, Vec<u8>)> = Vec::new();
    while let Ok((n, _)) = rtp.recv_from(&mut buf) {
        packets.push((Instant::now(), buf[..n].to_vec()));
    }
    // The server's BYE: answer it.
    answer_bye(&t, &sig);

    assert_eq!(packets.len(), 50, "1 s of audio is 50 packets of 20 ms");
    let parsed: Vec<_> = packets
        .iter()
        .map(|(_, p)| switchboard_telephony::rtp::RtpPacket::parse(p).expect("valid RTP"))
        .collect();
    let first = &parsed[0].header;
    assert!(
        first.marker,
        "the first packet of the talkspurt has the marker bit"
    );
    for (i, p) in parsed.iter().enumerate() {
        assert_eq!(p.header.payload_type, 0, "PCMU");
        assert_eq!(p.header.ssrc, first.ssrc);
        assert_eq!(p.header.sequence, first.sequence.wrapping_add(i as u16));
        assert_eq!(
            p.header.timestamp,
            first.timestamp.wrapping_add(160 * i as u32)
        );
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.header.marker, i == 0);
    }
    // Decoded, the received audio is the file's, sample for sample.
    let received: Vec<u8> = parsed.iter().flat_map(|p| p.payload.to_vec()).collect();
    assert_eq!(
        Law::Ulaw.decode_bytes(&received),
        Law::Ulaw.decode_bytes(&source)
    );
    // Paced in real time: 49 intervals of 20 ms, not a burst (the upper bound only catches
    // a stall; a loaded CI machine may be late, never early).
    let span = packets[49].0 - packets[0].0;
    assert!(
        span >= Duration::from_millis(900) && span < Duration::from_millis(3000),
        "50 packets took {span:?}"
    );

    let recorded = t.stop_and_read_calls();
    let events = recorded.values().next().expect("one call");
    assert_eq!(events[5]["type"], "call.dialog.recorded");
    assert_eq!(events[6]["type"], "media.played");
    assert_eq!(events[6]["data"]["packets"], 50);
}

/// Waits for the server's BYE on `sig` and answers it 200; returns its text.
pub(crate) fn answer_bye(t: &Telephony, sig: &UdpSocket) -> String {
    sig.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = vec![0u8; 4096];
    let bye = loop {
        let (n, _) = sig.recv_from(&mut buf).expect("a BYE arrives");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with("BYE ") {
            break text;
        }
    };
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(&bye, "Via").expect("Via"),
        header(&bye, "From").expect("From"),
        header(&bye, "To").expect("To"),
        header(&bye, "Call-ID").expect("Call-ID"),
        header(&bye, "CSeq").expect("CSeq"),
    );
    sig.send_to(ok.as_bytes(), t.target()).expect("200 to BYE");
    bye
}

/// An in-dialog request (`cseq`) from a caller written in a test, after `answer` (the 200
/// with the server's To-tag); a body is an SDP offer.
pub(crate) fn in_dialog(
    t: &Telephony,
    sig: &UdpSocket,
    answer: &str,
    call_id: &str,
    (method, cseq): (&str, u32),
    body: &str,
) -> String {
    let local = sig.local_addr().expect("addr").port();
    let extra = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    let to = header(answer, "To").expect("To with the server's tag");
    request(method, t.sip_port, local, call_id, extra, body)
        .replace(
            &format!("branch=z9hG4bK-{call_id}"),
            &format!("branch=z9hG4bK-{call_id}-{cseq}"),
        )
        .replace(
            &format!("CSeq: 1 {method}"),
            &format!("CSeq: {cseq} {method}"),
        )
        .replace(
            &format!("To: <sip:{NUMBER}@127.0.0.1:{}>", t.sip_port),
            &format!("To: {to}"),
        )
}

/// An RTP packet: version 2, `pt`, `marker`, then the payload.
pub(crate) fn rtp_packet(
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn media_goes_to_where_rtp_comes_from_and_a_repeated_rfc_4733_event_is_one_digit() {
    let scratch = tempfile::tempdir().expect("dir");
    let (wav, _) = tone_wav(scratch.path(), 1);
    // 1.5 s without media (`w` and `W` are pauses), the tone, then waiting for the caller.
    let twiml = r#"<Response><Play digits="wW"/><Play>/tone.wav</Play><Gather timeout="60" finishOnKey=""/></Response>"#;
    let mut t = Telephony::start_app(
        "sip-symmetric",
        &[
            ("/voice", Reply::twiml(twiml)),
            ("/tone.wav", Reply::wav(std::fs::read(&wav).expect("wav"))),
        ],
        &[],
    );
    let target = t.target();
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
    let local = sig.local_addr().expect("addr").port();
    // The SDP names one port; media is sent from another (as behind a NAT): symmetric RTP
    // must answer the source, not the SDP.
    let advertised = UdpSocket::bind("127.0.0.1:0").expect("advertised rtp");
    let actual = UdpSocket::bind("127.0.0.1:0").expect("actual rtp");
    actual
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let offer = format!(
        "v=0\r\no=- 8 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
        advertised.local_addr().expect("addr").port()
    );
    let invite = request(
        "INVITE",
        t.sip_port,
        local,
        "echo-check",
        "Content-Type: application/sdp\r\n",
        &offer,
    );
    let answer = exchange(&sig, &target, &invite, Duration::from_secs(5)).expect("answered");
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    let server_rtp: u16 = answer
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the answer has an m=audio port");
    let server_rtp = format!("127.0.0.1:{server_rtp}");

    let mut buf = vec![0u8; 2048];
    // RTP from the NATed port while the application pauses.
    for i in 0..5u16 {
        let packet = rtp_packet(
            0,
            i == 0,
            100 + i,
            1000 + 160 * u32::from(i),
            42,
            &[0x55; 160],
        );
        actual.send_to(&packet, &server_rtp).expect("send rtp");
    }
    // Key 7: start, two updates, three end packets, all with one timestamp.
    for (i, (end, duration)) in [
        (false, 160u16),
        (false, 320),
        (false, 480),
        (true, 640),
        (true, 640),
        (true, 640),
    ]
    .into_iter()
    .enumerate()
    {
        let event = switchboard_telephony::rtp::TelephoneEvent {
            event: 7,
            end,
            volume: 10,
            duration,
        };
        let packet = rtp_packet(101, i == 0, 200 + i as u16, 5000, 42, &event.to_bytes());
        actual.send_to(&packet, &server_rtp).expect("send event");
    }
    // The tone arrives where RTP came from: 50 packets of 20 ms.
    let mut tone = 0;
    while let Ok((n, _)) = actual.recv_from(&mut buf) {
        let packet = switchboard_telephony::rtp::RtpPacket::parse(&buf[..n]).expect("valid RTP");
        if packet.header.payload_type == 0 {
            tone += 1;
        }
    }
    assert_eq!(
        tone, 50,
        "the whole tone reached the source address of the caller's RTP"
    );
    assert!(
        advertised
            .set_nonblocking(true)
            .and_then(|_| advertised.recv_from(&mut buf))
            .is_err(),
        "nothing went to the SDP address once RTP arrived from elsewhere"
    );

    // The caller hangs up.
    let bye = in_dialog(&t, &sig, &answer, "echo-check", ("BYE", 2), "");
    let ok = exchange(&sig, &target, &bye, Duration::from_secs(5)).expect("BYE answered");
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");

    let recorded = t.stop_and_read_calls();
    let events = recorded.values().next().expect("one call");
    assert_eq!(
        types(events),
        [
            "call.initiated",
            "call.routed",
            "call.ringing",
            "call.instructions.fetched",
            "call.answered",
            "call.dialog.recorded",
            "dtmf.received",
            "media.played",
            "call.completed"
        ]
    );
    assert_eq!(events[6]["data"]["digit"], "7");
    assert_eq!(events[6]["data"]["method"], "rfc4733");
    assert_eq!(events[8]["data"]["hung_up_by"], "remote");
}

#[test]
fn at_max_calls_the_next_invite_gets_503_with_retry_after() {
    let mut t = Telephony::start_app(
        "sip-busy",
        &[("/voice", Reply::twiml(WAIT))],
        &["--max-calls", "1", "--sip-retry-after-secs", "7"],
    );
    let target = t.target();
    let sig = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
    let local = sig.local_addr().expect("addr").port();
    let offer = "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n";
    let invite = |call_id: &str| {
        request(
            "INVITE",
            t.sip_port,
            local,
            call_id,
            "Content-Type: application/sdp\r\n",
            offer,
        )
    };
    let first = exchange(&sig, &target, &invite("busy-1"), Duration::from_secs(5)).expect("1st");
    assert!(first.starts_with("SIP/2.0 200"), "{first}");
    let second = exchange(&sig, &target, &invite("busy-2"), Duration::from_secs(5)).expect("2nd");
    assert!(second.starts_with("SIP/2.0 503"), "{second}");
    assert_eq!(header(&second, "Retry-After").as_deref(), Some("7"));

    // Shutting down hangs up the call that is up (BYE) and records its end.
    let recorded = t.stop_and_read_calls();
    let ends: Vec<(&Value, &Value)> = recorded
        .values()
        .map(|events| {
            let last = &events.last().expect("events")["data"];
            (&last["status"], &last["sip_code"])
        })
        .collect();
    assert_eq!(ends.len(), 2);
    assert!(
        ends.contains(&(&Value::from("busy"), &Value::from(503))),
        "{ends:?}"
    );
    assert!(
        ends.contains(&(&Value::from("completed"), &Value::from(200))),
        "{ends:?}"
    );
}
