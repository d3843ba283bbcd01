//! The RTP side of one call: a task that owns the call's UDP socket and runs the call's
//! behaviour (echo, play, collect) until the call ends or the playback does.
//!
//! Symmetric RTP: we send to where the peer's packets come from once one has arrived (it may
//! sit behind a NAT that rewrote its port), and to the SDP address before that. Every
//! received datagram goes through the RFC 4733 detector when telephone-event was negotiated,
//! so a key press becomes one digit whatever the behaviour.
//!
//! Playback is paced by a 20 ms interval that catches up after a stall (`Burst`), so the
//! packets' RTP timestamps and the wall clock stay in step over a long file; sequence numbers,
//! timestamps and the marker bit come from `telephony::rtp::Packetizer`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchboard_telephony::rtp::{DtmfDetector, Packetizer, RtpPacket};
use switchboard_telephony::sdp::NegotiatedAudio;
use switchboard_telephony::wav::WavAudio;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Largest datagram read; anything longer is truncated by the kernel and then ignored.
const MAX_DATAGRAM: usize = 2048;
/// RTP packet interval.
const PTIME: Duration = Duration::from_millis(20);

/// What the media task does.
#[derive(Clone)]
pub enum MediaBehaviour {
    /// Send back every packet received.
    Echo,
    /// Send nothing; listen for digits.
    Collect,
    /// Play the audio, then finish.
    Play(Arc<WavAudio>),
}

/// How the media task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaOutcome {
    /// Packets sent by playback.
    pub played_packets: u64,
    /// Whether the playback reached its end (false for echo/collect, or when cut short).
    pub finished_playing: bool,
}

/// Runs until `stop` is cancelled or, for playback, the audio has been sent. Digits go to
/// `digits` as they are detected; `remote_updates` moves the destination (a re-INVITE).
pub async fn run(
    socket: UdpSocket,
    audio: NegotiatedAudio,
    behaviour: MediaBehaviour,
    digits: mpsc::UnboundedSender<char>,
    mut remote_updates: watch::Receiver<SocketAddr>,
    stop: CancellationToken,
) -> MediaOutcome {
    let mut detector = audio.telephone_event.map(DtmfDetector::new);
    let mut remote: SocketAddr = audio.remote;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut outcome = MediaOutcome {
        played_packets: 0,
        finished_playing: false,
    };
    let mut packets = match &behaviour {
        MediaBehaviour::Play(wav) => {
            let g711 = wav.to_g711(audio.law);
            let packetizer = Packetizer::new(
                audio.law,
                rand::random::<u32>(),
                rand::random::<u16>(),
                rand::random::<u32>(),
            );
            // The peer may have mapped G.711 to another number; use the negotiated one.
            let mut packetizer = packetizer
                .clone()
                .with_payload_type(audio.payload_type)
                .unwrap_or(packetizer);
            packetizer.packetize(&g711).into_iter()
        }
        _ => Vec::new().into_iter(),
    };
    let playing = matches!(behaviour, MediaBehaviour::Play(_));
    let mut ticker = tokio::time::interval(PTIME);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return outcome,
            Ok(()) = remote_updates.changed() => remote = *remote_updates.borrow_and_update(),
            _ = ticker.tick(), if playing => {
                match packets.next() {
                    Some(packet) => {
                        // A send error (peer's port closed, ICMP) does not end the call:
                        // the signalling decides that.
                        // An unspecified address is the old way to put a call on hold.
                        if !remote.ip().is_unspecified() {
                            let _ = socket.send_to(&packet, remote).await;
                        }
                        outcome.played_packets += 1;
                    }
                    None => {
                        outcome.finished_playing = true;
                        return outcome;
                    }
                }
            }
            received = socket.recv_from(&mut buf) => {
                let Ok((n, from)) = received else { continue };
                let datagram = &buf[..n];
                // Latch onto the first packet's source (symmetric RTP).
                remote = from;
                detect(&mut detector, datagram, &digits);
                if matches!(behaviour, MediaBehaviour::Echo) {
                    let _ = socket.send_to(datagram, from).await;
                }
            }
        }
    }
}

/// One side of a bridge: a leg's socket, what it negotiated, where its digits go, and
/// where it sends (moved by a re-INVITE).
pub struct RelaySide {
    /// The leg's RTP socket.
    pub socket: UdpSocket,
    /// The leg's codec, payload types and SDP address.
    pub audio: NegotiatedAudio,
    /// Digits pressed on this leg.
    pub digits: mpsc::UnboundedSender<char>,
    /// The leg's remote RTP address after a re-INVITE.
    pub remote_updates: watch::Receiver<SocketAddr>,
}

/// Packets a bridge forwarded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayOutcome {
    /// From the first leg to the second.
    pub a_to_b: u64,
    /// From the second leg to the first.
    pub b_to_a: u64,
}

/// Rewrites one leg's RTP for the other: the audio payload type is mapped (and the payload
/// transcoded when the legs use different laws), telephone-event is mapped or, when the
/// other leg did not accept it, dropped (the digit is still detected). Sequence numbers,
/// timestamps and SSRC pass through: each leg sees one continuous stream from its peer.
struct Translator {
    from_audio: u8,
    to_audio: u8,
    from_event: Option<u8>,
    to_event: Option<u8>,
    /// Byte-for-byte G.711 conversion when the laws differ.
    table: Option<[u8; 256]>,
}

impl Translator {
    fn new(from: &NegotiatedAudio, to: &NegotiatedAudio) -> Translator {
        let table = (from.law != to.law).then(|| {
            let mut table = [0u8; 256];
            for (code, out) in table.iter_mut().enumerate() {
                *out = to.law.encode(from.law.decode(code as u8));
            }
            table
        });
        Translator {
            from_audio: from.payload_type,
            to_audio: to.payload_type,
            from_event: from.telephone_event,
            to_event: to.telephone_event,
            table,
        }
    }

    /// The packet to send on, or `None` to drop it (not RTP, or a payload the other leg
    /// cannot take).
    fn translate(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        let packet = RtpPacket::parse(datagram).ok()?;
        let pt = packet.header.payload_type;
        let mut out = datagram.to_vec();
        let new_pt = if pt == self.from_audio {
            if let Some(table) = &self.table {
                let start = packet.header.encoded_len();
                for byte in &mut out[start..start + packet.payload.len()] {
                    *byte = table[usize::from(*byte)];
                }
            }
            self.to_audio
        } else if Some(pt) == self.from_event {
            self.to_event?
        } else {
            return None;
        };
        out[1] = (out[1] & 0x80) | new_pt;
        Some(out)
    }
}

/// Relays RTP between two legs until `stop` is cancelled (see [`Translator`]). Each side
/// is symmetric: packets go to where that leg's packets come from once one has arrived.
pub async fn relay(a: RelaySide, b: RelaySide, stop: CancellationToken) -> RelayOutcome {
    let a_to_b = Translator::new(&a.audio, &b.audio);
    let b_to_a = Translator::new(&b.audio, &a.audio);
    let mut a_detector = a.audio.telephone_event.map(DtmfDetector::new);
    let mut b_detector = b.audio.telephone_event.map(DtmfDetector::new);
    let (mut a_remote, mut b_remote) = (a.audio.remote, b.audio.remote);
    let (mut a_updates, mut b_updates) = (a.remote_updates, b.remote_updates);
    let mut a_buf = vec![0u8; MAX_DATAGRAM];
    let mut b_buf = vec![0u8; MAX_DATAGRAM];
    let mut outcome = RelayOutcome::default();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return outcome,
            Ok(()) = a_updates.changed() => a_remote = *a_updates.borrow_and_update(),
            Ok(()) = b_updates.changed() => b_remote = *b_updates.borrow_and_update(),
            received = a.socket.recv_from(&mut a_buf) => {
                let Ok((n, from)) = received else { continue };
                a_remote = from;
                detect(&mut a_detector, &a_buf[..n], &a.digits);
                if forward(&a_to_b, &a_buf[..n], &b.socket, b_remote).await {
                    outcome.a_to_b += 1;
                }
            }
            received = b.socket.recv_from(&mut b_buf) => {
                let Ok((n, from)) = received else { continue };
                b_remote = from;
                detect(&mut b_detector, &b_buf[..n], &b.digits);
                if forward(&b_to_a, &b_buf[..n], &a.socket, a_remote).await {
                    outcome.b_to_a += 1;
                }
            }
        }
    }
}

/// Runs a received datagram through the leg's RFC 4733 detector (when telephone-event was
/// negotiated) and passes a finished key press on.
fn detect(
    detector: &mut Option<DtmfDetector>,
    datagram: &[u8],
    digits: &mpsc::UnboundedSender<char>,
) {
    if let Some(Ok(Some(digit))) = detector.as_mut().map(|d| d.on_datagram(datagram)) {
        let _ = digits.send(digit.digit);
    }
}

/// Sends `datagram`, translated for the other leg, to `to` on `socket`; whether it went.
async fn forward(
    translator: &Translator,
    datagram: &[u8],
    socket: &UdpSocket,
    to: SocketAddr,
) -> bool {
    match translator.translate(datagram) {
        Some(packet) if !to.ip().is_unspecified() => {
            let _ = socket.send_to(&packet, to).await;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_telephony::g711::Law;
    use switchboard_telephony::sdp::Direction;

    fn audio(law: Law, payload_type: u8, telephone_event: Option<u8>) -> NegotiatedAudio {
        NegotiatedAudio {
            remote: "127.0.0.1:6000".parse().expect("addr"),
            law,
            payload_type,
            telephone_event,
            direction: Direction::SendRecv,
            remote_ptime: None,
        }
    }

    fn packet(pt: u8, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x80,
            (u8::from(marker) << 7) | pt,
            0,
            7,
            0,
            0,
            3,
            0xc0,
            1,
            2,
            3,
            4,
        ];
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn same_law_passes_the_payload_through_and_maps_payload_types() {
        let t = Translator::new(
            &audio(Law::Ulaw, 0, Some(101)),
            &audio(Law::Ulaw, 0, Some(96)),
        );
        let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
        let out = t.translate(&packet(0, true, &payload)).expect("audio");
        assert_eq!(out, packet(0, true, &payload));
        let event = t
            .translate(&packet(101, false, &[1, 0x8a, 0, 160]))
            .expect("event");
        assert_eq!(event, packet(96, false, &[1, 0x8a, 0, 160]));
        assert_eq!(t.translate(&packet(13, false, &[0])), None, "comfort noise");
        assert_eq!(t.translate(b"not rtp"), None);
    }

    #[test]
    fn different_laws_are_transcoded_byte_for_byte_and_events_dropped_if_unaccepted() {
        let t = Translator::new(&audio(Law::Alaw, 8, Some(101)), &audio(Law::Ulaw, 0, None));
        let payload: Vec<u8> = (0..=255).collect();
        let out = t.translate(&packet(8, true, &payload)).expect("audio");
        let expected: Vec<u8> = payload
            .iter()
            .map(|&a| Law::Ulaw.encode(Law::Alaw.decode(a)))
            .collect();
        assert_eq!(out, packet(0, true, &expected), "marker kept, PT 8 → 0");
        assert_eq!(t.translate(&packet(101, false, &[1, 0x8a, 0, 160])), None);
    }
}
