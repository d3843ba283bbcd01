//! A workspace's state, folded from its stream: every activity, channel, worker, queue,
//! workflow, task and reservation, in ordered maps so every walk over them is deterministic.

use super::events::{QueueOrder, ResourceRef, RoutingDecision};
use super::expression::Expression;
use super::workflow::Workflow;
use crate::event::Event;
use crate::sid::Sid;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// An activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Its SID.
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// Whether workers in it take work.
    pub available: bool,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

/// A task channel.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskChannel {
    /// Its SID.
    pub sid: Sid,
    /// `default`, `voice`, …
    pub unique_name: String,
    /// Human name.
    pub friendly_name: String,
    /// Prefer the longest-idle worker across queues.
    pub channel_optimized_routing: bool,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

/// A worker's capacity on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerChannel {
    /// Tasks it may hold at once.
    pub capacity: u32,
    /// Whether it takes work here.
    pub available: bool,
    /// Reservations pending or accepted (not yet completed) on this channel.
    pub busy: u32,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

/// A worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    /// Its SID.
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// Attributes as given (JSON text).
    pub attributes: String,
    /// Attributes parsed, with `sid`, `friendly_name`, `activity_sid` and `activity_name`
    /// available to target expressions under `worker.`.
    pub document: Value,
    /// Its activity.
    pub activity_sid: Sid,
    /// When its activity last changed.
    pub date_status_changed: DateTime<Utc>,
    /// Since when it has had no reservation (longest idle is offered first).
    pub idle_since: DateTime<Utc>,
    /// Its channels by channel SID.
    pub channels: BTreeMap<Sid, WorkerChannel>,
    /// Bumped by every change (the `If-Match` value).
    pub version: u64,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

/// A task queue.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskQueue {
    /// Its SID.
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// Which workers it serves, as given.
    pub target_workers: String,
    /// The same, compiled.
    pub target_expression: Expression,
    /// The workers `target_workers` matches now, kept by [`evolve`] as workers and the queue
    /// change (`None` when the expression reads the clock and must be evaluated each time).
    pub members: Option<BTreeSet<Sid>>,
    /// FIFO or LIFO.
    pub task_order: QueueOrder,
    /// Reservations one task may hold at once.
    pub max_reserved_workers: u32,
    /// Activity on reservation.
    pub reservation_activity_sid: Option<Sid>,
    /// Activity on acceptance.
    pub assignment_activity_sid: Option<Sid>,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

/// A workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowState {
    /// Its SID.
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// The configuration document as given.
    pub configuration: String,
    /// The same, compiled.
    pub compiled: Workflow,
    /// Where reservations are announced.
    pub assignment_callback_url: Option<String>,
    /// Tried when that fails.
    pub fallback_assignment_callback_url: Option<String>,
    /// Seconds a reservation stays pending.
    pub task_reservation_timeout: u32,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

/// Twilio's task assignment statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskStatus {
    /// Waiting for a worker.
    Pending,
    /// Offered to at least one worker.
    Reserved,
    /// A worker accepted it.
    Assigned,
    /// Its worker is wrapping up.
    Wrapping,
    /// Done.
    Completed,
    /// Canceled.
    Canceled,
}

impl TaskStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Reserved => "reserved",
            TaskStatus::Assigned => "assigned",
            TaskStatus::Wrapping => "wrapping",
            TaskStatus::Completed => "completed",
            TaskStatus::Canceled => "canceled",
        }
    }

    /// Whether the task is still being routed (pending or reserved).
    pub fn routable(self) -> bool {
        matches!(self, TaskStatus::Pending | TaskStatus::Reserved)
    }

    /// Whether it is over.
    pub fn closed(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Canceled)
    }
}

/// Where a task is in its workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStep {
    /// The filter (`None`: default filter).
    pub filter_index: Option<u32>,
    /// Its name.
    pub filter_name: String,
    /// The target.
    pub target_index: u32,
    /// The queue.
    pub queue_sid: Sid,
    /// The target's priority override.
    pub priority: Option<i64>,
    /// Seconds until the next target.
    pub timeout: Option<u64>,
    /// When the task entered this step.
    pub entered_at: DateTime<Utc>,
}

/// A task.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Its SID.
    pub sid: Sid,
    /// Attributes as given.
    pub attributes: String,
    /// The same, parsed.
    pub document: Value,
    /// Its own priority.
    pub priority: i64,
    /// TTL in seconds.
    pub timeout: u32,
    /// Its channel.
    pub task_channel_sid: Sid,
    /// Its workflow.
    pub workflow_sid: Sid,
    /// Where its age counts from, if set.
    pub virtual_start_time: Option<DateTime<Utc>>,
    /// Status.
    pub status: TaskStatus,
    /// Why it was canceled or completed.
    pub reason: Option<String>,
    /// Its workflow step.
    pub step: Option<TaskStep>,
    /// Every reservation it has had, in order.
    pub reservations: Vec<Sid>,
    /// Workers who rejected it or let it time out.
    pub rejected_by: Vec<Sid>,
    /// How many of its reservations are pending now.
    pub pending_reservations: u32,
    /// Bumped by every change (the `If-Match` value).
    pub version: u64,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

impl Task {
    /// Effective priority: the step's override, else the task's own.
    pub fn effective_priority(&self) -> i64 {
        self.step
            .as_ref()
            .and_then(|s| s.priority)
            .unwrap_or(self.priority)
    }

    /// Where its age counts from.
    pub fn age_from(&self) -> DateTime<Utc> {
        self.virtual_start_time.unwrap_or(self.date_created)
    }
}

/// Twilio's reservation statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReservationStatus {
    /// Waiting for the worker's answer.
    Pending,
    /// Accepted.
    Accepted,
    /// Rejected.
    Rejected,
    /// Not answered in time.
    Timeout,
    /// Its task was canceled.
    Canceled,
    /// Another worker accepted the task.
    Rescinded,
    /// The worker is wrapping up.
    Wrapping,
    /// Its task was completed.
    Completed,
}

impl ReservationStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Pending => "pending",
            ReservationStatus::Accepted => "accepted",
            ReservationStatus::Rejected => "rejected",
            ReservationStatus::Timeout => "timeout",
            ReservationStatus::Canceled => "canceled",
            ReservationStatus::Rescinded => "rescinded",
            ReservationStatus::Wrapping => "wrapping",
            ReservationStatus::Completed => "completed",
        }
    }

    /// Whether it holds a unit of the worker's capacity.
    pub fn holds_capacity(self) -> bool {
        matches!(
            self,
            ReservationStatus::Pending | ReservationStatus::Accepted | ReservationStatus::Wrapping
        )
    }
}

/// A reservation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    /// Its SID.
    pub sid: Sid,
    /// The task.
    pub task_sid: Sid,
    /// The worker.
    pub worker_sid: Sid,
    /// The queue.
    pub queue_sid: Sid,
    /// The task's channel.
    pub task_channel_sid: Sid,
    /// Status.
    pub status: ReservationStatus,
    /// Why it was made.
    pub routing: RoutingDecision,
    /// Bumped by every change.
    pub version: u64,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

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
    /// Tasks (closed ones too, until deleted).
    pub tasks: BTreeMap<Sid, Task>,
    /// Reservations.
    pub reservations: BTreeMap<Sid, Reservation>,
    /// Tasks that can take another offer now: routable, in a queue, and holding fewer
    /// pending reservations than the queue's `max_reserved_workers` (kept by [`evolve`]).
    pub wanting: BTreeSet<Sid>,
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

fn worker_document(w: &Worker, activity_name: Option<&str>) -> Value {
    let mut doc = parse_attributes(&w.attributes);
    if let Value::Object(map) = &mut doc {
        map.insert("sid".into(), Value::String(w.sid.to_string()));
        map.insert(
            "friendly_name".into(),
            Value::String(w.friendly_name.clone()),
        );
        map.insert(
            "activity_sid".into(),
            Value::String(w.activity_sid.to_string()),
        );
        map.insert(
            "activity_name".into(),
            activity_name.map_or(Value::Null, |n| Value::String(n.to_string())),
        );
    }
    doc
}

fn refresh_document(ws: &mut Workspace, sid: &Sid) {
    let name = ws
        .workers
        .get(sid)
        .and_then(|w| ws.activities.get(&w.activity_sid))
        .map(|a| a.friendly_name.clone());
    if let Some(w) = ws.workers.get_mut(sid) {
        w.document = worker_document(w, name.as_deref());
    }
}

fn release(ws: &mut Workspace, reservation: &Sid, status: ReservationStatus, at: DateTime<Utc>) {
    let Some(r) = ws.reservations.get_mut(reservation) else {
        return;
    };
    let held = r.status.holds_capacity();
    r.status = status;
    r.version += 1;
    r.date_updated = at;
    let (worker, channel) = (r.worker_sid.clone(), r.task_channel_sid.clone());
    if held && !status.holds_capacity() {
        if let Some(w) = ws.workers.get_mut(&worker) {
            if let Some(c) = w.channels.get_mut(&channel) {
                c.busy = c.busy.saturating_sub(1);
            }
            if w.channels.values().all(|c| c.busy == 0) {
                w.idle_since = at;
            }
        }
    }
}

/// Recomputes a task's pending-reservation count, and a routable task's status from it.
fn settle(ws: &mut Workspace, task: &Sid) {
    let pending = ws.tasks.get(task).map_or(0, |t| {
        t.reservations
            .iter()
            .filter(|r| {
                ws.reservations
                    .get(*r)
                    .is_some_and(|r| r.status == ReservationStatus::Pending)
            })
            .count() as u32
    });
    if let Some(t) = ws.tasks.get_mut(task) {
        t.pending_reservations = pending;
        if t.status.routable() {
            t.status = if pending > 0 {
                TaskStatus::Reserved
            } else {
                TaskStatus::Pending
            };
        }
    }
}

fn touch_task<'a>(ws: &'a mut Workspace, sid: &Sid, at: DateTime<Utc>) -> Option<&'a mut Task> {
    let t = ws.tasks.get_mut(sid)?;
    t.version += 1;
    t.date_updated = at;
    Some(t)
}

/// Folds one event into the workspace.
pub fn evolve(
    state: Option<Workspace>,
    sid: &Sid,
    at: DateTime<Utc>,
    event: &Event,
) -> Option<Workspace> {
    // The task a reservation event is about, read before the event may remove it.
    let reservation_task = match event {
        Event::ReservationAccepted(ResourceRef { sid })
        | Event::ReservationTimeout(ResourceRef { sid })
        | Event::ReservationRescinded(ResourceRef { sid })
        | Event::ReservationCanceled(ResourceRef { sid })
        | Event::ReservationRejected(ReservationRejectedRef { sid, .. }) => state
            .as_ref()
            .and_then(|w| w.reservations.get(sid))
            .map(|r| r.task_sid.clone()),
        _ => None,
    };
    let mut ws = fold(state, sid, at, event)?;
    match event {
        Event::TaskQueueCreated(TaskQueueCreatedRef { sid, .. }) => enroll_queue(&mut ws, sid),
        Event::TaskQueueUpdated(e) => enroll_queue(&mut ws, &e.sid),
        Event::WorkerCreated(WorkerCreatedRef { sid, .. })
        | Event::WorkerRenamed(WorkerRenamedRef { sid, .. })
        | Event::WorkerActivityUpdated(WorkerActivityRef { sid, .. })
        | Event::WorkerAttributesUpdated(WorkerAttributesRef { sid, .. })
        | Event::WorkerDeleted(ResourceRef { sid }) => enroll_worker(&mut ws, sid),
        Event::ActivityUpdated(e) => {
            let renamed: Vec<Sid> = ws
                .workers
                .values()
                .filter(|w| w.activity_sid == e.sid)
                .map(|w| w.sid.clone())
                .collect();
            for w in renamed {
                enroll_worker(&mut ws, &w);
            }
        }
        _ => {}
    }
    match event {
        Event::TaskQueueUpdated(_) | Event::TaskQueueDeleted(_) => {
            let all: Vec<Sid> = ws.tasks.keys().cloned().collect();
            for t in all {
                reindex(&mut ws, &t);
            }
        }
        Event::TaskCreated(e) => reindex(&mut ws, &e.sid),
        Event::TaskUpdated(e) => reindex(&mut ws, &e.sid),
        Event::TargetMatched(e) => reindex(&mut ws, &e.task_sid),
        Event::TaskCanceled(e) | Event::TaskCompleted(e) | Event::TaskWrapup(e) => {
            reindex(&mut ws, &e.sid)
        }
        Event::TaskDeleted(e) => reindex(&mut ws, &e.sid),
        Event::ReservationCreated(e) => reindex(&mut ws, &e.task_sid),
        _ => {
            if let Some(t) = reservation_task {
                reindex(&mut ws, &t);
            }
        }
    }
    Some(ws)
}

/// Recomputes a queue's members over every worker (when its expression is clock-free).
fn enroll_queue(ws: &mut Workspace, queue: &Sid) {
    let members = ws.queues.get(queue).and_then(|q| {
        (!q.target_expression.reads_clock()).then(|| {
            ws.workers
                .values()
                .filter(|w| q.target_expression.matches(&Context::document(&w.document)))
                .map(|w| w.sid.clone())
                .collect()
        })
    });
    if let Some(q) = ws.queues.get_mut(queue) {
        q.members = members;
    }
}

/// Puts a worker in or out of every queue's members (out when it is gone).
fn enroll_worker(ws: &mut Workspace, worker: &Sid) {
    let Workspace {
        queues, workers, ..
    } = ws;
    let w = workers.get(worker);
    for q in queues.values_mut() {
        let Some(members) = q.members.as_mut() else {
            continue;
        };
        if w.is_some_and(|w| q.target_expression.matches(&Context::document(&w.document))) {
            members.insert(worker.clone());
        } else {
            members.remove(worker);
        }
    }
}

/// Puts `task` in or out of [`Workspace::wanting`].
fn reindex(ws: &mut Workspace, task: &Sid) {
    let wants = ws.tasks.get(task).is_some_and(|t| {
        t.status.routable()
            && t.step.as_ref().is_some_and(|s| {
                ws.queues
                    .get(&s.queue_sid)
                    .is_some_and(|q| t.pending_reservations < q.max_reserved_workers)
            })
    });
    if wants {
        ws.wanting.insert(task.clone());
    } else {
        ws.wanting.remove(task);
    }
}

fn fold(
    state: Option<Workspace>,
    sid: &Sid,
    at: DateTime<Utc>,
    event: &Event,
) -> Option<Workspace> {
    if let (None, Event::WorkspaceCreated(e)) = (&state, event) {
        return Some(Workspace {
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
            date_created: at,
            date_updated: at,
        });
    }
    let mut ws = state?;
    match event {
        Event::WorkspaceUpdated(e) => {
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
        Event::WorkspaceDeleted(_) => ws.deleted = true,
        Event::ActivityCreated(e) => {
            ws.activities.insert(
                e.sid.clone(),
                Activity {
                    sid: e.sid.clone(),
                    friendly_name: e.friendly_name.clone(),
                    available: e.available,
                    date_created: at,
                    date_updated: at,
                },
            );
        }
        Event::ActivityUpdated(e) => {
            if let Some(a) = ws.activities.get_mut(&e.sid) {
                a.friendly_name.clone_from(&e.friendly_name);
                a.date_updated = at;
            }
            let workers: Vec<Sid> = ws
                .workers
                .values()
                .filter(|w| w.activity_sid == e.sid)
                .map(|w| w.sid.clone())
                .collect();
            for w in workers {
                refresh_document(&mut ws, &w);
            }
        }
        Event::ActivityDeleted(e) => {
            ws.activities.remove(&e.sid);
        }
        Event::TaskChannelCreated(e) => {
            ws.channels.insert(
                e.sid.clone(),
                TaskChannel {
                    sid: e.sid.clone(),
                    unique_name: e.unique_name.clone(),
                    friendly_name: e.friendly_name.clone(),
                    channel_optimized_routing: e.channel_optimized_routing,
                    date_created: at,
                    date_updated: at,
                },
            );
            for w in ws.workers.values_mut() {
                w.channels.entry(e.sid.clone()).or_insert(WorkerChannel {
                    capacity: 1,
                    available: true,
                    busy: 0,
                    date_updated: at,
                });
            }
        }
        Event::TaskChannelUpdated(e) => {
            if let Some(c) = ws.channels.get_mut(&e.sid) {
                if let Some(v) = &e.friendly_name {
                    c.friendly_name.clone_from(v);
                }
                if let Some(v) = e.channel_optimized_routing {
                    c.channel_optimized_routing = v;
                }
                c.date_updated = at;
            }
        }
        Event::TaskChannelDeleted(e) => {
            ws.channels.remove(&e.sid);
            for w in ws.workers.values_mut() {
                w.channels.remove(&e.sid);
            }
        }
        Event::WorkerCreated(e) => {
            let channels = ws
                .channels
                .keys()
                .map(|c| {
                    (
                        c.clone(),
                        WorkerChannel {
                            capacity: 1,
                            available: true,
                            busy: 0,
                            date_updated: at,
                        },
                    )
                })
                .collect();
            ws.workers.insert(
                e.sid.clone(),
                Worker {
                    sid: e.sid.clone(),
                    friendly_name: e.friendly_name.clone(),
                    attributes: e.attributes.clone(),
                    document: Value::Null,
                    activity_sid: e.activity_sid.clone(),
                    date_status_changed: at,
                    idle_since: at,
                    channels,
                    version: 0,
                    date_created: at,
                    date_updated: at,
                },
            );
            refresh_document(&mut ws, &e.sid);
        }
        Event::WorkerRenamed(e) => {
            if let Some(w) = ws.workers.get_mut(&e.sid) {
                w.friendly_name.clone_from(&e.friendly_name);
                w.version += 1;
                w.date_updated = at;
            }
            refresh_document(&mut ws, &e.sid);
        }
        Event::WorkerActivityUpdated(e) => {
            if let Some(w) = ws.workers.get_mut(&e.sid) {
                w.activity_sid = e.activity_sid.clone();
                w.date_status_changed = at;
                w.version += 1;
                w.date_updated = at;
            }
            refresh_document(&mut ws, &e.sid);
        }
        Event::WorkerAttributesUpdated(e) => {
            if let Some(w) = ws.workers.get_mut(&e.sid) {
                w.attributes.clone_from(&e.attributes);
                w.version += 1;
                w.date_updated = at;
            }
            refresh_document(&mut ws, &e.sid);
        }
        Event::WorkerCapacityUpdated(e) => {
            if let Some(c) = ws
                .workers
                .get_mut(&e.sid)
                .and_then(|w| w.channels.get_mut(&e.task_channel_sid))
            {
                c.capacity = e.capacity;
                c.date_updated = at;
            }
        }
        Event::WorkerChannelAvailabilityUpdated(e) => {
            if let Some(c) = ws
                .workers
                .get_mut(&e.sid)
                .and_then(|w| w.channels.get_mut(&e.task_channel_sid))
            {
                c.available = e.available;
                c.date_updated = at;
            }
        }
        Event::WorkerDeleted(e) => {
            ws.workers.remove(&e.sid);
        }
        Event::TaskQueueCreated(e) => {
            let expr = Expression::parse(&e.target_workers)
                .or_else(|_| Expression::parse("1==1"))
                .ok()?;
            ws.queues.insert(
                e.sid.clone(),
                TaskQueue {
                    sid: e.sid.clone(),
                    friendly_name: e.friendly_name.clone(),
                    target_workers: e.target_workers.clone(),
                    target_expression: expr,
                    members: None,
                    task_order: e.task_order,
                    max_reserved_workers: e.max_reserved_workers,
                    reservation_activity_sid: e.reservation_activity_sid.clone(),
                    assignment_activity_sid: e.assignment_activity_sid.clone(),
                    date_created: at,
                    date_updated: at,
                },
            );
        }
        Event::TaskQueueUpdated(e) => {
            if let Some(q) = ws.queues.get_mut(&e.sid) {
                if let Some(v) = &e.friendly_name {
                    q.friendly_name.clone_from(v);
                }
                if let Some(v) = &e.target_workers {
                    if let Ok(expr) = Expression::parse(v) {
                        q.target_workers.clone_from(v);
                        q.target_expression = expr;
                    }
                }
                if let Some(v) = e.task_order {
                    q.task_order = v;
                }
                if let Some(v) = e.max_reserved_workers {
                    q.max_reserved_workers = v;
                }
                if let Some(v) = &e.reservation_activity_sid {
                    q.reservation_activity_sid = Some(v.clone());
                }
                if let Some(v) = &e.assignment_activity_sid {
                    q.assignment_activity_sid = Some(v.clone());
                }
                q.date_updated = at;
            }
        }
        Event::TaskQueueDeleted(e) => {
            ws.queues.remove(&e.sid);
        }
        Event::WorkflowCreated(e) => {
            let compiled = Workflow::compile(&e.configuration).ok()?;
            ws.workflows.insert(
                e.sid.clone(),
                WorkflowState {
                    sid: e.sid.clone(),
                    friendly_name: e.friendly_name.clone(),
                    configuration: e.configuration.clone(),
                    compiled,
                    assignment_callback_url: e.assignment_callback_url.clone(),
                    fallback_assignment_callback_url: e.fallback_assignment_callback_url.clone(),
                    task_reservation_timeout: e.task_reservation_timeout,
                    date_created: at,
                    date_updated: at,
                },
            );
        }
        Event::WorkflowUpdated(e) => {
            if let Some(w) = ws.workflows.get_mut(&e.sid) {
                if let Some(v) = &e.friendly_name {
                    w.friendly_name.clone_from(v);
                }
                if let Some(v) = &e.configuration {
                    if let Ok(c) = Workflow::compile(v) {
                        w.configuration.clone_from(v);
                        w.compiled = c;
                    }
                }
                if let Some(v) = &e.assignment_callback_url {
                    w.assignment_callback_url = Some(v.clone()).filter(|v| !v.is_empty());
                }
                if let Some(v) = &e.fallback_assignment_callback_url {
                    w.fallback_assignment_callback_url = Some(v.clone()).filter(|v| !v.is_empty());
                }
                if let Some(v) = e.task_reservation_timeout {
                    w.task_reservation_timeout = v;
                }
                w.date_updated = at;
            }
        }
        Event::WorkflowDeleted(e) => {
            ws.workflows.remove(&e.sid);
        }
        Event::TaskCreated(e) => {
            ws.tasks.insert(
                e.sid.clone(),
                Task {
                    sid: e.sid.clone(),
                    attributes: e.attributes.clone(),
                    document: parse_attributes(&e.attributes),
                    priority: e.priority,
                    timeout: e.timeout,
                    task_channel_sid: e.task_channel_sid.clone(),
                    workflow_sid: e.workflow_sid.clone(),
                    virtual_start_time: e.virtual_start_time,
                    status: TaskStatus::Pending,
                    reason: None,
                    step: None,
                    reservations: Vec::new(),
                    rejected_by: Vec::new(),
                    pending_reservations: 0,
                    version: 0,
                    date_created: at,
                    date_updated: at,
                },
            );
        }
        Event::TaskUpdated(e) => {
            if let Some(t) = touch_task(&mut ws, &e.sid, at) {
                if let Some(v) = &e.attributes {
                    t.attributes.clone_from(v);
                    t.document = parse_attributes(v);
                }
                if let Some(v) = e.priority {
                    t.priority = v;
                }
            }
        }
        Event::TargetMatched(e) => {
            if let Some(t) = touch_task(&mut ws, &e.task_sid, at) {
                t.step = Some(TaskStep {
                    filter_index: e.filter_index,
                    filter_name: e.filter_name.clone(),
                    target_index: e.target_index,
                    queue_sid: e.task_queue_sid.clone(),
                    priority: e.priority,
                    timeout: e.timeout,
                    entered_at: at,
                });
            }
        }
        Event::TaskCanceled(e) | Event::TaskCompleted(e) | Event::TaskWrapup(e) => {
            let status = match event {
                Event::TaskCanceled(_) => TaskStatus::Canceled,
                Event::TaskCompleted(_) => TaskStatus::Completed,
                _ => TaskStatus::Wrapping,
            };
            let reservations = ws
                .tasks
                .get(&e.sid)
                .map(|t| t.reservations.clone())
                .unwrap_or_default();
            if let Some(t) = touch_task(&mut ws, &e.sid, at) {
                t.status = status;
                t.reason = Some(e.reason.clone());
            }
            // Whatever still holds a worker ends with the task.
            for r in reservations {
                let current = ws.reservations.get(&r).map(|r| r.status);
                let next = match (status, current) {
                    (TaskStatus::Wrapping, Some(ReservationStatus::Accepted)) => {
                        Some(ReservationStatus::Wrapping)
                    }
                    (TaskStatus::Wrapping, _) => None,
                    (_, Some(ReservationStatus::Pending)) => Some(ReservationStatus::Canceled),
                    (_, Some(ReservationStatus::Accepted | ReservationStatus::Wrapping)) => {
                        Some(ReservationStatus::Completed)
                    }
                    _ => None,
                };
                if let Some(next) = next {
                    release(&mut ws, &r, next, at);
                }
            }
            settle(&mut ws, &e.sid);
        }
        Event::TaskDeleted(e) => {
            let reservations = ws
                .tasks
                .remove(&e.sid)
                .map(|t| t.reservations)
                .unwrap_or_default();
            for r in reservations {
                release(&mut ws, &r, ReservationStatus::Canceled, at);
                ws.reservations.remove(&r);
            }
        }
        Event::ReservationCreated(e) => {
            let channel = ws
                .tasks
                .get(&e.task_sid)
                .map(|t| t.task_channel_sid.clone())?;
            ws.reservations.insert(
                e.sid.clone(),
                Reservation {
                    sid: e.sid.clone(),
                    task_sid: e.task_sid.clone(),
                    worker_sid: e.worker_sid.clone(),
                    queue_sid: e.task_queue_sid.clone(),
                    task_channel_sid: channel.clone(),
                    status: ReservationStatus::Pending,
                    routing: e.routing.clone(),
                    version: 0,
                    date_created: at,
                    date_updated: at,
                },
            );
            if let Some(c) = ws
                .workers
                .get_mut(&e.worker_sid)
                .and_then(|w| w.channels.get_mut(&channel))
            {
                c.busy += 1;
            }
            if let Some(t) = touch_task(&mut ws, &e.task_sid, at) {
                t.reservations.push(e.sid.clone());
            }
            settle(&mut ws, &e.task_sid);
        }
        Event::ReservationAccepted(e) => {
            if let Some(r) = ws.reservations.get_mut(&e.sid) {
                r.status = ReservationStatus::Accepted;
                r.version += 1;
                r.date_updated = at;
                let task = r.task_sid.clone();
                if let Some(t) = touch_task(&mut ws, &task, at) {
                    t.status = TaskStatus::Assigned;
                }
                settle(&mut ws, &task);
            }
        }
        Event::ReservationRejected(ReservationRejectedRef { sid, .. }) => {
            end_pending(&mut ws, sid, ReservationStatus::Rejected, true, at);
        }
        Event::ReservationTimeout(e) => {
            end_pending(&mut ws, &e.sid, ReservationStatus::Timeout, true, at);
        }
        Event::ReservationRescinded(e) => {
            end_pending(&mut ws, &e.sid, ReservationStatus::Rescinded, false, at);
        }
        Event::ReservationCanceled(e) => {
            end_pending(&mut ws, &e.sid, ReservationStatus::Canceled, false, at);
        }
        Event::ReservationWrapup(e) => {
            if let Some(r) = ws.reservations.get_mut(&e.sid) {
                r.status = ReservationStatus::Wrapping;
                r.version += 1;
                r.date_updated = at;
            }
        }
        Event::ReservationCompleted(e) => {
            release(&mut ws, &e.sid, ReservationStatus::Completed, at)
        }
        _ => {}
    }
    Some(ws)
}

use super::events::ReservationRejected as ReservationRejectedRef;
use super::events::TaskQueueCreated as TaskQueueCreatedRef;
use super::events::WorkerActivityUpdated as WorkerActivityRef;
use super::events::WorkerAttributesUpdated as WorkerAttributesRef;
use super::events::WorkerCreated as WorkerCreatedRef;
use super::events::WorkerRenamed as WorkerRenamedRef;
use super::expression::Context;

/// Ends a pending reservation; `refused` records the worker as having turned the task down.
fn end_pending(
    ws: &mut Workspace,
    sid: &Sid,
    status: ReservationStatus,
    refused: bool,
    at: DateTime<Utc>,
) {
    let Some((task, worker)) = ws
        .reservations
        .get(sid)
        .map(|r| (r.task_sid.clone(), r.worker_sid.clone()))
    else {
        return;
    };
    release(ws, sid, status, at);
    if let Some(t) = touch_task(ws, &task, at) {
        if refused && !t.rejected_by.contains(&worker) {
            t.rejected_by.push(worker);
        }
    }
    settle(ws, &task);
}
