//! `UpdateTaskChannel`: name and channel-optimized routing of an existing channel (its
//! unique name is fixed, since tasks and workers name channels by it).

use crate::event::Event;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::TaskChannelUpdated;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::{check_name, not_found};

/// Decides `UpdateTaskChannel`.
pub(crate) fn decide(
    ws: &Workspace,
    change: &TaskChannelUpdated,
) -> Result<Vec<Event>, TaskRouterError> {
    ws.channels
        .get(&change.sid)
        .ok_or_else(|| not_found("task channel", &change.sid))?;
    if let Some(n) = &change.friendly_name {
        check_name("FriendlyName", n)?;
    }
    Ok(vec![Event::TaskChannelUpdated(change.clone())])
}
