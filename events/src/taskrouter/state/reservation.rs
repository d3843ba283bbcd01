//! Reservations in the workspace fold: offers of a task to a worker and the worker's answer.
//! A reservation holds one unit of its worker's capacity on the task's channel while it is
//! pending, accepted or wrapping ([`ReservationStatus::holds_capacity`]); [`release`] gives
//! that unit back exactly once, when it leaves those statuses, so a worker's `busy` count
//! always equals the reservations holding it.

use super::task::{settle, touch_task};
use super::worker::channel_mut;
use super::{TaskStatus, Workspace};
use crate::sid::Sid;
use crate::taskrouter::events::{ReservationCreated, RoutingDecision};
use chrono::{DateTime, Utc};

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

/// Moves a reservation to `status`, giving its worker's capacity back if it held some and
/// no longer does (a worker with nothing held is idle from `at`).
pub(super) fn release(
    ws: &mut Workspace,
    reservation: &Sid,
    status: ReservationStatus,
    at: DateTime<Utc>,
) {
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

/// A new pending offer, holding a unit of the worker's capacity. An offer of a task that is
/// not there (routing never records one) changes nothing, as every event about a missing
/// entity does.
pub(super) fn created(ws: &mut Workspace, e: &ReservationCreated, at: DateTime<Utc>) {
    let Some(channel) = ws
        .tasks
        .get(&e.task_sid)
        .map(|t| t.task_channel_sid.clone())
    else {
        return;
    };
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
    if let Some(c) = channel_mut(ws, &e.worker_sid, &channel) {
        c.busy += 1;
    }
    if let Some(t) = touch_task(ws, &e.task_sid, at) {
        t.reservations.push(e.sid.clone());
    }
    settle(ws, &e.task_sid);
}

/// The worker accepted: the task is assigned.
pub(super) fn accepted(ws: &mut Workspace, sid: &Sid, at: DateTime<Utc>) {
    if let Some(r) = ws.reservations.get_mut(sid) {
        r.status = ReservationStatus::Accepted;
        r.version += 1;
        r.date_updated = at;
        let task = r.task_sid.clone();
        if let Some(t) = touch_task(ws, &task, at) {
            t.status = TaskStatus::Assigned;
        }
        settle(ws, &task);
    }
}

/// Ends a pending reservation; `refused` records the worker as having turned the task down.
pub(super) fn end_pending(
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

pub(super) fn wrapup(ws: &mut Workspace, sid: &Sid, at: DateTime<Utc>) {
    if let Some(r) = ws.reservations.get_mut(sid) {
        r.status = ReservationStatus::Wrapping;
        r.version += 1;
        r.date_updated = at;
    }
}
