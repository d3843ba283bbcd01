//! One inbound call, from its INVITE to its `call.completed`.
//!
//! ```text
//!  INVITE ─▶ account? ──no──▶ 480
//!              │ yes
//!              ▼
//!           SDP offer ──bad / no common codec──▶ 488 + Warning          (call.initiated, call.completed failed)
//!              │ ok
//!              ▼
//!           admission ──at --max-calls / no RTP ports──▶ 503 + Retry-After   (… completed busy)
//!              │ slot
//!              ▼
//!           100 (rsipstack), 180 ── call.ringing ── [--sip-answer-delay-ms] ──CANCEL──▶ 487 (… completed canceled)
//!              ▼
//!           200 + SDP answer ── call.answered ── a Leg (leg.rs):
//!              │    --inbound echo | play | collect ─▶ leg::run_behaviour
//!              │    --inbound bridge:URI            ─▶ bridge::run (a second call, RTP relayed)
//!              │  INFO dtmf-relay, RFC 4733 ──▶ dtmf.received
//!              ▼
//!           BYE from the caller ─────────────▶ call.completed (completed, remote)
//!           playback finished ─▶ our BYE ───▶ media.played, call.completed (completed, local)
//!           no ACK (timer H)  ─────────────▶ call.completed (failed, 408)
//!           shutdown ─▶ our BYE / 503 ─────▶ call.completed (local)
//! ```
//!
//! The call task owns the dialog's state channel (one per call, so no shared router of
//! states is needed), the RTP slot and the media task; when it returns, the dialog is removed
//! from the dialog layer and the slot (place and ports) goes back, whichever way it ended.

use super::bridge;
use super::leg::{run_behaviour, Answered, End, Role};
use super::Shared;
use crate::app::call_controller::CallController;
use rsipstack::dialog::dialog::{DialogState, TerminatedReason};
use rsipstack::sip::headers::{ContentType, RetryAfter, Warning};
use rsipstack::sip::{Header, HeadersExt, Request, StatusCode};
use rsipstack::transaction::Transaction;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::call::{
    CallCommand, CallDirection, CallEndStatus, CallInitiated, HungUpBy,
};
use switchboard_events::SidPrefix;
use switchboard_telephony::sdp::{self, SessionDescription};
use tracing::{debug, warn};

/// How long a refused INVITE's transaction is kept to retransmit the final response until
/// the ACK (RFC 3261 timer H is 64·T1 = 32 s; a loopback peer ACKs at once).
const REFUSAL_LINGER: Duration = Duration::from_secs(32);

/// Runs one inbound call (see the module doc).
pub(crate) async fn inbound(shared: Arc<Shared>, mut tx: Transaction) {
    let Some(account) = shared.account.clone() else {
        warn!("inbound call refused with 480: switchboard runs without --sip-account");
        refuse(
            &shared,
            tx,
            StatusCode::TemporarilyUnavailable,
            vec![warning(
                "no account takes calls on this node (--sip-account)",
            )],
        )
        .await;
        return;
    };
    if shared.shutdown.is_cancelled() {
        let retry = retry_after(&shared);
        refuse(&shared, tx, StatusCode::ServiceUnavailable, vec![retry]).await;
        return;
    }
    let call_sid = crate::commands::new_sid(SidPrefix::Call);
    let controller = CallController::start(
        shared.commands.clone(),
        &shared.tracker,
        account.clone(),
        call_sid.clone(),
    );
    controller.observe(CallCommand::from(initiated(&tx)));

    // The offer first: a bad one is refused before a place or a port is taken.
    let offer = match parse_offer(&tx.original) {
        Ok(offer) => offer,
        Err(why) => {
            debug!(call_sid = %call_sid, %why, "refusing offer with 488");
            refuse_unacceptable(&shared, tx, &controller, &why).await;
            return;
        }
    };
    let slot = match shared.slots.admit() {
        Ok(slot) => slot,
        Err(why) => {
            warn!(call_sid = %call_sid, %why, "refusing call with 503");
            let retry = retry_after(&shared);
            refuse(&shared, tx, StatusCode::ServiceUnavailable, vec![retry]).await;
            controller.completed(
                End::new(CallEndStatus::Busy, 503, HungUpBy::Local, &why.to_string()),
                None,
            );
            return;
        }
    };
    let local = shared.local_media(&slot);
    let answer = match sdp::answer(&offer, &local) {
        Ok(answer) => answer,
        Err(e) => {
            refuse_unacceptable(&shared, tx, &controller, &e.to_string()).await;
            return;
        }
    };

    let (state_tx, mut states) = shared.dialogs.new_dialog_state_channel();
    // A dialog that arrived over TCP asks for its in-dialog requests over TCP.
    let over_tcp = tx
        .original
        .header_value("Via")
        .is_some_and(|via| via.to_ascii_uppercase().contains("/TCP "));
    let contact = if over_tcp {
        shared.contact_tcp.clone()
    } else {
        shared.contact.clone()
    };
    let dialog =
        match shared
            .dialogs
            .get_or_create_server_invite(&tx, state_tx, None, Some(contact))
        {
            Ok(dialog) => dialog,
            Err(e) => {
                warn!(call_sid = %call_sid, cause = %e, "cannot create the dialog");
                refuse(&shared, tx, StatusCode::ServerInternalError, vec![]).await;
                controller.completed(
                    End::new(CallEndStatus::Failed, 500, HungUpBy::Local, "dialog error"),
                    None,
                );
                return;
            }
        };
    let dialog_id = dialog.id();
    // The INVITE transaction: 100 Trying, the responses queued below, their retransmission
    // until the ACK, and a CANCEL. It must keep running for the whole early phase.
    let invite = {
        let mut dialog = dialog.clone();
        tokio::spawn(async move {
            if let Err(e) = dialog.handle(&mut tx).await {
                debug!(cause = %e, "INVITE transaction ended with an error");
            }
        })
    };

    let _ = dialog.ringing(None, None);
    controller.observe(CallCommand::Ring);

    // Ringing: wait out the answer delay unless the caller cancels or we shut down.
    let early_end = {
        let delay = tokio::time::sleep(shared.answer_delay);
        tokio::pin!(delay);
        loop {
            tokio::select! {
                _ = &mut delay => break None,
                _ = shared.shutdown.cancelled() => {
                    let _ = dialog.reject(Some(StatusCode::ServiceUnavailable), Some("shutting down".into()));
                    break Some(End::new(CallEndStatus::Failed, 503, HungUpBy::Local, "server shutting down"));
                }
                state = states.recv() => match state {
                    Some(DialogState::Terminated(_, reason)) => break Some(early_termination(&reason)),
                    Some(_) => {}
                    None => break Some(End::new(CallEndStatus::Failed, 500, HungUpBy::Local, "dialog closed")),
                },
            }
        }
    };
    if let Some(end) = early_end {
        controller.completed(end, None);
        finish(&shared, &dialog_id, invite).await;
        return;
    }

    let accepted = dialog.accept(
        Some(vec![Header::ContentType(ContentType::new(
            "application/sdp",
        ))]),
        Some(answer.sdp.clone().into_bytes()),
    );
    if let Err(e) = accepted {
        warn!(call_sid = %call_sid, cause = %e, "cannot answer");
        controller.completed(
            End::new(CallEndStatus::Failed, 500, HungUpBy::Local, "answer failed"),
            None,
        );
        finish(&shared, &dialog_id, invite).await;
        return;
    }
    let leg = Answered {
        call_sid,
        controller,
        dialog,
        states,
        slot,
        local,
        audio: answer.audio,
    }
    .into_leg(Role::Uas);
    match &shared.bridge_to {
        Some(to) => bridge::run(&shared, leg, to).await,
        None => {
            run_behaviour(
                &shared,
                leg,
                &shared.behaviour,
                shared.behaviour_source.as_deref(),
                None,
            )
            .await;
        }
    }
    // The leg removed the dialog already; removing it again is harmless.
    finish(&shared, &dialog_id, invite).await;
}

/// Removes the dialog and lets the INVITE transaction finish (bounded).
async fn finish(
    shared: &Shared,
    dialog_id: &rsipstack::dialog::DialogId,
    invite: tokio::task::JoinHandle<()>,
) {
    shared.dialogs.remove_dialog(dialog_id);
    let abort = invite.abort_handle();
    if tokio::time::timeout(REFUSAL_LINGER, invite).await.is_err() {
        abort.abort();
    }
}

/// A termination while ringing.
fn early_termination(reason: &TerminatedReason) -> End {
    match reason {
        TerminatedReason::UacCancel => End::new(
            CallEndStatus::Canceled,
            487,
            HungUpBy::Remote,
            "caller canceled",
        ),
        TerminatedReason::UacBye => End::new(
            CallEndStatus::Canceled,
            487,
            HungUpBy::Remote,
            "caller hung up",
        ),
        other => End::new(
            CallEndStatus::Failed,
            500,
            HungUpBy::Local,
            &format!("terminated while ringing: {other:?}"),
        ),
    }
}

/// Answers the INVITE with a final refusal and keeps its transaction alive (bounded) so the
/// response is retransmitted until the caller's ACK.
async fn refuse(shared: &Shared, mut tx: Transaction, code: StatusCode, headers: Vec<Header>) {
    if let Err(e) = tx.reply_with(code, headers, None).await {
        debug!(cause = %e, "cannot send the refusal");
        return;
    }
    let linger = async { while tx.receive().await.is_some() {} };
    tokio::select! {
        _ = tokio::time::timeout(REFUSAL_LINGER, linger) => {}
        _ = shared.shutdown.cancelled() => {}
    }
}

/// Refuses an offer we cannot answer (488 with a `Warning` saying why) and records the end.
async fn refuse_unacceptable(
    shared: &Shared,
    tx: Transaction,
    controller: &CallController,
    why: &str,
) {
    refuse(
        shared,
        tx,
        StatusCode::NotAcceptableHere,
        vec![warning(why)],
    )
    .await;
    controller.completed(
        End::new(CallEndStatus::Failed, 488, HungUpBy::Local, why),
        None,
    );
}

/// `Retry-After` for a 503.
fn retry_after(shared: &Shared) -> Header {
    Header::RetryAfter(RetryAfter::new(shared.retry_after_secs.to_string()))
}

/// A `Warning: 399` header (RFC 3261 §20.43: 399 is "miscellaneous warning").
fn warning(text: &str) -> Header {
    let text: String = text
        .chars()
        .map(|c| if c == '"' || c.is_control() { '\'' } else { c })
        .take(200)
        .collect();
    Header::Warning(Warning::new(format!("399 switchboard \"{text}\"")))
}

/// The offer in the INVITE, or why it cannot be answered.
fn parse_offer(request: &Request) -> Result<SessionDescription, String> {
    if request.body.is_empty() {
        return Err("an SDP offer in the INVITE is required (no late offer)".into());
    }
    let text =
        std::str::from_utf8(&request.body).map_err(|_| "the SDP body is not UTF-8".to_string())?;
    let offer = SessionDescription::parse(text).map_err(|e| format!("bad SDP: {e}"))?;
    sdp::negotiate(&offer).map_err(|e| e.to_string())?;
    Ok(offer)
}

/// `call.initiated` from the INVITE.
fn initiated(tx: &Transaction) -> CallInitiated {
    let request = &tx.original;
    let remote_addr = tx
        .destination
        .as_ref()
        .map(|a| a.addr.to_string())
        .or_else(|| {
            // The top Via's sent-by: `SIP/2.0/UDP host:port;branch=…`.
            request
                .header_value("Via")
                .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
                .map(|s| s.split(';').next().unwrap_or_default().to_string())
        })
        .unwrap_or_default();
    CallInitiated {
        direction: CallDirection::Inbound,
        from: request
            .from_header()
            .ok()
            .and_then(|f| f.uri().ok())
            .map(|u| u.to_string())
            .unwrap_or_default(),
        to: request
            .to_header()
            .ok()
            .and_then(|t| t.uri().ok())
            .map(|u| u.to_string())
            .unwrap_or_default(),
        sip_call_id: request.header_value("Call-ID").unwrap_or_default(),
        remote_addr,
        parent_call_sid: None,
    }
}

/// The key in a SIP INFO: `application/dtmf-relay` (`Signal=5`) or `application/dtmf`
/// (the key alone).
pub(crate) fn info_digit(request: &Request) -> Option<char> {
    let content_type = request
        .header_value("Content-Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body = std::str::from_utf8(&request.body).ok()?;
    let value = if content_type.starts_with("application/dtmf-relay") {
        body.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| value.trim().to_string())
        })?
    } else if content_type.starts_with("application/dtmf") {
        body.trim().to_string()
    } else {
        return None;
    };
    parse_key(&value)
}

/// `5`, `*`, `#`, `A`–`D` (any case), or the event codes `10`/`11` some phones send for
/// `*`/`#`.
fn parse_key(value: &str) -> Option<char> {
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => switchboard_telephony::rtp::dtmf_event(c)
            .and_then(switchboard_telephony::rtp::dtmf_char),
        _ => value
            .parse::<u8>()
            .ok()
            .and_then(switchboard_telephony::rtp::dtmf_char),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(content_type: &str, body: &str) -> Request {
        let text = format!(
            "INFO sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>;tag=2\r\nCall-ID: x\r\nCSeq: 2 INFO\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Request::try_from(text.as_str()).expect("parses")
    }

    #[test]
    fn sip_info_dtmf_relay_and_dtmf_bodies_give_one_key() {
        assert_eq!(
            info_digit(&info(
                "application/dtmf-relay",
                "Signal=5\r\nDuration=160\r\n"
            )),
            Some('5')
        );
        assert_eq!(
            info_digit(&info(
                "application/dtmf-relay",
                "Signal= #\r\nDuration=160\r\n"
            )),
            Some('#')
        );
        assert_eq!(
            info_digit(&info("application/dtmf-relay", "Signal=11\r\n")),
            Some('#')
        );
        assert_eq!(info_digit(&info("application/dtmf", "b")), Some('B'));
        assert_eq!(
            info_digit(&info("application/dtmf-relay", "Signal=x\r\n")),
            None
        );
        assert_eq!(info_digit(&info("text/plain", "Signal=5")), None);
    }
}
