//! Read model `taskrouter`: what supervisors read about a workspace without asking its actor.
//!
//! - **Queue positions**: every open task with the queue its workflow put it in; a task's
//!   position is its rank among the queue's pending and reserved tasks by priority (the
//!   target's override, else the task's), then age (virtual start time, else creation; oldest
//!   first, newest first in a LIFO queue), then SID — the order the matcher offers them.
//! - **Worker assignments**: each worker's activity (and whether it is available), its channels
//!   with configured capacity, availability and the capacity its reservations hold, and its
//!   current reservations (pending, accepted, wrapping).
//! - **Statistics**: per-minute counters per scope (the workspace, a queue, a workflow, a
//!   worker) and task channel; valued ones (waits, time in an activity) keep count, total, min
//!   and max, and the waits of accepted reservations and canceled tasks are kept by second for
//!   `SplitByWaitTime`. Cumulative statistics over any window are sums of whole minutes.
//!   Counter names are typed ([`Counter`]), shared by the fold and the statistics API.
//!
//! - **Events**: every event of a workspace in `tr_events`, with the SIDs it concerns, for
//!   `/Events` (`event_index.rs`), kept for Twilio's 30 days (or
//!   [`TaskRouter::with_events_retention`]) counted back from the newest event applied, not
//!   from the wall clock, so a rebuild keeps the same rows (the reasoning is in
//!   `event_index.rs`).
//!
//! Closed tasks and finished reservations leave the current-state tables; their counters stay.
//! The fold is SQL only (no wall clock): replaying the log rebuilds identical tables.
//!
//! Events are applied in batches ([`Projection::apply_batch`]). The invariant the batch
//! protects: **a batch leaves exactly the tables its events would leave applied one by one**
//! (the read-model equivalence test replays a log both ways). Tasks and reservations, read and
//! changed by most events, live in the batch's overlay (`overlay.rs`) and are written once at
//! its end; counters are summed in its tally (`tally.rs`) and added once per key; every other
//! table is written as its event arrives. One known gap: counters a batch tallied for a
//! workspace before its `workspace.deleted` are still written when the batch ends.
//!
//! # Layout
//! - this file: the projection (name, version, tables), the batch and which module folds
//!   which event.
//! - `overlay`, `tally`, `sql`: the batch's tasks and reservations, its counters, and the
//!   batched statements that write them.
//! - one module per entity whose events it folds: `workspace` (with its activities and task
//!   channels), `worker`, `task_queue`, `workflow` (its routing outcome), `task`,
//!   `reservation`.
//! - `event_index`: the Event index (`tr_events`) a batch writes and `/Events` reads
//!   ([`events()`]).
//! - [`counter`]: the counter names.
//! - readers: [`queue_positions()`], [`worker_assignments()`], [`counters()`] and
//!   [`split_by_wait()`].

pub mod counter;
mod event_index;
mod overlay;
mod queue_positions;
mod reservation;
mod sql;
mod statistics;
mod tally;
mod task;
mod task_queue;
mod worker;
mod worker_assignments;
mod workflow;
mod workspace;

pub use counter::Counter;
pub use event_index::{channel_sid, events, EventQuery, EventRow};
pub use queue_positions::{queue_positions, QueuePosition};
pub use statistics::{counters, split_by_wait, Summed};
pub use worker_assignments::{worker_assignments, ChannelLoad, HeldReservation, WorkerAssignment};

use crate::{Projection, Table};
use async_trait::async_trait;
use event_index::EventRows;
use overlay::Overlay;
use sqlx::AnyConnection;
use switchboard_events::{Envelope, Event};
use tally::Tally;

/// See the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRouter {
    /// How long the Event index keeps an event, ms, before the newest one applied.
    events_retention_ms: i64,
}

impl TaskRouter {
    /// Twilio's retention of TaskRouter events: 30 days.
    pub const DEFAULT_EVENTS_RETENTION: std::time::Duration =
        std::time::Duration::from_secs(30 * 24 * 3600);

    /// The projection whose Event index keeps `retention` (a change applies from the next
    /// batch on; rows already removed come back only with a rebuild).
    pub fn with_events_retention(retention: std::time::Duration) -> TaskRouter {
        TaskRouter {
            events_retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
        }
    }
}

impl Default for TaskRouter {
    fn default() -> TaskRouter {
        TaskRouter::with_events_retention(TaskRouter::DEFAULT_EVENTS_RETENTION)
    }
}

#[async_trait]
impl Projection for TaskRouter {
    fn name(&self) -> &'static str {
        "taskrouter"
    }

    fn version(&self) -> u32 {
        // 2: the Event index (`tr_events`), rebuilt from the log. 3: its retention (rebuilt
        // so the horizon is the log's newest event, not the first batch's after the upgrade).
        3
    }

    fn wants(&self, e: &Envelope) -> bool {
        e.stream.as_str().starts_with("WS")
    }

    fn coalesce(&self) -> std::time::Duration {
        // Each batch touches several tables and their indexes; at thousands of tasks a second
        // one commit per 20 ms costs far less than one per log append.
        std::time::Duration::from_millis(20)
    }

    fn tables(&self) -> &'static [Table] {
        &[
            Table {
                name: "tr_queues",
                order_by: "sid",
            },
            Table {
                name: "tr_activities",
                order_by: "sid",
            },
            Table {
                name: "tr_channels",
                order_by: "sid",
            },
            Table {
                name: "tr_workers",
                order_by: "sid",
            },
            Table {
                name: "tr_worker_channels",
                order_by: "worker_sid, channel_sid",
            },
            Table {
                name: "tr_tasks",
                order_by: "sid",
            },
            Table {
                name: "tr_reservations",
                order_by: "sid",
            },
            Table {
                name: "tr_stats",
                order_by: "workspace_sid, scope_sid, minute, metric, channel_sid",
            },
            Table {
                name: "tr_waits",
                order_by: "workspace_sid, scope_sid, minute, metric, channel_sid, wait_s",
            },
            Table {
                name: "tr_events",
                order_by: "workspace_sid, seq",
            },
            Table {
                name: "tr_events_horizon",
                order_by: "id",
            },
        ]
    }

    async fn apply(&self, tx: &mut AnyConnection, e: &Envelope) -> Result<(), sqlx::Error> {
        self.apply_batch(tx, &[e]).await
    }

    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[&Envelope],
    ) -> Result<(), sqlx::Error> {
        let mut tally = Tally::default();
        let mut overlay = Overlay::default();
        let mut rows = EventRows::default();
        let mut newest: Option<i64> = None;
        for e in events {
            if e.stream.as_str().starts_with("WS") {
                let at = e.occurred_at.timestamp_millis();
                newest = Some(newest.map_or(at, |n| n.max(at)));
                // Indexed before it is folded: the row reads what the event may end.
                rows.push(event_index::row(tx, &mut overlay, e).await?);
                if let Event::WorkspaceDeleted(_) = e.event {
                    rows.forget(e.stream.as_str());
                }
                apply_one(tx, &mut tally, &mut overlay, e).await?;
            }
        }
        overlay.flush(tx).await?;
        rows.flush(tx).await?;
        if let Some(newest) = newest {
            event_index::prune(tx, newest, self.events_retention_ms).await?;
        }
        tally.flush(tx).await
    }
}

/// One event's hold on its batch: the transaction, the batch's rows and counters, and the
/// event's workspace and time. Each entity's fold takes it by value and destructures it.
struct Fold<'a> {
    tx: &'a mut AnyConnection,
    tally: &'a mut Tally,
    overlay: &'a mut Overlay,
    /// The workspace (the event's stream).
    ws: &'a str,
    /// When it happened (ms since the epoch).
    at: i64,
    /// The minute it counts in.
    minute: i64,
}

/// Folds one event into the batch: this match is the table of which module folds which
/// event (the rest are not read).
async fn apply_one(
    tx: &mut AnyConnection,
    tally: &mut Tally,
    overlay: &mut Overlay,
    e: &Envelope,
) -> Result<(), sqlx::Error> {
    let at = e.occurred_at.timestamp_millis();
    let f = Fold {
        tx,
        tally,
        overlay,
        ws: e.stream.as_str(),
        at,
        minute: at.div_euclid(60_000),
    };
    match &e.event {
        Event::WorkspaceDeleted(_) => workspace::deleted(f).await,
        Event::ActivityCreated(a) => workspace::activity_created(f, a).await,
        Event::ActivityUpdated(a) => workspace::activity_updated(f, a).await,
        Event::ActivityDeleted(a) => workspace::activity_deleted(f, a).await,
        Event::TaskChannelCreated(c) => workspace::channel_created(f, c).await,
        Event::TaskChannelDeleted(c) => workspace::channel_deleted(f, c).await,
        Event::WorkerCreated(w) => worker::created(f, w).await,
        Event::WorkerRenamed(w) => worker::renamed(f, w).await,
        Event::WorkerActivityUpdated(w) => worker::activity_updated(f, w).await,
        Event::WorkerCapacityUpdated(w) => worker::capacity_updated(f, w).await,
        Event::WorkerChannelAvailabilityUpdated(w) => {
            worker::channel_availability_updated(f, w).await
        }
        Event::WorkerDeleted(w) => worker::deleted(f, w).await,
        Event::TaskQueueCreated(q) => task_queue::created(f, q).await,
        Event::TaskQueueUpdated(q) => task_queue::updated(f, q).await,
        Event::TaskQueueDeleted(q) => task_queue::deleted(f, q).await,
        Event::TargetMatched(m) => workflow::target_matched(f, m).await,
        Event::WorkflowTimeout(w) => workflow::timed_out(f, w).await,
        Event::WorkflowEntered(w) => workflow::entered(f, w).await,
        Event::TaskQueueEntered(e) => workflow::queue_entered(f, e).await,
        Event::TaskQueueMoved(m) => workflow::queue_moved(f, m).await,
        Event::TaskCreated(t) => task::created(f, t).await,
        Event::TaskUpdated(u) => task::updated(f, u).await,
        Event::TaskWrapup(w) => task::wrapup(f, w).await,
        Event::TaskCanceled(_) | Event::TaskCompleted(_) | Event::TaskDeleted(_) => {
            task::closed(f, &e.event).await
        }
        Event::TaskSystemDeleted(t) => task::system_deleted(f, t).await,
        Event::ReservationCreated(r) => reservation::created(f, r).await,
        Event::ReservationAccepted(a) => reservation::accepted(f, a).await,
        Event::ReservationRejected(r) => {
            reservation::ended(f, r.sid.as_str(), Counter::ReservationsRejected).await
        }
        Event::ReservationTimeout(r) => {
            reservation::ended(f, r.sid.as_str(), Counter::ReservationsTimedOut).await
        }
        Event::ReservationRescinded(r) => {
            reservation::ended(f, r.sid.as_str(), Counter::ReservationsRescinded).await
        }
        Event::ReservationCanceled(r) => {
            reservation::ended(f, r.sid.as_str(), Counter::ReservationsCanceled).await
        }
        Event::ReservationWrapup(w) => reservation::wrapup(f, w).await,
        Event::ReservationCompleted(c) => reservation::completed(f, c).await,
        _ => Ok(()),
    }
}
