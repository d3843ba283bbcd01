//! # switchboard-telephony: the pure parts of the telephony engine
//!
//! The SIP/RTP engine (issue 5) answers and places calls, plays audio and collects DTMF. Its
//! sockets and its SIP stack live elsewhere; this crate holds the byte-level work that needs
//! neither a runtime nor a network, so every rule of the wire formats can be tested by value:
//!
//! ```text
//!   SIP INVITE body ──► sdp::SessionDescription::parse ──► sdp::negotiate ──► sdp::answer ──► 200 OK body
//!                                                               │
//!                                        NegotiatedAudio { remote, codec, telephone_event }
//!                                                               │
//!   WAV file ──► wav::read ──► G.711 bytes ──► rtp::Packetizer ──► UDP (20 ms packets)
//!   UDP ──► rtp::RtpPacket::parse ──► rtp::DtmfDetector (RFC 4733) ──► one digit per key press
//! ```
//!
//! Nothing here allocates a socket, reads a clock or draws a random number: sequence numbers,
//! timestamps, SSRCs and session ids arrive from the caller, so the same input always yields
//! the same bytes. Every parser returns a typed error for malformed or truncated input and
//! never panics (each has a property test over arbitrary bytes).
//!
//! # Layout
//! - [`dtmf_send`]: a digit string as RFC 4733 packets to send, or as in-band dual tones.
//! - [`g711`]: µ-law and A-law (ITU-T G.711) sample conversion and the [`Law`] enum.
//! - [`rtp`]: RFC 3550 packets, the 20 ms [`rtp::Packetizer`], RFC 4733 telephone events and
//!   the [`rtp::DtmfDetector`].
//! - [`sdp`]: RFC 4566 parsing and RFC 3264 offer/answer for one G.711 audio stream.
//! - [`resample`]: windowed-sinc sample-rate conversion and channel downmix (to 8 kHz mono).
//! - [`wav`]: RIFF WAVE reading (G.711 or 16-bit PCM, 8 kHz mono; or any rate and channel
//!   count as linear samples for resampling) and G.711 WAV writing.

pub mod dtmf_send;
pub mod g711;
pub mod resample;
pub mod rtp;
pub mod sdp;
pub mod wav;

pub use g711::Law;
