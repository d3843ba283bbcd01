//! `CreateWorkspace`: the first event of a workspace stream. A new workspace comes with
//! Twilio's default task channels and activities, new workers start `Offline`, and the `Fifo`
//! template adds a queue for everyone and a workflow into it. SIDs are drawn in a fixed order
//! (channels, activities, then the template's), so the same SID source gives the same
//! workspace.

use crate::event::Event;
use crate::sid::SidPrefix;
use crate::taskrouter::command::Template;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::{
    ActivityCreated, QueueOrder, TaskChannelCreated, TaskQueueCreated, WorkflowCreated,
    WorkspaceCreated, WorkspaceUpdated,
};
use crate::taskrouter::routing::Ctx;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::check_name;

/// Decides `CreateWorkspace`; refused when the stream already holds a workspace.
// One argument per field of the command: the dispatcher destructures it for every decider.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide(
    state: Option<&Workspace>,
    friendly_name: &str,
    event_callback_url: &Option<String>,
    events_filter: &Option<String>,
    multi_task_enabled: Option<bool>,
    prioritize_queue_order: Option<QueueOrder>,
    template: Template,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    if state.is_some() {
        return Err(TaskRouterError::Conflict("workspace exists".into()));
    }
    check_name("FriendlyName", friendly_name)?;
    let mut out = vec![Event::WorkspaceCreated(WorkspaceCreated {
        friendly_name: friendly_name.to_string(),
        event_callback_url: event_callback_url.clone(),
        events_filter: events_filter.clone(),
        multi_task_enabled: multi_task_enabled.unwrap_or(true),
        prioritize_queue_order: prioritize_queue_order.unwrap_or_default(),
    })];
    for name in ["default", "voice", "chat", "sms", "video"] {
        out.push(Event::TaskChannelCreated(TaskChannelCreated {
            sid: (ctx.new_sid)(SidPrefix::TaskChannel),
            unique_name: name.into(),
            friendly_name: name[..1].to_uppercase() + &name[1..],
            channel_optimized_routing: false,
        }));
    }
    let mut offline = None;
    for (name, avail) in [
        ("Offline", false),
        ("Available", true),
        ("Unavailable", false),
        ("Break", false),
    ] {
        let sid = (ctx.new_sid)(SidPrefix::Activity);
        if name == "Offline" {
            offline = Some(sid.clone());
        }
        out.push(Event::ActivityCreated(ActivityCreated {
            sid,
            friendly_name: name.into(),
            available: avail,
        }));
    }
    out.push(Event::WorkspaceUpdated(WorkspaceUpdated {
        default_activity_sid: offline.clone(),
        timeout_activity_sid: offline,
        ..Default::default()
    }));
    if template == Template::Fifo {
        out.extend(fifo(ctx));
    }
    Ok(out)
}

/// The `Fifo` template: a queue every worker is in, and a workflow whose default filter
/// sends every task there.
fn fifo(ctx: &mut Ctx<'_>) -> [Event; 2] {
    let queue = (ctx.new_sid)(SidPrefix::TaskQueue);
    let configuration = serde_json::json!({"task_routing": {
        "filters": [],
        "default_filter": {"queue": queue.as_str()}
    }})
    .to_string();
    [
        Event::TaskQueueCreated(TaskQueueCreated {
            sid: queue,
            friendly_name: "Sample Queue".into(),
            target_workers: "1==1".into(),
            task_order: QueueOrder::Fifo,
            max_reserved_workers: 1,
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        }),
        Event::WorkflowCreated(WorkflowCreated {
            sid: (ctx.new_sid)(SidPrefix::Workflow),
            friendly_name: "Default Fifo Workflow".into(),
            configuration,
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
            task_reservation_timeout: 120,
        }),
    ]
}
