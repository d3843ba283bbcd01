//! Closing a task: the events that end a task's reservations, then the task's own
//! (`task.wrapup`, `task.completed`, `task.canceled`), in the order the facts happen — a
//! reservation is wrapped up, completed or canceled as its task is, so the event callback and
//! `/Events` show `reservation.completed` beside `task.completed`, as Twilio sends them.
//!
//! Invariant: every reservation that still holds its worker when its task closes gets exactly
//! one event saying how it ended (pending → `reservation.canceled`, accepted or wrapping →
//! `reservation.completed`; on wrap-up, accepted → `reservation.wrapup`), recorded before the
//! task's event. The task's fold still ends whatever no event ended (logs written before these
//! events existed), and finds nothing left to end in logs written since.

use super::events::{ResourceRef, TaskClosed};
use super::state::{ReservationStatus, TaskStatus, Workspace};
use crate::event::Event;
use crate::sid::Sid;
use std::collections::BTreeSet;

/// The events that move `task` to `status` (wrapping, completed or canceled) with `reason`:
/// its reservations' events, then the task's. `ended` are reservations already ended by
/// events decided alongside (a timeout in the same tick), which get no second event.
pub(crate) fn close(
    ws: &Workspace,
    task: &Sid,
    status: TaskStatus,
    reason: String,
    ended: &BTreeSet<Sid>,
) -> Vec<Event> {
    let mut out: Vec<Event> = ws
        .tasks
        .get(task)
        .map(|t| t.reservations.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|r| !ended.contains(*r))
        .filter_map(|r| ws.reservations.get(r))
        .filter_map(|r| reservation_event(r.sid.clone(), r.status, status))
        .collect();
    let closed = TaskClosed {
        sid: task.clone(),
        reason,
    };
    out.push(match status {
        TaskStatus::Wrapping => Event::TaskWrapup(closed),
        TaskStatus::Completed => Event::TaskCompleted(closed),
        _ => Event::TaskCanceled(closed),
    });
    out
}

/// How a reservation in `current` ends when its task becomes `task` (as the task's fold ends
/// it), or `None` when it is over already.
fn reservation_event(sid: Sid, current: ReservationStatus, task: TaskStatus) -> Option<Event> {
    let r = ResourceRef { sid };
    match (task, current) {
        (TaskStatus::Wrapping, ReservationStatus::Accepted) => Some(Event::ReservationWrapup(r)),
        (TaskStatus::Wrapping, _) => None,
        (_, ReservationStatus::Pending) => Some(Event::ReservationCanceled(r)),
        (_, ReservationStatus::Accepted | ReservationStatus::Wrapping) => {
            Some(Event::ReservationCompleted(r))
        }
        _ => None,
    }
}
