//! A workflow's routing outcomes: `workflow.entered` (the workflow's `tasks_entered`),
//! `task-queue.entered` (the queue a task waits in now, counted as entered in it),
//! `task-queue.moved` (counted as moved out of the queue it left), `workflow.target-matched`
//! (the step's priority, which places it in the queue positions), and `workflow.timeout`,
//! counted as a task timed out in the workflow. The workflow's own definition is not part of
//! this read model.
//!
//! Invariant: each counter counts from its own fact, once. Logs written before
//! `workflow.entered` and `task-queue.entered` existed carry only `workflow.target-matched`:
//! a match into a queue the task is not in yet counts there as the entry (and the move out
//! of the queue it left, and its workflow entry on the first match) — which never happens in
//! newer logs, where `task-queue.entered` has put the task in that queue first.

use super::counter::Counter;
use super::Fold;
use switchboard_events::taskrouter::events::{
    TargetMatched, TaskInQueue, TaskQueueMoved, WorkflowEntered, WorkflowTimeout,
};

/// `workflow.entered`: counted in the workflow, on the task's channel.
pub(super) async fn entered(f: Fold<'_>, w: &WorkflowEntered) -> Result<(), sqlx::Error> {
    if let Some(t) = f.overlay.task(f.tx, w.task_sid.as_str()).await? {
        f.tally.count(
            f.ws,
            &[w.workflow_sid.as_str()],
            &t.channel,
            f.minute,
            Counter::TasksEntered,
        );
    }
    Ok(())
}

/// `task-queue.entered`: the task waits in the queue from now, counted as entered there.
pub(super) async fn queue_entered(f: Fold<'_>, e: &TaskInQueue) -> Result<(), sqlx::Error> {
    if let Some(mut t) = f.overlay.task(f.tx, e.task_sid.as_str()).await? {
        let to = e.task_queue_sid.as_str();
        f.tally
            .count(f.ws, &[to], &t.channel, f.minute, Counter::TasksEntered);
        t.queue = Some(to.to_string());
        t.entered_ms = Some(f.at);
        f.overlay.put_task(e.task_sid.as_str(), Some(t));
    }
    Ok(())
}

/// `task-queue.moved`: counted as moved out of the queue it left.
pub(super) async fn queue_moved(f: Fold<'_>, m: &TaskQueueMoved) -> Result<(), sqlx::Error> {
    if let Some(t) = f.overlay.task(f.tx, m.task_sid.as_str()).await? {
        f.tally.count(
            f.ws,
            &[m.task_queue_sid.as_str()],
            &t.channel,
            f.minute,
            Counter::TasksMoved,
        );
    }
    Ok(())
}

/// `workflow.target-matched`
pub(super) async fn target_matched(f: Fold<'_>, m: &TargetMatched) -> Result<(), sqlx::Error> {
    if let Some(mut t) = f.overlay.task(f.tx, m.task_sid.as_str()).await? {
        let to = m.task_queue_sid.as_str();
        // Only in logs older than `task-queue.entered` (see the module doc).
        if t.queue.as_deref() != Some(to) {
            match t.queue.as_deref() {
                Some(old) => f
                    .tally
                    .count(f.ws, &[old], &t.channel, f.minute, Counter::TasksMoved),
                None => f.tally.count(
                    f.ws,
                    &[m.workflow_sid.as_str()],
                    &t.channel,
                    f.minute,
                    Counter::TasksEntered,
                ),
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
