//! Calls: the call stream (`CA…`) holds one call's history in order, from the first SIP
//! INVITE to the final response or BYE. The telephony engine (`src/sip` in the service) and
//! the call router record these facts through the call's controller, the stream's only
//! writer, which asks [`decide`] first; [`state`] folds them back into a [`Call`].
//!
//! ```text
//!  call.initiated ──▶ call.routed? ──▶ call.ringing ──▶ call.answered ──▶ (dtmf.received | media.played)* ──▶ call.completed
//!        │                                  │        call.instructions.fetched, call.notification.raised: any time before the end
//!        └──────────────────────────────────┴──── refused, canceled or failed before an answer ──────────────────────▲
//! ```
//!
//! `call.completed` is the only terminal event and every call gets exactly one: it carries
//! the SIP status that ended the call (200 for a BYE after an answer, 487 for a CANCEL, the
//! refusal's code otherwise) and the duration since the answer (0 when never answered), so
//! billing needs no other event to price a call. Nothing is recorded after it but, at most
//! once, `call.deleted` (`DELETE /Calls/{CA}` of the finished call: the record leaves the
//! API, the history stays in the log).
//!
//! # Layout
//! - this file: the events and their wire shapes (frozen by `schemas/`);
//! - [`state`]: Twilio's [`CallStatus`] and the fold ([`evolve`]) into a [`Call`];
//! - [`decide`]: the commands SIP, the REST API and the TwiML executor give a call, and the
//!   decider that refuses what cannot happen ([`CallError`]);
//! - [`params`]: the standard parameters of every webhook about a call.

pub mod decide;
pub mod params;
pub mod state;
#[cfg(test)]
mod tests;

pub use decide::{decide, CallCommand, CallError, CallRequest};
pub use params::webhook_params;
pub use state::{evolve, Call, CallStatus};

use crate::sid::Sid;
use serde::{Deserialize, Serialize};

/// Which way a call goes, as Twilio names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallDirection {
    /// A caller reached us.
    Inbound,
    /// We placed the call through the API or a command.
    OutboundApi,
    /// We placed the call to connect another one (a bridge, `<Dial>`): its
    /// `parent_call_sid` is that call.
    OutboundDial,
}

/// How a call ended, Twilio's final `CallStatus` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallEndStatus {
    /// Answered, then hung up by either side.
    Completed,
    /// The callee was busy (486) or we were at capacity (503).
    Busy,
    /// Nobody answered.
    NoAnswer,
    /// The caller gave up before the answer (CANCEL).
    Canceled,
    /// Refused or broken: bad SDP, no account, a transport error.
    Failed,
}

/// Which side ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HungUpBy {
    /// The remote party (its BYE or CANCEL).
    Remote,
    /// switchboard (our BYE, our refusal).
    Local,
}

/// `call.initiated`: an INVITE arrived (or was sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInitiated {
    /// Inbound or outbound.
    pub direction: CallDirection,
    /// The `From` URI.
    pub from: String,
    /// The `To` URI.
    pub to: String,
    /// The SIP `Call-ID`, to find the call in a packet capture.
    pub sip_call_id: String,
    /// Where the signalling came from (inbound) or went to (outbound): `ip:port`.
    pub remote_addr: String,
    /// For an `outbound-dial` leg, the call it was placed for (Twilio's `ParentCallSid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_call_sid: Option<String>,
}

/// `call.ringing`: 180 Ringing was sent (or received).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRinging {}

/// `call.answered`: 200 OK with an SDP answer; media flows from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAnswered {
    /// `PCMU` or `PCMA`.
    pub codec: String,
    /// The RFC 4733 telephone-event payload type, when both sides accept it.
    pub telephone_event: Option<u8>,
    /// Our RTP address as written in the SDP (`ip:port`).
    pub local_rtp: String,
    /// The peer's RTP address from its SDP (`ip:port`); symmetric RTP may send elsewhere.
    pub remote_rtp: String,
}

/// `call.completed`: the call is over (the last event of every call stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCompleted {
    /// Twilio's final status.
    pub status: CallEndStatus,
    /// The SIP status code that ended the call (200 after an answer, 487 for a CANCEL, the
    /// refusal otherwise).
    pub sip_code: u16,
    /// Who ended it.
    pub hung_up_by: HungUpBy,
    /// Milliseconds from the answer to the end; 0 when never answered.
    pub duration_ms: u64,
    /// Why, in a few words (for operators, not for machines).
    pub reason: String,
}

/// `call.deleted`: the account deleted the record of the finished call (`DELETE
/// /Calls/{CA}`); the Calls API no longer shows it. Only after `call.completed`, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDeleted {}

/// `dtmf.received`: one key press, however it was signalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DtmfReceived {
    /// `0`–`9`, `*`, `#`, `A`–`D`.
    pub digit: String,
    /// How it arrived.
    pub method: DtmfMethod,
}

/// How a key press was signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DtmfMethod {
    /// An RFC 4733 telephone-event in the RTP stream.
    Rfc4733,
    /// A SIP INFO with `application/dtmf-relay` (or `application/dtmf`).
    SipInfo,
}

/// `media.played`: a file finished playing into the call (or was cut short by a hang-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaPlayed {
    /// What was played (a path or URL).
    pub source: String,
    /// RTP packets sent.
    pub packets: u64,
    /// Milliseconds of audio sent (20 per packet).
    pub duration_ms: u64,
    /// Whether the whole file was sent (false when the call ended first).
    pub completed: bool,
}

/// An HTTP method Twilio requests an application's URLs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// Parameters in the query string.
    Get,
    /// Parameters form-encoded in the body (Twilio's default).
    Post,
}

impl HttpMethod {
    /// The wire value (`GET`, `POST`).
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }

    /// Parses a method as Twilio accepts it (case-insensitive); anything else is `None`.
    pub fn parse(s: &str) -> Option<HttpMethod> {
        if s.eq_ignore_ascii_case("GET") {
            Some(HttpMethod::Get)
        } else if s.eq_ignore_ascii_case("POST") {
            Some(HttpMethod::Post)
        } else {
            None
        }
    }
}

/// `call.routed`: what the router chose to drive this call — the number it reached (or the
/// application an outbound call named) and the URLs it will request. Recorded once, before
/// the first instruction fetch, so a replay knows which application a call ran even after
/// the number is reconfigured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRouted {
    /// The `PN…` number the call reached; `None` for a call not routed by a number.
    pub phone_number_sid: Option<String>,
    /// The `AP…` application whose URLs are used; `None` when the number's own are.
    pub application_sid: Option<String>,
    /// Where the first instructions come from.
    pub voice_url: String,
    /// How it is requested.
    pub voice_method: HttpMethod,
    /// Where instructions come from when the first fetch or its TwiML fails.
    pub voice_fallback_url: Option<String>,
    /// How the fallback is requested.
    pub voice_fallback_method: HttpMethod,
    /// Where status callbacks go.
    pub status_callback: Option<String>,
    /// How they are sent.
    pub status_callback_method: HttpMethod,
    /// Which status changes are sent to `status_callback` (v2). Twilio's default, and what a
    /// number's `StatusCallback` gets, is `completed` only; a v1 event is lifted to that.
    pub status_callback_events: Vec<StatusCallbackEvent>,
    /// Inline instructions (`Twiml` of `POST /Calls`, ≤ 4,000 characters) run instead of
    /// fetching `voice_url`, which is then empty (v2; `null` in a lifted v1 event).
    pub twiml: Option<String>,
}

/// The status changes a status callback can subscribe to (`StatusCallbackEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusCallbackEvent {
    /// The call left the queue and is being dialled (calls switchboard places only).
    Initiated,
    /// The callee is ringing.
    Ringing,
    /// Answered: sent with `CallStatus=in-progress`.
    Answered,
    /// Any terminal status, which `CallStatus` carries.
    Completed,
}

impl StatusCallbackEvent {
    /// Twilio's wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCallbackEvent::Initiated => "initiated",
            StatusCallbackEvent::Ringing => "ringing",
            StatusCallbackEvent::Answered => "answered",
            StatusCallbackEvent::Completed => "completed",
        }
    }

    /// Parses a wire value (exact, lowercase as Twilio sends it); anything else is `None`.
    pub fn parse(s: &str) -> Option<StatusCallbackEvent> {
        match s {
            "initiated" => Some(StatusCallbackEvent::Initiated),
            "ringing" => Some(StatusCallbackEvent::Ringing),
            "answered" => Some(StatusCallbackEvent::Answered),
            "completed" => Some(StatusCallbackEvent::Completed),
            _ => None,
        }
    }
}

/// Our role in a call's SIP dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialogRole {
    /// We answered the INVITE (inbound).
    Uas,
    /// We sent the INVITE (outbound).
    Uac,
}

/// `call.dialog.recorded`: what a BYE for this call needs, recorded once the dialog is
/// confirmed, so a node that restarts after a crash can still hang the call up on the wire
/// (RFC 3261 §12.2.1.1: Request-URI = the remote target, the route set as `Route`, the tags
/// and Call-ID, a CSeq above every one we sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDialog {
    /// UAS or UAC.
    pub role: DialogRole,
    /// The SIP `Call-ID`.
    pub call_id: String,
    /// Our tag (`From` tag as UAC, `To` tag as UAS).
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
    /// Our URI (`From` of our requests).
    pub local_uri: String,
    /// The peer's URI (`To` of our requests).
    pub remote_uri: String,
    /// The peer's `Contact`: the Request-URI of our in-dialog requests.
    pub remote_target: String,
    /// The route set (`Record-Route`, in the order our requests carry it as `Route`).
    pub route_set: Vec<String>,
    /// The highest CSeq number we have sent in this dialog (0 when we sent none).
    pub local_cseq: u32,
    /// `udp` or `tcp`.
    pub transport: String,
    /// Where our in-dialog requests go (`ip:port`) when the route set is empty.
    pub destination: String,
}

/// `call.instructions.fetched`: the application answered a request for instructions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstructionsFetched {
    /// The URL requested (after redirects, without its fragment).
    pub url: String,
    /// How.
    pub method: HttpMethod,
    /// The HTTP status of the final answer.
    pub status_code: u16,
    /// Its `Content-Type`, when it had one.
    pub content_type: Option<String>,
    /// Bytes of the body.
    pub bytes: u64,
    /// Whether this was the fallback URL.
    pub fallback: bool,
}

/// Twilio's notification log levels (`log` is `0` for an error, `1` for a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationLevel {
    /// Something failed (a fetch, a parse): the fallback runs or the call ends.
    Error,
    /// Execution went on (a 12200 schema warning, a skipped verb).
    Warning,
}

impl NotificationLevel {
    /// Twilio's `log` value: `"0"` for an error, `"1"` for a warning.
    pub fn log(self) -> &'static str {
        match self {
            NotificationLevel::Error => "0",
            NotificationLevel::Warning => "1",
        }
    }

    /// The wire value (`error`, `warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationLevel::Error => "error",
            NotificationLevel::Warning => "warning",
        }
    }
}

/// Longest message, URL or form kept in a notification, bytes.
pub const MAX_NOTIFICATION_TEXT: usize = 4 * 1024;
/// Longest response body or header block kept in a notification, bytes (Twilio's body limit).
pub const MAX_NOTIFICATION_BODY: usize = 64 * 1024;

/// `call.notification.raised`: an error or warning while running the call's instructions,
/// listed as the call's notification (`/Calls/{CA}/Notifications/{NO}.json`). The account and
/// `message_date` are the envelope's; `more_info` and `uri` are derived when served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRaised {
    /// The notification's `NO…` SID.
    pub notification_sid: Sid,
    /// Twilio's error code (11200, 12100, 12200, …).
    pub error_code: u32,
    /// Error or warning.
    pub log_level: NotificationLevel,
    /// What happened.
    pub message_text: String,
    /// The URL whose fetch or document caused it; empty when there was none (inline TwiML).
    pub request_url: String,
    /// How it was requested; `None` when nothing was.
    pub request_method: Option<HttpMethod>,
    /// The parameters sent, form-encoded.
    pub request_variables: String,
    /// The application's answer headers, one `Name: value` per line, when it answered.
    pub response_headers: Option<String>,
    /// The application's answer body, when it answered.
    pub response_body: Option<String>,
}

/// `text` cut to at most `max` bytes at a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}
