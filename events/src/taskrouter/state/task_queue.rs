//! Task queues in the workspace fold. A queue's compiled `target_expression` is what the
//! matcher evaluates; an update whose expression does not parse keeps the old one (the
//! decider refuses it first, so this only guards a foreign log). Its `members` index is kept
//! in [`index`](super::index).

use super::Workspace;
use crate::sid::Sid;
use crate::taskrouter::events::{QueueOrder, ResourceRef, TaskQueueCreated, TaskQueueUpdated};
use crate::taskrouter::expression::Expression;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

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
    /// The workers `target_workers` matches now, kept by [`evolve`](super::evolve) as workers
    /// and the queue change (`None` when the expression reads the clock and must be
    /// evaluated each time).
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

/// A new queue. `None` (the whole workspace fails to fold) only if neither its expression nor
/// the catch-all parses, which cannot happen.
pub(super) fn created(ws: &mut Workspace, e: &TaskQueueCreated, at: DateTime<Utc>) -> Option<()> {
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
    Some(())
}

pub(super) fn updated(ws: &mut Workspace, e: &TaskQueueUpdated, at: DateTime<Utc>) {
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

pub(super) fn deleted(ws: &mut Workspace, e: &ResourceRef) {
    ws.queues.remove(&e.sid);
}
