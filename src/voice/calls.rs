//! The Calls API's port into the call router: placing a call (`POST /Calls`) and reaching a
//! live one (`POST /Calls/{CA}` with `Url`, `Twiml` or `Status`).
//!
//! ```text
//!  HTTP (src/http/voice/calls.rs) ──PlaceCall──▶ CallService::place ─▶ call.initiated + call.routed
//!        │                                          └─▶ a task: INVITE (voice/placed.rs) ─▶ answer ─▶ flow (CallStatus=in-progress)
//!        └── update ──▶ CallService::live(CA) ─▶ CallController::execute(Redirect | RedirectTwiml | Cancel | Hangup)
//! ```
//!
//! Only the writer node runs the SIP engine, and every command reaches the writer (other
//! nodes forward it), so the live call a request names is on this node or on none. The answer
//! to `place` is the call as its controller decided it (read-your-writes without waiting for
//! the calls read model).

use crate::app::call_controller::CallController;
use async_trait::async_trait;
use std::time::Duration;
use switchboard_events::call::{Call, CallRouted};
use switchboard_events::Sid;

/// Twilio's default ring time for `POST /Calls` (`Timeout`), seconds.
pub const DEFAULT_TIMEOUT_SECS: u32 = 60;
/// Twilio's longest ring time, seconds.
pub const MAX_TIMEOUT_SECS: u32 = 600;
/// Twilio's default `TimeLimit`: four hours, seconds.
pub const DEFAULT_TIME_LIMIT_SECS: u32 = 14_400;
/// The longest inline `Twiml`, characters.
pub const MAX_TWIML_CHARS: usize = 4_000;

/// A call to place, as `POST /Calls` asked for it (checked by the HTTP layer).
#[derive(Debug, Clone)]
pub struct PlaceCall {
    /// Whose call it is.
    pub account_sid: Sid,
    /// `To` as given: a `sip:` URI, or a number dialled through the trunk.
    pub to: String,
    /// `From` as given (a number or a SIP URI); the callee sees it as the caller.
    pub from: String,
    /// What drives the call once answered, and where its status callbacks go: `voice_url`
    /// (or `twiml`), fallback, `status_callback`, `status_callback_events` (the HTTP layer
    /// resolves an `ApplicationSid` into its URLs and sets `application_sid`).
    pub routed: CallRouted,
    /// How long it may ring (`Timeout`, default 60 s, at most 600 s).
    pub timeout: Duration,
    /// Longest the answered call may last (`TimeLimit`, default four hours).
    pub time_limit: Duration,
    /// Keys sent once the call is answered (`SendDigits`: `0-9 A-D # * w W`, ≤ 32).
    pub send_digits: Option<String>,
}

/// Why a call could not be placed (nothing was recorded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// `To` is a number and no `--sip-trunk` is configured, or `To` is neither a number nor
    /// a SIP URI (Twilio 21210/21211).
    #[error("{0}")]
    To(String),
    /// This node does not place calls (no SIP engine), or it is shutting down.
    #[error("{0}")]
    Unavailable(String),
}

/// Places calls and finds live ones (see the module doc).
#[async_trait]
pub trait CallService: Send + Sync {
    /// Records the call (`call.initiated`, `call.routed`) and starts placing it; the answer
    /// is the call as recorded (status `queued`).
    async fn place(&self, call: PlaceCall) -> Result<Call, PlaceError>;

    /// The controller of `call_sid` if the call is live on this node.
    fn live(&self, call_sid: &Sid) -> Option<CallController>;
}
