//! `UpdateWorkspace`: name, callbacks, multitasking, queue order, and the default and timeout
//! activities, which must be activities of this workspace. A change that changes nothing
//! records nothing.

use crate::event::Event;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::WorkspaceUpdated;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::{activity_exists, check_name};

/// Decides `UpdateWorkspace`.
pub(crate) fn decide(
    ws: &Workspace,
    change: &WorkspaceUpdated,
) -> Result<Vec<Event>, TaskRouterError> {
    if let Some(n) = &change.friendly_name {
        check_name("FriendlyName", n)?;
    }
    if let Some(a) = &change.default_activity_sid {
        activity_exists(ws, "DefaultActivitySid", a)?;
    }
    if let Some(a) = &change.timeout_activity_sid {
        activity_exists(ws, "TimeoutActivitySid", a)?;
    }
    if *change == WorkspaceUpdated::default() {
        return Ok(vec![]);
    }
    Ok(vec![Event::WorkspaceUpdated(change.clone())])
}
