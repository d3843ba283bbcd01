//! `UpdateWorker`: rename, new attributes, a new activity. Each part that changes is its own
//! event, and a part equal to what the worker has records nothing. Moving to an unavailable
//! activity with `RejectPendingReservations` rejects the worker's pending offers first, so
//! the worker leaves with nothing waiting on it.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::{
    ReservationRejected, WorkerActivityUpdated, WorkerAttributesUpdated, WorkerRenamed,
};
use crate::taskrouter::state::{ReservationStatus, Workspace};
use crate::taskrouter::validate::{
    activity_exists, check_attributes, check_name, worker_at, worker_name_free,
};

/// Decides `UpdateWorker`.
pub(crate) fn decide(
    ws: &Workspace,
    sid: &Sid,
    friendly_name: &Option<String>,
    attributes: &Option<String>,
    activity_sid: &Option<Sid>,
    reject_pending_reservations: bool,
    if_match: Option<u64>,
) -> Result<Vec<Event>, TaskRouterError> {
    let w = worker_at(ws, sid, if_match)?;
    let mut out = Vec::new();
    if let Some(n) = friendly_name.as_ref().filter(|n| **n != w.friendly_name) {
        check_name("FriendlyName", n)?;
        worker_name_free(ws, n, Some(sid))?;
        out.push(Event::WorkerRenamed(WorkerRenamed {
            sid: sid.clone(),
            friendly_name: n.clone(),
        }));
    }
    if let Some(a) = attributes.as_ref().filter(|a| **a != w.attributes) {
        check_attributes(a)?;
        out.push(Event::WorkerAttributesUpdated(WorkerAttributesUpdated {
            sid: sid.clone(),
            attributes: a.clone(),
        }));
    }
    if let Some(a) = activity_sid.as_ref().filter(|a| **a != w.activity_sid) {
        activity_exists(ws, "ActivitySid", a)?;
        let to_unavailable = ws.activities.get(a).is_some_and(|a| !a.available);
        if reject_pending_reservations && to_unavailable {
            for r in ws
                .reservations
                .values()
                .filter(|r| r.worker_sid == *sid && r.status == ReservationStatus::Pending)
            {
                out.push(Event::ReservationRejected(ReservationRejected {
                    sid: r.sid.clone(),
                    activity_sid: None,
                }));
            }
        }
        out.push(Event::WorkerActivityUpdated(WorkerActivityUpdated {
            sid: sid.clone(),
            activity_sid: a.clone(),
        }));
    }
    Ok(out)
}
