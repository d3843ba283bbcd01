//! Placing a call: INVITE with our SDP offer, until the callee answers (a [`Leg`]) or the
//! call fails.
//!
//! ```text
//!  admission ──at --max-calls / no RTP ports──▶ call.completed busy 503 (nothing sent)
//!     │ slot
//!     ▼
//!  INVITE + offer (PCMU/PCMA, telephone-event 101) ── call.initiated
//!     │ 18x ─▶ call.ringing (once)
//!     │ ring timeout or cancel ─▶ CANCEL ─▶ 487 ─▶ call.completed no-answer / canceled
//!     │ 486/600 ─▶ busy · 480/408/no response ─▶ no-answer · other ─▶ failed (with the code)
//!     ▼ 2xx
//!  answer SDP checked against the offer ──bad──▶ ACK, BYE, call.completed failed 488
//!     ▼ good
//!  call.answered ─▶ Leg (runs a behaviour or is bridged)
//! ```
//!
//! rsipstack sends the ACK for the 2xx and keeps re-ACKing retransmitted 2xx (RFC 6026);
//! the INVITE client transaction retransmits on timer A until a provisional arrives.

use super::leg::{Answered, End, Leg, Role};
use super::Shared;
use crate::app::call_controller::CallController;
use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::{StatusCode, StatusCodeKind};
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::call::{
    CallCommand, CallDirection, CallEndStatus, CallInitiated, CallRouted, HungUpBy,
};
use switchboard_events::{Sid, SidPrefix};
use switchboard_telephony::g711::Law;
use switchboard_telephony::sdp::Offer;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// The RFC 4733 payload type we offer (the common choice).
const TELEPHONE_EVENT_PT: u8 = 101;

/// A call to place.
#[derive(Debug, Clone)]
pub struct DialRequest {
    /// The callee: `sip:user@host:port`.
    pub to: String,
    /// The caller, as the callee sees it (`From`): `sip:user@host`.
    pub from: String,
    /// The account the call belongs to.
    pub account: Sid,
    /// How long it may ring before we CANCEL (no-answer).
    pub ring_timeout: Duration,
    /// Codecs to offer, preferred first.
    pub codecs: Vec<Law>,
    /// For a leg placed to connect another call, that call.
    pub parent: Option<Sid>,
}

/// A call that did not become a leg: its SID and how it ended (already recorded).
#[derive(Debug, Clone)]
pub(crate) struct NotConnected {
    pub call_sid: Sid,
    pub end: End,
    /// The SIP Call-ID the INVITE carried (or would have).
    pub sip_call_id: String,
}

/// Places `request`; `cancel` gives up while it rings (a CANCEL is sent).
pub(crate) async fn dial(
    shared: &Arc<Shared>,
    request: DialRequest,
    cancel: CancellationToken,
) -> Result<Leg, NotConnected> {
    dial_routed(shared, request, None, cancel).await
}

/// [`dial`], recording `routed` (where the call's status callbacks go) right after
/// `call.initiated`, before anything is sent: every later status change can be reported.
pub(crate) async fn dial_routed(
    shared: &Arc<Shared>,
    request: DialRequest,
    routed: Option<CallRouted>,
    cancel: CancellationToken,
) -> Result<Leg, NotConnected> {
    let call_sid = crate::commands::new_sid(SidPrefix::Call);
    let controller = CallController::start(
        shared.commands.clone(),
        &shared.tracker,
        request.account.clone(),
        call_sid.clone(),
    );
    let sip_call_id = new_call_id();
    let direction = if request.parent.is_some() {
        CallDirection::OutboundDial
    } else {
        CallDirection::OutboundApi
    };
    controller.observe(CallCommand::from(CallInitiated {
        direction,
        from: request.from.clone(),
        to: request.to.clone(),
        sip_call_id: sip_call_id.clone(),
        remote_addr: remote_addr(&request.to),
        parent_call_sid: request.parent.as_ref().map(Sid::to_string),
    }));
    if let Some(routed) = routed {
        controller.observe(CallCommand::Route(routed));
    }
    connect(shared, request, controller, sip_call_id, cancel).await
}

/// A fresh SIP `Call-ID` for a call we place.
pub(crate) fn new_call_id() -> String {
    format!("{}@switchboard", uuid::Uuid::new_v4().simple())
}

/// The host (and port) a call to `to` is signalled to, as `call.initiated` records it
/// (empty when `to` is not a SIP URI).
pub(crate) fn remote_addr(to: &str) -> String {
    rsipstack::sip::Uri::try_from(to)
        .map(|callee| callee.host_with_port.to_string())
        .unwrap_or_default()
}

/// Sends the INVITE of a call whose `call.initiated` `controller` has recorded (with
/// `sip_call_id`), until it answers or fails; the failure is recorded.
pub(crate) async fn connect(
    shared: &Arc<Shared>,
    request: DialRequest,
    controller: CallController,
    sip_call_id: String,
    cancel: CancellationToken,
) -> Result<Leg, NotConnected> {
    let call_sid = controller.call_sid().clone();
    let fail = |end: End| {
        controller.completed(end.clone(), None);
        Err(NotConnected {
            call_sid: call_sid.clone(),
            end,
            sip_call_id: sip_call_id.clone(),
        })
    };
    let parsed = crate::config::sip_uri(&request.to).and_then(|_| {
        let caller = rsipstack::sip::Uri::try_from(request.from.as_str())
            .map_err(|e| format!("not a SIP URI: {e}"))?;
        let callee = rsipstack::sip::Uri::try_from(request.to.as_str())
            .map_err(|e| format!("not a SIP URI: {e}"))?;
        Ok((caller, callee))
    });
    let (caller, callee) = match parsed {
        Ok(uris) => uris,
        Err(why) => return fail(End::new(CallEndStatus::Failed, 400, HungUpBy::Local, &why)),
    };

    let slot = match shared.slots.admit() {
        Ok(slot) => slot,
        Err(why) => {
            return fail(End::new(
                CallEndStatus::Busy,
                503,
                HungUpBy::Local,
                &format!("not placed: {why}"),
            ))
        }
    };
    let local = shared.local_media(&slot);
    let offer = Offer::new(&local, &request.codecs, Some(TELEPHONE_EVENT_PT));
    let option = InviteOption {
        caller,
        callee,
        content_type: Some("application/sdp".into()),
        offer: Some(offer.sdp.clone().into_bytes()),
        contact: shared.contact.clone(),
        call_id: Some(sip_call_id.clone()),
        ..Default::default()
    };
    let (state_tx, mut states) = shared.dialogs.new_dialog_state_channel();
    let (dialog, result) = match shared.dialogs.do_invite_async(option, state_tx) {
        Ok(started) => started,
        Err(e) => {
            return fail(End::new(
                CallEndStatus::Failed,
                500,
                HungUpBy::Local,
                &format!("INVITE not sent: {e}"),
            ))
        }
    };
    tokio::pin!(result);
    let ring_timeout = tokio::time::sleep(request.ring_timeout);
    tokio::pin!(ring_timeout);
    let mut rang = false;
    // Why we sent a CANCEL, if we did.
    let mut canceled: Option<End> = None;
    let outcome = loop {
        tokio::select! {
            outcome = &mut result => break outcome,
            state = states.recv() => {
                if let Some(DialogState::Early(_, response)) = state {
                    if !rang && response.status_code != StatusCode::Trying {
                        rang = true;
                        controller.observe(CallCommand::Ring);
                    }
                }
            }
            _ = &mut ring_timeout, if canceled.is_none() => {
                canceled = Some(End::new(CallEndStatus::NoAnswer, 487, HungUpBy::Local, "no answer before the ring timeout"));
                let _ = dialog.cancel().await;
            }
            _ = cancel.cancelled(), if canceled.is_none() => {
                canceled = Some(End::new(CallEndStatus::Canceled, 487, HungUpBy::Local, "canceled before the answer"));
                let _ = dialog.cancel().await;
            }
            _ = shared.shutdown.cancelled(), if canceled.is_none() => {
                canceled = Some(End::new(CallEndStatus::Canceled, 487, HungUpBy::Local, "server shutting down"));
                let _ = dialog.cancel().await;
            }
        }
    };
    let response = match outcome {
        Ok(Ok((_, Some(response)))) => response,
        other => {
            let why = match other {
                Ok(Err(e)) => format!("no final response: {e}"),
                Err(e) => format!("INVITE task failed: {e}"),
                Ok(Ok(_)) => "no final response".into(),
            };
            return fail(canceled.unwrap_or_else(|| {
                End::new(CallEndStatus::NoAnswer, 408, HungUpBy::Remote, &why)
            }));
        }
    };
    let code = u16::from(response.status_code.clone());
    if let Some(end) = canceled {
        // A 2xx that raced our CANCEL is ended with a BYE by rsipstack itself.
        return fail(end);
    }
    if response.status_code.kind() != StatusCodeKind::Successful {
        let status = match code {
            486 | 600 => CallEndStatus::Busy,
            408 | 480 | 487 => CallEndStatus::NoAnswer,
            _ => CallEndStatus::Failed,
        };
        let reason = format!("callee answered {code} {}", response.status_code);
        return fail(End::new(status, code, HungUpBy::Remote, &reason));
    }
    let checked = std::str::from_utf8(&response.body)
        .map_err(|_| "the SDP answer is not UTF-8".to_string())
        .and_then(|text| offer.accept_answer(text).map_err(|e| e.to_string()));
    let audio = match checked {
        Ok(audio) => audio,
        Err(why) => {
            debug!(call_sid = %call_sid, %why, "unusable answer; hanging up");
            let _ = dialog.bye().await;
            shared.dialogs.remove_dialog(&dialog.id());
            return fail(End::new(
                CallEndStatus::Failed,
                488,
                HungUpBy::Local,
                &format!("unusable SDP answer: {why}"),
            ));
        }
    };
    let leg = Answered {
        call_sid,
        controller,
        dialog,
        states,
        slot,
        local,
        audio,
    }
    .into_leg(Role::Uac);
    // rsipstack has sent the ACK: the dialog is confirmed.
    leg.record_dialog();
    Ok(leg)
}
