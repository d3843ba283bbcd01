//! The session's one outgoing RTP stream: one SSRC for the whole call, sequence numbers
//! that go up by one per packet whatever sends it (playback, RFC 4733 events, relayed
//! audio), and timestamps that follow the wall clock across silences.
//!
//! Invariant: within a talkspurt the timestamp advances by the samples sent (the 20 ms pacer
//! keeps that in step with the clock); a new talkspurt's first packet carries the marker bit
//! and a timestamp moved forward to the wall clock, so a receiver's jitter buffer sees the
//! gap that really passed (RFC 3550 §5.1, RFC 3551 §4.1).

use std::time::Instant;
use switchboard_telephony::rtp::{RTP_VERSION, SAMPLES_PER_PACKET};

/// 8 kHz RTP clock: samples per millisecond.
const SAMPLES_PER_MS: u64 = 8;

/// See the module doc.
#[derive(Debug)]
pub(crate) struct OutStream {
    ssrc: u32,
    sequence: u16,
    next_timestamp: u32,
    /// The clock's zero: this instant had this timestamp.
    origin: (Instant, u32),
    in_talkspurt: bool,
}

impl OutStream {
    /// A stream with random SSRC, first sequence number and first timestamp (RFC 3550 §5.1).
    pub(crate) fn new(now: Instant) -> OutStream {
        let first_timestamp = rand::random::<u32>();
        OutStream {
            ssrc: rand::random::<u32>(),
            sequence: rand::random::<u16>(),
            next_timestamp: first_timestamp,
            origin: (now, first_timestamp),
            in_talkspurt: false,
        }
    }

    /// Starts a talkspurt now unless one runs: the next packet gets the marker, and the
    /// timestamp catches up with the wall clock. Returns the talkspurt's first timestamp.
    pub(crate) fn begin(&mut self, now: Instant) -> u32 {
        if !self.in_talkspurt {
            let elapsed_ms = now.saturating_duration_since(self.origin.0).as_millis() as u64;
            // RTP timestamps are modulo 2^32: truncation is the wrap-around.
            let target = self
                .origin
                .1
                .wrapping_add((elapsed_ms * SAMPLES_PER_MS) as u32);
            // Only forward: a timestamp never goes back (compare modulo 2^32).
            if (target.wrapping_sub(self.next_timestamp) as i32) > 0 {
                self.next_timestamp = target;
            }
        }
        self.next_timestamp
    }

    /// The talkspurt ended (silence, a finished prompt, barge-in).
    pub(crate) fn end(&mut self) {
        self.in_talkspurt = false;
    }

    /// The timestamp the next audio packet carries.
    pub(crate) fn next_timestamp(&self) -> u32 {
        self.next_timestamp
    }

    /// Our SSRC.
    #[cfg(test)]
    pub(crate) fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// A packet continuing (or starting) the talkspurt with `payload` of `samples` samples
    /// at the next timestamp.
    pub(crate) fn audio(&mut self, now: Instant, payload_type: u8, payload: &[u8]) -> Vec<u8> {
        let timestamp = self.begin(now);
        let marker = !self.in_talkspurt;
        self.packet(
            payload_type,
            marker,
            timestamp,
            payload,
            payload.len() as u32,
        )
    }

    /// A packet at an explicit `timestamp` (RFC 4733 events, relayed frames); the next audio
    /// timestamp becomes `timestamp + advance`.
    pub(crate) fn packet(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
        advance: u32,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + payload.len());
        out.push(RTP_VERSION << 6);
        out.push((u8::from(marker) << 7) | (payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
        self.sequence = self.sequence.wrapping_add(1);
        self.next_timestamp = timestamp.wrapping_add(advance);
        self.in_talkspurt = true;
        out
    }
}

/// Samples in one 20 ms packet, as the stream's timestamp unit.
pub(crate) const FRAME: usize = SAMPLES_PER_PACKET;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use switchboard_telephony::rtp::RtpPacket;

    #[test]
    fn talkspurts_carry_the_marker_and_jump_over_silence() {
        let t0 = Instant::now();
        let mut s = OutStream::new(t0);
        let first = RtpPacket::parse(&s.audio(t0, 0, &[0xFF; 160]))
            .expect("rtp")
            .header;
        let second = RtpPacket::parse(&s.audio(t0, 0, &[0xFF; 160]))
            .expect("rtp")
            .header;
        assert!(first.marker && !second.marker);
        assert_eq!(second.sequence, first.sequence.wrapping_add(1));
        assert_eq!(second.timestamp, first.timestamp.wrapping_add(160));
        assert_eq!(first.ssrc, s.ssrc());
        s.end();
        // One second of silence later.
        let third = RtpPacket::parse(&s.audio(t0 + Duration::from_secs(1), 0, &[0xFF; 160]))
            .expect("rtp")
            .header;
        assert!(third.marker);
        assert_eq!(third.sequence, second.sequence.wrapping_add(1));
        assert_eq!(third.timestamp, first.timestamp.wrapping_add(8000));
        // A talkspurt that starts "early" (the pacer ran ahead) never moves back in time.
        s.end();
        let fourth = RtpPacket::parse(&s.audio(t0, 0, &[0xFF; 160]))
            .expect("rtp")
            .header;
        assert_eq!(fourth.timestamp, third.timestamp.wrapping_add(160));
    }
}
