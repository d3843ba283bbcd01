//! Tasks: `GET`/`POST /v1/Workspaces/{WS}/Tasks` (filters `AssignmentStatus` (a comma list),
//! `WorkflowSid`, `Priority`, `TaskQueueSid`, `EvaluateTaskAttributes`) and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/Tasks/{WT}` (updates and deletes honour
//! `If-Match`). A task's reservations are [`super::reservations`].

use super::resource::{create, delete, fetch, list, update, Resource};
use super::{if_match, Ctx};
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::expression::{Context, Expression};
use switchboard_events::taskrouter::state::{Task, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Tasks",
            get(list::<Tasks>).post(create::<Tasks>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}",
            get(fetch::<Tasks>)
                .post(update::<Tasks>)
                .delete(delete::<Tasks>),
        )
}

/// See the module doc.
pub(super) struct Tasks;

impl Resource for Tasks {
    const LIST: &'static str = "Tasks";
    const KEY: &'static str = "tasks";
    const PREFIX: SidPrefix = SidPrefix::Task;

    /// A task as it is now (its `age` counts to the moment of rendering).
    fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
        let now = crate::commands::now_ms();
        ws.tasks.get(sid).map(|t| task_json(c, ws, t, now))
    }

    fn select(c: &Ctx, ws: &Workspace, p: &Params) -> Vec<Value> {
        let now = crate::commands::now_ms();
        let parsed = p
            .get("EvaluateTaskAttributes")
            .map(|e| Expression::parse(e).ok());
        let given = parsed.as_ref().map(Option::as_ref);
        ws.tasks
            .values()
            .filter(|t| selected(t, p, given))
            .map(|t| task_json(c, ws, t, now))
            .collect()
    }

    fn create(params: &Params) -> Result<Command, ApiError> {
        Ok(Command::CreateTask {
            attributes: params.get("Attributes").map(str::to_string),
            priority: params.i64("Priority")?,
            timeout: params.u32("Timeout", i64::from(u32::MAX))?,
            task_channel: params.get("TaskChannel").map(str::to_string),
            workflow_sid: params.sid("WorkflowSid", SidPrefix::Workflow)?,
            virtual_start_time: params
                .get("VirtualStartTime")
                .map(|v| {
                    DateTime::parse_from_rfc3339(v)
                        .map(|d| d.with_timezone(&Utc))
                        .map_err(|_| {
                            ApiError::bad_parameter(format!(
                                "VirtualStartTime must be ISO 8601, got {v:?}"
                            ))
                        })
                })
                .transpose()?,
        })
    }

    fn update(sid: Sid, headers: &HeaderMap, params: &Params) -> Result<Command, ApiError> {
        Ok(Command::UpdateTask {
            sid,
            attributes: params.get("Attributes").map(str::to_string),
            priority: params.i64("Priority")?,
            assignment_status: params.get("AssignmentStatus").map(str::to_string),
            reason: params.get("Reason").map(str::to_string),
            if_match: if_match(headers)?,
        })
    }

    fn delete(sid: Sid, headers: &HeaderMap) -> Result<Command, ApiError> {
        Ok(Command::DeleteTask {
            sid,
            if_match: if_match(headers)?,
        })
    }
}

fn task_json(c: &Ctx, ws: &Workspace, t: &Task, now: DateTime<Utc>) -> Value {
    let url = format!("{}/Tasks/{}", c.ws_url(ws), t.sid);
    let queue = t.step.as_ref().and_then(|s| ws.queues.get(&s.queue_sid));
    let channel = ws.channels.get(&t.task_channel_sid);
    json!({
        "account_sid": c.account,
        "age": (now - t.date_created).num_seconds().max(0),
        "assignment_status": t.status.as_str(),
        "attributes": t.attributes,
        "addons": "{}",
        "date_created": iso(t.date_created), "date_updated": iso(t.date_updated),
        "task_queue_entered_date": t.step.as_ref().map(|s| iso(s.entered_at)),
        "priority": t.effective_priority(),
        "reason": t.reason,
        "sid": t.sid,
        "task_queue_sid": t.step.as_ref().map(|s| &s.queue_sid),
        "task_queue_friendly_name": queue.map(|q| &q.friendly_name),
        "task_channel_sid": t.task_channel_sid,
        "task_channel_unique_name": channel.map(|c| &c.unique_name),
        "timeout": t.timeout,
        "workflow_sid": t.workflow_sid,
        "workflow_friendly_name": ws.workflows.get(&t.workflow_sid).map(|w| &w.friendly_name),
        "workspace_sid": ws.sid,
        "url": url,
        "links": {
            "reservations": format!("{url}/Reservations"),
            "task_queue": t.step.as_ref().map(|s| format!("{}/TaskQueues/{}", c.ws_url(ws), s.queue_sid)),
            "workflow": format!("{}/Workflows/{}", c.ws_url(ws), t.workflow_sid),
            "workspace": c.ws_url(ws),
        },
        "virtual_start_time": iso(t.age_from()),
        "ignore_capacity": false,
        "routing_target": null,
    })
}

/// Whether task `t` passes the list's filters. `given` is `EvaluateTaskAttributes`, parsed
/// once; `Some(None)` when it does not parse, which matches nothing.
fn selected(t: &Task, p: &Params, given: Option<Option<&Expression>>) -> bool {
    p.get("AssignmentStatus")
        .is_none_or(|s| s.split(',').any(|s| s == t.status.as_str()))
        && p.allows("WorkflowSid", t.workflow_sid.as_str())
        && p.allows("Priority", &t.effective_priority().to_string())
        && p.get("TaskQueueSid")
            .is_none_or(|q| t.step.as_ref().is_some_and(|s| s.queue_sid.as_str() == q))
        && given.is_none_or(|e| e.is_some_and(|e| e.matches(&Context::document(&t.document))))
}
