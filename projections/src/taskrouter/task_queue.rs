//! A task queue's events: its row in `tr_queues` (name and task order), which the queue
//! positions join to rank a queue's tasks.
//!
//! Invariant: a queue's `task_order` is the one its last event set (FIFO unless LIFO), so the
//! positions read from the table rank tasks as the matcher offers them.

use super::sql::exec;
use super::Fold;
use switchboard_events::taskrouter::events::{ResourceRef, TaskQueueCreated, TaskQueueUpdated};

/// `task-queue.created`
pub(super) async fn created(f: Fold<'_>, q: &TaskQueueCreated) -> Result<(), sqlx::Error> {
    exec(
        f.tx,
        "INSERT INTO tr_queues (sid, workspace_sid, friendly_name, task_order) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sid) DO NOTHING",
        &[q.sid.as_str(), f.ws, q.friendly_name.as_str(), q.task_order.as_str()],
    )
    .await
}

/// `task-queue.updated`: only what the event carries changes.
pub(super) async fn updated(f: Fold<'_>, q: &TaskQueueUpdated) -> Result<(), sqlx::Error> {
    if let Some(v) = &q.friendly_name {
        exec(
            f.tx,
            "UPDATE tr_queues SET friendly_name = $2 WHERE sid = $1",
            &[q.sid.as_str(), v],
        )
        .await?;
    }
    if let Some(v) = q.task_order {
        exec(
            f.tx,
            "UPDATE tr_queues SET task_order = $2 WHERE sid = $1",
            &[q.sid.as_str(), v.as_str()],
        )
        .await?;
    }
    Ok(())
}

/// `task-queue.deleted`
pub(super) async fn deleted(f: Fold<'_>, q: &ResourceRef) -> Result<(), sqlx::Error> {
    exec(
        f.tx,
        "DELETE FROM tr_queues WHERE sid = $1",
        &[q.sid.as_str()],
    )
    .await
}
