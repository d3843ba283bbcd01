//! A call folded from its stream: Twilio's status and what the call's events established.
//!
//! The fold ([`evolve`]) cannot fail: an event that does not fit (anything before
//! `call.initiated`, anything after `call.completed`) leaves the state as it was, because the
//! log is the truth and the decider ([`super::decide`]) is what keeps such events out of it.

use super::{CallDialog, CallDirection, CallEndStatus, CallRouted, HungUpBy};
use crate::event::Event;
pub use crate::process::call::CallbackDue;
use crate::process::call::Reached;
use serde::{Deserialize, Serialize};

/// Twilio's call statuses (the `status` of the Calls resource, `CallStatus` in webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    /// Placed through the API, not dialled yet.
    Queued,
    /// Ringing; an inbound call starts here.
    Ringing,
    /// Answered.
    InProgress,
    /// Answered, then ended.
    Completed,
    /// The callee was busy, or the call was rejected as busy.
    Busy,
    /// Nobody answered (or the call was rejected).
    NoAnswer,
    /// Canceled before the answer.
    Canceled,
    /// Could not be connected.
    Failed,
}

impl CallStatus {
    /// Whether nothing can follow (every status but queued, ringing, in-progress).
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            CallStatus::Queued | CallStatus::Ringing | CallStatus::InProgress
        )
    }

    /// Twilio's wire value (`in-progress`, `no-answer`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Canceled => "canceled",
            CallStatus::Failed => "failed",
        }
    }
}

impl From<CallEndStatus> for CallStatus {
    fn from(end: CallEndStatus) -> CallStatus {
        match end {
            CallEndStatus::Completed => CallStatus::Completed,
            CallEndStatus::Busy => CallStatus::Busy,
            CallEndStatus::NoAnswer => CallStatus::NoAnswer,
            CallEndStatus::Canceled => CallStatus::Canceled,
            CallEndStatus::Failed => CallStatus::Failed,
        }
    }
}

/// One call as its stream tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `CA…` (the stream).
    pub sid: String,
    /// Whose call it is (the envelope's account).
    pub account_sid: String,
    /// Inbound or outbound.
    pub direction: CallDirection,
    /// The `From` URI as signalled.
    pub from: String,
    /// The `To` URI as signalled.
    pub to: String,
    /// Twilio's status now.
    pub status: CallStatus,
    /// For a `<Dial>` leg, the call it was placed for.
    pub parent_call_sid: Option<String>,
    /// What routed it, once routed.
    pub routed: Option<CallRouted>,
    /// When `call.initiated` was recorded.
    pub created_at_ms: i64,
    /// When the last event was recorded.
    pub updated_at_ms: i64,
    /// When it was answered.
    pub answered_at_ms: Option<i64>,
    /// When it ended.
    pub ended_at_ms: Option<i64>,
    /// The SIP code that ended it.
    pub sip_code: Option<u16>,
    /// Who ended it.
    pub hung_up_by: Option<HungUpBy>,
    /// Milliseconds from the answer to the end (0 when never answered), once ended.
    pub duration_ms: Option<u64>,
    /// The SIP `Call-ID`.
    pub sip_call_id: String,
    /// Whether `call.ringing` was recorded (an inbound call is ringing from its INVITE, and
    /// records the 180 once).
    pub rang: bool,
    /// The codec agreed at the answer.
    pub codec: Option<String>,
    /// Every key pressed, in order.
    pub digits: String,
    /// Instruction fetches recorded.
    pub fetches: u32,
    /// Notifications raised.
    pub notifications: u32,
    /// The caller's forwarding number, when the signalling said (`ForwardedFrom`).
    pub forwarded_from: Option<String>,
    /// The caller's name, when a lookup gave one (`CallerName`).
    pub caller_name: Option<String>,
    /// The confirmed dialog, as last recorded (what a BYE after a restart needs).
    pub dialog: Option<CallDialog>,
    /// Whether the call went on the wire: an inbound call arrived on it, and an outbound
    /// call's `call.initiated` is recorded as its INVITE is about to be sent. A call that
    /// ends `canceled` without having been dialled was canceled while queued and gets no
    /// status callback (see [`crate::process::call`]).
    pub dialled: bool,
    /// Status callbacks produced so far: the next one's `SequenceNumber`.
    pub status_callbacks: u32,
    /// The status callbacks the last folded event produced, in order (empty for most events,
    /// and for an event the fold stepped over).
    pub callbacks_due: Vec<CallbackDue>,
    /// Whether the finished call's record was deleted (`call.deleted`): the API no longer
    /// shows it.
    pub deleted: bool,
}

impl Call {
    /// Whether the call is over.
    pub fn is_ended(&self) -> bool {
        self.status.is_terminal()
    }
}

/// Folds one recorded `event` (on `stream`, of `account_sid`, recorded at `occurred_at_ms`)
/// into `state`. Never fails: see the module doc.
pub fn evolve(
    state: Option<Call>,
    occurred_at_ms: i64,
    account_sid: &str,
    stream: &str,
    event: &Event,
) -> Option<Call> {
    let Some(mut call) = state else {
        let mut call = match event {
            Event::CallInitiated(e) => Call {
                sid: stream.to_string(),
                account_sid: account_sid.to_string(),
                direction: e.direction,
                from: e.from.clone(),
                to: e.to.clone(),
                // Twilio: an inbound call is ringing from the moment it arrives; an outbound
                // one is queued until it is dialled.
                status: match e.direction {
                    CallDirection::Inbound => CallStatus::Ringing,
                    CallDirection::OutboundApi | CallDirection::OutboundDial => CallStatus::Queued,
                },
                parent_call_sid: e.parent_call_sid.clone(),
                routed: None,
                created_at_ms: occurred_at_ms,
                updated_at_ms: occurred_at_ms,
                answered_at_ms: None,
                ended_at_ms: None,
                sip_code: None,
                hung_up_by: None,
                duration_ms: None,
                sip_call_id: e.sip_call_id.clone(),
                rang: false,
                codec: None,
                digits: String::new(),
                fetches: 0,
                notifications: 0,
                forwarded_from: None,
                caller_name: None,
                dialog: None,
                // Today every call stream starts on the wire (module doc of `process::call`).
                dialled: true,
                status_callbacks: 0,
                callbacks_due: Vec::new(),
                deleted: false,
            },
            _ => return None,
        };
        crate::process::call::mark(Reached::default(), &mut call);
        return Some(call);
    };
    call.callbacks_due.clear();
    if call.is_ended() {
        // The one event after the end: the record's deletion.
        if let Event::CallDeleted(_) = event {
            call.deleted = true;
            call.updated_at_ms = occurred_at_ms;
        }
        return Some(call);
    }
    let before = Reached::of(&call);
    match event {
        Event::CallRouted(e) => call.routed = Some(e.clone()),
        Event::CallRinging(_) => {
            call.rang = true;
            call.status = CallStatus::Ringing;
        }
        Event::CallAnswered(e) => {
            call.status = CallStatus::InProgress;
            call.answered_at_ms = Some(occurred_at_ms);
            call.codec = Some(e.codec.clone());
        }
        Event::CallCompleted(e) => {
            call.status = e.status.into();
            call.ended_at_ms = Some(occurred_at_ms);
            call.sip_code = Some(e.sip_code);
            call.hung_up_by = Some(e.hung_up_by);
            call.duration_ms = Some(e.duration_ms);
        }
        Event::DtmfReceived(e) => call.digits.push_str(&e.digit),
        Event::CallInstructionsFetched(_) => call.fetches += 1,
        Event::CallNotificationRaised(_) => call.notifications += 1,
        Event::CallDialogRecorded(e) => call.dialog = Some(e.clone()),
        // Playback and anything not about a call change nothing here.
        _ => return Some(call),
    }
    call.updated_at_ms = occurred_at_ms;
    crate::process::call::mark(before, &mut call);
    Some(call)
}
