//! `DeleteTask`: removes a task whatever its status; its reservations go with it when it is
//! folded, releasing the capacity they held.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::ResourceRef;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::task_at;

/// Decides `DeleteTask`.
pub(crate) fn decide(
    ws: &Workspace,
    sid: &Sid,
    if_match: Option<u64>,
) -> Result<Vec<Event>, TaskRouterError> {
    task_at(ws, sid, if_match)?;
    Ok(vec![Event::TaskDeleted(ResourceRef { sid: sid.clone() })])
}
