//! `DeleteTaskQueue`: refused while routable tasks wait in the queue, so every waiting task's
//! queue exists.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::delete_unless;

/// Decides `DeleteTaskQueue`.
pub(crate) fn decide(ws: &Workspace, sid: &Sid) -> Result<Vec<Event>, TaskRouterError> {
    let used = ws
        .tasks
        .values()
        .any(|t| t.status.routable() && t.step.as_ref().is_some_and(|s| s.queue_sid == *sid));
    delete_unless(
        ws.queues.contains_key(sid),
        "task queue",
        sid,
        used.then_some("tasks are waiting in this queue"),
        Event::TaskQueueDeleted,
    )
}
