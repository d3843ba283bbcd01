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
use switchboard_telephony::rtp::{DtmfDetector, Packetizer};
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
