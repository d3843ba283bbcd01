//! Workers: `GET`/`POST /v1/Workspaces/{WS}/Workers` (filters `FriendlyName`,
//! `ActivitySid`, `ActivityName`, `Available`, `TargetWorkersExpression`, `TaskQueueSid`) and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/Workers/{WK}` (updates and deletes honour
//! `If-Match`). A worker's channels are [`super::worker_channels`], its reservations
//! [`super::reservations`], its statistics [`super::statistics`].

use super::resource::{create, delete, fetch, list, update, Resource};
use super::{bool_str, if_match, Ctx};
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
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
            get(list::<Workers>).post(create::<Workers>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}",
            get(fetch::<Workers>)
                .post(update::<Workers>)
                .delete(delete::<Workers>),
        )
}

/// See the module doc.
pub(super) struct Workers;

impl Resource for Workers {
    const LIST: &'static str = "Workers";
    const KEY: &'static str = "workers";
    const PREFIX: SidPrefix = SidPrefix::Worker;

    fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
        ws.workers.get(sid).map(|x| worker_json(c, ws, x))
    }

    fn select(c: &Ctx, ws: &Workspace, p: &Params) -> Vec<Value> {
        let parsed = p
            .get("TargetWorkersExpression")
            .map(|e| Expression::parse(e).ok());
        let given = parsed.as_ref().map(Option::as_ref);
        ws.workers
            .values()
            .filter(|x| selected(ws, x, p, given))
            .map(|x| worker_json(c, ws, x))
            .collect()
    }

    fn create(params: &Params) -> Result<Command, ApiError> {
        Ok(Command::CreateWorker {
            friendly_name: params.required("FriendlyName")?,
            attributes: params.get("Attributes").map(str::to_string),
            activity_sid: params.sid("ActivitySid", SidPrefix::Activity)?,
        })
    }

    fn update(sid: Sid, headers: &HeaderMap, params: &Params) -> Result<Command, ApiError> {
        Ok(Command::UpdateWorker {
            sid,
            friendly_name: params.get("FriendlyName").map(str::to_string),
            attributes: params.get("Attributes").map(str::to_string),
            activity_sid: params.sid("ActivitySid", SidPrefix::Activity)?,
            reject_pending_reservations: params.flag("RejectPendingReservations")?.unwrap_or(false),
            if_match: if_match(headers)?,
        })
    }

    fn delete(sid: Sid, headers: &HeaderMap) -> Result<Command, ApiError> {
        Ok(Command::DeleteWorker {
            sid,
            if_match: if_match(headers)?,
        })
    }
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
