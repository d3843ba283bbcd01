//! Task channels: `GET`/`POST /v1/Workspaces/{WS}/TaskChannels` and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/TaskChannels/{TC}`. (A worker's capacity on a
//! channel is [`super::worker_channels`].)

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
use switchboard_events::taskrouter::events::TaskChannelUpdated;
use switchboard_events::taskrouter::state::{TaskChannel, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskChannels",
            get(list).post(create),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskChannels/{task_channel_sid}",
            get(fetch).post(update).delete(delete),
        )
}

const KIND: Kind = Kind {
    list: "TaskChannels",
    key: "channels",
    prefix: SidPrefix::TaskChannel,
    render,
};

fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
    ws.channels.get(sid).map(|t| channel_json(c, ws, t))
}

fn channel_json(c: &Ctx, ws: &Workspace, t: &TaskChannel) -> Value {
    json!({
        "account_sid": c.account, "date_created": iso(t.date_created), "date_updated": iso(t.date_updated),
        "friendly_name": t.friendly_name, "sid": t.sid, "unique_name": t.unique_name,
        "workspace_sid": ws.sid, "channel_optimized_routing": t.channel_optimized_routing,
        "url": format!("{}/TaskChannels/{}", c.ws_url(ws), t.sid),
        "links": {"workspace": c.ws_url(ws)}
    })
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    // No filters: Twilio's task channel list takes none.
    list_of(
        &state,
        &caller.sid,
        &ws,
        KIND,
        query.as_deref(),
        |c, w, _| w.channels.values().map(|t| channel_json(c, w, t)).collect(),
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
    let command_ = Command::CreateTaskChannel {
        friendly_name: params.required("FriendlyName")?,
        unique_name: params.required("UniqueName")?,
        channel_optimized_routing: params.flag("ChannelOptimizedRouting")?,
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
    let command_ = Command::UpdateTaskChannel(TaskChannelUpdated {
        sid: at.sid.clone(),
        friendly_name: params.get("FriendlyName").map(str::to_string),
        channel_optimized_routing: params.flag("ChannelOptimizedRouting")?,
    });
    update_one(&state, &caller.sid, at, command_, KIND).await
}

async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let at = MemberPath::parse(&ws, KIND, &sid)?;
    let command_ = Command::DeleteTaskChannel {
        sid: at.sid.clone(),
    };
    delete_one(&state, &caller.sid, at, command_).await
}
