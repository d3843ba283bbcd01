//! Ringing every target of a `<Dial>` at once: the first to answer wins, the others are
//! canceled; while they ring the caller is watched (its CANCEL or BYE), and so are the REST
//! requests made of it.
//!
//! The invariant: when [`ring`] returns, at most one child is up (the winner, in
//! [`Rung::Answered`]); every other child has had its CANCEL sent (or its BYE, when its 200
//! crossed the CANCEL), and each one still waiting for its final response is drained by a
//! tracked task that records its `call.completed` and hangs up a late answer.

use super::{codecs, dial_status, Child, Parent, Plan, Rung, Said};
use crate::app::call_controller::CallController;
use crate::sip::leg::{End, Leg};
use crate::sip::outbound::{self, DialRequest, NotConnected};
use crate::sip::Shared;
use futures::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use switchboard_events::call::{CallEndStatus, CallRequest};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One child's attempt: its target's index and how it went.
type Attempt = Pin<Box<dyn Future<Output = (usize, Result<Leg, NotConnected>)> + Send>>;

/// Why the caller's side stopped the dial.
enum Stop {
    Over { end: End, bye: bool },
    Interrupted(CallRequest),
}

/// Rings `plan`'s targets for `parent` (the call `controller` drives); see the module doc.
pub(crate) async fn ring(
    shared: &Arc<Shared>,
    mut parent: Parent<'_>,
    plan: &Plan,
    controller: &CallController,
    requests: &mut mpsc::UnboundedReceiver<CallRequest>,
) -> Rung {
    let give_up = CancellationToken::new();
    let mut ringing: FuturesUnordered<Attempt> = plan
        .targets
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let request = DialRequest {
                to: target.uri.clone(),
                from: plan.from.clone(),
                account: controller.account().clone(),
                ring_timeout: plan.ring_timeout,
                codecs: codecs(parent.law()),
                parent: Some(controller.call_sid().clone()),
            };
            let shared = Arc::clone(shared);
            let routed = target.routed.clone();
            let cancel = give_up.clone();
            Box::pin(async move {
                let outcome = outbound::dial_routed(&shared, request, routed, cancel).await;
                (i, outcome)
            }) as Attempt
        })
        .collect();
    let mut winner: Option<(usize, Leg)> = None;
    let mut failed: Vec<(usize, NotConnected)> = Vec::new();
    let mut stop: Option<Stop> = None;
    while winner.is_none() && stop.is_none() {
        tokio::select! {
            next = ringing.next() => match next {
                Some((i, Ok(leg))) => winner = Some((i, leg)),
                Some((i, Err(not))) => failed.push((i, not)),
                None => break,
            },
            heard = parent.next() => {
                if let Said::Ended(end) = parent.handle(heard).await {
                    stop = Some(Stop::Over { end, bye: false });
                }
            }
            Some(request) = requests.recv() => stop = stopping(request, parent.answered()),
            _ = shared.shutdown.cancelled() => stop = Some(Stop::Over {
                end: End::local("server shutting down"),
                bye: true,
            }),
        }
    }
    // The others: CANCEL now; their final responses are awaited off the caller's path.
    give_up.cancel();
    if !ringing.is_empty() {
        shared.tracker.spawn(drain(Arc::clone(shared), ringing));
    }
    match (stop, winner) {
        (Some(stop), winner) => {
            if let Some((_, leg)) = winner {
                leg.finish(shared, End::local("the dial was stopped"), true)
                    .await;
            }
            match stop {
                Stop::Over { end, bye } => Rung::Over { end, bye },
                Stop::Interrupted(request) => Rung::Interrupted(request),
            }
        }
        (None, Some((i, leg))) => Rung::Answered(Box::new(Child {
            leg,
            target: plan.targets[i].clone(),
        })),
        (None, None) => Rung::NotConnected(not_connected(plan, failed)),
    }
}

/// What a REST request does to a dial: a hang-up or a redirect stops it; a cancel stops it
/// only while the caller is unanswered (answerOnBridge; the flow then refuses its INVITE
/// 487, as for a hang-up), else it is ignored.
fn stopping(request: CallRequest, answered: bool) -> Option<Stop> {
    match request {
        CallRequest::Cancel if answered => None,
        request => Some(Stop::Interrupted(request)),
    }
}

/// Waits for the canceled children's final responses (each records its own end); one whose
/// 200 arrived anyway is hung up.
async fn drain(shared: Arc<Shared>, mut ringing: FuturesUnordered<Attempt>) {
    while let Some((_, outcome)) = ringing.next().await {
        if let Ok(leg) = outcome {
            leg.finish(&shared, End::local("another target answered first"), true)
                .await;
        }
    }
}

/// How much an outcome says about the callee being there: Twilio reports one status for a
/// dial with several nouns, and this build reports the most telling one — `busy` (someone
/// refused) over `no-answer` (it rang out) over `failed` (not reached).
fn rank(status: CallEndStatus) -> u8 {
    match status {
        CallEndStatus::Busy => 3,
        CallEndStatus::NoAnswer => 2,
        CallEndStatus::Failed => 1,
        CallEndStatus::Canceled | CallEndStatus::Completed => 0,
    }
}

/// The action's parameters when nobody answered: the best outcome's child (the first target
/// with it), or `failed` with no child when nothing could be dialled.
fn not_connected(plan: &Plan, mut failed: Vec<(usize, NotConnected)>) -> Vec<(String, String)> {
    failed.sort_by_key(|(i, not)| (std::cmp::Reverse(rank(not.end.status)), *i));
    let Some((i, best)) = failed.into_iter().next() else {
        return vec![
            ("DialCallStatus".into(), "failed".into()),
            ("DialBridged".into(), "false".into()),
        ];
    };
    let status = match best.end.status {
        CallEndStatus::Completed | CallEndStatus::Canceled => CallEndStatus::Failed,
        status => status,
    };
    let mut params = vec![
        (
            "DialCallStatus".to_string(),
            dial_status(status).to_string(),
        ),
        ("DialCallSid".to_string(), best.call_sid.to_string()),
        ("DialCallDuration".to_string(), "0".to_string()),
        ("DialBridged".to_string(), "false".to_string()),
    ];
    if plan.targets.get(i).is_some_and(|t| t.sip) {
        params.push(("DialSipCallId".into(), best.sip_call_id.clone()));
        params.push(("DialSipResponseCode".into(), best.end.sip_code.to_string()));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::call::HungUpBy;
    use switchboard_events::{Sid, SidPrefix};

    fn not(status: CallEndStatus, code: u16) -> NotConnected {
        NotConnected {
            call_sid: Sid::from_u128(SidPrefix::Call, u128::from(code)),
            end: End::new(status, code, HungUpBy::Remote, "test"),
            sip_call_id: format!("{code}@test"),
        }
    }

    fn plan(n: usize) -> Plan {
        Plan {
            targets: (0..n)
                .map(|i| super::super::Target {
                    uri: format!("sip:t{i}@127.0.0.1"),
                    sip: true,
                    send_digits: None,
                    routed: None,
                })
                .collect(),
            ring_timeout: std::time::Duration::from_secs(5),
            time_limit: std::time::Duration::from_secs(5),
            from: "sip:a@127.0.0.1".into(),
            hangup_on_star: false,
        }
    }

    fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_best_outcome_is_reported_busy_over_no_answer_over_failed() {
        let params = not_connected(
            &plan(3),
            vec![
                (0, not(CallEndStatus::Failed, 503)),
                (1, not(CallEndStatus::NoAnswer, 480)),
                (2, not(CallEndStatus::Busy, 486)),
            ],
        );
        assert_eq!(get(&params, "DialCallStatus"), Some("busy"));
        assert_eq!(get(&params, "DialSipResponseCode"), Some("486"));
        assert_eq!(get(&params, "DialSipCallId"), Some("486@test"));
        let params = not_connected(
            &plan(2),
            vec![
                (1, not(CallEndStatus::Failed, 404)),
                (0, not(CallEndStatus::NoAnswer, 487)),
            ],
        );
        assert_eq!(get(&params, "DialCallStatus"), Some("no-answer"));
        assert_eq!(get(&params, "DialBridged"), Some("false"));
    }

    #[test]
    fn nothing_dialled_is_failed_without_a_child() {
        let params = not_connected(&plan(0), Vec::new());
        assert_eq!(get(&params, "DialCallStatus"), Some("failed"));
        assert_eq!(get(&params, "DialCallSid"), None);
    }

    #[test]
    fn a_cancel_stops_only_an_unanswered_dial() {
        assert!(stopping(CallRequest::Cancel, true).is_none());
        assert!(matches!(
            stopping(CallRequest::Cancel, false),
            Some(Stop::Interrupted(CallRequest::Cancel))
        ));
        assert!(matches!(
            stopping(CallRequest::Hangup, true),
            Some(Stop::Interrupted(CallRequest::Hangup))
        ));
    }
}
