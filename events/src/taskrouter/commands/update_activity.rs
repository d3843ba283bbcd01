//! `UpdateActivity`: renames an activity (its availability is fixed at creation, as in
//! Twilio). The same name again records nothing.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::ActivityUpdated;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::{check_name, not_found};

/// Decides `UpdateActivity`.
pub(crate) fn decide(
    ws: &Workspace,
    sid: &Sid,
    friendly_name: &str,
) -> Result<Vec<Event>, TaskRouterError> {
    let a = ws
        .activities
        .get(sid)
        .ok_or_else(|| not_found("activity", sid))?;
    check_name("FriendlyName", friendly_name)?;
    if a.friendly_name == *friendly_name {
        return Ok(vec![]);
    }
    Ok(vec![Event::ActivityUpdated(ActivityUpdated {
        sid: sid.clone(),
        friendly_name: friendly_name.to_string(),
    })])
}
