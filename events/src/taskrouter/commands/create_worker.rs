//! `CreateWorker`: a worker with a unique name (case-insensitively), attributes that are a
//! JSON object (default `{}`), in the given activity or the workspace's default one.

use crate::event::Event;
use crate::sid::{Sid, SidPrefix};
use crate::taskrouter::error::{invalid, TaskRouterError};
use crate::taskrouter::events::WorkerCreated;
use crate::taskrouter::routing::Ctx;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::{
    activity_exists, check_attributes, check_name, worker_name_free,
};

/// Decides `CreateWorker`.
pub(crate) fn decide(
    ws: &Workspace,
    friendly_name: &str,
    attributes: &Option<String>,
    activity_sid: &Option<Sid>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    check_name("FriendlyName", friendly_name)?;
    let attributes = attributes.clone().unwrap_or_else(|| "{}".into());
    check_attributes(&attributes)?;
    worker_name_free(ws, friendly_name, None)?;
    let activity = match activity_sid {
        Some(a) => {
            activity_exists(ws, "ActivitySid", a)?;
            a.clone()
        }
        None => ws
            .default_activity_sid
            .clone()
            .ok_or_else(|| invalid("ActivitySid", "the workspace has no default activity"))?,
    };
    Ok(vec![Event::WorkerCreated(WorkerCreated {
        sid: (ctx.new_sid)(SidPrefix::Worker),
        friendly_name: friendly_name.to_string(),
        attributes,
        activity_sid: activity,
    })])
}
