//! `UpdateWorkflow`: the same checks as creation on each part that is given. With
//! `ReEvaluateTasks`, every pending task of the workflow is routed again under the (new)
//! configuration (moving queues: `task-queue.moved`, `.entered`, then the target), and one
//! that no filter matches any more is canceled.

use crate::event::Event;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::{TaskClosed, WorkflowUpdated};
use crate::taskrouter::routing::enter;
use crate::taskrouter::state::{TaskStatus, Workspace};
use crate::taskrouter::validate::{
    check_name, check_reservation_timeout, check_workflow, not_found,
};
use chrono::{DateTime, Utc};

/// Decides `UpdateWorkflow`.
pub(crate) fn decide(
    ws: &Workspace,
    change: &WorkflowUpdated,
    re_evaluate_tasks: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, TaskRouterError> {
    ws.workflows
        .get(&change.sid)
        .ok_or_else(|| not_found("workflow", &change.sid))?;
    if let Some(n) = &change.friendly_name {
        check_name("FriendlyName", n)?;
    }
    let compiled = match &change.configuration {
        Some(c) => Some(check_workflow(ws, c)?),
        None => None,
    };
    if let Some(t) = change.task_reservation_timeout {
        check_reservation_timeout(t)?;
    }
    let mut out = vec![Event::WorkflowUpdated(change.clone())];
    // A stored document that does not compile routes nothing: re-evaluating by it would
    // cancel every pending task, so only a new document re-evaluates then.
    let current = ws
        .workflows
        .get(&change.sid)
        .filter(|w| w.compile_error.is_none())
        .map(|w| w.compiled.clone());
    if let (true, Some(workflow)) = (re_evaluate_tasks, compiled.or(current)) {
        for t in ws
            .tasks
            .values()
            .filter(|t| t.workflow_sid == change.sid && t.status == TaskStatus::Pending)
        {
            match workflow.route(&t.document, now) {
                Some(step) => out.extend(enter(&workflow, &change.sid, t, step)),
                None => out.push(Event::TaskCanceled(TaskClosed {
                    sid: t.sid.clone(),
                    reason: "No matching workflow filter after re-evaluation".into(),
                })),
            }
        }
    }
    Ok(out)
}
