//! Task queues in the workspace fold. A queue's compiled `target_expression` is what the
//! matcher evaluates; its `members` index is kept in [`index`](super::index).
//!
//! A stored `target_workers` this build cannot parse (the decider refuses such text, so only
//! a log written by another build holds one) follows the fold's one failure policy
//! ([`state`](super)): the queue is kept with the text as stored, `compile_error` says why,
//! and its compiled expression matches no worker, so it never receives a reservation and
//! never widens to every worker.

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
    /// The same, compiled; matches no worker when `compile_error` is set.
    pub target_expression: Expression,
    /// Why `target_workers` does not compile in this build (`None`: it does). Such a queue
    /// matches no worker; the API shows the reason.
    pub compile_error: Option<String>,
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

/// What a queue whose `target_workers` does not compile matches: nothing (a constant
/// comparison that is false for every worker).
const MATCHES_NOTHING: &str = "1 == 0";

/// Compiles a stored `target_workers`: the expression, or one that matches no worker and the
/// reason (never the catch-all: a queue that lost its condition must not take every worker).
pub(super) fn compile(target_workers: &str) -> (Expression, Option<String>) {
    match Expression::parse(target_workers) {
        Ok(expr) => (expr, None),
        Err(e) => (matches_nothing(), Some(e.to_string())),
    }
}

fn matches_nothing() -> Expression {
    // A constant of the grammar's simplest form, not user input; a unit test holds it.
    Expression::parse(MATCHES_NOTHING).expect("the constant never-matching expression parses")
}

/// A new queue: always recorded, compiled or not (see the module doc).
pub(super) fn created(ws: &mut Workspace, e: &TaskQueueCreated, at: DateTime<Utc>) {
    let (expr, compile_error) = compile(&e.target_workers);
    ws.queues.insert(
        e.sid.clone(),
        TaskQueue {
            sid: e.sid.clone(),
            friendly_name: e.friendly_name.clone(),
            target_workers: e.target_workers.clone(),
            target_expression: expr,
            compile_error,
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

pub(super) fn updated(ws: &mut Workspace, e: &TaskQueueUpdated, at: DateTime<Utc>) {
    if let Some(q) = ws.queues.get_mut(&e.sid) {
        if let Some(v) = &e.friendly_name {
            q.friendly_name.clone_from(v);
        }
        if let Some(v) = &e.target_workers {
            // The stored fact is the new text; whether this build compiles it is the policy's.
            let (expr, compile_error) = compile(v);
            q.target_workers.clone_from(v);
            q.target_expression = expr;
            q.compile_error = compile_error;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskrouter::expression::Context;

    #[test]
    fn an_expression_that_does_not_compile_matches_no_worker_and_says_why() {
        let everyone = serde_json::json!({"tier": "gold", "languages": ["en"]});
        let nobody = serde_json::json!({});
        let (expr, error) = compile("tier == ");
        assert!(error.is_some_and(|e| e.contains("expression error")));
        assert!(!expr.matches(&Context::document(&everyone)));
        assert!(!expr.matches(&Context::document(&nobody)));
        let (expr, error) = compile("tier == 'gold'");
        assert_eq!(error, None);
        assert!(expr.matches(&Context::document(&everyone)));
        assert!(!matches_nothing().reads_clock());
    }
}
