//! RTP (RFC 3550) packets, the 20 ms G.711 [`Packetizer`], RFC 4733 telephone events and the
//! [`DtmfDetector`].
//!
//! Wire layout of the fixed header (network byte order):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers (CC × 32)   |
//! |  [extension: profile(16) | length in words(16) | data ...]   |
//! ```
//!
//! Parsing checks every length against the buffer before reading, so truncated or hostile
//! datagrams give an [`RtpError`], never a panic. The packetizer and the detector take their
//! random parts (first sequence number, first timestamp, SSRC) from the caller, which keeps
//! them deterministic under test.

use std::collections::VecDeque;

use crate::g711::Law;

/// The only RTP version in use (RFC 3550).
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed RTP header, before CSRCs and extension.
pub const FIXED_HEADER_LEN: usize = 12;
/// Most CSRCs a header can carry: the CC field has four bits.
pub const MAX_CSRCS: usize = 15;
/// Samples (and G.711 bytes) in a 20 ms packet at the 8 kHz RTP clock of G.711.
pub const SAMPLES_PER_PACKET: usize = 160;
/// Length of one RFC 4733 telephone-event payload.
pub const TELEPHONE_EVENT_LEN: usize = 4;
/// How many (SSRC, timestamp) keys the DTMF detector remembers. An event's packets arrive
/// within a second of each other, so this only needs to cover the few events that can be in
/// flight at once; it bounds the memory a peer can make the detector use.
const RECENT_EVENTS: usize = 32;

/// Why an RTP packet or telephone event could not be parsed or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// The buffer ends before the header (with its CSRCs and extension) or payload does.
    #[error("RTP data truncated: {needed} bytes needed, only {available} present")]
    Truncated {
        /// Bytes the header fields say must be present.
        needed: usize,
        /// Bytes actually present.
        available: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0} is not supported (only version 2)")]
    UnsupportedVersion(u8),
    /// The P bit is set but the last byte gives an impossible padding length.
    #[error(
        "RTP padding length {padding} is invalid: 1 to {available} bytes can follow the header"
    )]
    InvalidPadding {
        /// The padding count from the packet's last byte (or requested for writing).
        padding: usize,
        /// Bytes after the header, padding included.
        available: usize,
    },
    /// A payload type above 127 cannot be written in seven bits.
    #[error("RTP payload type {0} is out of range (0 to 127)")]
    PayloadTypeOutOfRange(u8),
    /// More than fifteen CSRCs cannot be written in the four-bit CC field.
    #[error("{0} CSRCs do not fit an RTP header (at most 15)")]
    TooManyCsrcs(usize),
    /// Extension data must be whole 32-bit words, at most 65,535 of them.
    #[error(
        "RTP header extension of {0} bytes is not a whole number of 32-bit words below 256 KiB"
    )]
    BadExtensionLength(usize),
    /// The header's P bit and the packet's padding length disagree.
    #[error("RTP padding bit is {bit} but {padding} padding bytes were given")]
    PaddingMismatch {
        /// The header's P bit.
        bit: bool,
        /// Padding bytes requested.
        padding: u8,
    },
    /// A telephone-event payload is shorter than four bytes.
    #[error("telephone-event payload is {0} bytes, needs at least 4")]
    TelephoneEventTooShort(usize),
}

/// An RTP header extension (RFC 3550 §5.3.1): a profile-defined id and whole 32-bit words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderExtension {
    /// The 16-bit "defined by profile" field (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// The extension words, without the four-byte extension header.
    pub data: Vec<u8>,
}

/// The RTP header: the fixed twelve bytes plus CSRCs and the optional extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpHeader {
    /// The P bit: the packet ends with padding whose length is its last byte.
    pub padding: bool,
    /// The M bit; for audio, the first packet of a talkspurt (RFC 3551 §4.1).
    pub marker: bool,
    /// The payload type, 0 to 127.
    pub payload_type: u8,
    /// The sequence number, +1 per packet, wrapping.
    pub sequence: u16,
    /// The sampling instant of the first payload octet, in RTP clock units (8 kHz for G.711).
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    /// Contributing sources (at most 15); the CC field is their count.
    pub csrcs: Vec<u32>,
    /// The header extension; the X bit is set when present.
    pub extension: Option<HeaderExtension>,
}

impl RtpHeader {
    /// A header with no padding, marker, CSRCs or extension.
    pub fn new(payload_type: u8, sequence: u16, timestamp: u32, ssrc: u32) -> Self {
        RtpHeader {
            padding: false,
            marker: false,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrcs: Vec::new(),
            extension: None,
        }
    }

    /// Parses the header at the start of `bytes`, returning it and its length in bytes
    /// (fixed part, CSRCs and extension).
    pub fn parse(bytes: &[u8]) -> Result<(RtpHeader, usize), RtpError> {
        let fixed = bytes.get(..FIXED_HEADER_LEN).ok_or(RtpError::Truncated {
            needed: FIXED_HEADER_LEN,
            available: bytes.len(),
        })?;
        let version = fixed[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::UnsupportedVersion(version));
        }
        let padding = fixed[0] & 0x20 != 0;
        let has_extension = fixed[0] & 0x10 != 0;
        let csrc_count = usize::from(fixed[0] & 0x0F);
        let marker = fixed[1] & 0x80 != 0;
        let payload_type = fixed[1] & 0x7F;
        let sequence = u16::from_be_bytes([fixed[2], fixed[3]]);
        let timestamp = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let ssrc = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);

        let mut offset = FIXED_HEADER_LEN;
        let csrc_end = offset + 4 * csrc_count;
        let csrc_bytes = bytes.get(offset..csrc_end).ok_or(RtpError::Truncated {
            needed: csrc_end,
            available: bytes.len(),
        })?;
        let csrcs = csrc_bytes
            .chunks_exact(4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        offset = csrc_end;

        let extension = if has_extension {
            let ext_header_end = offset + 4;
            let ext_header = bytes
                .get(offset..ext_header_end)
                .ok_or(RtpError::Truncated {
                    needed: ext_header_end,
                    available: bytes.len(),
                })?;
            let profile = u16::from_be_bytes([ext_header[0], ext_header[1]]);
            let words = usize::from(u16::from_be_bytes([ext_header[2], ext_header[3]]));
            let ext_end = ext_header_end + 4 * words;
            let data = bytes
                .get(ext_header_end..ext_end)
                .ok_or(RtpError::Truncated {
                    needed: ext_end,
                    available: bytes.len(),
                })?
                .to_vec();
            offset = ext_end;
            Some(HeaderExtension { profile, data })
        } else {
            None
        };

        let header = RtpHeader {
            padding,
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrcs,
            extension,
        };
        Ok((header, offset))
    }

    /// Length of this header on the wire.
    pub fn encoded_len(&self) -> usize {
        FIXED_HEADER_LEN
            + 4 * self.csrcs.len()
            + self.extension.as_ref().map_or(0, |e| 4 + e.data.len())
    }

    /// Appends this header to `out`. Fails, writing nothing, when a field cannot be encoded.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        if self.payload_type > 0x7F {
            return Err(RtpError::PayloadTypeOutOfRange(self.payload_type));
        }
        if self.csrcs.len() > MAX_CSRCS {
            return Err(RtpError::TooManyCsrcs(self.csrcs.len()));
        }
        let ext_words = match &self.extension {
            Some(ext) => {
                let words = ext.data.len() / 4;
                if ext.data.len() % 4 != 0 || words > usize::from(u16::MAX) {
                    return Err(RtpError::BadExtensionLength(ext.data.len()));
                }
                Some(words as u16)
            }
            None => None,
        };
        out.reserve(self.encoded_len());
        out.push(
            (RTP_VERSION << 6)
                | (u8::from(self.padding) << 5)
                | (u8::from(self.extension.is_some()) << 4)
                | self.csrcs.len() as u8,
        );
        out.push((u8::from(self.marker) << 7) | self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for csrc in &self.csrcs {
            out.extend_from_slice(&csrc.to_be_bytes());
        }
        if let (Some(ext), Some(words)) = (&self.extension, ext_words) {
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&words.to_be_bytes());
            out.extend_from_slice(&ext.data);
        }
        Ok(())
    }
}

/// A parsed RTP packet borrowing its payload from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The header.
    pub header: RtpHeader,
    /// The payload, padding removed.
    pub payload: &'a [u8],
    /// Padding bytes that followed the payload (the count byte included); 0 when P is clear.
    pub padding_len: u8,
}

impl<'a> RtpPacket<'a> {
    /// Parses a whole datagram: header, payload and padding.
    pub fn parse(bytes: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        let (header, header_len) = RtpHeader::parse(bytes)?;
        let body = bytes.get(header_len..).unwrap_or_default();
        let (payload, padding_len) = if header.padding {
            let padding = body.last().copied().unwrap_or(0);
            if padding == 0 || usize::from(padding) > body.len() {
                return Err(RtpError::InvalidPadding {
                    padding: usize::from(padding),
                    available: body.len(),
                });
            }
            (&body[..body.len() - usize::from(padding)], padding)
        } else {
            (body, 0)
        };
        Ok(RtpPacket {
            header,
            payload,
            padding_len,
        })
    }

    /// Serializes the packet; padding is written as zero bytes ending with the count.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtpError> {
        if self.header.padding != (self.padding_len > 0) {
            return Err(RtpError::PaddingMismatch {
                bit: self.header.padding,
                padding: self.padding_len,
            });
        }
        let mut out = Vec::with_capacity(
            self.header.encoded_len() + self.payload.len() + usize::from(self.padding_len),
        );
        self.header.write(&mut out)?;
        out.extend_from_slice(self.payload);
        if self.padding_len > 0 {
            out.resize(out.len() + usize::from(self.padding_len) - 1, 0);
            out.push(self.padding_len);
        }
        Ok(out)
    }
}

/// Cuts G.711 audio into 20 ms RTP packets for one outgoing stream (one SSRC).
///
/// Sequence numbers go up by one per packet and timestamps by the samples carried (160 for a
/// full packet), both wrapping. The first packet after [`Packetizer::new`] or
/// [`Packetizer::start_talkspurt`] carries the marker bit (RFC 3551 §4.1).
#[derive(Debug, Clone)]
pub struct Packetizer {
    payload_type: u8,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    silence: u8,
    marker_pending: bool,
}

impl Packetizer {
    /// A packetizer for `law` with its static payload type (0 or 8). The caller draws
    /// `ssrc`, `first_sequence` and `first_timestamp` at random (RFC 3550 §5.1).
    pub fn new(law: Law, ssrc: u32, first_sequence: u16, first_timestamp: u32) -> Self {
        Packetizer {
            payload_type: law.payload_type(),
            ssrc,
            sequence: first_sequence,
            timestamp: first_timestamp,
            silence: law.silence(),
            marker_pending: true,
        }
    }

    /// Uses another payload type, for a peer that mapped G.711 to a dynamic one.
    pub fn with_payload_type(mut self, payload_type: u8) -> Result<Self, RtpError> {
        if payload_type > 0x7F {
            return Err(RtpError::PayloadTypeOutOfRange(payload_type));
        }
        self.payload_type = payload_type;
        Ok(self)
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }

    /// The timestamp the next packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp
    }

    /// The SSRC of every packet.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Starts a new talkspurt after `silent_samples` were not sent (e.g. 8000 for a one-second
    /// pause): the timestamp jumps over the gap, the sequence number does not, and the next
    /// packet carries the marker bit.
    pub fn start_talkspurt(&mut self, silent_samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(silent_samples);
        self.marker_pending = true;
    }

    /// Cuts `audio` into 160-byte packets. A shorter final piece is filled up with the law's
    /// silence, so every packet is 20 ms and the stream's clock stays on the 20 ms grid.
    pub fn packetize(&mut self, audio: &[u8]) -> Vec<Vec<u8>> {
        audio
            .chunks(SAMPLES_PER_PACKET)
            .map(|chunk| {
                if chunk.len() == SAMPLES_PER_PACKET {
                    self.packet(chunk)
                } else {
                    let mut frame = chunk.to_vec();
                    frame.resize(SAMPLES_PER_PACKET, self.silence);
                    self.packet(&frame)
                }
            })
            .collect()
    }

    /// One packet carrying `frame` unchanged (one G.711 byte per sample); the timestamp then
    /// advances by `frame.len()`.
    pub fn packet(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_HEADER_LEN + frame.len());
        out.push(RTP_VERSION << 6);
        out.push((u8::from(self.marker_pending) << 7) | self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(frame);
        self.marker_pending = false;
        self.sequence = self.sequence.wrapping_add(1);
        // RTP timestamps are modulo 2^32, so truncating the length is the wrap-around itself.
        self.timestamp = self.timestamp.wrapping_add(frame.len() as u32);
        out
    }
}

/// One RFC 4733 telephone-event payload (the first event of the payload).
///
/// ```text
///  event(8) | E(1) R(1) volume(6) | duration(16)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event code: 0–9 digits, 10 `*`, 11 `#`, 12–15 `A`–`D`, 16 flash, …
    pub event: u8,
    /// The E bit: this packet ends the event (end packets are usually sent three times).
    pub end: bool,
    /// Power level in −dBm0, 0 to 63 (six bits; higher bits are dropped when written).
    pub volume: u8,
    /// Duration so far, in RTP clock units from the event's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first four bytes of a telephone-event payload.
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, RtpError> {
        match payload {
            [event, flags, d0, d1, ..] => Ok(TelephoneEvent {
                event: *event,
                end: flags & 0x80 != 0,
                volume: flags & 0x3F,
                duration: u16::from_be_bytes([*d0, *d1]),
            }),
            _ => Err(RtpError::TelephoneEventTooShort(payload.len())),
        }
    }

    /// The four payload bytes (the reserved bit is written as zero).
    pub fn to_bytes(&self) -> [u8; TELEPHONE_EVENT_LEN] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            d0,
            d1,
        ]
    }

    /// The DTMF key of this event, if it is one.
    pub fn digit(&self) -> Option<char> {
        dtmf_char(self.event)
    }
}

const DTMF_KEYS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// The DTMF key of telephone-event code `event` (0–15), if any.
pub fn dtmf_char(event: u8) -> Option<char> {
    DTMF_KEYS.get(usize::from(event)).copied()
}

/// The telephone-event code of a DTMF key (`0`–`9`, `*`, `#`, `A`–`D`, letters in any case).
pub fn dtmf_event(key: char) -> Option<u8> {
    let key = key.to_ascii_uppercase();
    DTMF_KEYS
        .iter()
        .position(|&k| k == key)
        .and_then(|i| u8::try_from(i).ok())
}

/// A key press reported by the [`DtmfDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedDigit {
    /// The key: `0`–`9`, `*`, `#`, `A`–`D`.
    pub digit: char,
    /// The telephone-event code (0–15).
    pub event: u8,
    /// The stream that carried it.
    pub ssrc: u32,
    /// The RTP timestamp shared by all packets of the event.
    pub timestamp: u32,
}

/// Turns RFC 4733 packets into one report per key press.
///
/// An event is sent as many packets with the same RTP timestamp (the duration grows, the end
/// packet is repeated), so the detector keys events by (SSRC, timestamp) and reports a key the
/// first time it sees that key, whether that packet is a start, an update or an end: a lost
/// first packet must not lose the digit. It does not rely on the marker bit, which some devices
/// never set. The telephone-event payload type is whatever SDP negotiated (often 101); packets
/// of any other payload type are ignored.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    payload_type: u8,
    recent: VecDeque<(u32, u32)>,
}

impl DtmfDetector {
    /// A detector for telephone events carried with `payload_type`.
    pub fn new(payload_type: u8) -> Self {
        DtmfDetector {
            payload_type,
            recent: VecDeque::with_capacity(RECENT_EVENTS),
        }
    }

    /// The telephone-event payload type this detector listens to.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Parses a datagram and feeds it to [`DtmfDetector::on_packet`].
    pub fn on_datagram(&mut self, datagram: &[u8]) -> Result<Option<DetectedDigit>, RtpError> {
        let packet = RtpPacket::parse(datagram)?;
        self.on_packet(&packet)
    }

    /// Looks at one parsed packet; returns the key the first time an event is seen.
    /// Events that are not keys (flash, tones above 15) are swallowed.
    pub fn on_packet(&mut self, packet: &RtpPacket<'_>) -> Result<Option<DetectedDigit>, RtpError> {
        if packet.header.payload_type != self.payload_type {
            return Ok(None);
        }
        let event = TelephoneEvent::parse(packet.payload)?;
        let key = (packet.header.ssrc, packet.header.timestamp);
        if self.recent.contains(&key) {
            return Ok(None);
        }
        if self.recent.len() == RECENT_EVENTS {
            self.recent.pop_front();
        }
        self.recent.push_back(key);
        Ok(event.digit().map(|digit| DetectedDigit {
            digit,
            event: event.event,
            ssrc: key.0,
            timestamp: key.1,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_header() -> RtpHeader {
        RtpHeader {
            padding: false,
            marker: true,
            payload_type: 8,
            sequence: 0xBEEF,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
            csrcs: vec![1, 2],
            extension: Some(HeaderExtension {
                profile: 0xBEDE,
                data: vec![1, 2, 3, 4, 5, 6, 7, 8],
            }),
        }
    }

    #[test]
    fn a_fixed_header_is_parsed_field_by_field() {
        let bytes = [
            0x80, 0x88, 0x01, 0x02, 0x00, 0x00, 0x00, 0xA0, 0xCA, 0xFE, 0xBA, 0xBE, 0xD5, 0xD5,
        ];
        let packet = RtpPacket::parse(&bytes).expect("valid packet");
        assert_eq!(
            packet.header,
            RtpHeader {
                padding: false,
                marker: true,
                payload_type: 8,
                sequence: 0x0102,
                timestamp: 160,
                ssrc: 0xCAFE_BABE,
                csrcs: vec![],
                extension: None,
            }
        );
        assert_eq!(packet.payload, &[0xD5, 0xD5]);
        assert_eq!(packet.padding_len, 0);
    }

    #[test]
    fn a_full_header_round_trips_with_csrcs_extension_and_padding() {
        let mut header = sample_header();
        header.padding = true;
        let packet = RtpPacket {
            header,
            payload: &[9, 8, 7],
            padding_len: 4,
        };
        let bytes = packet.to_bytes().expect("encodable");
        assert_eq!(bytes.len(), 12 + 8 + 4 + 8 + 3 + 4);
        assert_eq!(bytes[0], 0x80 | 0x20 | 0x10 | 2);
        assert_eq!(bytes.last(), Some(&4));
        assert_eq!(RtpPacket::parse(&bytes), Ok(packet));
    }

    #[test]
    fn every_truncation_of_a_header_is_an_error_not_a_panic() {
        let packet = RtpPacket {
            header: sample_header(),
            payload: &[],
            padding_len: 0,
        };
        let bytes = packet.to_bytes().expect("encodable");
        let header_len = sample_header().encoded_len();
        assert_eq!(bytes.len(), header_len);
        for len in 0..header_len {
            match RtpPacket::parse(&bytes[..len]) {
                Err(RtpError::Truncated { needed, available }) => {
                    assert_eq!(available, len);
                    assert!(needed > len, "needed {needed} at length {len}");
                }
                other => panic!("length {len}: {other:?}"),
            }
        }
        assert!(RtpPacket::parse(&bytes).is_ok());
    }

    #[test]
    fn a_version_other_than_two_is_refused() {
        let mut bytes = [0u8; 12];
        for version in [0u8, 1, 3] {
            bytes[0] = version << 6;
            assert_eq!(
                RtpPacket::parse(&bytes),
                Err(RtpError::UnsupportedVersion(version))
            );
        }
    }

    #[test]
    fn impossible_padding_is_refused() {
        // P set, no payload at all.
        let mut bytes = vec![0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            RtpPacket::parse(&bytes),
            Err(RtpError::InvalidPadding {
                padding: 0,
                available: 0
            })
        );
        // Count 0.
        bytes.extend_from_slice(&[1, 0]);
        assert!(matches!(
            RtpPacket::parse(&bytes),
            Err(RtpError::InvalidPadding { padding: 0, .. })
        ));
        // Three bytes follow the header and the count says 3: an empty payload, valid.
        bytes.push(3);
        let packet = RtpPacket::parse(&bytes).expect("padding may fill the whole body");
        assert!(packet.payload.is_empty());
        assert_eq!(packet.padding_len, 3);
        // Count larger than what follows the header.
        bytes.pop();
        bytes.push(4);
        assert_eq!(
            RtpPacket::parse(&bytes),
            Err(RtpError::InvalidPadding {
                padding: 4,
                available: 3
            })
        );
    }

    #[test]
    fn unencodable_headers_are_refused_when_written() {
        let mut out = Vec::new();
        let mut h = RtpHeader::new(128, 0, 0, 0);
        assert_eq!(h.write(&mut out), Err(RtpError::PayloadTypeOutOfRange(128)));
        h.payload_type = 0;
        h.csrcs = vec![0; 16];
        assert_eq!(h.write(&mut out), Err(RtpError::TooManyCsrcs(16)));
        h.csrcs.clear();
        h.extension = Some(HeaderExtension {
            profile: 1,
            data: vec![0; 3],
        });
        assert_eq!(h.write(&mut out), Err(RtpError::BadExtensionLength(3)));
        assert!(out.is_empty());
        let p = RtpPacket {
            header: RtpHeader::new(0, 0, 0, 0),
            payload: &[],
            padding_len: 2,
        };
        assert_eq!(
            p.to_bytes(),
            Err(RtpError::PaddingMismatch {
                bit: false,
                padding: 2
            })
        );
    }

    #[test]
    fn the_packetizer_makes_20ms_packets_with_consecutive_numbers() {
        let audio: Vec<u8> = (0..800u32).map(|i| (i % 251) as u8).collect();
        let mut p = Packetizer::new(Law::Ulaw, 0xABCD, 65534, 4_294_967_000);
        let packets = p.packetize(&audio);
        assert_eq!(packets.len(), 5);
        let mut payload = Vec::new();
        for (i, bytes) in packets.iter().enumerate() {
            let packet = RtpPacket::parse(bytes).expect("packetizer output parses");
            let h = &packet.header;
            assert_eq!(h.payload_type, 0);
            assert_eq!(h.ssrc, 0xABCD);
            assert_eq!(h.sequence, 65534u16.wrapping_add(i as u16));
            assert_eq!(
                h.timestamp,
                4_294_967_000u32.wrapping_add(160 * i as u32),
                "timestamps wrap like sequence numbers"
            );
            assert_eq!(h.marker, i == 0, "marker on the first packet only");
            assert_eq!(packet.payload.len(), SAMPLES_PER_PACKET);
            payload.extend_from_slice(packet.payload);
        }
        assert_eq!(payload, audio);
        assert_eq!(p.next_sequence(), 3);
    }

    #[test]
    fn a_short_last_packet_is_filled_with_silence() {
        let mut p = Packetizer::new(Law::Alaw, 1, 0, 0);
        let packets = p.packetize(&[0x11; 170]);
        assert_eq!(packets.len(), 2);
        let last = RtpPacket::parse(&packets[1]).expect("parses");
        assert_eq!(last.header.payload_type, 8);
        assert_eq!(&last.payload[..10], &[0x11; 10]);
        assert!(last.payload[10..].iter().all(|&b| b == 0xD5));
        assert_eq!(p.next_timestamp(), 320);
        assert!(p.packetize(&[]).is_empty());
    }

    #[test]
    fn a_new_talkspurt_sets_the_marker_and_skips_the_gap() {
        let mut p = Packetizer::new(Law::Ulaw, 1, 10, 0);
        let first = p.packetize(&[0xFF; 320]);
        p.start_talkspurt(8000);
        let second = p.packetize(&[0xFF; 320]);
        let headers: Vec<RtpHeader> = first
            .iter()
            .chain(&second)
            .map(|b| RtpPacket::parse(b).expect("parses").header)
            .collect();
        let marks: Vec<bool> = headers.iter().map(|h| h.marker).collect();
        assert_eq!(marks, [true, false, true, false]);
        let seqs: Vec<u16> = headers.iter().map(|h| h.sequence).collect();
        assert_eq!(seqs, [10, 11, 12, 13]);
        let stamps: Vec<u32> = headers.iter().map(|h| h.timestamp).collect();
        assert_eq!(stamps, [0, 160, 8320, 8480]);
    }

    #[test]
    fn a_dynamic_payload_type_for_g711_is_used_when_asked() {
        let p = Packetizer::new(Law::Ulaw, 1, 0, 0).with_payload_type(96);
        let mut p = p.expect("96 is a valid payload type");
        let bytes = p.packet(&[0xFF; 160]);
        assert_eq!(
            RtpPacket::parse(&bytes).map(|p| p.header.payload_type),
            Ok(96)
        );
        assert!(Packetizer::new(Law::Ulaw, 1, 0, 0)
            .with_payload_type(200)
            .is_err());
    }

    #[test]
    fn telephone_events_round_trip_and_name_their_keys() {
        let ev = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1600,
        };
        let bytes = ev.to_bytes();
        assert_eq!(bytes, [11, 0x8A, 0x06, 0x40]);
        assert_eq!(TelephoneEvent::parse(&bytes), Ok(ev));
        assert_eq!(ev.digit(), Some('#'));
        for len in 0..4 {
            assert_eq!(
                TelephoneEvent::parse(&bytes[..len]),
                Err(RtpError::TelephoneEventTooShort(len))
            );
        }
        let keys: String = (0..16).filter_map(dtmf_char).collect();
        assert_eq!(keys, "0123456789*#ABCD");
        assert_eq!(dtmf_char(16), None);
        for (i, key) in keys.chars().enumerate() {
            assert_eq!(dtmf_event(key), Some(i as u8));
        }
        assert_eq!(dtmf_event('a'), Some(12));
        assert_eq!(dtmf_event('x'), None);
    }

    fn event_packet(pt: u8, ssrc: u32, ts: u32, seq: u16, ev: TelephoneEvent) -> Vec<u8> {
        let mut h = RtpHeader::new(pt, seq, ts, ssrc);
        h.marker = ev.duration == 0;
        let payload = ev.to_bytes();
        RtpPacket {
            header: h,
            payload: &payload,
            padding_len: 0,
        }
        .to_bytes()
        .expect("encodable")
    }

    /// The packets a typical sender emits for one key: start, updates, three end packets.
    fn key_press(pt: u8, ssrc: u32, ts: u32, seq: u16, event: u8) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut seq = seq;
        for duration in [0u16, 160, 320, 480] {
            let ev = TelephoneEvent {
                event,
                end: false,
                volume: 10,
                duration,
            };
            out.push(event_packet(pt, ssrc, ts, seq, ev));
            seq = seq.wrapping_add(1);
        }
        for _ in 0..3 {
            let ev = TelephoneEvent {
                event,
                end: true,
                volume: 10,
                duration: 640,
            };
            out.push(event_packet(pt, ssrc, ts, seq, ev));
            seq = seq.wrapping_add(1);
        }
        out
    }

    #[test]
    fn each_key_press_is_reported_once() {
        let mut d = DtmfDetector::new(101);
        let mut digits = Vec::new();
        let mut seq = 100u16;
        for (i, event) in [1u8, 2, 1, 10, 11, 15].into_iter().enumerate() {
            for bytes in key_press(101, 7, 1000 + 2000 * i as u32, seq, event) {
                if let Some(d) = d.on_datagram(&bytes).expect("valid") {
                    digits.push(d.digit);
                }
                seq = seq.wrapping_add(1);
            }
        }
        assert_eq!(digits.iter().collect::<String>(), "121*#D");
    }

    #[test]
    fn a_key_press_whose_first_packets_were_lost_is_still_reported() {
        let mut d = DtmfDetector::new(96);
        let packets = key_press(96, 7, 5000, 1, 5);
        let reported: Vec<DetectedDigit> = packets[4..]
            .iter()
            .filter_map(|b| d.on_datagram(b).expect("valid"))
            .collect();
        assert_eq!(
            reported,
            [DetectedDigit {
                digit: '5',
                event: 5,
                ssrc: 7,
                timestamp: 5000
            }]
        );
    }

    #[test]
    fn the_same_timestamp_on_two_streams_is_two_key_presses() {
        let mut d = DtmfDetector::new(101);
        let a = key_press(101, 1, 800, 1, 3);
        let b = key_press(101, 2, 800, 1, 3);
        let n = a
            .iter()
            .chain(&b)
            .filter_map(|p| d.on_datagram(p).expect("valid"))
            .count();
        assert_eq!(n, 2);
    }

    #[test]
    fn audio_and_other_payload_types_are_ignored() {
        let mut d = DtmfDetector::new(101);
        let mut p = Packetizer::new(Law::Ulaw, 9, 0, 0);
        for packet in p.packetize(&[0x00; 480]) {
            assert_eq!(d.on_datagram(&packet), Ok(None));
        }
        for packet in key_press(100, 9, 0, 0, 1) {
            assert_eq!(d.on_datagram(&packet), Ok(None));
        }
        assert_eq!(d.payload_type(), 101);
    }

    #[test]
    fn non_key_events_and_short_payloads_are_not_digits() {
        let mut d = DtmfDetector::new(101);
        for packet in key_press(101, 1, 0, 0, 16) {
            assert_eq!(d.on_datagram(&packet), Ok(None));
        }
        let short = RtpPacket {
            header: RtpHeader::new(101, 0, 99, 1),
            payload: &[1, 2],
            padding_len: 0,
        }
        .to_bytes()
        .expect("encodable");
        assert_eq!(
            d.on_datagram(&short),
            Err(RtpError::TelephoneEventTooShort(2))
        );
    }

    fn arb_header() -> impl Strategy<Value = RtpHeader> {
        (
            any::<bool>(),
            0u8..128,
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u32>(), 0..=15),
            proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..6))),
        )
            .prop_map(|(marker, pt, seq, ts, ssrc, csrcs, ext)| RtpHeader {
                padding: false,
                marker,
                payload_type: pt,
                sequence: seq,
                timestamp: ts,
                ssrc,
                csrcs,
                extension: ext.map(|(profile, words)| HeaderExtension {
                    profile,
                    data: words.iter().flat_map(|w| [*w, 0, 0, *w]).collect(),
                }),
            })
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = RtpPacket::parse(&bytes);
            let _ = TelephoneEvent::parse(&bytes);
            let mut d = DtmfDetector::new(bytes.get(1).map_or(101, |b| b & 0x7F));
            let _ = d.on_datagram(&bytes);
        }

        #[test]
        fn parsing_version_2_garbage_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 1..100)) {
            bytes[0] = (bytes[0] & 0x3F) | 0x80;
            let _ = RtpPacket::parse(&bytes);
        }

        #[test]
        fn written_packets_parse_back(
            header in arb_header(),
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            padding in 0u8..8,
        ) {
            let mut header = header;
            header.padding = padding > 0;
            let packet = RtpPacket { header, payload: &payload, padding_len: padding };
            let bytes = packet.to_bytes().expect("encodable");
            prop_assert_eq!(RtpPacket::parse(&bytes), Ok(packet));
        }
    }
}
