//! `UpdateReservation`: a worker's answer to an offer, addressed under its task or its
//! worker. Accepting a pending offer assigns the task and rescinds its other pending offers,
//! so a task is never assigned twice; rejecting one frees the worker (and may move it to
//! another activity); an accepted reservation can wrap up and complete its task (its own
//! `reservation.wrapup` / `.completed` first, see [`close`](crate::taskrouter::close)). Accepting an
//! accepted reservation again records nothing.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::close::close;
use crate::taskrouter::error::{invalid, TaskRouterError};
use crate::taskrouter::events::{ReservationRejected, ResourceRef, WorkerActivityUpdated};
use crate::taskrouter::routing::move_worker;
use crate::taskrouter::state::{Reservation, ReservationStatus, TaskStatus, Workspace};
use crate::taskrouter::validate::{activity_exists, check_version, not_found};

/// Decides `UpdateReservation`.
pub(crate) fn decide(
    ws: &Workspace,
    sid: &Sid,
    via: &Sid,
    status: &str,
    activity_sid: &Option<Sid>,
    if_match: Option<u64>,
) -> Result<Vec<Event>, TaskRouterError> {
    let r = ws
        .reservations
        .get(sid)
        .filter(|r| r.task_sid == *via || r.worker_sid == *via)
        .ok_or_else(|| not_found("reservation", sid))?;
    check_version(if_match, r.version)?;
    match (status, r.status) {
        ("accepted", ReservationStatus::Accepted) => Ok(vec![]),
        ("accepted", ReservationStatus::Pending) => Ok(accept(ws, r)),
        ("rejected", ReservationStatus::Pending) => {
            if let Some(a) = activity_sid {
                activity_exists(ws, "WorkerActivitySid", a)?;
            }
            let mut out = vec![Event::ReservationRejected(ReservationRejected {
                sid: sid.clone(),
                activity_sid: activity_sid.clone(),
            })];
            if let Some(a) = activity_sid {
                out.push(Event::WorkerActivityUpdated(WorkerActivityUpdated {
                    sid: r.worker_sid.clone(),
                    activity_sid: a.clone(),
                }));
            }
            Ok(out)
        }
        ("wrapping", ReservationStatus::Accepted) => Ok(close(
            ws,
            &r.task_sid,
            TaskStatus::Wrapping,
            "reservation wrapping".into(),
            &Default::default(),
        )),
        ("completed", ReservationStatus::Accepted | ReservationStatus::Wrapping) => Ok(close(
            ws,
            &r.task_sid,
            TaskStatus::Completed,
            "reservation completed".into(),
            &Default::default(),
        )),
        ("accepted" | "rejected" | "wrapping" | "completed", current) => {
            Err(TaskRouterError::Conflict(format!(
                "reservation {sid} is {} and cannot become {status}",
                current.as_str()
            )))
        }
        (other, _) => Err(invalid(
            "ReservationStatus",
            format!("{other:?} is not accepted, rejected, wrapping or completed"),
        )),
    }
}

/// Accepts the pending reservation `r`: the task's other pending offers are rescinded, and
/// the worker moves to the queue's assignment activity (if it has one).
fn accept(ws: &Workspace, r: &Reservation) -> Vec<Event> {
    let sid = &r.sid;
    let mut out = vec![Event::ReservationAccepted(ResourceRef { sid: sid.clone() })];
    for other in ws
        .tasks
        .get(&r.task_sid)
        .map(|t| t.reservations.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|o| {
            *o != sid
                && ws
                    .reservations
                    .get(*o)
                    .is_some_and(|o| o.status == ReservationStatus::Pending)
        })
    {
        out.push(Event::ReservationRescinded(ResourceRef {
            sid: other.clone(),
        }));
    }
    let assignment = ws
        .queues
        .get(&r.queue_sid)
        .and_then(|q| q.assignment_activity_sid.as_ref());
    out.extend(move_worker(ws, &r.worker_sid, assignment));
    out
}
