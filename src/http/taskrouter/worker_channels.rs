//! A worker's capacity per task channel: `GET /v1/Workspaces/{WS}/Workers/{WK}/Channels` and
//! `GET`/`POST /v1/Workspaces/{WS}/Workers/{WK}/Channels/{Channel}` (the channel by SID or
//! unique name; an update sets `Capacity` and `Available`).

use super::{command, ctx, path_sid, read, Ctx};
use crate::http::auth::Caller;
use crate::http::twilio::{iso, page, ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::state::{TaskChannel, Worker, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Channels",
            get(list),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Channels/{task_channel}",
            get(fetch).post(update),
        )
}

fn worker_channel_json(
    c: &Ctx,
    ws: &Workspace,
    w: &Worker,
    channel: &TaskChannel,
) -> Option<Value> {
    let wc = w.channels.get(&channel.sid)?;
    let free = wc.capacity.saturating_sub(wc.busy);
    let pct = (free * 100).checked_div(wc.capacity).unwrap_or(0);
    Some(json!({
        "account_sid": c.account, "assigned_tasks": wc.busy, "available": wc.available,
        "available_capacity_percentage": pct, "configured_capacity": wc.capacity,
        "date_created": iso(w.date_created), "date_updated": iso(wc.date_updated),
        "sid": channel.sid, "task_channel_sid": channel.sid,
        "task_channel_unique_name": channel.unique_name, "worker_sid": w.sid,
        "workspace_sid": ws.sid,
        "url": format!("{}/Workers/{}/Channels/{}", c.ws_url(ws), w.sid, channel.sid),
    }))
}

/// The worker's channels, in the workspace's channel order (`None`: no such worker).
fn channels_of(c: &Ctx, w: &Workspace, worker: &Sid) -> Option<Vec<Value>> {
    let worker = w.workers.get(worker)?;
    Some(
        w.channels
            .values()
            .filter_map(|ch| worker_channel_json(c, w, worker, ch))
            .collect(),
    )
}

/// `/v1/Workspaces/{ws}/Workers/{worker}/Channels[/{channel}]`: the path (for errors), the
/// workspace's SID and the worker's, checked in that order.
fn channels_path(
    ws: &str,
    worker: &str,
    channel: Option<&str>,
) -> Result<(String, Sid, Sid), ApiError> {
    let path = match channel {
        Some(ch) => format!("/v1/Workspaces/{ws}/Workers/{worker}/Channels/{ch}"),
        None => format!("/v1/Workspaces/{ws}/Workers/{worker}/Channels"),
    };
    let ws = path_sid(ws, SidPrefix::Workspace, &path)?;
    let worker = path_sid(worker, SidPrefix::Worker, &path)?;
    Ok((path, ws, worker))
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, worker)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (path, ws, worker) = channels_path(&ws, &worker, None)?;
    let c = ctx(&state, &caller.sid);
    let url = format!("{}{}", c.base, path);
    let params = Params::from_query(query.as_deref())?;
    let not_found = ApiError::not_found(&path);
    let items = read(&state, &caller.sid, &ws, &path, move |w| {
        let items = channels_of(&c, w, &worker).ok_or(not_found)?;
        // The filters of a worker's sub-lists, reservations' too (a channel has no
        // reservation_status, so naming one lists no channel).
        Ok(items
            .into_iter()
            .filter(|v| super::reservations::sub_list_keeps(&params, v))
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(Json(page(items, "channels", &url, query.as_deref())?))
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, worker, channel)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (path, ws, worker) = channels_path(&ws, &worker, Some(&channel))?;
    let c = ctx(&state, &caller.sid);
    let not_found = ApiError::not_found(&path);
    Ok(Json(
        read(&state, &caller.sid, &ws, &path, move |w| {
            let items = channels_of(&c, w, &worker).ok_or_else(|| not_found.clone())?;
            items
                .into_iter()
                .find(|v| {
                    v["sid"] == channel.as_str()
                        || v["task_channel_unique_name"] == channel.as_str()
                })
                .ok_or(not_found)
        })
        .await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, worker, channel)): Path<(String, String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let (path, ws, worker) = channels_path(&ws, &worker, Some(&channel))?;
    let c = ctx(&state, &caller.sid);
    let command_ = Command::UpdateWorkerChannel {
        worker: worker.clone(),
        channel: channel.clone(),
        capacity: params.u32("Capacity", 1000)?,
        available: params.flag("Available")?,
    };
    command(
        &state,
        &caller.sid,
        &ws,
        &path,
        command_,
        StatusCode::OK,
        move |w, _| {
            let found = w.workers.get(&worker)?;
            let channel = w.channel_named(&channel)?;
            worker_channel_json(&c, w, found, channel)
        },
    )
    .await
}
