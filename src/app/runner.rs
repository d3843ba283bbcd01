//! The process-manager runner: reads the log from its own checkpoint, folds each workspace's
//! state and each call's, hands every new event with the state after it to the process
//! managers (TaskRouter's [`switchboard_events::process::taskrouter::react`] for workspace
//! streams, the status callbacks' [`switchboard_events::process::call::react`] for call
//! streams), carries out the commands they issue, and writes the deliveries to the outbox
//! with its checkpoint in ONE transaction ([`crate::app::outbox::rows::write`]). Then it
//! wakes the sender.
//!
//! Memory stays bounded by the calls that are live: a call's folded state is dropped once it
//! has ended (its `call.completed` folded, and reacted to if past the checkpoint). An event
//! that comes later for that call folds into nothing and produces nothing, which is what the
//! fold of an ended call would give too (nothing is recorded after `call.completed`).
//!
//! Folding needs every event of a stream, so the runner reads the log from its start:
//! events at or before its checkpoint are only folded (their deliveries were written when the
//! checkpoint passed them), events after it react. A crash between reading and committing
//! replays the events after the stored checkpoint, which produce the same rows with the same
//! ids (the outbox keeps one per id): nothing is lost and nothing is written twice.
//!
//! Issued commands are carried out before the checkpoint that covers their event commits, so
//! a crash repeats them (at least once); the deciders drop a causation they already applied.
//!
//! A runner that has never committed (a new outbox store, or a log written before the
//! outbox existed) starts at the log's heads and commits them at once: the effects of history
//! were carried out by whatever ran then, and are not sent again.
//!
//! Every event of an account's stream tells the signer that the account's tokens may have
//! changed ([`AuthTokens::forget`]), in log order, before any delivery of a later event.
//!
//! An unreadable record is logged and stepped over (the workspace's actor refuses to load
//! such a stream anyway). Many events go into one transaction: whatever the subscription
//! has ready when a batch starts (group commit: while one transaction commits, the next
//! batch gathers; nothing waits for a batch to fill).

use crate::app::outbox::rows::{self, Row};
use crate::app::tokens::AuthTokens;
use crate::log::{Checkpoint, EventLog};
use crate::taskrouter::Engine;
use futures::{FutureExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::call::{self, Call};
use switchboard_events::process::{self, taskrouter, IssuedCommand, Reaction};
use switchboard_events::taskrouter::state::{evolve, Workspace};
use switchboard_events::{Envelope, Metadata, Sid, SidPrefix};
use switchboard_projections::store::ProjectionStore;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// The runner's name in `process_checkpoints`.
pub const RUNNER: &str = "taskrouter";

/// Most events per transaction.
const COALESCE_MAX: usize = 4096;

/// How often a checkpoint that only moved past events without deliveries is committed
/// (replaying such events after a crash produces nothing).
const IDLE_COMMIT_EVERY: Duration = Duration::from_millis(200);

/// See the module doc.
pub struct Runner {
    /// The log read.
    pub log: Arc<dyn EventLog>,
    /// Where the outbox and the checkpoint live.
    pub store: ProjectionStore,
    /// Carries out issued commands.
    pub engine: Engine,
    /// Woken after every commit that wrote rows.
    pub wake: Arc<Notify>,
    /// Told of every account event (the signer's remembered tokens).
    pub tokens: Arc<dyn AuthTokens>,
    /// Where the webhooks' stage latencies go.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The workspaces and live calls as folded so far, and where the runner stands.
#[derive(Default)]
struct Folded {
    workspaces: HashMap<Sid, Workspace>,
    /// Calls not ended yet (module doc: ended ones are dropped).
    calls: HashMap<String, Call>,
    /// Read so far (in memory).
    read: Checkpoint,
}

impl Folded {
    /// Folds `e`; returns what it calls for when it is past `committed`.
    fn fold(&mut self, e: &Envelope, committed: &Checkpoint) -> Option<Reaction> {
        let at = self.read.entry(e.position.partition).or_insert(0);
        *at = (*at).max(e.position.offset);
        let old = committed
            .get(&e.position.partition)
            .is_some_and(|o| *o >= e.position.offset);
        if e.stream.starts_with(SidPrefix::Call.as_str()) {
            return self.fold_call(e, old);
        }
        let sid = Sid::parse_as(&e.stream, SidPrefix::Workspace).ok()?;
        let state = self.workspaces.remove(&sid);
        let ws = evolve(state, &sid, e.occurred_at, &e.event)?;
        let reaction = (!old).then(|| taskrouter::react(&ws, e));
        self.workspaces.insert(sid, ws);
        reaction
    }

    /// Folds an event of a call stream (`old`: at or before the checkpoint, fold only).
    fn fold_call(&mut self, e: &Envelope, old: bool) -> Option<Reaction> {
        let state = self.calls.remove(&e.stream);
        let call = call::evolve(
            state,
            e.occurred_at.timestamp_millis(),
            e.account_sid.as_str(),
            &e.stream,
            &e.event,
        )?;
        let reaction =
            (!old && !call.callbacks_due.is_empty()).then(|| process::call::react(&call, e));
        if !call.is_ended() {
            self.calls.insert(e.stream.clone(), call);
        }
        reaction
    }
}

impl Runner {
    /// Runs until `cancel`. Storage errors are retried; a broken subscription starts over
    /// from the log's start (the fold needs it) with the stored checkpoint.
    pub async fn run(self, cancel: CancellationToken) {
        'resubscribe: loop {
            let mut committed = match self.init().await {
                Ok(cp) => cp,
                Err(e) => {
                    error!(cause = %e, "cannot read the runner's checkpoint; retrying");
                    if pause(&cancel).await {
                        return;
                    }
                    continue;
                }
            };
            let mut folded = Folded::default();
            let mut stream = self.log.subscribe(Checkpoint::new());
            let mut deferred = None;
            let mut last_commit = Instant::now();
            loop {
                let next = match deferred.take() {
                    Some(next) => next,
                    None => tokio::select! {
                        _ = cancel.cancelled() => return,
                        next = stream.next() => next,
                    },
                };
                let mut batch = match next {
                    Some(Ok(batch)) => batch,
                    Some(Err(e)) => {
                        warn!(cause = %e, "log read failed; the runner resubscribes");
                        if pause(&cancel).await {
                            return;
                        }
                        continue 'resubscribe;
                    }
                    None => {
                        if pause(&cancel).await {
                            return;
                        }
                        continue 'resubscribe;
                    }
                };
                while batch.len() < COALESCE_MAX {
                    match stream.next().now_or_never() {
                        Some(Some(Ok(more))) => batch.extend(more),
                        Some(other) => {
                            deferred = Some(other);
                            break;
                        }
                        None => break,
                    }
                }
                let mut out = Vec::new();
                for item in batch {
                    let recorded = match item {
                        Ok(r) => r,
                        Err(damaged) => {
                            error!(position = %damaged.position, stream = ?damaged.stream, reason = %damaged.reason, "unreadable log record: the runner steps over it");
                            let at = folded.read.entry(damaged.position.partition).or_insert(0);
                            *at = (*at).max(damaged.position.offset);
                            continue;
                        }
                    };
                    let position = recorded.position;
                    match recorded.into_envelope() {
                        Ok(e) => {
                            if let Ok(account) = Sid::parse_as(&e.stream, SidPrefix::Account) {
                                self.tokens.forget(&account);
                            }
                            if let Some(reaction) = folded.fold(&e, &committed) {
                                for _ in &reaction.deliveries {
                                    self.metrics
                                        .webhook_stage("read", e.occurred_at.timestamp_millis());
                                }
                                out.push((e, reaction));
                            }
                        }
                        Err(err) => {
                            error!(%position, cause = %err, "undecodable log record: the runner steps over it");
                            let at = folded.read.entry(position.partition).or_insert(0);
                            *at = (*at).max(position.offset);
                        }
                    }
                }
                let moved = folded
                    .read
                    .iter()
                    .any(|(p, o)| committed.get(p).is_none_or(|c| c < o));
                if !moved {
                    continue;
                }
                let mut produced = Vec::new();
                for (e, reaction) in &out {
                    self.carry_out(e, reaction, &cancel).await;
                    for (index, d) in reaction.deliveries.iter().enumerate() {
                        produced.push(Row {
                            delivery: d.clone(),
                            position: e.position,
                            index: index as u32,
                            causation_id: e.id,
                            url_index: 0,
                            attempt: 0,
                            next_attempt_at: e.occurred_at.timestamp_millis(),
                            failed_code: None,
                            last_error: None,
                            first_attempt_at: None,
                        });
                    }
                }
                if produced.is_empty() && last_commit.elapsed() < IDLE_COMMIT_EVERY {
                    // Nothing to send: the checkpoint moves in memory only, so these events
                    // are not reacted to again unless the process restarts.
                    committed = folded.read.clone();
                    continue;
                }
                // The rows and the checkpoint must commit together: retried until they do.
                loop {
                    match rows::write(&self.store, RUNNER, &folded.read, &produced).await {
                        Ok(()) => {
                            for r in &produced {
                                self.metrics.webhook_stage("stored", r.next_attempt_at);
                            }
                            break;
                        }
                        Err(e) => {
                            error!(cause = %e, rows = produced.len(), "cannot write the outbox; retrying");
                            if pause(&cancel).await {
                                return;
                            }
                        }
                    }
                }
                last_commit = Instant::now();
                committed = folded.read.clone();
                if !produced.is_empty() {
                    self.wake.notify_one();
                }
            }
        }
    }

    /// The stored checkpoint; a runner that has none starts at the log's heads (module doc)
    /// and stores them before reading anything. The server calls this before it takes its
    /// first request, so no event appended through it counts as history.
    pub async fn init(&self) -> anyhow::Result<Checkpoint> {
        if let Some(stored) = rows::checkpoint_if_any(&self.store, RUNNER).await? {
            return Ok(stored);
        }
        let heads = self.log.heads().await?;
        rows::write(&self.store, RUNNER, &heads, &[]).await?;
        tracing::info!(heads = ?heads, "the process-manager runner has no checkpoint: it starts at the log's heads");
        Ok(heads)
    }

    /// Carries out the commands `reaction` issues, caused by `e`; a command the log cannot
    /// take now is retried until it can (the decider refusing it is an answer, not a failure).
    async fn carry_out(&self, e: &Envelope, reaction: &Reaction, cancel: &CancellationToken) {
        for issued in &reaction.issued {
            let IssuedCommand::TaskRouter(command) = &issued.command;
            loop {
                let meta = Metadata {
                    occurred_at: crate::commands::now_ms(),
                    account_sid: e.account_sid.clone(),
                    correlation_id: e.correlation_id,
                    causation_id: Some(issued.causation_id),
                    region: "process-manager".into(),
                };
                match self
                    .engine
                    .execute_caused(
                        &issued.stream,
                        (**command).clone(),
                        meta,
                        crate::taskrouter::Causation {
                            event_id: issued.causation_id,
                            position: issued.causation_position,
                        },
                        |_, _| (),
                    )
                    .await
                {
                    Ok(_) | Err(crate::taskrouter::EngineError::Domain(_)) => break,
                    Err(err) => {
                        warn!(stream = %issued.stream, cause = %err, "issued command not taken; retrying");
                        if pause(cancel).await {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Waits a moment before a retry; true if cancelled meanwhile.
async fn pause(cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(Duration::from_millis(500)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::outbox::unsigned::NoTokens;
    use crate::log::memory::MemoryLog;
    use switchboard_events::{Event, ExpectedVersion, NewEvent};
    use uuid::Uuid;

    #[tokio::test]
    async fn a_runner_without_a_checkpoint_starts_at_the_heads_and_stores_them_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("o.db").display());
        let store = ProjectionStore::connect(&url).await.expect("store");
        let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
        let account = Sid::from_u128(SidPrefix::Account, 7);
        let meta = Metadata {
            occurred_at: chrono::Utc::now(),
            account_sid: account.clone(),
            correlation_id: Uuid::from_u128(1),
            causation_id: None,
            region: "test".into(),
        };
        let event = Event::AccountUpdated(switchboard_events::account::AccountUpdated {
            friendly_name: Some("history".into()),
            status: None,
        });
        for _ in 0..3 {
            log.append(
                account.as_str(),
                ExpectedVersion::Any,
                vec![NewEvent::new(Uuid::now_v7(), &meta, &event)],
            )
            .await
            .expect("append");
        }
        let heads = log.heads().await.expect("heads");
        let runner = Runner {
            log: log.clone(),
            store: store.clone(),
            engine: Engine::new(log.clone()),
            wake: Arc::default(),
            tokens: Arc::new(NoTokens),
            metrics: Arc::default(),
        };
        assert_eq!(
            rows::checkpoint_if_any(&store, RUNNER).await.expect("cp"),
            None
        );
        assert_eq!(runner.init().await.expect("start"), heads);
        assert_eq!(
            rows::checkpoint_if_any(&store, RUNNER).await.expect("cp"),
            Some(heads.clone()),
            "stored before anything is read, so a crash cannot skip what comes next"
        );
        // Later events do not move where a restarted runner stands.
        log.append(
            account.as_str(),
            ExpectedVersion::Any,
            vec![NewEvent::new(Uuid::now_v7(), &meta, &event)],
        )
        .await
        .expect("append");
        assert_eq!(runner.init().await.expect("restart"), heads);
    }
}
