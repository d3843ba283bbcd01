//! `<Dial><Sip>`: the answered caller (leg A) is connected to a call placed to a SIP URI (leg
//! B, a call of its own: `outbound-dial`, `parent_call_sid` = A), the two media sessions
//! relaying to each other, until one side hangs up.
//!
//! ```text
//!  A (answered, session A) ──▶ INVITE B ── rings (A's BYE ─▶ CANCEL B; timeout ─▶ no-answer)
//!                                 │ answered: session B; Relay(pa) to A, Relay(pb) to B
//!                                 ▼
//!  A's BYE ─▶ BYE to B, the call is over          B's BYE ─▶ A goes on with the next verb
//!  timeLimit ─▶ BYE to B, A goes on               (or the Dial's action with DialCallStatus)
//! ```
//!
//! This issue bridges one `<Sip>` noun; the Calls issue adds `<Number>` through a trunk,
//! several nouns rung in parallel, `answerOnBridge`, `hangupOnStar` and the rest on the same
//! seam. The invariant: B never outlives the bridge — every way out of [`bridge`] has ended B
//! on the wire (BYE, or CANCEL while it rang) and recorded its `call.completed`.

use crate::app::call_controller::CallController;
use crate::media::session::{self, MediaCommand, MediaEvent, MediaSession, RelayPort};
use crate::sip::leg::{End, Leg};
use crate::sip::outbound::{self, DialRequest};
use crate::sip::Shared;
use rsipstack::sip::HeadersExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::call::{
    CallCommand, CallEndStatus, CallRequest, DtmfMethod, DtmfReceived, HungUpBy,
};
use switchboard_telephony::g711::Law;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How the bridge ended for the caller.
pub(crate) enum Bridged {
    /// A is still up: these go to the Dial's `action` (or the next verb runs).
    Continue(Vec<(String, String)>),
    /// A is over (its BYE, or a shutdown): how.
    Over { end: End, bye: bool },
    /// The REST API asked something of A while it dialled or was bridged (a redirect, a
    /// hang-up): B has been ended; the flow carries the request out.
    #[allow(dead_code)] // SEAM: constructed once the dial helper handles requests.
    Interrupted(CallRequest),
}

/// Twilio's `DialCallStatus` for how leg B ended.
fn dial_status(end: &End) -> &'static str {
    match end.status {
        CallEndStatus::Completed => "completed",
        CallEndStatus::Busy => "busy",
        CallEndStatus::NoAnswer => "no-answer",
        CallEndStatus::Canceled => "canceled",
        CallEndStatus::Failed => "failed",
    }
}

fn record_digit(controller: &CallController, digit: char) {
    controller.observe(CallCommand::RecordDigit(DtmfReceived {
        digit: digit.to_string(),
        method: DtmfMethod::Rfc4733,
    }));
}

/// Connects A (`leg`, whose media runs in `session`) to a call to `uri`.
pub(crate) async fn bridge(
    shared: &Arc<Shared>,
    leg: &mut Leg,
    session: &mut MediaSession,
    uri: &str,
    ring_timeout: Duration,
    time_limit: Duration,
    caller_id: Option<&str>,
    requests: &mut mpsc::UnboundedReceiver<CallRequest>,
) -> Bridged {
    // SEAM (issue 15, dial helper): REST requests during the dial and the bridge.
    let _ = requests;
    let other = match leg.audio.law {
        Law::Ulaw => Law::Alaw,
        Law::Alaw => Law::Ulaw,
    };
    let from = caller_id
        .map(str::to_string)
        .or_else(|| {
            leg.dialog
                .initial_request()
                .from_header()
                .ok()
                .and_then(|f| f.uri().ok())
                .map(|u| u.to_string())
        })
        .unwrap_or_else(|| format!("sip:switchboard@{}", shared.media_ip));
    let request = DialRequest {
        to: uri.to_string(),
        from,
        account: leg.controller.account().clone(),
        ring_timeout,
        codecs: vec![leg.audio.law, other],
        parent: Some(leg.call_sid.clone()),
    };
    let give_up = CancellationToken::new();
    let dialing = outbound::dial(shared, request, give_up.clone());
    tokio::pin!(dialing);
    let mut a_end: Option<End> = None;
    let dialed = loop {
        tokio::select! {
            dialed = &mut dialing => break dialed,
            state = leg.states.recv(), if a_end.is_none() => {
                if let Some(end) = leg.on_state(state).await {
                    a_end = Some(end);
                    give_up.cancel();
                }
            }
            Some(event) = session.events.recv() => {
                if let MediaEvent::Digit(digit) = event {
                    record_digit(&leg.controller, digit);
                }
            }
        }
    };
    let mut b = match (dialed, a_end) {
        (Ok(b), Some(end)) => {
            b.finish(shared, End::local("the caller hung up"), true)
                .await;
            return Bridged::Over { end, bye: false };
        }
        (Err(_), Some(end)) => return Bridged::Over { end, bye: false },
        (Err(not), None) => {
            return Bridged::Continue(vec![
                ("DialCallStatus".into(), dial_status(&not.end).into()),
                ("DialCallSid".into(), not.call_sid.to_string()),
                ("DialBridged".into(), "false".into()),
            ])
        }
        (Ok(b), None) => b,
    };
    let Some((socket, remote)) = b.media_socket() else {
        b.finish(shared, End::local("no RTP socket"), true).await;
        return Bridged::Continue(vec![
            ("DialCallStatus".into(), "failed".into()),
            ("DialBridged".into(), "false".into()),
        ]);
    };
    let b_stop = shared.shutdown.child_token();
    let mut b_session = session::start(socket, b.audio, remote, b_stop.clone());
    let (pa, pb) = RelayPort::pair();
    let _ = session
        .commands
        .send(MediaCommand::Relay { id: 0, peer: pa });
    let _ = b_session
        .commands
        .send(MediaCommand::Relay { id: 0, peer: pb });
    let bridged_at = Instant::now();
    let limit = tokio::time::sleep(time_limit);
    tokio::pin!(limit);
    enum First {
        A(End),
        B(End),
        Limit,
        Shutdown,
    }
    let first = loop {
        tokio::select! {
            state = leg.states.recv() => {
                if let Some(end) = leg.on_state(state).await {
                    break First::A(end);
                }
            }
            state = b.states.recv() => {
                if let Some(end) = b.on_state(state).await {
                    break First::B(end);
                }
            }
            Some(event) = session.events.recv() => {
                if let MediaEvent::Digit(digit) = event {
                    record_digit(&leg.controller, digit);
                }
            }
            Some(event) = b_session.events.recv() => {
                if let MediaEvent::Digit(digit) = event {
                    record_digit(&b.controller, digit);
                }
            }
            _ = &mut limit => break First::Limit,
            _ = shared.shutdown.cancelled() => break First::Shutdown,
        }
    };
    // A's session leaves the relay (its end is dropped with B's session).
    let _ = session.commands.send(MediaCommand::Stop);
    b_stop.cancel();
    let _ = b_session.join().await;
    let duration = bridged_at.elapsed().as_secs().to_string();
    let params = |status: &str| {
        vec![
            ("DialCallStatus".to_string(), status.to_string()),
            ("DialCallSid".to_string(), b.call_sid.to_string()),
            ("DialCallDuration".to_string(), duration.clone()),
            ("DialBridged".to_string(), "true".to_string()),
        ]
    };
    match first {
        First::A(end) => {
            b.finish(shared, End::local("the caller hung up"), true)
                .await;
            Bridged::Over { end, bye: false }
        }
        First::B(end) => {
            let params = params("completed");
            let bye = !(end.hung_up_by == HungUpBy::Remote || end.status == CallEndStatus::Failed);
            b.finish(shared, end, bye).await;
            Bridged::Continue(params)
        }
        First::Limit => {
            let params = params("completed");
            b.finish(shared, End::local("timeLimit reached"), true)
                .await;
            Bridged::Continue(params)
        }
        First::Shutdown => {
            b.finish(shared, End::local("server shutting down"), true)
                .await;
            Bridged::Over {
                end: End::local("server shutting down"),
                bye: true,
            }
        }
    }
}
