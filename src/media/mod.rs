//! # Media: one session per call leg, and the one resolver of what a call hears
//!
//! A call's controller turns TwiML into commands for the leg's [`MediaSession`] and reads
//! back its events; the audio it plays comes from a [`MediaResolver`] (text and URLs to
//! 8 kHz [`Audio`]). The session owns the leg's RTP socket for the whole call, so Play →
//! Gather → Dial run one after another on one socket and one RTP stream.
//!
//! ```text
//!  TwiML executor ─▶ controller ──resolve(Say|Play)──▶ MediaResolver ──▶ Audio (8 kHz mono)
//!                        │   ▲                          (LocalResolver: espeak-ng, HTTP GET;
//!                        │   │                           the media layer's cache goes here)
//!            MediaCommand│   │MediaEvent
//!   Play Silence SendDigits  │ Digit (every key, always)  Played  SilenceDone  DigitsSent
//!   Collect Record Relay     │ Collected  Recorded  RelayEnded  Stopped
//!   Stop StopAll         ▼   │
//!                  ┌─────────┴──────────┐  queue: one command at a time, in order;
//!                  │ MediaSession task  │  Stop cuts the running one, StopAll the queue too
//!                  │  20 ms pacing, one │
//!                  │  SSRC, RFC 4733    │◀──RelayPort──▶ another leg's session (bridge)
//!                  └─────────┬──────────┘
//!                            │ UDP (symmetric RTP: reply to where packets come from)
//!                            ▼
//!                        the leg's peer
//! ```
//!
//! # Layout
//! - [`audio`]: the one format ([`Audio`]) and WAV at any rate to it.
//! - [`resolver`]: [`MediaSource`], [`ResolveError`] with Twilio's codes, [`MediaResolver`],
//!   [`LocalResolver`].
//! - [`tts`]: espeak-ng, run safely.
//! - [`session`]: the commands, events and handle of a session; `engine.rs` is its task
//!   (socket, pacer, queue), `jobs.rs` each command as a state machine (Gather's rules
//!   live there), `stream.rs` its outgoing RTP stream, [`relay`] the bridge between two
//!   sessions.

pub mod audio;
mod engine;
mod jobs;
pub mod relay;
pub mod resolver;
pub mod session;
mod stream;
pub mod tts;

pub use audio::{from_wav, Audio, AudioError};
pub use relay::{RelayFrame, RelayPort};
pub use resolver::{LocalResolver, MediaResolver, MediaSource, ResolveError};
pub use session::{
    start, CollectRules, MediaCommand, MediaEvent, MediaSession, Prompt, SessionSummary,
};
