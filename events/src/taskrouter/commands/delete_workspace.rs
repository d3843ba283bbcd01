//! `DeleteWorkspace`: the stream's last word. After it the workspace is gone for every
//! command ([`live`](crate::taskrouter::validate::live) refuses), and nothing routes.

use crate::event::Event;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::WorkspaceDeleted;
use crate::taskrouter::state::Workspace;

/// Decides `DeleteWorkspace` on a live workspace: nothing to check beyond its being there.
pub(crate) fn decide(_ws: &Workspace) -> Result<Vec<Event>, TaskRouterError> {
    Ok(vec![Event::WorkspaceDeleted(WorkspaceDeleted {})])
}
