//! Reading queue positions: every waiting task's rank in its queue, computed by the database
//! from `tr_tasks` and `tr_queues` when asked.
//!
//! Invariant: the rank is the order the matcher offers tasks — effective priority (the
//! step's override, else the task's), then age (oldest first, newest first in a LIFO queue),
//! then SID — so position 1 is the task the queue offers next.

use sqlx::{AnyConnection, Row};

/// A task's place in its queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePosition {
    /// The queue.
    pub task_queue_sid: String,
    /// The queue's name.
    pub task_queue_name: String,
    /// The task.
    pub task_sid: String,
    /// 1 for the next task the queue offers.
    pub position: i64,
    /// Effective priority.
    pub priority: i64,
    /// `pending` or `reserved`.
    pub status: String,
    /// Where its age counts from (ms since the epoch).
    pub age_ms: i64,
    /// When it entered the queue (ms since the epoch).
    pub entered_ms: i64,
    /// Its task channel.
    pub task_channel_sid: String,
}

/// Every waiting task's position in its queue (one queue if `queue` is given), queue by queue.
pub async fn queue_positions(
    conn: &mut AnyConnection,
    workspace: &str,
    queue: Option<&str>,
) -> Result<Vec<QueuePosition>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.queue_sid, q.friendly_name, t.sid, \
         ROW_NUMBER() OVER (PARTITION BY t.queue_sid ORDER BY COALESCE(t.step_priority, t.priority) DESC, \
           CASE WHEN q.task_order = 'LIFO' THEN -t.age_ms ELSE t.age_ms END, t.sid) AS position, \
         COALESCE(t.step_priority, t.priority), t.status, t.age_ms, COALESCE(t.entered_ms, t.created_ms), t.channel_sid \
         FROM tr_tasks t JOIN tr_queues q ON q.sid = t.queue_sid \
         WHERE t.workspace_sid = $1 AND t.status IN ('pending', 'reserved') AND ($2 = '' OR t.queue_sid = $2) \
         ORDER BY t.queue_sid, position",
    )
    .bind(workspace)
    .bind(queue.unwrap_or(""))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QueuePosition {
                task_queue_sid: r.try_get(0)?,
                task_queue_name: r.try_get(1)?,
                task_sid: r.try_get(2)?,
                position: r.try_get(3)?,
                priority: r.try_get(4)?,
                status: r.try_get(5)?,
                age_ms: r.try_get(6)?,
                entered_ms: r.try_get(7)?,
                task_channel_sid: r.try_get(8)?,
            })
        })
        .collect()
}
