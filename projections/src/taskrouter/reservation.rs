//! A reservation's events: its row in `tr_reservations` (task, worker, queue, status) while it
//! is pending, accepted or wrapping — the capacity a worker's assignments show as busy — and
//! the reservation counters (created, accepted and the waits until then, and how the pending
//! ones ended).
//!
//! Invariant: a reservation that stops holding its worker (rejected, timed out, rescinded,
//! canceled, completed) leaves the table, and its task's status follows (reserved while any of
//! its reservations is pending, else pending; assigned once one is accepted).

use super::counter::Counter;
use super::overlay::ReservationRow;
use super::Fold;
use switchboard_events::taskrouter::events::{ReservationCreated, ResourceRef};

/// `reservation.created`: pending; its task is reserved.
pub(super) async fn created(f: Fold<'_>, r: &ReservationCreated) -> Result<(), sqlx::Error> {
    if let Some(t) = f.overlay.task(f.tx, r.task_sid.as_str()).await? {
        f.tally.count(
            f.ws,
            &[
                f.ws,
                r.task_queue_sid.as_str(),
                t.workflow.as_str(),
                r.worker_sid.as_str(),
            ],
            &t.channel,
            f.minute,
            Counter::ReservationsCreated,
        );
        // Load the task's other reservations before adding this one, so "complete"
        // stays true only when it is.
        f.overlay.of_task(f.tx, r.task_sid.as_str()).await?;
        f.overlay.put_reservation(
            r.sid.as_str(),
            Some(ReservationRow {
                workspace: f.ws.to_string(),
                task: r.task_sid.to_string(),
                worker: r.worker_sid.to_string(),
                queue: r.task_queue_sid.to_string(),
                workflow: t.workflow.clone(),
                channel: t.channel.clone(),
                status: "pending",
                created_ms: f.at,
            }),
        );
        f.overlay.settle(f.tx, r.task_sid.as_str()).await?;
    }
    Ok(())
}

/// `reservation.accepted`: its task is assigned; counts the waits until now.
pub(super) async fn accepted(f: Fold<'_>, a: &ResourceRef) -> Result<(), sqlx::Error> {
    if let Some(mut r) = f.overlay.reservation(f.tx, a.sid.as_str()).await? {
        let scopes = [
            f.ws,
            r.queue.as_str(),
            r.workflow.as_str(),
            r.worker.as_str(),
        ];
        f.tally.count(
            f.ws,
            &scopes,
            &r.channel,
            f.minute,
            Counter::ReservationsAccepted,
        );
        if let Some(mut t) = f.overlay.task(f.tx, &r.task).await? {
            let wait = (f.at - t.created_ms).max(0) / 1000;
            f.tally.value(
                f.ws,
                &scopes[..3],
                &r.channel,
                f.minute,
                Counter::WaitUntilAccepted,
                wait,
                true,
            );
            let in_queue = (f.at - t.entered_ms.unwrap_or(t.created_ms)).max(0) / 1000;
            f.tally.value(
                f.ws,
                &[r.queue.as_str()],
                &r.channel,
                f.minute,
                Counter::WaitInQueueUntilAccepted,
                in_queue,
                false,
            );
            t.status = "assigned";
            f.overlay.put_task(&r.task, Some(t));
        }
        r.status = "accepted";
        f.overlay.put_reservation(a.sid.as_str(), Some(r));
    }
    Ok(())
}

/// `reservation.rejected`, `.timeout`, `.rescinded` and `.canceled`: a pending reservation
/// ends, counted as `counter`.
pub(super) async fn ended(f: Fold<'_>, sid: &str, counter: Counter) -> Result<(), sqlx::Error> {
    f.overlay
        .end_pending(f.tx, f.tally, sid, f.minute, counter)
        .await
}

/// `reservation.wrapup`
pub(super) async fn wrapup(f: Fold<'_>, w: &ResourceRef) -> Result<(), sqlx::Error> {
    if let Some(mut r) = f.overlay.reservation(f.tx, w.sid.as_str()).await? {
        r.status = "wrapping";
        f.overlay.put_reservation(w.sid.as_str(), Some(r));
    }
    Ok(())
}

/// `reservation.completed`: the reservation goes (if the read model knows it).
pub(super) async fn completed(f: Fold<'_>, c: &ResourceRef) -> Result<(), sqlx::Error> {
    if f.overlay.reservation(f.tx, c.sid.as_str()).await?.is_some() {
        f.overlay.put_reservation(c.sid.as_str(), None);
    }
    Ok(())
}
