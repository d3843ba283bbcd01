//! Calls: the call stream (`CA…`) holds one call's history in order, from the first SIP
//! INVITE to the final response or BYE. The telephony engine (`src/sip` in the service)
//! records these facts as they happen on the wire; the call router (a later issue) will add
//! instruction execution to the same stream.
//!
//! ```text
//!  call.initiated ──▶ call.ringing ──▶ call.answered ──▶ (dtmf.received | media.played)* ──▶ call.completed
//!        │                  │                                                                   ▲
//!        └──────────────────┴──── refused, canceled or failed before an answer ─────────────────┘
//! ```
//!
//! `call.completed` is the only terminal event and every call gets exactly one: it carries
//! the SIP status that ended the call (200 for a BYE after an answer, 487 for a CANCEL, the
//! refusal's code otherwise) and the duration since the answer (0 when never answered), so
//! billing needs no other event to price a call.

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
