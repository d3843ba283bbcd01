//! Task channels: `GET`/`POST /v1/Workspaces/{WS}/TaskChannels` and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/TaskChannels/{TC}`. (A worker's capacity on a
//! channel is [`super::worker_channels`].)

use super::resource::{create, delete, fetch, list, update, Resource};
use super::Ctx;
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
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
            get(list::<TaskChannels>).post(create::<TaskChannels>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskChannels/{task_channel_sid}",
            get(fetch::<TaskChannels>)
                .post(update::<TaskChannels>)
                .delete(delete::<TaskChannels>),
        )
}

/// See the module doc.
pub(super) struct TaskChannels;

impl Resource for TaskChannels {
    const LIST: &'static str = "TaskChannels";
    const KEY: &'static str = "channels";
    const PREFIX: SidPrefix = SidPrefix::TaskChannel;

    fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
        ws.channels.get(sid).map(|t| channel_json(c, ws, t))
    }

    /// No filters: Twilio's task channel list takes none.
    fn select(c: &Ctx, ws: &Workspace, _: &Params) -> Vec<Value> {
        ws.channels
            .values()
            .map(|t| channel_json(c, ws, t))
            .collect()
    }

    fn create(params: &Params) -> Result<Command, ApiError> {
        Ok(Command::CreateTaskChannel {
            friendly_name: params.required("FriendlyName")?,
            unique_name: params.required("UniqueName")?,
            channel_optimized_routing: params.flag("ChannelOptimizedRouting")?,
        })
    }

    fn update(sid: Sid, _: &HeaderMap, params: &Params) -> Result<Command, ApiError> {
        Ok(Command::UpdateTaskChannel(TaskChannelUpdated {
            sid,
            friendly_name: params.get("FriendlyName").map(str::to_string),
            channel_optimized_routing: params.flag("ChannelOptimizedRouting")?,
        }))
    }

    fn delete(sid: Sid, _: &HeaderMap) -> Result<Command, ApiError> {
        Ok(Command::DeleteTaskChannel { sid })
    }
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
