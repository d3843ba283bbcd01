//! `CreateTaskChannel`: a channel with a unique name (no hyphens, not already used by a
//! channel's name or SID). Every existing worker gets capacity 1 on it when it is folded.

use crate::event::Event;
use crate::sid::SidPrefix;
use crate::taskrouter::error::{invalid, TaskRouterError};
use crate::taskrouter::events::TaskChannelCreated;
use crate::taskrouter::routing::Ctx;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::check_name;

/// Decides `CreateTaskChannel`.
pub(crate) fn decide(
    ws: &Workspace,
    unique_name: &str,
    friendly_name: &str,
    channel_optimized_routing: Option<bool>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    check_name("UniqueName", unique_name)?;
    check_name("FriendlyName", friendly_name)?;
    if unique_name.contains('-') {
        return Err(invalid("UniqueName", "must not contain hyphens"));
    }
    if ws.channel_named(unique_name).is_some() {
        return Err(TaskRouterError::Conflict(format!(
            "a task channel named {unique_name:?} already exists"
        )));
    }
    Ok(vec![Event::TaskChannelCreated(TaskChannelCreated {
        sid: (ctx.new_sid)(SidPrefix::TaskChannel),
        unique_name: unique_name.to_string(),
        friendly_name: friendly_name.to_string(),
        channel_optimized_routing: channel_optimized_routing.unwrap_or(false),
    })])
}
