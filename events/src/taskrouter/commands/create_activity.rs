//! `CreateActivity`: a new activity, with a name no other activity of the workspace has
//! (case-insensitively), available unless said otherwise.

use crate::event::Event;
use crate::sid::SidPrefix;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::ActivityCreated;
use crate::taskrouter::routing::Ctx;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::check_name;

/// Decides `CreateActivity`.
pub(crate) fn decide(
    ws: &Workspace,
    friendly_name: &str,
    available: Option<bool>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    check_name("FriendlyName", friendly_name)?;
    if ws
        .activities
        .values()
        .any(|a| a.friendly_name.eq_ignore_ascii_case(friendly_name))
    {
        return Err(TaskRouterError::Conflict(format!(
            "an activity named {friendly_name:?} already exists"
        )));
    }
    Ok(vec![Event::ActivityCreated(ActivityCreated {
        sid: (ctx.new_sid)(SidPrefix::Activity),
        friendly_name: friendly_name.to_string(),
        available: available.unwrap_or(true),
    })])
}
