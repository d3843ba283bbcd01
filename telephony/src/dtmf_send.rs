//! Sending a digit string (`<Play digits="12w#">`, `sendDigits`): the schedule of RFC 4733
//! telephone-event packets, and the same digits as in-band dual tones for a peer that did
//! not negotiate telephone-event.
//!
//! The invariant this file protects is that a schedule is what a receiver needs to see one
//! key press per digit and nothing more: all packets of one digit share the event's RTP
//! timestamp, the duration grows by 20 ms per packet, the first packet carries the marker
//! bit, and the end packet (E bit) is repeated three times (RFC 4733 §2.5.1.4) with the final
//! duration; consecutive digits start at different timestamps, so a receiver that keys
//! events by (SSRC, timestamp) — as [`crate::rtp::DtmfDetector`] does — sees each once, even
//! the same key twice in a row. `w` waits 0.5 s and `W` 1 s, as Twilio's `digits` attribute.
//!
//! Times are in samples of the 8 kHz RTP clock, relative to the start of the string: the
//! caller adds its stream's timestamp and its clock.

use crate::rtp::{dtmf_event, TelephoneEvent, SAMPLES_PER_PACKET};

/// How long a key is held: 100 ms.
pub const TONE_SAMPLES: u32 = 800;
/// Silence after each key: 100 ms.
pub const GAP_SAMPLES: u32 = 800;
/// `w`: half a second.
pub const SHORT_WAIT_SAMPLES: u32 = 4000;
/// `W`: one second.
pub const LONG_WAIT_SAMPLES: u32 = 8000;
/// Volume of the events, in −dBm0 (a typical keypad level).
pub const EVENT_VOLUME: u8 = 10;
/// Copies of the end packet.
pub const END_REPEATS: usize = 3;

/// A character that is neither a key nor a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a DTMF digit (0-9, *, #, A-D) nor a wait (w, W)")]
pub struct BadDigit(pub char);

/// One telephone-event packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// When to send it, in samples after the start of the string.
    pub send_at: u32,
    /// Its RTP timestamp, relative to the start of the string (the event's start).
    pub timestamp: u32,
    /// The marker bit (first packet of an event).
    pub marker: bool,
    /// The payload.
    pub event: TelephoneEvent,
}

/// The full schedule of a digit string, and how long it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSchedule {
    /// Packets in sending order.
    pub packets: Vec<EventPacket>,
    /// Samples from the start to the end of the last gap or wait.
    pub total_samples: u32,
}

/// Whether `c` can be sent: a key (`0-9 * # A-D`, letters in any case) or a wait (`w`, `W`).
pub fn is_sendable(c: char) -> bool {
    c == 'w' || c == 'W' || dtmf_event(c).is_some()
}

/// Checks `digits` and returns each as a key (`Some(event code)`) or a wait (`None`, with its
/// length).
fn steps(digits: &str) -> Result<Vec<(Option<u8>, u32)>, BadDigit> {
    digits
        .chars()
        .map(|c| match c {
            'w' => Ok((None, SHORT_WAIT_SAMPLES)),
            'W' => Ok((None, LONG_WAIT_SAMPLES)),
            _ => dtmf_event(c)
                .map(|e| (Some(e), TONE_SAMPLES + GAP_SAMPLES))
                .ok_or(BadDigit(c)),
        })
        .collect()
}

/// The RFC 4733 packets for `digits`.
pub fn schedule(digits: &str) -> Result<EventSchedule, BadDigit> {
    let step = SAMPLES_PER_PACKET as u32;
    let mut packets = Vec::new();
    let mut cursor = 0u32;
    for (event, length) in steps(digits)? {
        if let Some(code) = event {
            let updates = TONE_SAMPLES / step;
            for k in 1..=updates {
                let end = k == updates;
                let packet = EventPacket {
                    send_at: cursor + step * (k - 1),
                    timestamp: cursor,
                    marker: k == 1,
                    event: TelephoneEvent {
                        event: code,
                        end,
                        volume: EVENT_VOLUME,
                        // TONE_SAMPLES fits a u16 duration.
                        duration: (step * k) as u16,
                    },
                };
                let copies = if end { END_REPEATS } else { 1 };
                packets.extend(std::iter::repeat_n(packet, copies));
            }
        }
        cursor += length;
    }
    Ok(EventSchedule {
        packets,
        total_samples: cursor,
    })
}

/// The row and column frequencies of a key.
fn frequencies(code: u8) -> (f64, f64) {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    // Keypad position of event codes 0-15 (0-9, *, #, A-D) as (row, column).
    const POS: [(usize, usize); 16] = [
        (3, 1),
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
        (2, 0),
        (2, 1),
        (2, 2),
        (3, 0),
        (3, 2),
        (0, 3),
        (1, 3),
        (2, 3),
        (3, 3),
    ];
    let (r, c) = POS[usize::from(code.min(15))];
    (ROWS[r], COLS[c])
}

/// `digits` as in-band DTMF at 8 kHz: each key a 100 ms dual tone (each tone about
/// −7 dBm0) and 100 ms of silence; waits as silence.
pub fn tones(digits: &str) -> Result<Vec<i16>, BadDigit> {
    let mut out = Vec::new();
    for (event, length) in steps(digits)? {
        match event {
            Some(code) => {
                let (low, high) = frequencies(code);
                out.extend((0..TONE_SAMPLES).map(|i| {
                    let t = f64::from(i) / 8000.0;
                    let two_pi = 2.0 * std::f64::consts::PI;
                    let s = 7000.0 * ((two_pi * low * t).sin() + (two_pi * high * t).sin());
                    // Two tones of 7000 stay inside i16.
                    s as i16
                }));
                out.extend(std::iter::repeat_n(0, GAP_SAMPLES as usize));
            }
            None => out.extend(std::iter::repeat_n(0, length as usize)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{DtmfDetector, RtpHeader, RtpPacket};

    #[test]
    fn each_digit_is_one_event_with_growing_duration_and_three_end_packets() {
        let s = schedule("1#").expect("digits");
        assert_eq!(s.packets.len(), 2 * (5 + 2));
        let first: Vec<_> = s.packets.iter().filter(|p| p.timestamp == 0).collect();
        assert_eq!(first.len(), 7);
        assert!(first[0].marker && first[1..].iter().all(|p| !p.marker));
        let durations: Vec<u16> = first.iter().map(|p| p.event.duration).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        assert!(first[4..].iter().all(|p| p.event.end) && !first[3].event.end);
        assert!(first.iter().all(|p| p.event.event == 1));
        let second: Vec<_> = s.packets.iter().filter(|p| p.timestamp == 1600).collect();
        assert_eq!(second.len(), 7);
        assert_eq!(second[0].event.event, 11);
        assert_eq!(second[0].send_at, 1600);
        assert_eq!(s.total_samples, 3200);
    }

    #[test]
    fn waits_shift_the_next_digit_and_bad_characters_are_refused() {
        let s = schedule("1w2W").expect("digits");
        let starts: Vec<u32> = s
            .packets
            .iter()
            .filter(|p| p.marker)
            .map(|p| p.timestamp)
            .collect();
        assert_eq!(starts, [0, 1600 + 4000]);
        assert_eq!(s.total_samples, 1600 + 4000 + 1600 + 8000);
        assert_eq!(schedule("12x"), Err(BadDigit('x')));
        assert_eq!(tones("5 "), Err(BadDigit(' ')));
        assert!(schedule("").expect("empty").packets.is_empty());
    }

    #[test]
    fn the_detector_reads_back_each_digit_once_even_repeated_keys() {
        let s = schedule("1122*#9Dw0").expect("digits");
        let mut detector = DtmfDetector::new(101);
        let mut seen = String::new();
        for (seq, p) in s.packets.iter().enumerate() {
            let mut header = RtpHeader::new(101, seq as u16, 5000 + p.timestamp, 42);
            header.marker = p.marker;
            let payload = p.event.to_bytes();
            let bytes = RtpPacket {
                header,
                payload: &payload,
                padding_len: 0,
            }
            .to_bytes()
            .expect("packet");
            if let Some(d) = detector.on_datagram(&bytes).expect("rtp") {
                seen.push(d.digit);
            }
        }
        assert_eq!(seen, "1122*#9D0");
    }

    #[test]
    fn in_band_tones_carry_the_two_frequencies_of_the_key() {
        let audio = tones("5w").expect("digits");
        assert_eq!(audio.len(), 1600 + 4000);
        let power = |f: f64| {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, &s) in audio[..800].iter().enumerate() {
                let ph = 2.0 * std::f64::consts::PI * f * i as f64 / 8000.0;
                re += f64::from(s) * ph.cos();
                im += f64::from(s) * ph.sin();
            }
            (re * re + im * im).sqrt() / 400.0
        };
        // Key 5 is 770 Hz + 1336 Hz.
        assert!(power(770.0) > 5000.0 && power(1336.0) > 5000.0);
        assert!(power(697.0) < 1500.0 && power(1477.0) < 1500.0);
        assert!(audio[800..].iter().all(|&s| s == 0));
    }
}
