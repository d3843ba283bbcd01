//! A workspace's state, folded from its stream: every activity, channel, worker, queue,
//! workflow, task and reservation, in ordered maps so every walk over them is deterministic.
//!
//! [`evolve`] folds one event: `fold` hands it to the entity it is about, then `index.rs`
//! brings the derived indexes up to date. Folding cannot fail: an event before the stream's
//! `WorkspaceCreated` leaves no workspace, and a second `WorkspaceCreated` changes nothing.
//!
//! # A fold never erases: the one failure policy
//!
//! Replaying a stream must give the workspace its history gave it, whichever build replays
//! it. So, for every entity:
//!
//! 1. **A stored fact always folds.** No event makes the fold give up, and once the workspace
//!    exists nothing but its own `workspace.deleted` ends it. An event about an entity that
//!    is not there (a reservation of a missing task, an update of a deleted queue) changes
//!    nothing.
//! 2. **A stored document this build would reject keeps what was written.** A queue's
//!    `target_workers` or a workflow's `configuration` that no longer compiles (a newer
//!    build's stricter limits, an older build's laxer grammar) is kept as the text stored, on
//!    the entity it created or changed; it is never dropped, replaced by the previous value, or
//!    re-interpreted.
//! 3. **What does not compile matches nothing.** Such a queue's expression matches no worker
//!    (never every worker); such a workflow routes nothing and its tasks are offered to no one
//!    (they wait, visible, until they are updated, canceled or time out by their TTL).
//! 4. **The failure is visible.** The entity carries `compile_error` (why it does not
//!    compile), which the API can show and which routing and the deciders consult.
//!
//! Events this build cannot decode at all never reach the fold: the shell refuses to load the
//! workspace and names the log position instead of folding around a hole.
//!
//! - `activity.rs`, `channel.rs`, `worker.rs`, `task_queue.rs`, `workflow.rs`, `task.rs`,
//!   `reservation.rs`: each entity's struct (re-exported here) and how its events change the
//!   workspace;
//! - `index.rs`: queue members and the `wanting` and `unrouted` sets, kept beside the
//!   entities;
//! - `timers.rs`: the ordered due times (reservation and target timeouts, task TTLs, closed
//!   tasks' retention) that ticks visit instead of scanning.

mod activity;
mod channel;
mod index;
mod reservation;
mod task;
mod task_queue;
mod timers;
mod worker;
mod workflow;

pub use activity::Activity;
pub use channel::TaskChannel;
pub use reservation::{Reservation, ReservationStatus};
pub use task::{Task, TaskStatus, TaskStep};
pub use task_queue::TaskQueue;
pub use timers::{after, Timer, TimerKind, Timers, DEFAULT_RESERVATION_TIMEOUT};
pub use worker::{Worker, WorkerChannel};
pub use workflow::WorkflowState;

use super::events::{QueueOrder, WorkspaceCreated, WorkspaceUpdated};
use crate::event::Event;
use crate::sid::Sid;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A workspace and everything in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    /// Its SID (the stream).
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// Where events are POSTed.
    pub event_callback_url: Option<String>,
    /// Which events.
    pub events_filter: Option<String>,
    /// Multitasking.
    pub multi_task_enabled: bool,
    /// Queue order for workers in several queues.
    pub prioritize_queue_order: QueueOrder,
    /// New workers start here.
    pub default_activity_sid: Option<Sid>,
    /// Reservation timeouts move the worker here.
    pub timeout_activity_sid: Option<Sid>,
    /// Deleted: nothing more may happen.
    pub deleted: bool,
    /// Activities.
    pub activities: BTreeMap<Sid, Activity>,
    /// Task channels.
    pub channels: BTreeMap<Sid, TaskChannel>,
    /// Workers.
    pub workers: BTreeMap<Sid, Worker>,
    /// Task queues.
    pub queues: BTreeMap<Sid, TaskQueue>,
    /// Workflows.
    pub workflows: BTreeMap<Sid, WorkflowState>,
    /// Tasks (closed ones too, until deleted or their retention runs out).
    pub tasks: BTreeMap<Sid, Task>,
    /// Reservations.
    pub reservations: BTreeMap<Sid, Reservation>,
    /// Tasks that can take another offer now: routable, in a queue, and holding fewer
    /// pending reservations than the queue's `max_reserved_workers` (kept by [`evolve`]).
    pub wanting: BTreeSet<Sid>,
    /// Pending tasks that have not entered a workflow step yet (kept by [`evolve`]), so a
    /// routing pass visits the tasks it must route, not every task the workspace has held.
    pub unrouted: BTreeSet<Sid>,
    /// Every due time of the workspace's tasks and reservations, in order (kept by
    /// [`evolve`]), so time passing costs what is due, not what exists.
    pub timers: Timers,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

impl Workspace {
    /// The channel with this unique name or SID.
    pub fn channel_named(&self, name_or_sid: &str) -> Option<&TaskChannel> {
        self.channels
            .values()
            .find(|c| c.unique_name == name_or_sid || c.sid.as_str() == name_or_sid)
    }

    /// Whether a worker's current activity is an available one.
    pub fn worker_available(&self, worker: &Worker) -> bool {
        self.activities
            .get(&worker.activity_sid)
            .is_some_and(|a| a.available)
    }

    /// The worker's activity name.
    pub fn activity_name(&self, sid: &Sid) -> Option<&str> {
        self.activities.get(sid).map(|a| a.friendly_name.as_str())
    }
}

/// Parses attributes; anything but a JSON object counts as `{}` (deciders refuse it first).
pub fn parse_attributes(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Default::default()))
}

/// Folds one event into the workspace.
pub fn evolve(
    state: Option<Workspace>,
    sid: &Sid,
    at: DateTime<Utc>,
    event: &Event,
) -> Option<Workspace> {
    // The task a reservation event is about, read before the event may remove it.
    let reservation_task = index::reservation_task(state.as_ref(), event);
    let mut ws = fold(state, sid, at, event)?;
    index::update(&mut ws, event, reservation_task);
    Some(ws)
}

/// One event into the entities: the first `WorkspaceCreated` makes the workspace, and every
/// other event goes to the entity it is about ([`apply`]).
fn fold(
    state: Option<Workspace>,
    sid: &Sid,
    at: DateTime<Utc>,
    event: &Event,
) -> Option<Workspace> {
    if let (None, Event::WorkspaceCreated(e)) = (&state, event) {
        return Some(created(sid, e, at));
    }
    let mut ws = state?;
    apply(&mut ws, at, event);
    Some(ws)
}

/// Hands `event` to the entity it is about. It cannot fail (the module's failure policy).
// Longer than most functions here: one arm per event type, each only delegating; the match
// is the map of which entity owns which event.
fn apply(ws: &mut Workspace, at: DateTime<Utc>, event: &Event) {
    match event {
        Event::WorkspaceUpdated(e) => updated(ws, e, at),
        Event::WorkspaceDeleted(_) => ws.deleted = true,
        Event::ActivityCreated(e) => activity::created(ws, e, at),
        Event::ActivityUpdated(e) => activity::updated(ws, e, at),
        Event::ActivityDeleted(e) => activity::deleted(ws, e),
        Event::TaskChannelCreated(e) => channel::created(ws, e, at),
        Event::TaskChannelUpdated(e) => channel::updated(ws, e, at),
        Event::TaskChannelDeleted(e) => channel::deleted(ws, e),
        Event::WorkerCreated(e) => worker::created(ws, e, at),
        Event::WorkerRenamed(e) => worker::renamed(ws, e, at),
        Event::WorkerActivityUpdated(e) => worker::activity_updated(ws, e, at),
        Event::WorkerAttributesUpdated(e) => worker::attributes_updated(ws, e, at),
        Event::WorkerCapacityUpdated(e) => worker::capacity_updated(ws, e, at),
        Event::WorkerChannelAvailabilityUpdated(e) => worker::availability_updated(ws, e, at),
        Event::WorkerDeleted(e) => worker::deleted(ws, e),
        Event::TaskQueueCreated(e) => task_queue::created(ws, e, at),
        Event::TaskQueueUpdated(e) => task_queue::updated(ws, e, at),
        Event::TaskQueueDeleted(e) => task_queue::deleted(ws, e),
        Event::WorkflowCreated(e) => workflow::created(ws, e, at),
        Event::WorkflowUpdated(e) => workflow::updated(ws, e, at),
        Event::WorkflowDeleted(e) => workflow::deleted(ws, e),
        Event::TaskCreated(e) => task::created(ws, e, at),
        Event::TaskUpdated(e) => task::updated(ws, e, at),
        Event::TargetMatched(e) => task::target_matched(ws, e, at),
        Event::TaskCanceled(e) => task::closed(ws, e, TaskStatus::Canceled, at),
        Event::TaskCompleted(e) => task::closed(ws, e, TaskStatus::Completed, at),
        Event::TaskWrapup(e) => task::closed(ws, e, TaskStatus::Wrapping, at),
        Event::TaskDeleted(e) | Event::TaskSystemDeleted(e) => task::deleted(ws, e, at),
        Event::ReservationCreated(e) => reservation::created(ws, e, at),
        Event::ReservationAccepted(e) => reservation::accepted(ws, &e.sid, at),
        Event::ReservationRejected(e) => {
            reservation::end_pending(ws, &e.sid, ReservationStatus::Rejected, true, at)
        }
        Event::ReservationTimeout(e) => {
            reservation::end_pending(ws, &e.sid, ReservationStatus::Timeout, true, at)
        }
        Event::ReservationRescinded(e) => {
            reservation::end_pending(ws, &e.sid, ReservationStatus::Rescinded, false, at)
        }
        Event::ReservationCanceled(e) => {
            reservation::end_pending(ws, &e.sid, ReservationStatus::Canceled, false, at)
        }
        Event::ReservationWrapup(e) => reservation::wrapup(ws, &e.sid, at),
        Event::ReservationCompleted(e) => {
            reservation::release(ws, &e.sid, ReservationStatus::Completed, at)
        }
        _ => {}
    }
}

/// The workspace a `WorkspaceCreated` makes: empty until its channels and activities follow.
fn created(sid: &Sid, e: &WorkspaceCreated, at: DateTime<Utc>) -> Workspace {
    Workspace {
        sid: sid.clone(),
        friendly_name: e.friendly_name.clone(),
        event_callback_url: e.event_callback_url.clone(),
        events_filter: e.events_filter.clone(),
        multi_task_enabled: e.multi_task_enabled,
        prioritize_queue_order: e.prioritize_queue_order,
        default_activity_sid: None,
        timeout_activity_sid: None,
        deleted: false,
        activities: BTreeMap::new(),
        channels: BTreeMap::new(),
        workers: BTreeMap::new(),
        queues: BTreeMap::new(),
        workflows: BTreeMap::new(),
        tasks: BTreeMap::new(),
        reservations: BTreeMap::new(),
        wanting: BTreeSet::new(),
        unrouted: BTreeSet::new(),
        timers: Timers::default(),
        date_created: at,
        date_updated: at,
    }
}

/// The workspace's own settings; an empty callback URL or events filter clears it.
fn updated(ws: &mut Workspace, e: &WorkspaceUpdated, at: DateTime<Utc>) {
    if let Some(v) = &e.friendly_name {
        ws.friendly_name.clone_from(v);
    }
    if let Some(v) = &e.event_callback_url {
        ws.event_callback_url = Some(v.clone()).filter(|v| !v.is_empty());
    }
    if let Some(v) = &e.events_filter {
        ws.events_filter = Some(v.clone()).filter(|v| !v.is_empty());
    }
    if let Some(v) = e.multi_task_enabled {
        ws.multi_task_enabled = v;
    }
    if let Some(v) = e.prioritize_queue_order {
        ws.prioritize_queue_order = v;
    }
    if let Some(v) = &e.default_activity_sid {
        ws.default_activity_sid = Some(v.clone());
    }
    if let Some(v) = &e.timeout_activity_sid {
        ws.timeout_activity_sid = Some(v.clone());
    }
    ws.date_updated = at;
}
