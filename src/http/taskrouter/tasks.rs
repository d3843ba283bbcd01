//! Tasks: `GET`/`POST /v1/Workspaces/{WS}/Tasks` (filters `AssignmentStatus` (a comma list),
//! `WorkflowSid`, `Priority`, `TaskQueueSid`, `EvaluateTaskAttributes`) and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/Tasks/{WT}` (updates and deletes honour
//! `If-Match`). A task's reservations are [`super::reservations`].

use super::{
    create_one, delete_one, fetch_one, if_match, list_of, update_one, Ctx, Kind, ListPath,
    MemberPath,
};
use crate::http::auth::Caller;
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
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
            get(list).post(create),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}",
            get(fetch).post(update).delete(delete),
        )
}

const KIND: Kind = Kind {
    list: "Tasks",
    key: "tasks",
    prefix: SidPrefix::Task,
    render,
};

/// A task as it is now (its `age` counts to the moment of rendering).
fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
    let now = crate::commands::now_ms();
    ws.tasks.get(sid).map(|t| task_json(c, ws, t, now))
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

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let now = crate::commands::now_ms();
    list_of(
        &state,
        &caller.sid,
        &ws,
        KIND,
        query.as_deref(),
        move |c, w, p| {
            let parsed = p
                .get("EvaluateTaskAttributes")
                .map(|e| Expression::parse(e).ok());
            let given = parsed.as_ref().map(Option::as_ref);
            w.tasks
                .values()
                .filter(|t| selected(t, p, given))
                .map(|t| task_json(c, w, t, now))
                .collect()
        },
    )
    .await
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(path): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    fetch_one(&state, &caller.sid, path, KIND).await
}

async fn create(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let at = ListPath::parse(&ws, KIND.list)?;
    let command_ = Command::CreateTask {
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
    };
    create_one(&state, &caller.sid, at, command_, KIND).await
}

async fn update(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let at = MemberPath::parse(&ws, KIND, &sid)?;
    let command_ = Command::UpdateTask {
        sid: at.sid.clone(),
        attributes: params.get("Attributes").map(str::to_string),
        priority: params.i64("Priority")?,
        assignment_status: params.get("AssignmentStatus").map(str::to_string),
        reason: params.get("Reason").map(str::to_string),
        if_match: if_match(&headers)?,
    };
    update_one(&state, &caller.sid, at, command_, KIND).await
}

async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let at = MemberPath::parse(&ws, KIND, &sid)?;
    let command_ = Command::DeleteTask {
        sid: at.sid.clone(),
        if_match: if_match(&headers)?,
    };
    delete_one(&state, &caller.sid, at, command_).await
}
