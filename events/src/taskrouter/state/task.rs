//! Tasks in the workspace fold: status, workflow step and the reservations they have had.
//! A routable task's status follows its pending offers ([`settle`]: reserved while any is
//! pending, pending otherwise), and closing or deleting a task ends every reservation still
//! holding a worker, so no worker stays busy with a task that is over.

use super::reservation::release;
use super::{parse_attributes, ReservationStatus, Workspace};
use crate::sid::Sid;
use crate::taskrouter::events::{ResourceRef, TargetMatched, TaskClosed, TaskCreated, TaskUpdated};
use chrono::{DateTime, Utc};
use serde_json::Value;

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
    /// When it was completed or canceled: its retention counts from here.
    pub date_closed: Option<DateTime<Utc>>,
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

/// The task, its version bumped and its update time set.
pub(super) fn touch_task<'a>(
    ws: &'a mut Workspace,
    sid: &Sid,
    at: DateTime<Utc>,
) -> Option<&'a mut Task> {
    let t = ws.tasks.get_mut(sid)?;
    t.version += 1;
    t.date_updated = at;
    Some(t)
}

/// Recomputes a task's pending-reservation count, and a routable task's status from it.
pub(super) fn settle(ws: &mut Workspace, task: &Sid) {
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

pub(super) fn created(ws: &mut Workspace, e: &TaskCreated, at: DateTime<Utc>) {
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
            date_closed: None,
        },
    );
}

pub(super) fn updated(ws: &mut Workspace, e: &TaskUpdated, at: DateTime<Utc>) {
    if let Some(t) = touch_task(ws, &e.sid, at) {
        if let Some(v) = &e.attributes {
            t.attributes.clone_from(v);
            t.document = parse_attributes(v);
        }
        if let Some(v) = e.priority {
            t.priority = v;
        }
    }
}

pub(super) fn target_matched(ws: &mut Workspace, e: &TargetMatched, at: DateTime<Utc>) {
    if let Some(t) = touch_task(ws, &e.task_sid, at) {
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

/// The task becomes `status` (canceled, completed or wrapping), and its reservations follow.
pub(super) fn closed(ws: &mut Workspace, e: &TaskClosed, status: TaskStatus, at: DateTime<Utc>) {
    let reservations = ws
        .tasks
        .get(&e.sid)
        .map(|t| t.reservations.clone())
        .unwrap_or_default();
    if let Some(t) = touch_task(ws, &e.sid, at) {
        t.status = status;
        t.reason = Some(e.reason.clone());
        if status.closed() && t.date_closed.is_none() {
            t.date_closed = Some(at);
        }
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
            release(ws, &r, next, at);
        }
    }
    settle(ws, &e.sid);
}

/// The task and its reservations go, releasing what they held.
pub(super) fn deleted(ws: &mut Workspace, e: &ResourceRef, at: DateTime<Utc>) {
    let reservations = ws
        .tasks
        .remove(&e.sid)
        .map(|t| t.reservations)
        .unwrap_or_default();
    for r in reservations {
        release(ws, &r, ReservationStatus::Canceled, at);
        ws.reservations.remove(&r);
    }
}
