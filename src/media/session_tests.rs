//! The session against a UDP peer socket in the test (ports from the OS).

use super::*;
use crate::media::audio::Audio;
use crate::media::relay::RelayPort;
use std::time::Instant;
use switchboard_telephony::dtmf_send;
use switchboard_telephony::rtp::{DtmfDetector, RtpHeader, RtpPacket};
use switchboard_telephony::sdp::Direction;
use switchboard_telephony::Law;

const WAIT: Duration = Duration::from_secs(3);

struct Rig {
    session: MediaSession,
    peer: UdpSocket,
    stop: CancellationToken,
    remote: Option<watch::Sender<SocketAddr>>,
}

async fn rig(law: Law, telephone_event: Option<u8>) -> Rig {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    peer.connect(socket.local_addr().expect("addr"))
        .await
        .expect("connect");
    let audio = NegotiatedAudio {
        remote: peer.local_addr().expect("addr"),
        law,
        payload_type: law.payload_type(),
        telephone_event,
        direction: Direction::SendRecv,
        remote_ptime: None,
    };
    let (remote_tx, remote_rx) = watch::channel(audio.remote);
    let stop = CancellationToken::new();
    Rig {
        session: start(socket, audio, remote_rx, stop.clone()),
        peer,
        stop,
        remote: Some(remote_tx),
    }
}

impl Rig {
    fn send(&self, command: MediaCommand) {
        self.session.commands.send(command).expect("session alive");
    }

    async fn event(&mut self) -> MediaEvent {
        tokio::time::timeout(WAIT, self.session.events.recv())
            .await
            .expect("an event in time")
            .expect("session alive")
    }

    /// The next event other than a Digit.
    async fn outcome(&mut self) -> MediaEvent {
        loop {
            match self.event().await {
                MediaEvent::Digit(_) => continue,
                other => return other,
            }
        }
    }

    async fn packet(&self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 2048];
        match tokio::time::timeout(Duration::from_millis(400), self.peer.recv(&mut buf)).await {
            Ok(Ok(n)) => Some(buf[..n].to_vec()),
            _ => None,
        }
    }

    /// Packets until 400 ms pass without one.
    async fn packets(&self) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        while let Some(p) = self.packet().await {
            all.push(p);
        }
        all
    }

    /// Presses `digits` as RFC 4733 events (payload type 101), all packets at once.
    async fn press(&self, digits: &str, timestamp: u32) {
        let schedule = dtmf_send::schedule(digits).expect("digits");
        for (i, p) in schedule.packets.iter().enumerate() {
            let mut header = RtpHeader::new(101, i as u16, timestamp + p.timestamp, 77);
            header.marker = p.marker;
            let payload = p.event.to_bytes();
            let bytes = RtpPacket {
                header,
                payload: &payload,
                padding_len: 0,
            }
            .to_bytes()
            .expect("rtp");
            self.peer.send(&bytes).await.expect("send");
        }
    }
}

fn header(packet: &[u8]) -> RtpHeader {
    RtpPacket::parse(packet).expect("rtp").header
}

fn payload(packet: &[u8]) -> Vec<u8> {
    RtpPacket::parse(packet).expect("rtp").payload.to_vec()
}

fn tone(n: usize) -> Audio {
    Audio::new(
        (0..n)
            .map(|i| ((i as f64 * 0.3).sin() * 12_000.0) as i16)
            .collect(),
    )
}

fn rules(num_digits: Option<u32>, finish: Option<char>, timeout_ms: u64) -> CollectRules {
    CollectRules {
        num_digits,
        finish_on_key: finish,
        timeout: Duration::from_millis(timeout_ms),
    }
}

#[tokio::test]
async fn a_play_sends_the_source_paced_with_one_stream() {
    let mut rig = rig(Law::Ulaw, Some(101)).await;
    let source = tone(4000);
    let started = Instant::now();
    rig.send(MediaCommand::Play {
        id: 1,
        audio: source.clone(),
        loops: 1,
    });
    let packets = rig.packets().await;
    assert_eq!(packets.len(), 25);
    assert_eq!(
        rig.outcome().await,
        MediaEvent::Played {
            id: 1,
            packets: 25,
            completed: true
        }
    );
    assert!(
        started.elapsed() >= Duration::from_millis(470),
        "paced at 20 ms"
    );
    let decoded: Vec<i16> = packets
        .iter()
        .flat_map(|p| Law::Ulaw.decode_bytes(&payload(p)))
        .collect();
    let expected = Law::Ulaw.decode_bytes(&Law::Ulaw.encode_samples(&source.samples));
    assert_eq!(decoded, expected);
    let headers: Vec<RtpHeader> = packets.iter().map(|p| header(p)).collect();
    for (i, h) in headers.iter().enumerate() {
        assert_eq!(h.payload_type, 0);
        assert_eq!(h.ssrc, headers[0].ssrc);
        assert_eq!(h.marker, i == 0, "marker on the first packet only");
        assert_eq!(h.sequence, headers[0].sequence.wrapping_add(i as u16));
        assert_eq!(
            h.timestamp,
            headers[0].timestamp.wrapping_add(160 * i as u32)
        );
    }

    // A second Play after a pause: a new talkspurt of the same stream.
    rig.send(MediaCommand::Silence { id: 2, ms: 200 });
    rig.send(MediaCommand::Play {
        id: 3,
        audio: tone(160),
        loops: 2,
    });
    assert_eq!(rig.outcome().await, MediaEvent::SilenceDone { id: 2 });
    let more = rig.packets().await;
    assert_eq!(more.len(), 2, "two loops of one packet");
    let h = header(&more[0]);
    let last = headers.last().expect("packets");
    assert!(h.marker && h.ssrc == last.ssrc);
    assert_eq!(h.sequence, last.sequence.wrapping_add(1));
    let gap = h.timestamp.wrapping_sub(last.timestamp);
    // At least the 200 ms pause (plus the test's own waiting), never a rewind.
    assert!(
        (1600..16_000).contains(&gap),
        "timestamp follows the clock: {gap}"
    );
    rig.stop.cancel();
    rig.session.join().await;
}

#[tokio::test]
async fn gather_submits_on_num_digits_and_on_the_finish_key() {
    let mut rig = rig(Law::Ulaw, Some(101)).await;
    rig.send(MediaCommand::Collect {
        id: 7,
        prompts: vec![],
        rules: rules(Some(2), Some('#'), 3000),
    });
    rig.press("12", 1000).await;
    assert_eq!(rig.event().await, MediaEvent::Digit('1'));
    assert_eq!(rig.event().await, MediaEvent::Digit('2'));
    assert_eq!(
        rig.event().await,
        MediaEvent::Collected {
            id: 7,
            digits: "12".into(),
            finished_on_key: None,
            timed_out: false
        }
    );
    rig.send(MediaCommand::Collect {
        id: 8,
        prompts: vec![],
        rules: rules(None, Some('#'), 3000),
    });
    rig.press("3#", 9000).await;
    assert_eq!(
        rig.outcome().await,
        MediaEvent::Collected {
            id: 8,
            digits: "3".into(),
            finished_on_key: Some('#'),
            timed_out: false
        }
    );
    rig.send(MediaCommand::Collect {
        id: 9,
        prompts: vec![],
        rules: rules(None, Some('#'), 3000),
    });
    rig.press("#", 20_000).await;
    assert_eq!(
        rig.outcome().await,
        MediaEvent::Collected {
            id: 9,
            digits: String::new(),
            finished_on_key: Some('#'),
            timed_out: false
        },
        "the finish key first is an empty input"
    );
}

#[tokio::test]
async fn gather_times_out_after_its_prompts() {
    let mut rig = rig(Law::Alaw, Some(101)).await;
    let started = Instant::now();
    rig.send(MediaCommand::Collect {
        id: 1,
        prompts: vec![
            Prompt::Audio {
                audio: tone(800),
                loops: 1,
            },
            Prompt::Silence { ms: 100 },
        ],
        rules: rules(None, Some('#'), 300),
    });
    assert_eq!(
        rig.outcome().await,
        MediaEvent::Collected {
            id: 1,
            digits: String::new(),
            finished_on_key: None,
            timed_out: true
        }
    );
    let took = started.elapsed();
    // 100 ms of prompt, 100 ms of pause, then the 300 ms timeout.
    assert!(took >= Duration::from_millis(480), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let packets = rig.packets().await;
    assert_eq!(packets.len(), 5);
    assert_eq!(header(&packets[0]).payload_type, 8);
}

#[tokio::test]
async fn a_key_during_the_prompt_stops_it() {
    let mut rig = rig(Law::Ulaw, Some(101)).await;
    rig.send(MediaCommand::Collect {
        id: 1,
        prompts: vec![Prompt::Audio {
            audio: tone(8000 * 5),
            loops: 1,
        }],
        rules: rules(Some(1), None, 3000),
    });
    for _ in 0..5 {
        assert!(rig.packet().await.is_some(), "the prompt plays");
    }
    rig.press("5", 500).await;
    let pressed = Instant::now();
    let mut last = None;
    while let Some(_p) = rig.packet().await {
        last = Some(Instant::now());
    }
    if let Some(last) = last {
        let after = last.duration_since(pressed);
        assert!(
            after < Duration::from_millis(40),
            "packets {after:?} after the key"
        );
    }
    assert_eq!(rig.event().await, MediaEvent::Digit('5'));
    assert_eq!(
        rig.event().await,
        MediaEvent::Collected {
            id: 1,
            digits: "5".into(),
            finished_on_key: None,
            timed_out: false
        }
    );
}

#[tokio::test]
async fn digits_sent_as_rfc4733_read_back_with_the_detector() {
    let mut rig = rig(Law::Ulaw, Some(101)).await;
    rig.send(MediaCommand::SendDigits {
        id: 4,
        digits: "1w#9".into(),
    });
    assert_eq!(rig.outcome().await, MediaEvent::DigitsSent { id: 4 });
    let packets = rig.packets().await;
    let mut detector = DtmfDetector::new(101);
    let digits: String = packets
        .iter()
        .filter_map(|p| detector.on_datagram(p).ok().flatten())
        .map(|d| d.digit)
        .collect();
    assert_eq!(digits, "1#9");
    let ssrcs: Vec<u32> = packets.iter().map(|p| header(p).ssrc).collect();
    assert!(ssrcs.iter().all(|&s| s == ssrcs[0]));
    let starts: Vec<u32> = packets
        .iter()
        .map(|p| header(p))
        .filter(|h| h.marker)
        .map(|h| h.timestamp)
        .collect();
    assert_eq!(starts.len(), 3);
    assert_eq!(
        starts[1].wrapping_sub(starts[0]),
        1600 + 4000,
        "w waits 0.5 s"
    );
}

#[tokio::test]
async fn without_telephone_event_digits_are_in_band_tones() {
    let mut rig = rig(Law::Ulaw, None).await;
    // The leg's address sender may go away; the session carries on at the same address.
    rig.remote = None;
    rig.send(MediaCommand::SendDigits {
        id: 5,
        digits: "12".into(),
    });
    assert_eq!(rig.outcome().await, MediaEvent::DigitsSent { id: 5 });
    let packets = rig.packets().await;
    assert_eq!(packets.len(), 20);
    assert!(packets.iter().all(|p| header(p).payload_type == 0));
}

#[tokio::test]
async fn stop_cuts_the_running_command_and_the_queue_goes_on() {
    let mut rig = rig(Law::Ulaw, Some(101)).await;
    rig.send(MediaCommand::Play {
        id: 1,
        audio: tone(8000 * 10),
        loops: 0,
    });
    rig.send(MediaCommand::Silence { id: 2, ms: 20 });
    assert!(rig.packet().await.is_some());
    rig.send(MediaCommand::Stop);
    match rig.outcome().await {
        MediaEvent::Played {
            id: 1,
            completed: false,
            packets,
        } => assert!(packets >= 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.outcome().await, MediaEvent::SilenceDone { id: 2 });
    // At hang-up, the running command and the queued ones each get their terminal event.
    rig.send(MediaCommand::Record {
        id: 3,
        max: Duration::from_secs(30),
        finish_on_key: None,
        silence_timeout: None,
    });
    rig.send(MediaCommand::Silence { id: 4, ms: 20 });
    tokio::time::sleep(Duration::from_millis(50)).await;
    rig.stop.cancel();
    assert!(matches!(
        rig.outcome().await,
        MediaEvent::Recorded { id: 3, ended_by, .. } if ended_by == "hangup"
    ));
    assert_eq!(rig.outcome().await, MediaEvent::Stopped { id: 4 });
}

#[tokio::test]
async fn record_keeps_what_the_peer_sends_until_the_finish_key() {
    let mut rig = rig(Law::Ulaw, Some(101)).await;
    rig.send(MediaCommand::Record {
        id: 6,
        max: Duration::from_secs(30),
        finish_on_key: Some("#".into()),
        silence_timeout: None,
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let spoken = tone(1600);
    let codes = Law::Ulaw.encode_samples(&spoken.samples);
    for (i, frame) in codes.chunks(160).enumerate() {
        let bytes = RtpPacket {
            header: RtpHeader::new(0, i as u16, 160 * i as u32, 9),
            payload: frame,
            padding_len: 0,
        }
        .to_bytes()
        .expect("rtp");
        rig.peer.send(&bytes).await.expect("send");
    }
    rig.press("#", 50_000).await;
    match rig.outcome().await {
        MediaEvent::Recorded {
            id: 6,
            audio,
            ended_by,
        } => {
            assert_eq!(ended_by, "finish-key");
            assert_eq!(&audio.samples[..], &Law::Ulaw.decode_bytes(&codes)[..]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn symmetric_rtp_follows_the_peer_and_relay_transcodes_between_legs() {
    let mut a = rig(Law::Ulaw, Some(101)).await;
    let mut b = rig(Law::Alaw, None).await;
    // Leg A's peer really sends from another port than its SDP said.
    let moved = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let a_addr = {
        // The session's address is where the rig's peer is connected.
        a.peer.peer_addr().expect("connected")
    };
    let (port_a, port_b) = RelayPort::pair();
    a.send(MediaCommand::Relay {
        id: 1,
        peer: port_a,
    });
    b.send(MediaCommand::Relay {
        id: 2,
        peer: port_b,
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let samples = tone(160);
    let codes = Law::Ulaw.encode_samples(&samples.samples);
    for i in 0..3u16 {
        let bytes = RtpPacket {
            header: RtpHeader::new(0, i, 1000 + 160 * u32::from(i), 5),
            payload: &codes,
            padding_len: 0,
        }
        .to_bytes()
        .expect("rtp");
        moved.send_to(&bytes, a_addr).await.expect("send");
    }
    let relayed = b.packets().await;
    assert_eq!(relayed.len(), 3);
    let h: Vec<RtpHeader> = relayed.iter().map(|p| header(p)).collect();
    // B's own stream: its payload type, its SSRC (not the sender's 5), its sequence.
    assert!(h
        .iter()
        .all(|x| x.payload_type == 8 && x.ssrc == h[0].ssrc && x.ssrc != 5));
    assert_eq!(h[2].sequence, h[0].sequence.wrapping_add(2));
    assert!(h[0].marker && !h[1].marker);
    assert_eq!(h[1].timestamp.wrapping_sub(h[0].timestamp), 160);
    let expected: Vec<u8> = codes
        .iter()
        .map(|&c| Law::Alaw.encode(Law::Ulaw.decode(c)))
        .collect();
    assert_eq!(payload(&relayed[0]), expected);
    // B's peer answers: A sends it to where A's peer's packets came from.
    let back = RtpPacket {
        header: RtpHeader::new(8, 1, 77, 6),
        payload: &expected,
        padding_len: 0,
    }
    .to_bytes()
    .expect("rtp");
    b.peer.send(&back).await.expect("send");
    let mut buf = vec![0u8; 2048];
    let (n, _) = tokio::time::timeout(WAIT, moved.recv_from(&mut buf))
        .await
        .expect("in time")
        .expect("recv");
    assert_eq!(header(&buf[..n]).payload_type, 0);
    assert!(
        a.packet().await.is_none(),
        "nothing to the stale SDP address"
    );
    // A stops relaying: B's relay ends because its partner went away.
    a.send(MediaCommand::Stop);
    assert_eq!(a.outcome().await, MediaEvent::Stopped { id: 1 });
    assert_eq!(b.outcome().await, MediaEvent::RelayEnded { id: 2 });
}

#[tokio::test]
async fn a_moved_remote_address_is_followed() {
    let mut rig = rig(Law::Ulaw, Some(101)).await;
    let elsewhere = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    rig.remote
        .as_ref()
        .expect("sender")
        .send(elsewhere.local_addr().expect("addr"))
        .expect("session listens");
    tokio::time::sleep(Duration::from_millis(20)).await;
    rig.send(MediaCommand::Play {
        id: 1,
        audio: tone(160),
        loops: 1,
    });
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(WAIT, elsewhere.recv(&mut buf))
        .await
        .expect("in time")
        .expect("recv");
    assert_eq!(payload(&buf[..n]).len(), 160);
    assert_eq!(
        rig.outcome().await,
        MediaEvent::Played {
            id: 1,
            packets: 1,
            completed: true
        }
    );
    assert!(rig.packet().await.is_none(), "nothing to the old address");
}
