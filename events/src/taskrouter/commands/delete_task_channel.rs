//! `DeleteTaskChannel`: refused while an open task uses the channel, so every open task's
//! channel exists.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::{delete_unless, open_task_uses};

/// Decides `DeleteTaskChannel`.
pub(crate) fn decide(ws: &Workspace, sid: &Sid) -> Result<Vec<Event>, TaskRouterError> {
    let used = open_task_uses(ws, |t| t.task_channel_sid == *sid);
    delete_unless(
        ws.channels.contains_key(sid),
        "task channel",
        sid,
        used.then_some("open tasks use this channel"),
        Event::TaskChannelDeleted,
    )
}
