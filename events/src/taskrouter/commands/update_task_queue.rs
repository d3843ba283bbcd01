//! `UpdateTaskQueue`: the same checks as creation on each part that is given. A new
//! target-workers expression re-enrolls every worker when it is folded, and is its own fact
//! too (`task-queue.expression.updated`, after the update).

use crate::event::Event;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::{TaskQueueExpressionUpdated, TaskQueueUpdated};
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::{
    check_expression, check_max_reserved_workers, check_name, check_queue_activities, not_found,
};

/// Decides `UpdateTaskQueue`.
pub(crate) fn decide(
    ws: &Workspace,
    change: &TaskQueueUpdated,
) -> Result<Vec<Event>, TaskRouterError> {
    ws.queues
        .get(&change.sid)
        .ok_or_else(|| not_found("task queue", &change.sid))?;
    if let Some(n) = &change.friendly_name {
        check_name("FriendlyName", n)?;
    }
    if let Some(t) = &change.target_workers {
        check_expression("TargetWorkers", t)?;
    }
    if let Some(m) = change.max_reserved_workers {
        check_max_reserved_workers(m)?;
    }
    check_queue_activities(
        ws,
        change.reservation_activity_sid.as_ref(),
        change.assignment_activity_sid.as_ref(),
    )?;
    let mut out = vec![Event::TaskQueueUpdated(change.clone())];
    let current = ws.queues.get(&change.sid).map(|q| &q.target_workers);
    if let Some(t) = change
        .target_workers
        .as_ref()
        .filter(|t| current != Some(*t))
    {
        out.push(Event::TaskQueueExpressionUpdated(
            TaskQueueExpressionUpdated {
                sid: change.sid.clone(),
                target_workers: t.clone(),
            },
        ));
    }
    Ok(out)
}
