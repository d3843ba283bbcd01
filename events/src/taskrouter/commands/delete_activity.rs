//! `DeleteActivity`: refused for the workspace's default or timeout activity and while any
//! worker is in it, so every worker's activity always exists.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::ResourceRef;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::not_found;

/// Decides `DeleteActivity`.
pub(crate) fn decide(ws: &Workspace, sid: &Sid) -> Result<Vec<Event>, TaskRouterError> {
    ws.activities
        .get(sid)
        .ok_or_else(|| not_found("activity", sid))?;
    if ws.default_activity_sid.as_ref() == Some(sid)
        || ws.timeout_activity_sid.as_ref() == Some(sid)
    {
        return Err(TaskRouterError::Conflict(
            "the workspace's default or timeout activity cannot be deleted".into(),
        ));
    }
    if ws.workers.values().any(|w| w.activity_sid == *sid) {
        return Err(TaskRouterError::Conflict(
            "workers are in this activity".into(),
        ));
    }
    Ok(vec![Event::ActivityDeleted(ResourceRef {
        sid: sid.clone(),
    })])
}
