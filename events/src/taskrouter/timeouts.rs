//! Timeouts: what is past its time at a given instant ([`timeouts`], decided on
//! [`Command::Tick`](super::command::Command::Tick)), and closed tasks past their retention
//! ([`expired`], on [`Command::ExpireClosedTasks`](super::command::Command::ExpireClosedTasks)).
//! The instant comes from the command, never from a clock, and a timeout too large to add to a
//! date never fires, so a replay of the same ticks times out the same reservations and tasks.
//!
//! Both read the workspace's ordered timers (`state/timers.rs`), so they visit only what is
//! due: an idle workspace with many open tasks costs nothing per tick. What fires, and in
//! which order, is what a scan of every task and reservation would decide (the timers property
//! test holds them to that scan): timed-out reservations in SID order, then tasks in SID order.

use super::close::close;
use super::events::{ResourceRef, TaskInQueue, WorkflowTimeout};
use super::routing::{enter, move_worker, step_of};
use super::state::{TaskStatus, TimerKind, Workspace};
use crate::event::Event;
use crate::sid::Sid;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeSet;

/// Everything past its time at `now`: pending reservations past the workflow's reservation
/// timeout (the worker moves to the workspace's timeout activity), tasks past their TTL, and
/// tasks whose workflow target timed out (`task-queue.timeout`, then the next target's
/// events, or `workflow.timeout` and canceled at the end). A canceled task's reservations
/// are canceled first, except those that timed out in this same tick.
pub fn timeouts(ws: &Workspace, now: DateTime<Utc>) -> Vec<Event> {
    let mut reservations = BTreeSet::new();
    let mut ttl = BTreeSet::new();
    let mut target = BTreeSet::new();
    for t in ws.timers.due_at(now) {
        match t.kind {
            TimerKind::Reservation => reservations.insert(&t.sid),
            TimerKind::Ttl => ttl.insert(&t.sid),
            TimerKind::Target => target.insert(&t.sid),
            TimerKind::Retention => false,
        };
    }
    let mut out = Vec::new();
    let mut timed_out = BTreeSet::new();
    for r in reservations
        .into_iter()
        .filter_map(|r| ws.reservations.get(r))
    {
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
    let tasks: BTreeSet<&Sid> = ttl.iter().chain(target.iter()).copied().collect();
    for sid in tasks {
        if ttl.contains(sid) {
            let reason = "Task TTL Exceeded".to_string();
            out.extend(close(ws, sid, TaskStatus::Canceled, reason, &timed_out));
        } else {
            out.extend(target_timed_out(ws, sid, now, &timed_out));
        }
    }
    out
}

/// A task whose workflow target timed out: `task-queue.timeout`, then the next target's
/// events, or `workflow.timeout` and canceled at the end (its reservations first, except
/// those in `timed_out`). The timer exists only for a pending task in a step with a timeout
/// of a workflow that compiles, so anything else here is nothing to do.
fn target_timed_out(
    ws: &Workspace,
    task: &Sid,
    now: DateTime<Utc>,
    timed_out: &BTreeSet<Sid>,
) -> Vec<Event> {
    let Some(t) = ws.tasks.get(task) else {
        return Vec::new();
    };
    let workflow = ws
        .workflows
        .get(&t.workflow_sid)
        .filter(|w| w.compile_error.is_none());
    let (Some(step), Some(workflow)) = (&t.step, workflow) else {
        return Vec::new();
    };
    let mut out = vec![Event::TaskQueueTimeout(TaskInQueue {
        task_sid: t.sid.clone(),
        task_queue_sid: step.queue_sid.clone(),
    })];
    match workflow.compiled.next(step_of(step), &t.document, now) {
        Some(next) => out.extend(enter(&workflow.compiled, &workflow.sid, t, next)),
        None => {
            out.push(Event::WorkflowTimeout(WorkflowTimeout {
                task_sid: t.sid.clone(),
                workflow_sid: workflow.sid.clone(),
            }));
            let reason = "Workflow Timeout".to_string();
            out.extend(close(ws, &t.sid, TaskStatus::Canceled, reason, timed_out));
        }
    }
    out
}

/// The completed and canceled tasks closed at least `retention` before `now`, each removed by
/// a `task.system-deleted` (its reservations and every index entry naming it go in the fold),
/// earliest closed first.
pub fn expired(ws: &Workspace, now: DateTime<Utc>, retention: Duration) -> Vec<Event> {
    let Some(cutoff) = now.checked_sub_signed(retention) else {
        return Vec::new();
    };
    ws.timers
        .closed_by(cutoff)
        .map(|t| Event::TaskSystemDeleted(ResourceRef { sid: t.sid.clone() }))
        .collect()
}
