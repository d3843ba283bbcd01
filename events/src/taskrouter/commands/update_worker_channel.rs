//! `UpdateWorkerChannel`: a worker's capacity (0 to 50) and availability on one channel,
//! named by SID or unique name. Each part that changes is its own event.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::{invalid, TaskRouterError};
use crate::taskrouter::events::{WorkerCapacityUpdated, WorkerChannelAvailabilityUpdated};
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::not_found;

/// Decides `UpdateWorkerChannel`.
pub(crate) fn decide(
    ws: &Workspace,
    worker: &Sid,
    channel: &str,
    capacity: Option<u32>,
    available: Option<bool>,
) -> Result<Vec<Event>, TaskRouterError> {
    let w = ws
        .workers
        .get(worker)
        .ok_or_else(|| not_found("worker", worker))?;
    let c = ws
        .channel_named(channel)
        .ok_or_else(|| not_found("worker channel", &channel))?;
    let current = w
        .channels
        .get(&c.sid)
        .ok_or_else(|| not_found("worker channel", &channel))?;
    let mut out = Vec::new();
    if let Some(cap) = capacity.filter(|cap| *cap != current.capacity) {
        if cap > 50 {
            return Err(invalid("Capacity", "must be between 0 and 50"));
        }
        out.push(Event::WorkerCapacityUpdated(WorkerCapacityUpdated {
            sid: worker.clone(),
            task_channel_sid: c.sid.clone(),
            capacity: cap,
            previous_capacity: Some(current.capacity),
        }));
    }
    if let Some(a) = available.filter(|a| *a != current.available) {
        out.push(Event::WorkerChannelAvailabilityUpdated(
            WorkerChannelAvailabilityUpdated {
                sid: worker.clone(),
                task_channel_sid: c.sid.clone(),
                available: a,
            },
        ));
    }
    Ok(out)
}
