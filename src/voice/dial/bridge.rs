//! The bridge: the answered caller (A) and the child that won the dial, each with its media
//! session, relaying to each other until one side hangs up, `timeLimit` passes, A presses
//! `*` (hangupOnStar), a REST request comes for A, or the node stops.
//!
//! `<Number sendDigits>` goes to the child first (its session sends the digits, then the
//! relay starts), so the caller never hears them.
//!
//! The invariant: every way out of [`bridge`] has ended the child on the wire (BYE unless its
//! own BYE ended it) and recorded its `call.completed`, and A's session has left the relay.

use super::{record_digit, Bridged, Child, Parent, Plan, Said};
use crate::media::session::{self, MediaCommand, MediaEvent, MediaSession, RelayPort};
use crate::sip::leg::{End, Leg};
use crate::sip::Shared;
use std::sync::Arc;
use switchboard_events::call::{CallEndStatus, CallRequest, HungUpBy};
use tokio::sync::mpsc;

/// The id of the child's SendDigits and of both relays (nothing else runs on the child's
/// session; A's flow numbers its own commands from 1).
const BRIDGE_COMMAND: u64 = 0;

/// What ended the bridge first.
enum First {
    A(End),
    B(End),
    Limit,
    Star,
    Request(CallRequest),
    Shutdown,
}

/// Connects A (`leg`, whose media runs in `session`) to `child` (see the module doc).
pub(crate) async fn bridge(
    shared: &Arc<Shared>,
    leg: &mut Leg,
    session: &mut MediaSession,
    child: Child,
    plan: &Plan,
    requests: &mut mpsc::UnboundedReceiver<CallRequest>,
) -> Bridged {
    let Child { leg: mut b, target } = child;
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
    let mut relay = Some((pa, pb));
    match target.send_digits.clone() {
        Some(digits) => {
            let _ = b_session.commands.send(MediaCommand::SendDigits {
                id: BRIDGE_COMMAND,
                digits,
            });
        }
        None => start_relay(&session.commands, &b_session.commands, relay.take()),
    }
    let limit = tokio::time::sleep(plan.time_limit);
    tokio::pin!(limit);
    let a_commands = session.commands.clone();
    let first = {
        let mut a = Parent::Live {
            leg,
            session: &mut *session,
        };
        loop {
            tokio::select! {
                heard = a.next() => match a.handle(heard).await {
                    Said::Ended(end) => break First::A(end),
                    Said::Digit('*') if plan.hangup_on_star => break First::Star,
                    _ => {}
                },
                state = b.states.recv() => {
                    if let Some(end) = b.on_state(state).await {
                        break First::B(end);
                    }
                }
                Some(event) = b_session.events.recv() => match event {
                    MediaEvent::Digit(digit) => record_digit(&b.controller, digit),
                    MediaEvent::DigitsSent { .. } | MediaEvent::Stopped { .. } if relay.is_some() => {
                        start_relay(&a_commands, &b_session.commands, relay.take());
                    }
                    _ => {}
                },
                Some(request) = requests.recv() => match request {
                    // A is answered: a cancel no longer applies to it.
                    CallRequest::Cancel => {}
                    request => break First::Request(request),
                },
                _ = &mut limit => break First::Limit,
                _ = shared.shutdown.cancelled() => break First::Shutdown,
            }
        }
    };
    if relay.is_none() {
        // A's session leaves the relay (its end is dropped with the child's session).
        let _ = session.commands.send(MediaCommand::Stop);
    }
    b_stop.cancel();
    let _ = b_session.join().await;
    finish(shared, b, target.sip, first).await
}

/// Both sessions relay to each other (once: `ports` is taken).
fn start_relay(
    a: &mpsc::UnboundedSender<MediaCommand>,
    b: &mpsc::UnboundedSender<MediaCommand>,
    ports: Option<(RelayPort, RelayPort)>,
) {
    if let Some((pa, pb)) = ports {
        let _ = a.send(MediaCommand::Relay {
            id: BRIDGE_COMMAND,
            peer: pa,
        });
        let _ = b.send(MediaCommand::Relay {
            id: BRIDGE_COMMAND,
            peer: pb,
        });
    }
}

/// Ends the child as `first` says and tells the flow how A goes on.
async fn finish(shared: &Shared, b: Leg, sip: bool, first: First) -> Bridged {
    let duration = b.answered_at.elapsed().as_secs().to_string();
    let mut params = vec![
        ("DialCallStatus".to_string(), "completed".to_string()),
        ("DialCallSid".to_string(), b.call_sid.to_string()),
        ("DialCallDuration".to_string(), duration),
        ("DialBridged".to_string(), "true".to_string()),
    ];
    if sip {
        params.push(("DialSipCallId".into(), b.dialog.id().call_id.clone()));
        params.push(("DialSipResponseCode".into(), "200".into()));
    }
    match first {
        First::A(end) => {
            b.finish(shared, End::local("the caller hung up"), true)
                .await;
            Bridged::Over { end, bye: false }
        }
        First::B(end) => {
            let bye = !(end.hung_up_by == HungUpBy::Remote || end.status == CallEndStatus::Failed);
            b.finish(shared, end, bye).await;
            Bridged::Continue(params)
        }
        First::Limit => {
            b.finish(shared, End::local("timeLimit reached"), true)
                .await;
            Bridged::Continue(params)
        }
        First::Star => {
            b.finish(
                shared,
                End::local("the caller pressed * (hangupOnStar)"),
                true,
            )
            .await;
            Bridged::Continue(params)
        }
        First::Request(request) => {
            b.finish(
                shared,
                End::local("the caller's call was changed through the REST API"),
                true,
            )
            .await;
            Bridged::Interrupted(request)
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
