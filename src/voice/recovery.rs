//! Recovery: ending the calls a dead node left live. A call's controller lives in the
//! process that carries its SIP dialog; when that process dies (kill -9, a crash, a lost
//! machine) its calls' streams stop without a `call.completed`, and nobody would ever end
//! them. The next writer to start ends each of them once, and hangs up the peer where the
//! dialog was recorded.
//!
//! ```text
//!  writer starts ─▶ heads of the log (before SIP takes a call)
//!      └▶ calls read model reaches those heads ─▶ live_calls ─▶ per call: load its stream, fold
//!           ├ ended meanwhile / begun after the heads (ours) ─▶ nothing
//!           └ live ─▶ call.completed (decider, exact expected version)
//!                 ├ answered ─▶ completed 200, duration = answer → last recorded event
//!                 └ never answered ─▶ failed 500, duration 0
//!           └▶ call.dialog.recorded? ─▶ BYE from the record (sip/bye.rs), bounded wait
//! ```
//!
//! The invariant it protects: every call stream ends with exactly one `call.completed`. The
//! end goes through the call decider with the version just loaded, so a second recovery (a
//! restart during this one, two nodes recovering at once) either finds the end in the stream
//! and the decider refuses (`CallError::Ended`), or loses the append's version check and
//! then finds it. The status callbacks for these ends come from the process-manager runner,
//! which reacts to `call.completed` whoever recorded it.
//!
//! What it cannot do (the README's "Restart" says it too): a call the node died with before
//! its answer has no dialog to end — the caller's own timers give up on its INVITE; a BYE
//! over TCP needs a new connection to the peer's Contact, which most TCP clients do not
//! accept; and a BYE sent after the recorded CSeq may be refused when rsipstack had sent
//! in-dialog requests after the record.

use crate::commands::{CommandError, Commands};
use crate::log::EventLog;
use crate::metrics::Metrics;
use crate::projector::Projector;
use crate::sip::bye::ByeSender;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::call::{
    decide, evolve, Call, CallCommand, CallCompleted, CallDialog, CallEndStatus, CallError,
    CallStatus, HungUpBy,
};
use switchboard_events::{Checkpoint, Position, Sid};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

/// The reason recorded on every end recovery writes.
pub const REASON: &str = "the node carrying the call stopped";

/// The SIP code recorded for a call that had been answered: the BYE's 200, as for any call
/// hung up after its answer.
pub const ANSWERED_SIP_CODE: u16 = 200;

/// The SIP code recorded for a call that had not been answered: 500, the server failed
/// (what the caller would have been answered had the node lived to say so).
pub const UNANSWERED_SIP_CODE: u16 = 500;

/// How long one BYE waits for its final answer (under timer F's 32 s: a peer that is gone
/// must not hold recovery that long).
pub const BYE_WAIT: Duration = Duration::from_secs(8);

/// How often the wait for the calls read model says it is still waiting.
const CATCH_UP_REPORT: Duration = Duration::from_secs(30);

/// The calls read model's projection name (what [`Projector::wait_for`] waits on).
pub const CALLS_PROJECTION: &str = "calls";

/// A call recovery ended: what it recorded, and the dialog its BYE is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The call (its stream).
    pub call_sid: Sid,
    /// Its account.
    pub account: Sid,
    /// The end recorded.
    pub end: CallCompleted,
    /// The dialog as last recorded; `None` when the call was never answered (or the record
    /// failed).
    pub dialog: Option<CallDialog>,
}

/// What recovery did, for the log line and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The calls ended now.
    pub ended: Vec<Orphan>,
    /// BYEs answered 2xx.
    pub byes_answered: usize,
    /// BYEs that failed (no answer, refused, not sent).
    pub byes_failed: usize,
}

/// The end recovery records for a live `call`: `completed` after an answer, with the time
/// from the answer to the last event the dead node recorded (the call was up at least that
/// long, and nothing says how much longer); `failed` before one.
pub fn end_of(call: &Call) -> CallCompleted {
    match (call.status, call.answered_at_ms) {
        (CallStatus::InProgress, Some(answered_at)) => CallCompleted {
            status: CallEndStatus::Completed,
            sip_code: ANSWERED_SIP_CODE,
            hung_up_by: HungUpBy::Local,
            duration_ms: u64::try_from(call.updated_at_ms.saturating_sub(answered_at)).unwrap_or(0),
            reason: REASON.to_string(),
        },
        _ => CallCompleted {
            status: CallEndStatus::Failed,
            sip_code: UNANSWERED_SIP_CODE,
            hung_up_by: HungUpBy::Local,
            duration_ms: 0,
            reason: REASON.to_string(),
        },
    }
}

/// Ends call `call_sid` (of `account`) when its stream is still live: exactly one
/// `call.completed`, decided against the stream as loaded and appended at that version.
/// `Ok(None)`: it had ended already (or does not exist), or began after `before` (a call of
/// this process, when given).
pub async fn end_call(
    commands: &Commands,
    call_sid: &Sid,
    account: &Sid,
    before: Option<&Checkpoint>,
) -> Result<Option<Orphan>, CommandError<CallError>> {
    let stream = call_sid.to_string();
    if let Some(before) = before {
        let recorded = commands
            .log()
            .read_stream(&stream)
            .await
            .map_err(CommandError::Read)?;
        match recorded.first() {
            Some(first) if covers(before, first.position) => {}
            // Empty (nothing to end) or begun after the heads: not a dead node's call.
            _ => return Ok(None),
        }
    }
    let meta = commands.metadata(account.clone(), Uuid::now_v7());
    let fold = |state: Option<Call>, owner: &Sid, at: chrono::DateTime<chrono::Utc>, event: &_| {
        evolve(state, at.timestamp_millis(), owner.as_str(), &stream, event)
    };
    let result = commands
        .execute_as(&stream, &meta, fold, |state| match state {
            // A SID the read model holds with no stream behind it: nothing to end.
            None => Ok(Vec::new()),
            Some(call) => decide(&CallCommand::Complete(end_of(call)), Some(call)),
        })
        .await;
    match result {
        Ok((executed, Some(call))) if executed.appended > 0 => Ok(Some(Orphan {
            call_sid: call_sid.clone(),
            account: account.clone(),
            end: end_of_recorded(&call),
            dialog: call.dialog,
        })),
        Ok(_) => Ok(None),
        // Ended already: by the dead node's last event, or by another recovery.
        Err(CommandError::Domain(CallError::Ended { .. })) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The end as the folded call now holds it (after the append).
fn end_of_recorded(call: &Call) -> CallCompleted {
    CallCompleted {
        status: match call.status {
            CallStatus::Completed => CallEndStatus::Completed,
            _ => CallEndStatus::Failed,
        },
        sip_code: call.sip_code.unwrap_or(UNANSWERED_SIP_CODE),
        hung_up_by: call.hung_up_by.unwrap_or(HungUpBy::Local),
        duration_ms: call.duration_ms.unwrap_or(0),
        reason: REASON.to_string(),
    }
}

/// Whether `position` is at or before `heads`.
fn covers(heads: &Checkpoint, position: Position) -> bool {
    heads
        .get(&position.partition)
        .is_some_and(|head| *head >= position.offset)
}

/// The calls left live up to `heads`: from the calls read model once it has applied
/// everything up to them (waiting as long as it takes, until `stop`), or, on a node that does
/// not run that read model, from the log itself. `None` when stopped first.
pub async fn live_calls(
    log: &dyn EventLog,
    projector: &Projector,
    heads: &Checkpoint,
    stop: &CancellationToken,
) -> anyhow::Result<Option<Vec<(Sid, Sid)>>> {
    if !projector
        .projections()
        .iter()
        .any(|p| p.name() == CALLS_PROJECTION)
    {
        return scan_live_calls(log, heads, stop).await;
    }
    for (partition, offset) in heads.iter() {
        let position = Position {
            partition: *partition,
            offset: *offset,
        };
        loop {
            tokio::select! {
                reached = projector.wait_for(CALLS_PROJECTION, position, CATCH_UP_REPORT) => {
                    if reached {
                        break;
                    }
                    warn!(%position, "recovery waits for the calls read model to reach the log's head");
                }
                _ = stop.cancelled() => return Ok(None),
            }
        }
    }
    let calls = switchboard_projections::calls::live_calls(projector.store()).await?;
    Ok(Some(calls))
}

/// The calls begun and not ended up to `heads`, read from the whole log (one pass; only the
/// types of the events are looked at, nothing is decoded). `None` when stopped first.
pub async fn scan_live_calls(
    log: &dyn EventLog,
    heads: &Checkpoint,
    stop: &CancellationToken,
) -> anyhow::Result<Option<Vec<(Sid, Sid)>>> {
    use futures::StreamExt;
    let mut live: std::collections::BTreeMap<String, String> = Default::default();
    let mut seen = Checkpoint::new();
    let done = |seen: &Checkpoint| {
        heads
            .iter()
            .all(|(p, o)| *o == 0 || seen.get(p).is_some_and(|s| s >= o))
    };
    let mut batches = log.subscribe(Checkpoint::new());
    while !done(&seen) {
        let batch = tokio::select! {
            batch = batches.next() => batch,
            _ = stop.cancelled() => return Ok(None),
        };
        let Some(batch) = batch else {
            anyhow::bail!("the log's subscription ended before its heads");
        };
        for item in batch? {
            // A damaged record is no call's start or end; its neighbours still count.
            let Ok(recorded) = item else { continue };
            seen.insert(recorded.position.partition, recorded.position.offset);
            if !covers(heads, recorded.position) {
                continue;
            }
            match recorded.event.event_type.as_str() {
                "call.initiated" => {
                    live.insert(recorded.stream, recorded.event.account_sid.to_string());
                }
                "call.completed" => {
                    live.remove(&recorded.stream);
                }
                _ => {}
            }
        }
    }
    Ok(Some(
        live.into_iter()
            .filter_map(|(call, account)| {
                Some((Sid::parse(&call).ok()?, Sid::parse(&account).ok()?))
            })
            .collect(),
    ))
}

/// Everything recovery needs, captured before the SIP engine takes its first call.
pub struct Recovery {
    /// Appends the ends.
    pub commands: Commands,
    /// The calls read model, and the wait for it.
    pub projector: Arc<Projector>,
    /// The log's heads when this writer started: every call begun before is a dead node's.
    pub heads: Checkpoint,
    /// Counts runs and the calls they ended.
    pub metrics: Arc<Metrics>,
}

impl Recovery {
    /// Captures the log's heads now (call before the SIP engine starts).
    pub async fn prepare(
        log: Arc<dyn EventLog>,
        region: String,
        projector: Arc<Projector>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Recovery> {
        let heads = log.heads().await?;
        Ok(Recovery {
            commands: Commands::new(log, region),
            projector,
            heads,
            metrics,
        })
    }

    /// Ends every live call a dead node left, then sends the BYEs (`byes`: the SIP engine's,
    /// when one runs here). Logs what it did; never fails the server.
    pub async fn run(self, byes: Option<ByeSender>, stop: CancellationToken) -> Recovered {
        let log = self.commands.log().clone();
        let candidates = match live_calls(log.as_ref(), &self.projector, &self.heads, &stop).await {
            Ok(Some(calls)) => calls,
            Ok(None) => return Recovered::default(),
            Err(e) => {
                warn!(cause = %e, "cannot list the calls left live; none are ended");
                return Recovered::default();
            }
        };
        let mut recovered = Recovered::default();
        for (call_sid, account) in candidates {
            match end_call(&self.commands, &call_sid, &account, Some(&self.heads)).await {
                Ok(Some(orphan)) => recovered.ended.push(orphan),
                Ok(None) => {}
                Err(e) => warn!(%call_sid, cause = %e, "cannot end a call left live"),
            }
        }
        if let Some(byes) = byes {
            let (answered, failed) = hang_up(&byes, &recovered.ended).await;
            recovered.byes_answered = answered;
            recovered.byes_failed = failed;
        }
        self.metrics
            .recovered_calls
            .inc_by(u64::try_from(recovered.ended.len()).unwrap_or(u64::MAX));
        self.metrics.recoveries.inc();
        if !recovered.ended.is_empty() {
            info!(
                ended = recovered.ended.len(),
                byes_answered = recovered.byes_answered,
                byes_failed = recovered.byes_failed,
                "ended the calls a stopped node left live"
            );
        }
        recovered
    }
}

/// Sends a BYE for every orphan with a recorded dialog, all at once: (answered, failed).
pub async fn hang_up(byes: &ByeSender, orphans: &[Orphan]) -> (usize, usize) {
    let sends = orphans.iter().filter_map(|orphan| {
        let dialog = orphan.dialog.as_ref()?;
        Some(async move {
            let result = byes.send(dialog, BYE_WAIT).await;
            if let Err(e) = &result {
                warn!(call_sid = %orphan.call_sid, cause = %e, "the peer of a call left live was not hung up");
            }
            result.is_ok()
        })
    });
    let results = futures::future::join_all(sends).await;
    let answered = results.iter().filter(|ok| **ok).count();
    (answered, results.len() - answered)
}

#[cfg(test)]
mod tests;
