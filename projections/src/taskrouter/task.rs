//! A task's events: its row in `tr_tasks` (workflow, channel, queue, priorities, age, status)
//! from creation to its end, and the task counters (created, canceled, completed, deleted,
//! the wait until canceled; entering a workflow or a queue, moving and timing out are
//! counted from their own facts in `workflow.rs`).
//!
//! Invariant: a task that ends leaves `tr_tasks` together with all its reservations; the
//! ones still pending end as canceled (a deleted task's just go), so no reservation outlives
//! its task. `task.system-deleted` (a closed task's retention ran out) removes whatever is
//! left and counts nothing, so no cumulative figure moves when the system forgets a task.

use super::counter::Counter;
use super::overlay::TaskRow;
use super::Fold;
use switchboard_events::taskrouter::events::{ResourceRef, TaskClosed, TaskCreated, TaskUpdated};
use switchboard_events::Event;

/// `task.created`: pending, in no queue until its workflow matches a target.
pub(super) async fn created(f: Fold<'_>, t: &TaskCreated) -> Result<(), sqlx::Error> {
    f.overlay.new_task(
        t.sid.as_str(),
        TaskRow {
            workspace: f.ws.to_string(),
            workflow: t.workflow_sid.to_string(),
            channel: t.task_channel_sid.to_string(),
            queue: None,
            priority: t.priority,
            step_priority: None,
            age_ms: t.virtual_start_time.map_or(f.at, |v| v.timestamp_millis()),
            created_ms: f.at,
            entered_ms: None,
            status: "pending",
        },
    );
    let channel = t.task_channel_sid.as_str();
    f.tally
        .count(f.ws, &[f.ws], channel, f.minute, Counter::TasksCreated);
    // The workflow's `tasks_entered` counts from `workflow.entered` (`workflow.rs`).
    Ok(())
}

/// `task.updated`: only a new priority matters here.
pub(super) async fn updated(f: Fold<'_>, u: &TaskUpdated) -> Result<(), sqlx::Error> {
    if let (Some(p), Some(mut t)) = (u.priority, f.overlay.task(f.tx, u.sid.as_str()).await?) {
        t.priority = p;
        f.overlay.put_task(u.sid.as_str(), Some(t));
    }
    Ok(())
}

/// `task.wrapup`: the task and its accepted reservations are wrapping.
pub(super) async fn wrapup(f: Fold<'_>, w: &TaskClosed) -> Result<(), sqlx::Error> {
    let sid = w.sid.as_str();
    if let Some(mut t) = f.overlay.task(f.tx, sid).await? {
        t.status = "wrapping";
        f.overlay.put_task(sid, Some(t));
    }
    for (r_sid, mut r) in f.overlay.of_task(f.tx, sid).await? {
        if r.status == "accepted" {
            r.status = "wrapping";
            f.overlay.put_reservation(&r_sid, Some(r));
        }
    }
    Ok(())
}

/// `task.canceled`, `task.completed` and `task.deleted` (any other event is ignored): the
/// task ends, counted as what ended it.
pub(super) async fn closed(f: Fold<'_>, event: &Event) -> Result<(), sqlx::Error> {
    let (sid, metric) = match event {
        Event::TaskCanceled(t) => (t.sid.as_str(), Counter::TasksCanceled),
        Event::TaskCompleted(t) => (t.sid.as_str(), Counter::TasksCompleted),
        Event::TaskDeleted(t) => (t.sid.as_str(), Counter::TasksDeleted),
        _ => return Ok(()),
    };
    if let Some(t) = f.overlay.task(f.tx, sid).await? {
        let scopes = [f.ws, t.queue.as_deref().unwrap_or(""), t.workflow.as_str()];
        f.tally.count(f.ws, &scopes, &t.channel, f.minute, metric);
        if let Event::TaskCanceled(_) = event {
            let wait = (f.at - t.created_ms).max(0) / 1000;
            f.tally.value(
                f.ws,
                &scopes,
                &t.channel,
                f.minute,
                Counter::WaitUntilCanceled,
                wait,
                true,
            );
        }
        // Whatever was still pending for the task ends with it (a deleted task's
        // reservations just go).
        for (r_sid, r) in f.overlay.of_task(f.tx, sid).await? {
            if r.status == "pending" && !matches!(event, Event::TaskDeleted(_)) {
                f.overlay
                    .end_pending(
                        f.tx,
                        f.tally,
                        &r_sid,
                        f.minute,
                        Counter::ReservationsCanceled,
                    )
                    .await?;
            }
            f.overlay.put_reservation(&r_sid, None);
        }
        f.overlay.put_task(sid, None);
    }
    Ok(())
}

/// `task.system-deleted`: the task had already ended (so its row is normally gone); any row
/// left goes with its reservations, and no counter moves.
pub(super) async fn system_deleted(f: Fold<'_>, t: &ResourceRef) -> Result<(), sqlx::Error> {
    let sid = t.sid.as_str();
    if f.overlay.task(f.tx, sid).await?.is_some() {
        for (r_sid, _) in f.overlay.of_task(f.tx, sid).await? {
            f.overlay.put_reservation(&r_sid, None);
        }
        f.overlay.put_task(sid, None);
    }
    Ok(())
}
