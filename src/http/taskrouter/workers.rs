//! Workers: `GET`/`POST /v1/Workspaces/{WS}/Workers` (filters `FriendlyName`,
//! `ActivitySid`, `ActivityName`, `Available`, `TargetWorkersExpression`, `TaskQueueSid`) and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/Workers/{WK}` (updates and deletes honour
//! `If-Match`). A worker's channels are [`super::worker_channels`], its reservations
//! [`super::reservations`], its statistics [`super::statistics`].

use super::{
    bool_str, create_one, delete_one, fetch_one, if_match, list_of, update_one, Ctx, Kind,
    ListPath, MemberPath,
};
use crate::http::auth::Caller;
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::expression::{Context, Expression};
use switchboard_events::taskrouter::state::{Worker, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers",
            get(list).post(create),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}",
            get(fetch).post(update).delete(delete),
        )
}

const KIND: Kind = Kind {
    list: "Workers",
    key: "workers",
    prefix: SidPrefix::Worker,
    render,
};

fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
    ws.workers.get(sid).map(|x| worker_json(c, ws, x))
}

fn worker_json(c: &Ctx, ws: &Workspace, w: &Worker) -> Value {
    let url = format!("{}/Workers/{}", c.ws_url(ws), w.sid);
    json!({
        "account_sid": c.account, "activity_name": ws.activity_name(&w.activity_sid),
        "activity_sid": w.activity_sid, "attributes": w.attributes,
        "available": ws.worker_available(w),
        "date_created": iso(w.date_created), "date_status_changed": iso(w.date_status_changed),
        "date_updated": iso(w.date_updated), "friendly_name": w.friendly_name, "sid": w.sid,
        "workspace_sid": ws.sid, "url": url,
        "links": {
            "channels": format!("{url}/Channels"), "reservations": format!("{url}/Reservations"),
            "statistics": format!("{url}/Statistics"),
            "activity": format!("{}/Activities/{}", c.ws_url(ws), w.activity_sid),
            "workspace": c.ws_url(ws),
        }
    })
}

/// Whether worker `x` passes the list's filters. `given` is `TargetWorkersExpression`, parsed
/// once; `Some(None)` when it does not parse, which matches nothing.
fn selected(w: &Workspace, x: &Worker, p: &Params, given: Option<Option<&Expression>>) -> bool {
    p.allows("FriendlyName", &x.friendly_name)
        && p.allows("ActivitySid", x.activity_sid.as_str())
        && p.allows(
            "ActivityName",
            w.activity_name(&x.activity_sid).unwrap_or(""),
        )
        && p.allows("Available", bool_str(w.worker_available(x)))
        && given.is_none_or(|e| e.is_some_and(|e| e.matches(&Context::document(&x.document))))
        && p.get("TaskQueueSid").is_none_or(|q| {
            w.queues.values().any(|queue| {
                queue.sid.as_str() == q
                    && queue
                        .target_expression
                        .matches(&Context::document(&x.document))
            })
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
            let parsed = p
                .get("TargetWorkersExpression")
                .map(|e| Expression::parse(e).ok());
            let given = parsed.as_ref().map(Option::as_ref);
            w.workers
                .values()
                .filter(|x| selected(w, x, p, given))
                .map(|x| worker_json(c, w, x))
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
    let command_ = Command::CreateWorker {
        friendly_name: params.required("FriendlyName")?,
        attributes: params.get("Attributes").map(str::to_string),
        activity_sid: params.sid("ActivitySid", SidPrefix::Activity)?,
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
    let command_ = Command::UpdateWorker {
        sid: at.sid.clone(),
        friendly_name: params.get("FriendlyName").map(str::to_string),
        attributes: params.get("Attributes").map(str::to_string),
        activity_sid: params.sid("ActivitySid", SidPrefix::Activity)?,
        reject_pending_reservations: params.flag("RejectPendingReservations")?.unwrap_or(false),
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
    let command_ = Command::DeleteWorker {
        sid: at.sid.clone(),
        if_match: if_match(&headers)?,
    };
    delete_one(&state, &caller.sid, at, command_).await
}
