//! A worker's events: its row in `tr_workers` (name, activity and since when), its rows in
//! `tr_worker_channels` (capacity, availability) and the time it spends in each activity.
//!
//! Invariant: a worker's time in an activity is counted once, when the period ends (the
//! activity changes or the worker goes), from `status_changed_ms`; a period still running is
//! not in the counters (the statistics API adds it from the state).

use super::sql::exec;
use super::tally::Tally;
use super::Fold;
use sqlx::{AnyConnection, Row};
use switchboard_events::taskrouter::events::{
    ResourceRef, WorkerActivityUpdated, WorkerCapacityUpdated, WorkerChannelAvailabilityUpdated,
    WorkerCreated, WorkerRenamed,
};

/// `worker.created`: the worker gets every channel of its workspace.
pub(super) async fn created(f: Fold<'_>, w: &WorkerCreated) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tr_workers (sid, workspace_sid, friendly_name, activity_sid, status_changed_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sid) DO NOTHING",
    )
    .bind(w.sid.as_str())
    .bind(f.ws)
    .bind(w.friendly_name.as_str())
    .bind(w.activity_sid.as_str())
    .bind(f.at)
    .execute(&mut *f.tx)
    .await?;
    exec(
        f.tx,
        "INSERT INTO tr_worker_channels (worker_sid, channel_sid, workspace_sid, capacity, available) \
         SELECT $1, sid, workspace_sid, 1, 1 FROM tr_channels WHERE workspace_sid = $2 \
         ON CONFLICT (worker_sid, channel_sid) DO NOTHING",
        &[w.sid.as_str(), f.ws],
    )
    .await
}

/// `worker.updated`
pub(super) async fn renamed(f: Fold<'_>, w: &WorkerRenamed) -> Result<(), sqlx::Error> {
    exec(
        f.tx,
        "UPDATE tr_workers SET friendly_name = $2 WHERE sid = $1",
        &[w.sid.as_str(), w.friendly_name.as_str()],
    )
    .await
}

/// `worker.activity.update`: ends the period in the old activity, starts one in the new.
pub(super) async fn activity_updated(
    f: Fold<'_>,
    w: &WorkerActivityUpdated,
) -> Result<(), sqlx::Error> {
    end_activity(f.tx, f.tally, f.ws, w.sid.as_str(), f.at).await?;
    sqlx::query("UPDATE tr_workers SET activity_sid = $2, status_changed_ms = $3 WHERE sid = $1")
        .bind(w.sid.as_str())
        .bind(w.activity_sid.as_str())
        .bind(f.at)
        .execute(&mut *f.tx)
        .await?;
    Ok(())
}

/// `worker.capacity.update`
pub(super) async fn capacity_updated(
    f: Fold<'_>,
    w: &WorkerCapacityUpdated,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tr_worker_channels SET capacity = $3 WHERE worker_sid = $1 AND channel_sid = $2",
    )
    .bind(w.sid.as_str())
    .bind(w.task_channel_sid.as_str())
    .bind(i64::from(w.capacity))
    .execute(&mut *f.tx)
    .await?;
    Ok(())
}

/// `worker.channel.availability.update`
pub(super) async fn channel_availability_updated(
    f: Fold<'_>,
    w: &WorkerChannelAvailabilityUpdated,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tr_worker_channels SET available = $3 WHERE worker_sid = $1 AND channel_sid = $2",
    )
    .bind(w.sid.as_str())
    .bind(w.task_channel_sid.as_str())
    .bind(i64::from(w.available))
    .execute(&mut *f.tx)
    .await?;
    Ok(())
}

/// `worker.deleted`: ends its period in its activity; its rows go.
pub(super) async fn deleted(f: Fold<'_>, w: &ResourceRef) -> Result<(), sqlx::Error> {
    end_activity(f.tx, f.tally, f.ws, w.sid.as_str(), f.at).await?;
    exec(
        f.tx,
        "DELETE FROM tr_workers WHERE sid = $1",
        &[w.sid.as_str()],
    )
    .await?;
    exec(
        f.tx,
        "DELETE FROM tr_worker_channels WHERE worker_sid = $1",
        &[w.sid.as_str()],
    )
    .await
}

/// Ends a worker's time in its current activity at `at_ms` (counted as `activity:{sid}`).
async fn end_activity(
    tx: &mut AnyConnection,
    tally: &mut Tally,
    ws: &str,
    worker: &str,
    at_ms: i64,
) -> Result<(), sqlx::Error> {
    let row = sqlx::query("SELECT activity_sid, status_changed_ms FROM tr_workers WHERE sid = $1")
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(r) = row {
        let activity: String = r.try_get(0).unwrap_or_default();
        let since: i64 = r.try_get(1).unwrap_or(at_ms);
        tally.activity_time(
            ws,
            &[ws, worker],
            at_ms.div_euclid(60_000),
            &activity,
            (at_ms - since).max(0) / 1000,
        );
    }
    Ok(())
}
