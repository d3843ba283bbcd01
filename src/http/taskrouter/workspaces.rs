//! Workspaces: `GET`/`POST /v1/Workspaces` (the caller's workspaces, from the `workspaces`
//! read model, each rendered from its actor's state; create, optionally from the FIFO
//! template) and `GET`/`POST`/`DELETE /v1/Workspaces/{WS}`.
//!
//! A new workspace's SID is minted here, before its first command: the SID names the actor
//! (the stream) the command goes to.

use super::{command, ctx, order, path_sid, read, Ctx};
use crate::http::auth::Caller;
use crate::http::twilio::{iso, page, ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::{Command, Template};
use switchboard_events::taskrouter::events::WorkspaceUpdated;
use switchboard_events::taskrouter::state::Workspace;
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/Workspaces", get(list).post(create))
        .route(
            "/v1/Workspaces/{workspace_sid}",
            get(fetch).post(update).delete(delete),
        )
}

fn workspace_json(c: &Ctx, ws: &Workspace) -> Value {
    let url = c.ws_url(ws);
    let link = |p: &str| format!("{url}/{p}");
    json!({
        "account_sid": c.account,
        "date_created": iso(ws.date_created),
        "date_updated": iso(ws.date_updated),
        "default_activity_name": ws.default_activity_sid.as_ref().and_then(|a| ws.activity_name(a)),
        "default_activity_sid": ws.default_activity_sid,
        "event_callback_url": ws.event_callback_url,
        "events_filter": ws.events_filter,
        "friendly_name": ws.friendly_name,
        "multi_task_enabled": ws.multi_task_enabled,
        "sid": ws.sid,
        "timeout_activity_name": ws.timeout_activity_sid.as_ref().and_then(|a| ws.activity_name(a)),
        "timeout_activity_sid": ws.timeout_activity_sid,
        "prioritize_queue_order": ws.prioritize_queue_order.as_str(),
        "url": url,
        "links": {
            "activities": link("Activities"), "task_channels": link("TaskChannels"),
            "task_queues": link("TaskQueues"), "tasks": link("Tasks"), "workers": link("Workers"),
            "workflows": link("Workflows"), "events": link("Events"), "statistics": link("Statistics"),
            "real_time_statistics": link("RealTimeStatistics"),
            "cumulative_statistics": link("CumulativeStatistics"),
        }
    })
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state
        .read_your_writes("workspaces", &caller.sid, &headers)
        .await;
    let params = Params::from_query(query.as_deref())?;
    let mut conn = state.read_model().await?;
    let rows = switchboard_projections::workspaces::list(
        &mut conn,
        caller.sid.as_str(),
        params.get("FriendlyName"),
        0,
        100_000,
    )
    .await
    .map_err(|e| ApiError::internal("cannot list workspaces", e))?;
    drop(conn);
    let c = ctx(&state, &caller.sid);
    let mut items = Vec::new();
    for row in rows {
        let Ok(sid) = Sid::parse_as(&row.sid, SidPrefix::Workspace) else {
            continue;
        };
        let c2 = c.clone();
        if let Ok(v) = read(&state, &caller.sid, &sid, "", move |w| {
            Ok(workspace_json(&c2, w))
        })
        .await
        {
            items.push(v);
        }
    }
    let url = format!("{}/v1/Workspaces", c.base);
    Ok(Json(page(items, "workspaces", &url, query.as_deref())?))
}

async fn create(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    params: Params,
) -> Result<Response, ApiError> {
    let friendly_name = params.required("FriendlyName")?;
    let template = match params.get("Template") {
        None | Some("NONE") => Template::None,
        Some("FIFO") => Template::Fifo,
        Some(v) => {
            return Err(ApiError::bad_parameter(format!(
                "Template must be NONE or FIFO, got {v:?}"
            )))
        }
    };
    let command_ = Command::CreateWorkspace {
        friendly_name,
        event_callback_url: params.get("EventCallbackUrl").map(str::to_string),
        events_filter: params.get("EventsFilter").map(str::to_string),
        multi_task_enabled: params.flag("MultiTaskEnabled")?,
        prioritize_queue_order: order(&params, "PrioritizeQueueOrder")?,
        template,
    };
    let sid = crate::commands::new_sid(SidPrefix::Workspace);
    let c = ctx(&state, &caller.sid);
    command(
        &state,
        &caller.sid,
        &sid,
        "/v1/Workspaces",
        command_,
        StatusCode::CREATED,
        move |w, _| Some(workspace_json(&c, w)),
    )
    .await
}

/// `/v1/Workspaces/{ws}`: the path (for errors) and the workspace's SID.
fn workspace_path(ws: &str) -> Result<(String, Sid), ApiError> {
    let path = format!("/v1/Workspaces/{ws}");
    let sid = path_sid(ws, SidPrefix::Workspace, &path)?;
    Ok((path, sid))
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (path, sid) = workspace_path(&ws)?;
    let c = ctx(&state, &caller.sid);
    Ok(Json(
        read(&state, &caller.sid, &sid, &path, move |w| {
            Ok(workspace_json(&c, w))
        })
        .await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let (path, sid) = workspace_path(&ws)?;
    let change = WorkspaceUpdated {
        friendly_name: params.get("FriendlyName").map(str::to_string),
        event_callback_url: params.get("EventCallbackUrl").map(str::to_string),
        events_filter: params.get("EventsFilter").map(str::to_string),
        multi_task_enabled: params.flag("MultiTaskEnabled")?,
        prioritize_queue_order: order(&params, "PrioritizeQueueOrder")?,
        default_activity_sid: params.sid("DefaultActivitySid", SidPrefix::Activity)?,
        timeout_activity_sid: params.sid("TimeoutActivitySid", SidPrefix::Activity)?,
    };
    let c = ctx(&state, &caller.sid);
    command(
        &state,
        &caller.sid,
        &sid,
        &path,
        Command::UpdateWorkspace(change),
        StatusCode::OK,
        move |w, _| Some(workspace_json(&c, w)),
    )
    .await
}

async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
) -> Result<Response, ApiError> {
    let (path, sid) = workspace_path(&ws)?;
    command(
        &state,
        &caller.sid,
        &sid,
        &path,
        Command::DeleteWorkspace,
        StatusCode::NO_CONTENT,
        |_, _| None,
    )
    .await
}
