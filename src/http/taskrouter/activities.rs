//! Activities: `GET`/`POST /v1/Workspaces/{WS}/Activities` (filters `FriendlyName`,
//! `Available`) and `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/Activities/{WA}`.

use super::{
    bool_str, create_one, delete_one, fetch_one, list_of, update_one, Ctx, Kind, ListPath,
    MemberPath,
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
use switchboard_events::taskrouter::state::{Activity, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Activities",
            get(list).post(create),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Activities/{activity_sid}",
            get(fetch).post(update).delete(delete),
        )
}

const KIND: Kind = Kind {
    list: "Activities",
    key: "activities",
    prefix: SidPrefix::Activity,
    render,
};

fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
    ws.activities.get(sid).map(|a| activity_json(c, ws, a))
}

fn activity_json(c: &Ctx, ws: &Workspace, a: &Activity) -> Value {
    let url = format!("{}/Activities/{}", c.ws_url(ws), a.sid);
    json!({
        "account_sid": c.account, "available": a.available,
        "date_created": iso(a.date_created), "date_updated": iso(a.date_updated),
        "friendly_name": a.friendly_name, "sid": a.sid, "workspace_sid": ws.sid,
        "url": url, "links": {"workspace": c.ws_url(ws)}
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
            w.activities
                .values()
                .filter(|a| {
                    p.allows("FriendlyName", &a.friendly_name)
                        && p.allows("Available", bool_str(a.available))
                })
                .map(|a| activity_json(c, w, a))
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
    let command_ = Command::CreateActivity {
        friendly_name: params.required("FriendlyName")?,
        available: params.flag("Available")?,
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
    let command_ = Command::UpdateActivity {
        sid: at.sid.clone(),
        friendly_name: params.required("FriendlyName")?,
    };
    update_one(&state, &caller.sid, at, command_, KIND).await
}

async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let at = MemberPath::parse(&ws, KIND, &sid)?;
    let command_ = Command::DeleteActivity {
        sid: at.sid.clone(),
    };
    delete_one(&state, &caller.sid, at, command_).await
}
