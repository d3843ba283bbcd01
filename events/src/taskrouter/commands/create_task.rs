//! `CreateTask`: a task with attributes that are a JSON object (default `{}`), a priority of
//! 0 to 2³¹−1, a TTL of 1 s to 14 days (default one day), a channel of this workspace
//! (default `default`) and a workflow, which may be left out when the workspace has exactly
//! one. Routing it onto its first target follows in [`routing`](crate::taskrouter::routing).

use crate::event::Event;
use crate::sid::{Sid, SidPrefix};
use crate::taskrouter::error::{invalid, TaskRouterError};
use crate::taskrouter::events::TaskCreated;
use crate::taskrouter::routing::Ctx;
use crate::taskrouter::state::{WorkflowState, Workspace};
use crate::taskrouter::validate::{
    check_attributes, check_priority, DEFAULT_TASK_TIMEOUT, MAX_TASK_TIMEOUT,
};
use chrono::{DateTime, Utc};

/// Decides `CreateTask`.
// One argument per field of the command: the dispatcher destructures it for every decider.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide(
    ws: &Workspace,
    attributes: &Option<String>,
    priority: Option<i64>,
    timeout: Option<u32>,
    task_channel: Option<&str>,
    workflow_sid: &Option<Sid>,
    virtual_start_time: Option<DateTime<Utc>>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    let attributes = attributes.clone().unwrap_or_else(|| "{}".into());
    check_attributes(&attributes)?;
    let priority = priority.unwrap_or(0);
    check_priority(priority)?;
    let timeout = timeout.unwrap_or(DEFAULT_TASK_TIMEOUT);
    if !(1..=MAX_TASK_TIMEOUT).contains(&timeout) {
        return Err(invalid(
            "Timeout",
            format!("must be between 1 and {MAX_TASK_TIMEOUT}"),
        ));
    }
    let channel = ws
        .channel_named(task_channel.unwrap_or("default"))
        .ok_or_else(|| invalid("TaskChannel", "no such task channel"))?;
    let workflow = workflow(ws, workflow_sid)?;
    if let Some(why) = &workflow.compile_error {
        // Its stored document does not compile in this build: a task could never be routed.
        return Err(invalid(
            "WorkflowSid",
            format!(
                "workflow {} has a configuration this version cannot compile ({why}); update it",
                workflow.sid
            ),
        ));
    }
    Ok(vec![Event::TaskCreated(TaskCreated {
        sid: (ctx.new_sid)(SidPrefix::Task),
        attributes,
        priority,
        timeout,
        task_channel_sid: channel.sid.clone(),
        workflow_sid: workflow.sid.clone(),
        virtual_start_time,
    })])
}

/// The workflow named, or the workspace's only one.
fn workflow<'a>(
    ws: &'a Workspace,
    workflow_sid: &Option<Sid>,
) -> Result<&'a WorkflowState, TaskRouterError> {
    match workflow_sid {
        Some(w) => ws
            .workflows
            .get(w)
            .ok_or_else(|| invalid("WorkflowSid", format!("no workflow {w} in this workspace"))),
        None if ws.workflows.len() == 1 => ws
            .workflows
            .values()
            .next()
            .ok_or_else(|| invalid("WorkflowSid", "required")),
        None => Err(invalid(
            "WorkflowSid",
            "required when the workspace does not have exactly one workflow",
        )),
    }
}
