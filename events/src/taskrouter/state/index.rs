//! The indexes the workspace fold keeps beside the entities, so routing costs what changed
//! rather than what exists: each clock-free queue's `members` (the workers its target
//! expression matches), the workspace's `wanting` set (tasks that can take another offer) and
//! its `unrouted` set (pending tasks without a workflow step yet).
//! [`evolve`](super::evolve) brings both up to date after every event, so each always equals
//! what it summarises (the routing property test checks exactly that), except that a task of
//! a workflow that does not compile is never wanting (see `reindex`). Re-indexing a task also
//! re-times it (`timers.rs`), so the timers follow every change the sets follow.

use super::{timers, TaskStatus, Workspace};
use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::events::{
    ReservationRejected, ResourceRef, TaskQueueCreated, WorkerActivityUpdated,
    WorkerAttributesUpdated, WorkerCreated, WorkerRenamed,
};
use crate::taskrouter::expression::Context;

/// The task a reservation event is about, read before the event is folded (a fold may remove
/// the reservation).
pub(super) fn reservation_task(state: Option<&Workspace>, event: &Event) -> Option<Sid> {
    match event {
        Event::ReservationAccepted(ResourceRef { sid })
        | Event::ReservationTimeout(ResourceRef { sid })
        | Event::ReservationRescinded(ResourceRef { sid })
        | Event::ReservationCanceled(ResourceRef { sid })
        | Event::ReservationRejected(ReservationRejected { sid, .. }) => state
            .and_then(|w| w.reservations.get(sid))
            .map(|r| r.task_sid.clone()),
        _ => None,
    }
}

/// Brings the indexes up to date after `event` was folded into `ws`; `reservation_task` is
/// [`reservation_task`] of the state before it.
pub(super) fn update(ws: &mut Workspace, event: &Event, reservation_task: Option<Sid>) {
    match event {
        Event::TaskQueueCreated(TaskQueueCreated { sid, .. }) => enroll_queue(ws, sid),
        Event::TaskQueueUpdated(e) => enroll_queue(ws, &e.sid),
        Event::WorkerCreated(WorkerCreated { sid, .. })
        | Event::WorkerRenamed(WorkerRenamed { sid, .. })
        | Event::WorkerActivityUpdated(WorkerActivityUpdated { sid, .. })
        | Event::WorkerAttributesUpdated(WorkerAttributesUpdated { sid, .. })
        | Event::WorkerDeleted(ResourceRef { sid }) => enroll_worker(ws, sid),
        Event::ActivityUpdated(e) => {
            let renamed: Vec<Sid> = ws
                .workers
                .values()
                .filter(|w| w.activity_sid == e.sid)
                .map(|w| w.sid.clone())
                .collect();
            for w in renamed {
                enroll_worker(ws, &w);
            }
        }
        _ => {}
    }
    match event {
        Event::TaskQueueUpdated(_)
        | Event::TaskQueueDeleted(_)
        | Event::WorkflowCreated(_)
        | Event::WorkflowUpdated(_)
        | Event::WorkflowDeleted(_) => {
            // A workflow's compile status decides whether its tasks may be offered, and its
            // reservation timeout when their offers time out.
            let all: Vec<Sid> = ws.tasks.keys().cloned().collect();
            for t in all {
                reindex(ws, &t);
            }
        }
        Event::TaskCreated(e) => reindex(ws, &e.sid),
        Event::TaskUpdated(e) => reindex(ws, &e.sid),
        Event::TargetMatched(e) => reindex(ws, &e.task_sid),
        Event::TaskCanceled(e) | Event::TaskCompleted(e) | Event::TaskWrapup(e) => {
            reindex(ws, &e.sid)
        }
        Event::TaskDeleted(e) | Event::TaskSystemDeleted(e) => reindex(ws, &e.sid),
        Event::ReservationCreated(e) => reindex(ws, &e.task_sid),
        _ => {
            if let Some(t) = reservation_task {
                reindex(ws, &t);
            }
        }
    }
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

/// Puts `task` in or out of [`Workspace::wanting`]. A task of a workflow whose stored document
/// does not compile is never wanting: its targets' conditions are unknown, and offering it
/// without them would widen it to every worker of the queue (the fold's failure policy).
fn reindex(ws: &mut Workspace, task: &Sid) {
    let wants = ws.tasks.get(task).is_some_and(|t| {
        t.status.routable()
            && ws
                .workflows
                .get(&t.workflow_sid)
                .is_none_or(|w| w.compile_error.is_none())
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
    let unrouted = ws
        .tasks
        .get(task)
        .is_some_and(|t| t.status == TaskStatus::Pending && t.step.is_none());
    if unrouted {
        ws.unrouted.insert(task.clone());
    } else {
        ws.unrouted.remove(task);
    }
    timers::retime(ws, task);
}
