//! Timeouts: what is past its time at a given instant ([`timeouts`], decided on
//! [`Command::Tick`](super::command::Command::Tick)). The instant comes from the command, never
//! from a clock, and a timeout too large to add to a date never fires, so a replay of the same
//! ticks times out the same reservations and tasks.

use super::close::close;
use super::events::{ResourceRef, TaskInQueue, WorkflowTimeout};
use super::routing::{enter, move_worker, step_of};
use super::state::{ReservationStatus, TaskStatus, Workspace};
use crate::event::Event;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Everything past its time at `now`: pending reservations past the workflow's reservation
/// timeout (the worker moves to the workspace's timeout activity), tasks past their TTL, and
/// tasks whose workflow target timed out (`task-queue.timeout`, then the next target's
/// events, or `workflow.timeout` and canceled at the end). A canceled task's reservations
/// are canceled first, except those that timed out in this same tick.
pub fn timeouts(ws: &Workspace, now: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut timed_out = BTreeSet::new();
    for r in ws
        .reservations
        .values()
        .filter(|r| r.status == ReservationStatus::Pending)
    {
        let limit = ws
            .tasks
            .get(&r.task_sid)
            .and_then(|t| ws.workflows.get(&t.workflow_sid))
            .map_or(120, |w| w.task_reservation_timeout);
        if now >= r.date_created + chrono::Duration::seconds(i64::from(limit)) {
            out.push(Event::ReservationTimeout(ResourceRef {
                sid: r.sid.clone(),
            }));
            timed_out.insert(r.sid.clone());
            out.extend(move_worker(
                ws,
                &r.worker_sid,
                ws.timeout_activity_sid.as_ref(),
            ));
        }
    }
    for t in ws.tasks.values().filter(|t| !t.status.closed()) {
        if now >= t.date_created + chrono::Duration::seconds(i64::from(t.timeout)) {
            let reason = "Task TTL Exceeded".to_string();
            out.extend(close(ws, &t.sid, TaskStatus::Canceled, reason, &timed_out));
            continue;
        }
        if t.status != TaskStatus::Pending {
            continue;
        }
        // A workflow whose stored document does not compile has no next target to move to:
        // its tasks wait (until their TTL) rather than time out of rules that are unknown.
        let workflow = ws
            .workflows
            .get(&t.workflow_sid)
            .filter(|w| w.compile_error.is_none());
        let (Some(step), Some(workflow)) = (&t.step, workflow) else {
            continue;
        };
        let Some(timeout) = step.timeout else {
            continue;
        };
        // A timeout too large to add to a date never fires (the document is the user's).
        let due = i64::try_from(timeout)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .and_then(|d| step.entered_at.checked_add_signed(d));
        if due.is_none_or(|due| now < due) {
            continue;
        }
        out.push(Event::TaskQueueTimeout(TaskInQueue {
            task_sid: t.sid.clone(),
            task_queue_sid: step.queue_sid.clone(),
        }));
        let current = step_of(step);
        match workflow.compiled.next(current, &t.document, now) {
            Some(next) => out.extend(enter(&workflow.compiled, &workflow.sid, t, next)),
            None => {
                out.push(Event::WorkflowTimeout(WorkflowTimeout {
                    task_sid: t.sid.clone(),
                    workflow_sid: workflow.sid.clone(),
                }));
                let reason = "Workflow Timeout".to_string();
                out.extend(close(ws, &t.sid, TaskStatus::Canceled, reason, &timed_out));
            }
        }
    }
    out
}
