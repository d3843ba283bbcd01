//! Bridging: an answered call is connected to a second call we place, and RTP is relayed
//! both ways until either side hangs up; then we hang up the other.
//!
//! ```text
//!  caller ══ leg A (inbound, answered) ══╗                 ╔══ leg B (outbound-dial) ══ callee
//!                                        ╚═ media::relay ══╝
//!  A's BYE ─▶ BYE to B          B's BYE ─▶ BYE to A          B busy / no answer ─▶ BYE to A
//!  A's BYE while B rings ─▶ CANCEL to B
//! ```
//!
//! Leg B gets a call stream of its own (`direction: outbound-dial`, `parent_call_sid` = A),
//! so each leg's events and duration are recorded where billing expects them. B is offered
//! A's codec first; when B picks the other law anyway the relay transcodes. Digits pressed
//! on either leg are recorded on that leg's stream (and forwarded when the other leg
//! accepted telephone-event).

use super::leg::{End, Leg};
use super::media::{self, RelaySide};
use super::outbound::{self, DialRequest};
use super::Shared;
use rsipstack::sip::HeadersExt;
use std::sync::Arc;
use switchboard_events::call::{CallEndStatus, DtmfMethod, HungUpBy};
use switchboard_telephony::g711::Law;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// Connects answered leg `a` to a new call to `to`; returns when both legs have ended.
pub(crate) async fn run(shared: &Arc<Shared>, mut a: Leg, to: &str) {
    let other = match a.audio.law {
        Law::Ulaw => Law::Alaw,
        Law::Alaw => Law::Ulaw,
    };
    let from = a
        .dialog
        .initial_request()
        .from_header()
        .ok()
        .and_then(|f| f.uri().ok())
        .map(|u| u.to_string())
        .unwrap_or_else(|| format!("sip:switchboard@{}", shared.media_ip));
    let request = DialRequest {
        to: to.to_string(),
        from,
        account: a.controller.account().clone(),
        ring_timeout: shared.ring_timeout,
        codecs: vec![a.audio.law, other],
        parent: Some(a.call_sid.clone()),
    };

    // B rings; A may hang up meanwhile (then B is canceled).
    let give_up = CancellationToken::new();
    let dialing = outbound::dial(shared, request, give_up.clone());
    tokio::pin!(dialing);
    let mut a_end: Option<End> = None;
    let dialed = loop {
        tokio::select! {
            dialed = &mut dialing => break dialed,
            state = a.states.recv(), if a_end.is_none() => {
                if let Some(end) = a.on_state(state).await {
                    a_end = Some(end);
                    give_up.cancel();
                }
            }
        }
    };
    let mut b = match (dialed, a_end) {
        (Ok(b), Some(a_end)) => {
            // B answered as A hung up.
            a.finish(shared, a_end, false).await;
            b.finish(shared, End::local("the other party hung up"), true)
                .await;
            return;
        }
        (Err(_), Some(a_end)) => {
            a.finish(shared, a_end, false).await;
            return;
        }
        (Err(not_connected), None) => {
            debug!(call_sid = %a.call_sid, b = %not_connected.call_sid, reason = %not_connected.end.reason, "bridge target not connected");
            let reason = format!("bridge target not connected: {}", not_connected.end.reason);
            a.finish(shared, End::local(&reason), true).await;
            return;
        }
        (Ok(b), None) => b,
    };

    // Both answered: relay.
    let (a_digits_tx, mut a_digits) = mpsc::unbounded_channel::<char>();
    let (b_digits_tx, mut b_digits) = mpsc::unbounded_channel::<char>();
    let stop = CancellationToken::new();
    let relay = match (a.media_socket(), b.media_socket()) {
        (Some((a_socket, a_remote)), Some((b_socket, b_remote))) => {
            Some(tokio::spawn(media::relay(
                RelaySide {
                    socket: a_socket,
                    audio: a.audio,
                    digits: a_digits_tx,
                    remote_updates: a_remote,
                },
                RelaySide {
                    socket: b_socket,
                    audio: b.audio,
                    digits: b_digits_tx,
                    remote_updates: b_remote,
                },
                stop.clone(),
            )))
        }
        _ => None,
    };
    enum First {
        A(End),
        B(End),
        Shutdown,
    }
    let first = loop {
        tokio::select! {
            state = a.states.recv() => {
                if let Some(end) = a.on_state(state).await {
                    break First::A(end);
                }
            }
            state = b.states.recv() => {
                if let Some(end) = b.on_state(state).await {
                    break First::B(end);
                }
            }
            Some(digit) = a_digits.recv() => a.controller.digit(digit, DtmfMethod::Rfc4733),
            Some(digit) = b_digits.recv() => b.controller.digit(digit, DtmfMethod::Rfc4733),
            _ = shared.shutdown.cancelled() => break First::Shutdown,
        }
    };
    stop.cancel();
    if let Some(relay) = relay {
        if let Ok(outcome) = relay.await {
            debug!(call_sid = %a.call_sid, a_to_b = outcome.a_to_b, b_to_a = outcome.b_to_a, "bridge ended");
        }
    }
    while let Ok(digit) = a_digits.try_recv() {
        a.controller.digit(digit, DtmfMethod::Rfc4733);
    }
    while let Ok(digit) = b_digits.try_recv() {
        b.controller.digit(digit, DtmfMethod::Rfc4733);
    }
    let other_hung_up = || End::local("the other party hung up");
    match first {
        First::A(end) => {
            let bye_a = !is_remote(&end);
            tokio::join!(
                a.finish(shared, end, bye_a),
                b.finish(shared, other_hung_up(), true)
            );
        }
        First::B(end) => {
            let bye_b = !is_remote(&end);
            tokio::join!(
                a.finish(shared, other_hung_up(), true),
                b.finish(shared, end, bye_b)
            );
        }
        First::Shutdown => {
            tokio::join!(
                a.finish(shared, End::local("server shutting down"), true),
                b.finish(shared, End::local("server shutting down"), true)
            );
        }
    }
}

/// Whether the leg is already over on the wire (the peer's BYE, a timeout): no BYE to send.
fn is_remote(end: &End) -> bool {
    end.hung_up_by == HungUpBy::Remote || end.status == CallEndStatus::Failed
}
