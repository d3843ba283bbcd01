//! `DeleteWorker`: refused while the worker holds reservations on any channel, so no
//! reservation outlives its worker.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::ResourceRef;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::worker_at;

/// Decides `DeleteWorker`.
pub(crate) fn decide(
    ws: &Workspace,
    sid: &Sid,
    if_match: Option<u64>,
) -> Result<Vec<Event>, TaskRouterError> {
    let w = worker_at(ws, sid, if_match)?;
    if w.channels.values().any(|c| c.busy > 0) {
        return Err(TaskRouterError::Conflict(
            "the worker holds reservations; complete or reject them first".into(),
        ));
    }
    Ok(vec![Event::WorkerDeleted(ResourceRef { sid: sid.clone() })])
}
