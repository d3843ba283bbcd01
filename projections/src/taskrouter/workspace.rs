//! A workspace's own events: its deletion, its activities and its task channels (the rows
//! `tr_activities` and `tr_channels`, and each worker's row per channel in
//! `tr_worker_channels`).
//!
//! Invariant: every worker has a `tr_worker_channels` row for every channel of its workspace
//! (capacity 1, available) from whichever of the two was created second; a workspace's
//! deletion removes its rows from every table of the read model, counters included (counters
//! its own batch tallied before the deletion are still written when the batch ends).

use super::sql::exec;
use super::Fold;
use switchboard_events::taskrouter::events::{
    ActivityCreated, ActivityUpdated, ResourceRef, TaskChannelCreated,
};

/// `workspace.deleted`: the batch's rows so far are written first, so the deletes below
/// remove them too.
pub(super) async fn deleted(f: Fold<'_>) -> Result<(), sqlx::Error> {
    std::mem::take(f.overlay).flush(f.tx).await?;
    for table in [
        "tr_queues",
        "tr_activities",
        "tr_channels",
        "tr_workers",
        "tr_worker_channels",
        "tr_tasks",
        "tr_reservations",
        "tr_stats",
        "tr_waits",
        "tr_events",
    ] {
        exec(
            f.tx,
            &format!("DELETE FROM {table} WHERE workspace_sid = $1"),
            &[f.ws],
        )
        .await?;
    }
    Ok(())
}

/// `activity.created`
pub(super) async fn activity_created(f: Fold<'_>, a: &ActivityCreated) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tr_activities (sid, workspace_sid, friendly_name, available) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sid) DO NOTHING",
    )
    .bind(a.sid.as_str())
    .bind(f.ws)
    .bind(a.friendly_name.as_str())
    .bind(i64::from(a.available))
    .execute(&mut *f.tx)
    .await?;
    Ok(())
}

/// `activity.updated`
pub(super) async fn activity_updated(f: Fold<'_>, a: &ActivityUpdated) -> Result<(), sqlx::Error> {
    exec(
        f.tx,
        "UPDATE tr_activities SET friendly_name = $2 WHERE sid = $1",
        &[a.sid.as_str(), a.friendly_name.as_str()],
    )
    .await
}

/// `activity.deleted`
pub(super) async fn activity_deleted(f: Fold<'_>, a: &ResourceRef) -> Result<(), sqlx::Error> {
    exec(
        f.tx,
        "DELETE FROM tr_activities WHERE sid = $1",
        &[a.sid.as_str()],
    )
    .await
}

/// `task-channel.created`: every worker of the workspace gets the channel.
pub(super) async fn channel_created(
    f: Fold<'_>,
    c: &TaskChannelCreated,
) -> Result<(), sqlx::Error> {
    exec(
        f.tx,
        "INSERT INTO tr_channels (sid, workspace_sid, unique_name) VALUES ($1, $2, $3) ON CONFLICT (sid) DO NOTHING",
        &[c.sid.as_str(), f.ws, c.unique_name.as_str()],
    )
    .await?;
    exec(
        f.tx,
        "INSERT INTO tr_worker_channels (worker_sid, channel_sid, workspace_sid, capacity, available) \
         SELECT sid, $1, workspace_sid, 1, 1 FROM tr_workers WHERE workspace_sid = $2 \
         ON CONFLICT (worker_sid, channel_sid) DO NOTHING",
        &[c.sid.as_str(), f.ws],
    )
    .await
}

/// `task-channel.deleted`: no worker keeps it.
pub(super) async fn channel_deleted(f: Fold<'_>, c: &ResourceRef) -> Result<(), sqlx::Error> {
    exec(
        f.tx,
        "DELETE FROM tr_channels WHERE sid = $1",
        &[c.sid.as_str()],
    )
    .await?;
    exec(
        f.tx,
        "DELETE FROM tr_worker_channels WHERE channel_sid = $1",
        &[c.sid.as_str()],
    )
    .await
}
