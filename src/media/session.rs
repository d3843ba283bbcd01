//! One media session per call leg: the task that owns the leg's RTP socket for the whole
//! call and runs the commands the call's controller sends, one after another, reporting what
//! happened as events (see the module doc of [`crate::media`] for the flow).
//!
//! The invariant this file protects: one socket, one outgoing RTP stream (one SSRC, a
//! sequence number that never jumps, timestamps that follow the wall clock, the marker bit on
//! the first packet of every talkspurt) whatever sequence of Play, Gather, Pause, digits,
//! recording and relay a call goes through; and every key the peer presses is reported as
//! [`MediaEvent::Digit`], whatever runs.

use super::audio::Audio;
use std::net::SocketAddr;
use std::time::Duration;
use switchboard_telephony::sdp::NegotiatedAudio;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use super::relay::{RelayFrame, RelayPort};

/// What a session is asked to do. Commands run one at a time in the order sent; one sent
/// while another runs waits behind it. [`MediaCommand::Stop`] cuts the running one short.
#[derive(Debug)]
pub enum MediaCommand {
    /// Play `audio` `loops` times (0: until stopped, at most 1000 times, as Twilio).
    Play {
        /// Echoed in [`MediaEvent::Played`].
        id: u64,
        /// What to play.
        audio: Audio,
        /// How many times.
        loops: u32,
    },
    /// `<Pause>`: `ms` of silence. Nothing is sent meanwhile (no comfort noise); the next
    /// packet's timestamp jumps over the gap and carries the marker bit.
    Silence {
        /// Echoed in [`MediaEvent::SilenceDone`].
        id: u64,
        /// How long.
        ms: u64,
    },
    /// Sends DTMF: RFC 4733 events when the leg negotiated telephone-event, else in-band
    /// tones. `w` waits 0.5 s, `W` 1 s.
    SendDigits {
        /// Echoed in [`MediaEvent::DigitsSent`].
        id: u64,
        /// `0-9 * # A-D w W`.
        digits: String,
    },
    /// `<Gather>` (DTMF): plays `prompts` in order until a key is pressed, then collects by
    /// `rules`.
    Collect {
        /// Echoed in [`MediaEvent::Collected`].
        id: u64,
        /// Nested `<Say>`/`<Play>`/`<Pause>`, resolved.
        prompts: Vec<Prompt>,
        /// numDigits, finishOnKey, timeout.
        rules: CollectRules,
    },
    /// Keeps what the peer sends, in memory, until `max`, a key of `finish_on_key`, or
    /// `silence_timeout` without voice.
    Record {
        /// Echoed in [`MediaEvent::Recorded`].
        id: u64,
        /// Longest recording.
        max: Duration,
        /// Keys that end it (the key is not recorded), e.g. `"1234567890*#"`.
        finish_on_key: Option<String>,
        /// Quiet for this long ends it.
        silence_timeout: Option<Duration>,
    },
    /// Bridges this leg to another leg's session until stopped or until the other side goes
    /// away: what each peer sends, the other hears (transcoded between µ-law and A-law).
    Relay {
        /// Echoed in [`MediaEvent::RelayEnded`] / [`MediaEvent::Stopped`].
        id: u64,
        /// This side of a [`RelayPort::pair`].
        peer: RelayPort,
    },
    /// Stops whatever runs now (it reports [`MediaEvent::Stopped`]); queued commands go on.
    Stop,
    /// Stops whatever runs and drops every queued command (each dropped one and the running
    /// one report [`MediaEvent::Stopped`]).
    StopAll,
}

/// One nested verb of a `<Gather>`.
#[derive(Debug, Clone)]
pub enum Prompt {
    /// `<Say>` or `<Play>`, `loops` times (0 as for [`MediaCommand::Play`]).
    Audio {
        /// What to play.
        audio: Audio,
        /// How many times.
        loops: u32,
    },
    /// `<Pause>`.
    Silence {
        /// How long.
        ms: u64,
    },
}

/// How a `<Gather>` collects (VOICE-NOTES 1.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectRules {
    /// Submit as soon as this many digits arrived.
    pub num_digits: Option<u32>,
    /// The key that submits; not included in the digits.
    pub finish_on_key: Option<char>,
    /// From the end of the prompts or the first key, and between keys.
    pub timeout: Duration,
}

/// What a session reports.
///
/// Every command gets exactly one terminal event: its own (`Played`, `SilenceDone`,
/// `DigitsSent`, `Collected`, `Recorded`, `RelayEnded`) when it ends by itself. Cut short
/// (Stop, StopAll, or the session's stop), a running Play reports `Played { completed:
/// false }` (its packets count for metering), a running Record reports `Recorded` with what
/// it has (`ended_by` `"stop"` or `"hangup"`), and any other running command, and every
/// queued one, `Stopped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A key the peer pressed (RFC 4733), whatever runs.
    Digit(char),
    /// A Play ended: `completed` when it reached its end, false when stopped.
    Played {
        /// The command's id.
        id: u64,
        /// Packets sent.
        packets: u64,
        /// Whether it played to the end.
        completed: bool,
    },
    /// A Silence ended.
    SilenceDone {
        /// The command's id.
        id: u64,
    },
    /// A SendDigits ended.
    DigitsSent {
        /// The command's id.
        id: u64,
    },
    /// A Collect ended.
    Collected {
        /// The command's id.
        id: u64,
        /// The keys collected (without the finish key).
        digits: String,
        /// The finish key, when that ended it.
        finished_on_key: Option<char>,
        /// Whether the timeout ended it.
        timed_out: bool,
    },
    /// A Record ended.
    Recorded {
        /// The command's id.
        id: u64,
        /// What the peer sent.
        audio: Audio,
        /// `"max-length"`, `"finish-key"`, `"silence"`, `"stop"` (a Stop command) or
        /// `"hangup"` (the session stopped).
        ended_by: String,
    },
    /// A Relay ended because the other side went away.
    RelayEnded {
        /// The command's id.
        id: u64,
    },
    /// A Silence, SendDigits, Collect or Relay cut short, or any command still queued when
    /// StopAll or the session's stop came.
    Stopped {
        /// The command's id.
        id: u64,
    },
}

/// Counters of a session, returned when it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionSummary {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Datagrams received.
    pub packets_received: u64,
}

/// A running session: send commands, read events, join at the end.
#[derive(Debug)]
pub struct MediaSession {
    /// Commands in.
    pub commands: mpsc::UnboundedSender<MediaCommand>,
    /// Events out.
    pub events: mpsc::UnboundedReceiver<MediaEvent>,
    /// The task; ends when `stop` is cancelled, or when `commands` is dropped and nothing
    /// runs or waits.
    pub task: JoinHandle<SessionSummary>,
}

impl MediaSession {
    /// Waits for the session to end.
    pub async fn join(self) -> SessionSummary {
        self.task.await.unwrap_or_default()
    }
}

/// Starts the session of a leg on its RTP `socket` (`leg.media_socket()`), sending to
/// `audio.remote` and then to where `remote` moves it (a re-INVITE) or where the peer's
/// packets come from (symmetric RTP). Runs until `stop` is cancelled.
pub fn start(
    socket: UdpSocket,
    audio: NegotiatedAudio,
    remote: watch::Receiver<SocketAddr>,
    stop: CancellationToken,
) -> MediaSession {
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (event_tx, events) = mpsc::unbounded_channel();
    let task = tokio::spawn(super::engine::run(
        socket, audio, remote, stop, command_rx, event_tx,
    ));
    MediaSession {
        commands,
        events,
        task,
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
