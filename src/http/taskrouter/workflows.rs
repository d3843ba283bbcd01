//! Workflows: `GET`/`POST /v1/Workspaces/{WS}/Workflows` (filter `FriendlyName`) and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/Workflows/{WW}` (an update may re-evaluate the
//! workflow's tasks). A workflow's statistics are [`super::statistics`].

use super::{
    create_one, delete_one, fetch_one, list_of, update_one, Ctx, Kind, ListPath, MemberPath,
};
use crate::http::auth::Caller;
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::events::WorkflowUpdated;
use switchboard_events::taskrouter::state::{WorkflowState, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows",
            get(list).post(create),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}",
            get(fetch).post(update).delete(delete),
        )
}

const KIND: Kind = Kind {
    list: "Workflows",
    key: "workflows",
    prefix: SidPrefix::Workflow,
    render,
};

fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
    ws.workflows.get(sid).map(|x| workflow_json(c, ws, x))
}

fn workflow_json(c: &Ctx, ws: &Workspace, w: &WorkflowState) -> Value {
    let url = format!("{}/Workflows/{}", c.ws_url(ws), w.sid);
    json!({
        "account_sid": c.account, "assignment_callback_url": w.assignment_callback_url,
        "configuration": w.configuration, "date_created": iso(w.date_created),
        "date_updated": iso(w.date_updated), "document_content_type": "application/json",
        "fallback_assignment_callback_url": w.fallback_assignment_callback_url,
        "friendly_name": w.friendly_name, "sid": w.sid,
        "task_reservation_timeout": w.task_reservation_timeout, "workspace_sid": ws.sid,
        "url": url,
        "links": {
            "statistics": format!("{url}/Statistics"),
            "real_time_statistics": format!("{url}/RealTimeStatistics"),
            "cumulative_statistics": format!("{url}/CumulativeStatistics"),
            "workspace": c.ws_url(ws),
        }
    })
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    list_of(
        &state,
        &caller.sid,
        &ws,
        KIND,
        query.as_deref(),
        |c, w, p| {
            w.workflows
                .values()
                .filter(|x| p.allows("FriendlyName", &x.friendly_name))
                .map(|x| workflow_json(c, w, x))
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
    let command_ = Command::CreateWorkflow {
        friendly_name: params.required("FriendlyName")?,
        configuration: params.required("Configuration")?,
        assignment_callback_url: params.get("AssignmentCallbackUrl").map(str::to_string),
        fallback_assignment_callback_url: params
            .get("FallbackAssignmentCallbackUrl")
            .map(str::to_string),
        task_reservation_timeout: params.u32("TaskReservationTimeout", 1_000_000)?,
    };
    create_one(&state, &caller.sid, at, command_, KIND).await
}

async fn update(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let at = MemberPath::parse(&ws, KIND, &sid)?;
    let command_ = Command::UpdateWorkflow {
        change: WorkflowUpdated {
            sid: at.sid.clone(),
            friendly_name: params.get("FriendlyName").map(str::to_string),
            configuration: params.get("Configuration").map(str::to_string),
            assignment_callback_url: params.get("AssignmentCallbackUrl").map(str::to_string),
            fallback_assignment_callback_url: params
                .get("FallbackAssignmentCallbackUrl")
                .map(str::to_string),
            task_reservation_timeout: params.u32("TaskReservationTimeout", 1_000_000)?,
        },
        re_evaluate_tasks: params.flag("ReEvaluateTasks")?.unwrap_or(false),
    };
    update_one(&state, &caller.sid, at, command_, KIND).await
}

async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let at = MemberPath::parse(&ws, KIND, &sid)?;
    let command_ = Command::DeleteWorkflow {
        sid: at.sid.clone(),
    };
    delete_one(&state, &caller.sid, at, command_).await
}
