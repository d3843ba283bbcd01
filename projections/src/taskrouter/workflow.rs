//! A workflow's routing outcomes: `workflow.target-matched`, the queue (and the step's
//! priority) a task waits in, which places it in the queue positions and counts it as entered
//! in the queue (and moved out of the one it left); and `workflow.timeout`, counted as a task
//! timed out in the workflow. The workflow's own definition is not part of this read model.
//!
//! Invariant: a task counts as entered once per queue it moves into; matching the queue it is
//! already in again (a later step with the same target) changes its priority and entry time
//! but counts nothing.

use super::counter::Counter;
use super::Fold;
use switchboard_events::taskrouter::events::{TargetMatched, WorkflowTimeout};

/// `workflow.target-matched`
pub(super) async fn target_matched(f: Fold<'_>, m: &TargetMatched) -> Result<(), sqlx::Error> {
    if let Some(mut t) = f.overlay.task(f.tx, m.task_sid.as_str()).await? {
        let to = m.task_queue_sid.as_str();
        if t.queue.as_deref() != Some(to) {
            if let Some(old) = t.queue.as_deref() {
                f.tally
                    .count(f.ws, &[old], &t.channel, f.minute, Counter::TasksMoved);
            }
            f.tally
                .count(f.ws, &[to], &t.channel, f.minute, Counter::TasksEntered);
        }
        t.queue = Some(to.to_string());
        t.step_priority = m.priority;
        t.entered_ms = Some(f.at);
        f.overlay.put_task(m.task_sid.as_str(), Some(t));
    }
    Ok(())
}

/// `workflow.timeout`: counted in the workspace and the workflow, on the task's channel. It
/// comes just before the `task.canceled` that removes the task, so the task is still known.
pub(super) async fn timed_out(f: Fold<'_>, w: &WorkflowTimeout) -> Result<(), sqlx::Error> {
    if let Some(t) = f.overlay.task(f.tx, w.task_sid.as_str()).await? {
        f.tally.count(
            f.ws,
            &[f.ws, w.workflow_sid.as_str()],
            &t.channel,
            f.minute,
            Counter::TasksTimedOutInWorkflow,
        );
    }
    Ok(())
}
