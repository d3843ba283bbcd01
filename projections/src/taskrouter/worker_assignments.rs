//! Reading worker assignments: each worker's activity, its channels with the capacity its
//! reservations hold, and its current reservations, from `tr_workers`, `tr_worker_channels`
//! and `tr_reservations`.
//!
//! Invariant: a channel's `busy` is the count of the worker's reservations on it that the
//! read model still holds (pending, accepted, wrapping): finished ones have left the table.

use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// A worker's channel as assignments see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelLoad {
    /// The channel.
    pub task_channel_sid: String,
    /// Its unique name.
    pub unique_name: String,
    /// Configured capacity.
    pub capacity: i64,
    /// Capacity held by pending, accepted and wrapping reservations.
    pub busy: i64,
    /// Whether the worker takes work on it.
    pub available: bool,
}

/// A reservation a worker holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldReservation {
    /// The reservation.
    pub sid: String,
    /// Its task.
    pub task_sid: String,
    /// Its queue.
    pub task_queue_sid: String,
    /// `pending`, `accepted` or `wrapping`.
    pub status: String,
    /// Created (ms since the epoch).
    pub created_ms: i64,
}

/// A worker's assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerAssignment {
    /// The worker.
    pub worker_sid: String,
    /// Its name.
    pub friendly_name: String,
    /// Its activity.
    pub activity_sid: String,
    /// The activity's name (None if it is gone).
    pub activity_name: Option<String>,
    /// Whether the activity is an available one.
    pub available: bool,
    /// Since when (ms since the epoch).
    pub status_changed_ms: i64,
    /// Channels, by unique name.
    pub channels: Vec<ChannelLoad>,
    /// Current reservations, oldest first.
    pub reservations: Vec<HeldReservation>,
}

/// Every worker's assignment (one worker if `worker` is given), by SID.
pub async fn worker_assignments(
    conn: &mut AnyConnection,
    workspace: &str,
    worker: Option<&str>,
) -> Result<Vec<WorkerAssignment>, sqlx::Error> {
    let w = worker.unwrap_or("");
    let rows = sqlx::query(
        "SELECT w.sid, w.friendly_name, w.activity_sid, a.friendly_name, COALESCE(a.available, 0), w.status_changed_ms \
         FROM tr_workers w LEFT JOIN tr_activities a ON a.sid = w.activity_sid \
         WHERE w.workspace_sid = $1 AND ($2 = '' OR w.sid = $2) ORDER BY w.sid",
    )
    .bind(workspace)
    .bind(w)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<WorkerAssignment> = Vec::with_capacity(rows.len());
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        let sid: String = r.try_get(0)?;
        index.insert(sid.clone(), out.len());
        out.push(WorkerAssignment {
            worker_sid: sid,
            friendly_name: r.try_get(1)?,
            activity_sid: r.try_get(2)?,
            activity_name: r.try_get::<Option<String>, _>(3)?,
            available: r.try_get::<i64, _>(4)? != 0,
            status_changed_ms: r.try_get(5)?,
            channels: Vec::new(),
            reservations: Vec::new(),
        });
    }
    let channels = sqlx::query(
        "SELECT wc.worker_sid, wc.channel_sid, c.unique_name, wc.capacity, wc.available, \
         (SELECT COUNT(*) FROM tr_reservations r WHERE r.worker_sid = wc.worker_sid AND r.channel_sid = wc.channel_sid) \
         FROM tr_worker_channels wc JOIN tr_channels c ON c.sid = wc.channel_sid \
         WHERE wc.workspace_sid = $1 AND ($2 = '' OR wc.worker_sid = $2) ORDER BY wc.worker_sid, c.unique_name",
    )
    .bind(workspace)
    .bind(w)
    .fetch_all(&mut *conn)
    .await?;
    for r in &channels {
        let sid: String = r.try_get(0)?;
        if let Some(i) = index.get(&sid) {
            out[*i].channels.push(ChannelLoad {
                task_channel_sid: r.try_get(1)?,
                unique_name: r.try_get(2)?,
                capacity: r.try_get(3)?,
                available: r.try_get::<i64, _>(4)? != 0,
                busy: r.try_get(5)?,
            });
        }
    }
    let reservations = sqlx::query(
        "SELECT worker_sid, sid, task_sid, queue_sid, status, created_ms FROM tr_reservations \
         WHERE workspace_sid = $1 AND ($2 = '' OR worker_sid = $2) ORDER BY worker_sid, created_ms, sid",
    )
    .bind(workspace)
    .bind(w)
    .fetch_all(&mut *conn)
    .await?;
    for r in &reservations {
        let sid: String = r.try_get(0)?;
        if let Some(i) = index.get(&sid) {
            out[*i].reservations.push(HeldReservation {
                sid: r.try_get(1)?,
                task_sid: r.try_get(2)?,
                task_queue_sid: r.try_get(3)?,
                status: r.try_get(4)?,
                created_ms: r.try_get(5)?,
            });
        }
    }
    Ok(out)
}
