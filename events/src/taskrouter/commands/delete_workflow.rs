//! `DeleteWorkflow`: refused while open tasks are routed by the workflow, so every open
//! task's workflow exists.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::{delete_unless, open_task_uses};

/// Decides `DeleteWorkflow`.
pub(crate) fn decide(ws: &Workspace, sid: &Sid) -> Result<Vec<Event>, TaskRouterError> {
    let used = open_task_uses(ws, |t| t.workflow_sid == *sid);
    delete_unless(
        ws.workflows.contains_key(sid),
        "workflow",
        sid,
        used.then_some("open tasks are routed by this workflow"),
        Event::WorkflowDeleted,
    )
}
