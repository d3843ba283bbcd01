//! What may be asked of a call, and the decider that refuses what cannot happen.
//!
//! The invariant it protects: a call stream starts with exactly one `call.initiated`, ends
//! with exactly one `call.completed`, and holds nothing after it but at most one
//! `call.deleted` (the REST API's `Delete` of the finished call's record); an answer comes at most
//! once and only before the end; the end status agrees with whether the call was answered
//! (`completed` only after an answer; `busy`, `no-answer`, `canceled` only before one).
//!
//! SIP and the TwiML executor report facts (`Initiate`, `Ring`, `Answer`, `Complete`, …): the
//! decider turns each into its one event or refuses it. The REST API asks for changes
//! (`Redirect`, `Cancel`, `Hangup`, Twilio's `POST /Calls/{CA}` with `Url` or `Status`): the
//! decider only checks that Twilio would accept them now and records nothing, because what
//! happens is the engine's to observe — the BYE or CANCEL it sends ends the call through
//! `Complete` with the real SIP code and duration, and a redirect shows as the next
//! `call.instructions.fetched`. The controller hands an accepted request to the call's task.

use super::state::{Call, CallStatus};
use super::{truncate, MAX_NOTIFICATION_BODY, MAX_NOTIFICATION_TEXT};
use super::{
    CallAnswered, CallCompleted, CallDeleted, CallDirection, CallEndStatus, CallInitiated,
    CallRinging, CallRouted, DtmfReceived, HttpMethod, InstructionsFetched, MediaPlayed,
    NotificationRaised,
};
use crate::event::Event;

/// Something asked of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCommand {
    /// An INVITE arrived or was sent: the call begins.
    Initiate {
        /// Inbound or outbound.
        direction: CallDirection,
        /// The `From` URI.
        from: String,
        /// The `To` URI.
        to: String,
        /// The SIP `Call-ID`.
        sip_call_id: String,
        /// The signalling peer, `ip:port`.
        remote_addr: String,
        /// For a `<Dial>` leg, the call it was placed for.
        parent_call_sid: Option<String>,
    },
    /// The router chose what drives the call.
    Route(CallRouted),
    /// 180 Ringing was sent or received.
    Ring,
    /// 200 OK with SDP: media flows.
    Answer(CallAnswered),
    /// The call is over.
    Complete(CallCompleted),
    /// A key press.
    RecordDigit(DtmfReceived),
    /// Audio finished playing.
    RecordPlayed(MediaPlayed),
    /// The application answered a request for instructions.
    RecordFetch(InstructionsFetched),
    /// An error or warning while running the call's instructions.
    RaiseNotification(NotificationRaised),
    /// REST: fetch new instructions from `url` (Twilio's `Url` on an in-progress call).
    Redirect {
        /// The new document's URL.
        url: String,
        /// How to request it.
        method: HttpMethod,
    },
    /// REST: run this inline TwiML now (Twilio's `Twiml` on an in-progress call).
    RedirectTwiml {
        /// The new document (≤ 4,000 characters).
        twiml: String,
    },
    /// The dialog is confirmed: what a BYE after a restart needs.
    RecordDialog(super::CallDialog),
    /// REST: `Status=canceled` — give up a call that is queued or ringing.
    Cancel,
    /// REST: `Status=completed` — end the call, whatever its state.
    Hangup,
    /// REST: `DELETE /Calls/{CA}` — remove the record of a finished call (once).
    Delete,
}

impl CallCommand {
    /// The command's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            CallCommand::Initiate { .. } => "initiate",
            CallCommand::Route(_) => "route",
            CallCommand::Ring => "ring",
            CallCommand::Answer(_) => "answer",
            CallCommand::Complete(_) => "complete",
            CallCommand::RecordDigit(_) => "record-digit",
            CallCommand::RecordPlayed(_) => "record-played",
            CallCommand::RecordFetch(_) => "record-fetch",
            CallCommand::RaiseNotification(_) => "raise-notification",
            CallCommand::Redirect { .. } => "redirect",
            CallCommand::RedirectTwiml { .. } => "redirect-twiml",
            CallCommand::RecordDialog(_) => "record-dialog",
            CallCommand::Cancel => "cancel",
            CallCommand::Hangup => "hangup",
            CallCommand::Delete => "delete",
        }
    }

    /// The request for the call's task, when this is one the REST API makes.
    pub fn request(&self) -> Option<CallRequest> {
        match self {
            CallCommand::Redirect { url, method } => Some(CallRequest::Redirect {
                url: url.clone(),
                method: *method,
            }),
            CallCommand::RedirectTwiml { twiml } => Some(CallRequest::RedirectTwiml {
                twiml: twiml.clone(),
            }),
            CallCommand::Cancel => Some(CallRequest::Cancel),
            CallCommand::Hangup => Some(CallRequest::Hangup),
            _ => None,
        }
    }
}

impl From<CallInitiated> for CallCommand {
    /// The `Initiate` that records exactly this `call.initiated`.
    fn from(e: CallInitiated) -> CallCommand {
        CallCommand::Initiate {
            direction: e.direction,
            from: e.from,
            to: e.to,
            sip_call_id: e.sip_call_id,
            remote_addr: e.remote_addr,
            parent_call_sid: e.parent_call_sid,
        }
    }
}

/// An accepted REST request, for the task that owns the call's signalling to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallRequest {
    /// Stop the current document; run the one at `url`.
    Redirect {
        /// The new document's URL.
        url: String,
        /// How to request it.
        method: HttpMethod,
    },
    /// Stop the current document; run this inline one.
    RedirectTwiml {
        /// The document.
        twiml: String,
    },
    /// Send a CANCEL (or refuse the INVITE) before the answer.
    Cancel,
    /// End the call: a BYE after the answer, a CANCEL or refusal before it.
    Hangup,
}

/// Why a command was refused. Each says what the call's state was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Only `Initiate` may come first.
    #[error("{command}: the call has not begun")]
    NotInitiated {
        /// The refused command.
        command: &'static str,
    },
    /// `Initiate` came twice.
    #[error("the call has begun already")]
    AlreadyInitiated,
    /// Nothing is recorded after `call.completed`.
    #[error("{command}: the call has ended ({status})", status = .status.as_str())]
    Ended {
        /// The refused command.
        command: &'static str,
        /// How it ended.
        status: CallStatus,
    },
    /// `Route` came twice.
    #[error("the call is routed already")]
    AlreadyRouted,
    /// `Ring` came twice, or after the answer.
    #[error("the call has rung already")]
    AlreadyRinging,
    /// `Answer` came twice.
    #[error("the call was answered already")]
    AlreadyAnswered,
    /// Media facts (digits, playback) and redirects need an answered call.
    #[error("{command}: the call is not answered ({status})", status = .status.as_str())]
    NotAnswered {
        /// The refused command.
        command: &'static str,
        /// Its status now.
        status: CallStatus,
    },
    /// `Delete` needs a finished call.
    #[error("the call is {status} and cannot be deleted until it has ended", status = .status.as_str())]
    NotEnded {
        /// Its status now.
        status: CallStatus,
    },
    /// The record was deleted already.
    #[error("the call's record was deleted already")]
    Deleted,
    /// Twilio: `Status=canceled` has no effect on an in-progress call (use `completed`).
    #[error("an in-progress call cannot be canceled; hang it up (Status=completed)")]
    CancelInProgress,
    /// The end status contradicts the answer: `completed` needs one; `busy`, `no-answer`
    /// and `canceled` happen only before one.
    #[error("a call {answered} cannot end {status:?}", answered = if *.answered { "that was answered" } else { "never answered" })]
    EndStatusMismatch {
        /// The status asked for.
        status: CallEndStatus,
        /// Whether the call was answered.
        answered: bool,
    },
    /// Twilio's error codes have five digits.
    #[error("an error code has five digits, got {0}")]
    ErrorCode(u32),
    /// The notification's SID is not a `NO…`.
    #[error("a notification SID starts with NO, got {0}")]
    NotificationSid(String),
}

/// Decides `command` against the call's folded `state`: the events to record, or why not.
pub fn decide(command: &CallCommand, state: Option<&Call>) -> Result<Vec<Event>, CallError> {
    let name = command.name();
    let call = match (command, state) {
        (CallCommand::Initiate { .. }, Some(_)) => return Err(CallError::AlreadyInitiated),
        (
            CallCommand::Initiate {
                direction,
                from,
                to,
                sip_call_id,
                remote_addr,
                parent_call_sid,
            },
            None,
        ) => {
            return Ok(vec![Event::CallInitiated(CallInitiated {
                direction: *direction,
                from: from.clone(),
                to: to.clone(),
                sip_call_id: sip_call_id.clone(),
                remote_addr: remote_addr.clone(),
                parent_call_sid: parent_call_sid.clone(),
            })])
        }
        (_, None) => return Err(CallError::NotInitiated { command: name }),
        (_, Some(call)) => call,
    };
    if let CallCommand::Delete = command {
        return delete(call);
    }
    if call.status.is_terminal() {
        return Err(CallError::Ended {
            command: name,
            status: call.status,
        });
    }
    on_live_call(command, call)
}

/// Decides a command for a call that has begun and not ended.
fn on_live_call(command: &CallCommand, call: &Call) -> Result<Vec<Event>, CallError> {
    let name = command.name();
    let answered = call.status == CallStatus::InProgress;
    let event = match command {
        CallCommand::Initiate { .. } => return Err(CallError::AlreadyInitiated),
        CallCommand::Route(routed) => {
            if call.routed.is_some() {
                return Err(CallError::AlreadyRouted);
            }
            Event::CallRouted(routed.clone())
        }
        CallCommand::Ring => {
            if call.rang || answered {
                return Err(CallError::AlreadyRinging);
            }
            Event::CallRinging(CallRinging {})
        }
        CallCommand::Answer(answer) => {
            if answered {
                return Err(CallError::AlreadyAnswered);
            }
            Event::CallAnswered(answer.clone())
        }
        CallCommand::Complete(completed) => {
            check_end_status(completed.status, answered)?;
            Event::CallCompleted(completed.clone())
        }
        CallCommand::RecordDigit(digit) => {
            require_answered(call, name)?;
            Event::DtmfReceived(digit.clone())
        }
        CallCommand::RecordPlayed(played) => {
            require_answered(call, name)?;
            Event::MediaPlayed(played.clone())
        }
        CallCommand::RecordFetch(fetched) => {
            let mut fetched = fetched.clone();
            fetched.url = truncate(&fetched.url, MAX_NOTIFICATION_TEXT);
            fetched.content_type = fetched.content_type.map(|t| truncate(&t, 256));
            Event::CallInstructionsFetched(fetched)
        }
        CallCommand::RaiseNotification(raised) => {
            if raised.notification_sid.as_str().get(..2) != Some("NO") {
                return Err(CallError::NotificationSid(
                    raised.notification_sid.to_string(),
                ));
            }
            if !(10_000..=99_999).contains(&raised.error_code) {
                return Err(CallError::ErrorCode(raised.error_code));
            }
            Event::CallNotificationRaised(bounded(raised))
        }
        CallCommand::Redirect { .. } | CallCommand::RedirectTwiml { .. } => {
            require_answered(call, name)?;
            return Ok(Vec::new());
        }
        CallCommand::RecordDialog(dialog) => {
            // After the answer only: before it there is no confirmed dialog to end with a
            // BYE. A later one (after a re-INVITE changed the target) supersedes it.
            require_answered(call, name)?;
            Event::CallDialogRecorded(dialog.clone())
        }
        CallCommand::Cancel => {
            if answered {
                return Err(CallError::CancelInProgress);
            }
            return Ok(Vec::new());
        }
        CallCommand::Hangup => return Ok(Vec::new()),
        CallCommand::Delete => return delete(call),
    };
    Ok(vec![event])
}

/// Decides `Delete`: only a finished call's record, and only once.
fn delete(call: &Call) -> Result<Vec<Event>, CallError> {
    if !call.status.is_terminal() {
        return Err(CallError::NotEnded {
            status: call.status,
        });
    }
    if call.deleted {
        return Err(CallError::Deleted);
    }
    Ok(vec![Event::CallDeleted(CallDeleted {})])
}

/// `raised` with every text cut to what the log keeps (an application's answer can be
/// large, and the log keeps every notification forever).
fn bounded(raised: &NotificationRaised) -> NotificationRaised {
    let body = |text: &Option<String>| text.as_deref().map(|t| truncate(t, MAX_NOTIFICATION_BODY));
    NotificationRaised {
        notification_sid: raised.notification_sid.clone(),
        error_code: raised.error_code,
        log_level: raised.log_level,
        message_text: truncate(&raised.message_text, MAX_NOTIFICATION_TEXT),
        request_url: truncate(&raised.request_url, MAX_NOTIFICATION_TEXT),
        request_method: raised.request_method,
        request_variables: truncate(&raised.request_variables, MAX_NOTIFICATION_BODY),
        response_headers: body(&raised.response_headers),
        response_body: body(&raised.response_body),
    }
}

fn require_answered(call: &Call, command: &'static str) -> Result<(), CallError> {
    if call.status == CallStatus::InProgress {
        Ok(())
    } else {
        Err(CallError::NotAnswered {
            command,
            status: call.status,
        })
    }
}

fn check_end_status(status: CallEndStatus, answered: bool) -> Result<(), CallError> {
    let fits = match status {
        CallEndStatus::Completed => answered,
        CallEndStatus::Busy | CallEndStatus::NoAnswer | CallEndStatus::Canceled => !answered,
        // A call can fail at any point (no ACK for our 200, a broken dialog).
        CallEndStatus::Failed => true,
    };
    if fits {
        Ok(())
    } else {
        Err(CallError::EndStatusMismatch { status, answered })
    }
}
