//! Activities: `GET`/`POST /v1/Workspaces/{WS}/Activities` (filters `FriendlyName`,
//! `Available`) and `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/Activities/{WA}`.

use super::bool_str;
use super::resource::{create, delete, fetch, list, update, Resource};
use super::Ctx;
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::state::{Activity, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Activities",
            get(list::<Activities>).post(create::<Activities>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Activities/{activity_sid}",
            get(fetch::<Activities>)
                .post(update::<Activities>)
                .delete(delete::<Activities>),
        )
}

/// See the module doc.
pub(super) struct Activities;

impl Resource for Activities {
    const LIST: &'static str = "Activities";
    const KEY: &'static str = "activities";
    const PREFIX: SidPrefix = SidPrefix::Activity;

    fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
        ws.activities.get(sid).map(|a| activity_json(c, ws, a))
    }

    fn select(c: &Ctx, ws: &Workspace, p: &Params) -> Vec<Value> {
        ws.activities
            .values()
            .filter(|a| {
                p.allows("FriendlyName", &a.friendly_name)
                    && p.allows("Available", bool_str(a.available))
            })
            .map(|a| activity_json(c, ws, a))
            .collect()
    }

    fn create(params: &Params) -> Result<Command, ApiError> {
        Ok(Command::CreateActivity {
            friendly_name: params.required("FriendlyName")?,
            available: params.flag("Available")?,
        })
    }

    fn update(sid: Sid, _: &HeaderMap, params: &Params) -> Result<Command, ApiError> {
        Ok(Command::UpdateActivity {
            sid,
            friendly_name: params.required("FriendlyName")?,
        })
    }

    fn delete(sid: Sid, _: &HeaderMap) -> Result<Command, ApiError> {
        Ok(Command::DeleteActivity { sid })
    }
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
