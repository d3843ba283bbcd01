//! Task queues: `GET`/`POST /v1/Workspaces/{WS}/TaskQueues` (filter `FriendlyName`) and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/TaskQueues/{WQ}`. A queue's statistics, the list
//! `TaskQueues/Statistics` and the bulk `TaskQueues/RealTimeStatistics` are
//! [`super::statistics`].

use super::{
    create_one, delete_one, fetch_one, list_of, order, update_one, Ctx, Kind, ListPath, MemberPath,
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
use switchboard_events::taskrouter::events::TaskQueueUpdated;
use switchboard_events::taskrouter::state::{TaskQueue, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues",
            get(list).post(create),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}",
            get(fetch).post(update).delete(delete),
        )
}

const KIND: Kind = Kind {
    list: "TaskQueues",
    key: "task_queues",
    prefix: SidPrefix::TaskQueue,
    render,
};

fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
    ws.queues.get(sid).map(|q| queue_json(c, ws, q))
}

fn queue_json(c: &Ctx, ws: &Workspace, q: &TaskQueue) -> Value {
    let url = format!("{}/TaskQueues/{}", c.ws_url(ws), q.sid);
    let name = |a: &Option<Sid>| a.as_ref().and_then(|a| ws.activity_name(a));
    json!({
        "account_sid": c.account,
        "assignment_activity_sid": q.assignment_activity_sid,
        "assignment_activity_name": name(&q.assignment_activity_sid),
        "date_created": iso(q.date_created), "date_updated": iso(q.date_updated),
        "friendly_name": q.friendly_name, "max_reserved_workers": q.max_reserved_workers,
        "reservation_activity_sid": q.reservation_activity_sid,
        "reservation_activity_name": name(&q.reservation_activity_sid),
        "sid": q.sid, "target_workers": q.target_workers, "task_order": q.task_order.as_str(),
        "url": url, "workspace_sid": ws.sid,
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
            w.queues
                .values()
                .filter(|q| p.allows("FriendlyName", &q.friendly_name))
                .map(|q| queue_json(c, w, q))
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
    let command_ = Command::CreateTaskQueue {
        friendly_name: params.required("FriendlyName")?,
        target_workers: params.get("TargetWorkers").map(str::to_string),
        task_order: order(&params, "TaskOrder")?,
        max_reserved_workers: params.u32("MaxReservedWorkers", 1000)?,
        reservation_activity_sid: params.sid("ReservationActivitySid", SidPrefix::Activity)?,
        assignment_activity_sid: params.sid("AssignmentActivitySid", SidPrefix::Activity)?,
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
    let command_ = Command::UpdateTaskQueue(TaskQueueUpdated {
        sid: at.sid.clone(),
        friendly_name: params.get("FriendlyName").map(str::to_string),
        target_workers: params.get("TargetWorkers").map(str::to_string),
        task_order: order(&params, "TaskOrder")?,
        max_reserved_workers: params.u32("MaxReservedWorkers", 1000)?,
        reservation_activity_sid: params.sid("ReservationActivitySid", SidPrefix::Activity)?,
        assignment_activity_sid: params.sid("AssignmentActivitySid", SidPrefix::Activity)?,
    });
    update_one(&state, &caller.sid, at, command_, KIND).await
}

async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let at = MemberPath::parse(&ws, KIND, &sid)?;
    let command_ = Command::DeleteTaskQueue {
        sid: at.sid.clone(),
    };
    delete_one(&state, &caller.sid, at, command_).await
}
