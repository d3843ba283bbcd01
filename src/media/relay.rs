//! The link between two legs' sessions for a bridge (`<Dial>`): a [`RelayPort`] pair of
//! channels carrying [`RelayFrame`]s, and the rewriting of a frame into the receiving leg's
//! own RTP stream.
//!
//! Each session keeps its socket; a relaying session hands what its peer sends to the other
//! session and sends on its own socket what the other hands it. The invariant this file
//! protects: a relayed frame goes out in the receiving leg's terms — its negotiated audio
//! payload type and law (µ-law ↔ A-law transcoded byte for byte), its telephone-event type
//! (or dropped when that leg has none; the digit is still reported on the leg that sent it),
//! and its own SSRC and sequence numbers, with the sender's timestamps shifted onto its own
//! clock so gaps and events keep their timing. Frames are dropped, never queued without
//! bound, when the other side falls behind: late audio is worse than lost audio.

use switchboard_telephony::Law;
use tokio::sync::mpsc;

/// Frames waiting for the other side: 64 packets, about 1.3 s of audio.
const RELAY_QUEUE: usize = 64;

/// What a relayed frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// G.711 audio in this law.
    Audio(Law),
    /// An RFC 4733 telephone-event payload.
    Event,
}

/// One RTP packet from a leg's peer, stripped of what belongs to its leg (payload type,
/// sequence number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayFrame {
    /// What the payload is.
    pub kind: FrameKind,
    /// The marker bit.
    pub marker: bool,
    /// The sender's RTP timestamp.
    pub timestamp: u32,
    /// The sender's SSRC (a change restarts the timestamp mapping).
    pub ssrc: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

/// One end of a bridge between two sessions. Made in pairs; each end goes to one leg's
/// session in a [`super::MediaCommand::Relay`]. Dropping either end ends the relay on the
/// other side ([`super::MediaEvent::RelayEnded`]).
#[derive(Debug)]
pub struct RelayPort {
    pub(crate) to_peer: mpsc::Sender<RelayFrame>,
    pub(crate) from_peer: mpsc::Receiver<RelayFrame>,
}

impl RelayPort {
    /// Two connected ends.
    pub fn pair() -> (RelayPort, RelayPort) {
        let (a_tx, a_rx) = mpsc::channel(RELAY_QUEUE);
        let (b_tx, b_rx) = mpsc::channel(RELAY_QUEUE);
        (
            RelayPort {
                to_peer: a_tx,
                from_peer: b_rx,
            },
            RelayPort {
                to_peer: b_tx,
                from_peer: a_rx,
            },
        )
    }

    /// Hands a frame to the other side; dropped when it is behind or gone.
    pub(crate) fn send(&self, frame: RelayFrame) {
        let _ = self.to_peer.try_send(frame);
    }
}

/// Maps a peer's timestamps onto ours: the first frame of each peer SSRC anchors the
/// sender's clock to the next timestamp of our stream.
#[derive(Debug, Default)]
pub(crate) struct Retimer {
    anchor: Option<(u32, u32, u32)>,
}

impl Retimer {
    /// Our timestamp for `frame`, given the timestamp our stream would use next; and whether
    /// the frame starts a new mapping (then it must carry the marker bit).
    pub(crate) fn map(&mut self, frame: &RelayFrame, our_next: u32) -> (u32, bool) {
        match self.anchor {
            Some((ssrc, theirs, ours)) if ssrc == frame.ssrc => (
                ours.wrapping_add(frame.timestamp.wrapping_sub(theirs)),
                false,
            ),
            _ => {
                self.anchor = Some((frame.ssrc, frame.timestamp, our_next));
                (our_next, true)
            }
        }
    }
}

/// A frame's audio payload in `law` (transcoded when the sender used the other law).
pub(crate) fn transcode(frame_law: Law, payload: &[u8], law: Law) -> Vec<u8> {
    if frame_law == law {
        payload.to_vec()
    } else {
        payload
            .iter()
            .map(|&c| law.encode(frame_law.decode(c)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ssrc: u32, timestamp: u32) -> RelayFrame {
        RelayFrame {
            kind: FrameKind::Audio(Law::Ulaw),
            marker: false,
            timestamp,
            ssrc,
            payload: vec![0xFF; 160],
        }
    }

    #[test]
    fn timestamps_keep_their_spacing_and_a_new_source_re_anchors() {
        let mut r = Retimer::default();
        assert_eq!(r.map(&frame(1, 4_000_000_000), 500), (500, true));
        assert_eq!(r.map(&frame(1, 4_000_000_160), 9999), (660, false));
        // Wrap-around of the sender's clock.
        assert_eq!(
            r.map(&frame(1, 4_000_000_000u32.wrapping_add(400_000_000)), 0),
            (500u32.wrapping_add(400_000_000), false)
        );
        assert_eq!(r.map(&frame(2, 7), 1234), (1234, true));
    }

    #[test]
    fn laws_are_transcoded_only_when_they_differ() {
        let payload: Vec<u8> = (0..=255).collect();
        assert_eq!(transcode(Law::Alaw, &payload, Law::Alaw), payload);
        let out = transcode(Law::Alaw, &payload, Law::Ulaw);
        for (a, u) in payload.iter().zip(&out) {
            assert_eq!(*u, Law::Ulaw.encode(Law::Alaw.decode(*a)));
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_a_dropped_end_closes_the_other() {
        let (a, mut b) = RelayPort::pair();
        for i in 0..(RELAY_QUEUE as u32 + 10) {
            a.send(frame(1, i));
        }
        let mut got = 0;
        while let Ok(f) = b.from_peer.try_recv() {
            assert_eq!(f.timestamp, got);
            got += 1;
        }
        assert_eq!(got as usize, RELAY_QUEUE);
        drop(a);
        assert!(b.from_peer.recv().await.is_none());
    }
}
