//! The call router's front door: an INVITE is routed by the number it calls before anything
//! is answered.
//!
//! ```text
//!  INVITE ─▶ Request-URI user (or To user) ─▶ numbers read model ──none──▶ 404 Not Found
//!              │ VoiceRoute (account, VoiceUrl, fallback, …)      └─unavailable─▶ 503 + Retry-After
//!              ▼
//!           call.initiated, call.routed (the call controller, the stream's only writer)
//!              ▼
//!           SDP offer ──bad / no common codec──▶ 488 + Warning
//!              ▼
//!           admission ──at --max-calls / no RTP ports──▶ 503 + Retry-After
//!              ▼
//!           100, 180 (call.ringing) ─▶ flow.rs: the application decides (Reject, Pause, answer)
//! ```
//!
//! Nothing is answered here: the first document decides whether the call is answered at
//! all (`<Reject>`), and when (`<Pause>` first delays it).

use super::flow::{self, Early};
use super::numbers::VoiceRoute;
use crate::app::call_controller::CallController;
use crate::sip::call::{initiated, parse_offer, refuse, retry_after, warning};
use crate::sip::leg::End;
use crate::sip::Shared;
use rsipstack::sip::{HeadersExt, StatusCode};
use rsipstack::transaction::Transaction;
use std::sync::Arc;
use switchboard_events::call::{
    CallCommand, CallEndStatus, CallRouted, HttpMethod, HungUpBy, StatusCallbackEvent,
};
use switchboard_events::SidPrefix;
use switchboard_telephony::sdp;
use tracing::{debug, warn};

/// The number an INVITE calls: the Request-URI's user part, else the `To` URI's.
pub(crate) fn called(tx: &Transaction) -> Option<String> {
    let request = &tx.original;
    let from_uri = request.uri.user().map(|u| u.to_string());
    from_uri.filter(|u| !u.is_empty()).or_else(|| {
        request
            .to_header()
            .ok()
            .and_then(|to| to.uri().ok())
            .and_then(|uri| uri.user().map(|u| u.to_string()))
            .filter(|u| !u.is_empty())
    })
}

/// A stored method name as the events spell it (POST unless it says GET).
fn http_method(name: &str) -> HttpMethod {
    if name.eq_ignore_ascii_case("GET") {
        HttpMethod::Get
    } else {
        HttpMethod::Post
    }
}

/// Routes and runs one inbound call (see the module doc).
pub(crate) async fn inbound(shared: Arc<Shared>, mut tx: Transaction) {
    if shared.shutdown.is_cancelled() {
        let retry = retry_after(&shared);
        refuse(&shared, tx, StatusCode::ServiceUnavailable, vec![retry]).await;
        return;
    }
    let voice = shared.voice.clone();
    let route = match called(&tx) {
        Some(number) => voice.directory.route(&number).await,
        None => Ok(None),
    };
    let route: VoiceRoute = match route {
        Ok(Some(route)) => route,
        Ok(None) => {
            debug!(called = ?called(&tx), "no number matches the INVITE: 404");
            refuse(
                &shared,
                tx,
                StatusCode::NotFound,
                vec![warning("no account owns the called number")],
            )
            .await;
            return;
        }
        Err(e) => {
            warn!(cause = %e, "the numbers read model cannot be read: 503");
            let retry = retry_after(&shared);
            refuse(&shared, tx, StatusCode::ServiceUnavailable, vec![retry]).await;
            return;
        }
    };
    let call_sid = crate::commands::new_sid(SidPrefix::Call);
    let controller = CallController::start(
        shared.commands.clone(),
        &shared.tracker,
        route.account_sid.clone(),
        call_sid.clone(),
    );
    controller.observe(CallCommand::from(initiated(&tx)));
    // Reachable by `POST /Calls/{CA}` until this task is done with the call.
    let _live = shared.live.register(&controller);
    controller.observe(CallCommand::Route(CallRouted {
        phone_number_sid: Some(route.phone_number_sid.clone()),
        application_sid: route.application_sid.clone(),
        voice_url: route.voice_url.clone().unwrap_or_default(),
        voice_method: http_method(&route.voice_method),
        voice_fallback_url: route.voice_fallback_url.clone(),
        voice_fallback_method: http_method(&route.voice_fallback_method),
        status_callback: route.status_callback.clone(),
        status_callback_method: http_method(&route.status_callback_method),
        // A number's StatusCallback gets `completed` only (Twilio).
        status_callback_events: vec![StatusCallbackEvent::Completed],
        twiml: None,
    }));

    // The offer first: a bad one is refused before a place or a port is taken.
    let offer = match parse_offer(&tx.original) {
        Ok(offer) => offer,
        Err(why) => {
            debug!(call_sid = %call_sid, %why, "refusing offer with 488");
            refuse(
                &shared,
                tx,
                StatusCode::NotAcceptableHere,
                vec![warning(&why)],
            )
            .await;
            controller.completed(
                End::new(CallEndStatus::Failed, 488, HungUpBy::Local, &why),
                None,
            );
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
            let why = e.to_string();
            refuse(
                &shared,
                tx,
                StatusCode::NotAcceptableHere,
                vec![warning(&why)],
            )
            .await;
            controller.completed(
                End::new(CallEndStatus::Failed, 488, HungUpBy::Local, &why),
                None,
            );
            return;
        }
    };

    let (state_tx, states) = shared.dialogs.new_dialog_state_channel();
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
    // The INVITE transaction: 100 Trying, the responses queued by the flow, their
    // retransmission until the ACK, and a CANCEL. It runs for the whole early phase.
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

    let early = Early {
        dialog,
        states,
        slot,
        local,
        audio: answer.audio,
        sdp: answer.sdp,
    };
    flow::run(&shared, &voice, controller, route, early).await;
    crate::sip::call::finish(&shared, &dialog_id, invite).await;
}
