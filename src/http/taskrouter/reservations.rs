//! Reservations, under the task they offer and under the worker they are offered to:
//! `GET /v1/Workspaces/{WS}/Tasks/{WT}/Reservations`, `…/Workers/{WK}/Reservations` (filters
//! `ReservationStatus`, `WorkerSid`), and `GET`/`POST` of one `…/Reservations/{WR}` under
//! either (an update takes `ReservationStatus`, or `Instruction` `accept`/`reject`, and
//! `WorkerActivitySid`; it honours `If-Match`). A reservation's URL names the parent it was
//! reached through.

use super::{command, ctx, if_match, path_sid, read, Ctx};
use crate::http::auth::Caller;
use crate::http::twilio::{iso, page, ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::state::{Reservation, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}/Reservations",
            get(list::<UnderTask>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}/Reservations/{reservation_sid}",
            get(fetch::<UnderTask>).post(update::<UnderTask>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Reservations",
            get(list::<UnderWorker>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Reservations/{reservation_sid}",
            get(fetch::<UnderWorker>).post(update::<UnderWorker>),
        )
}

/// Which parent a request reached reservations through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    Task,
    Worker,
}

/// A parent as a type, so one handler serves both routes of an operation.
trait Via: Send + Sync + 'static {
    const PARENT: Parent;
}

/// `/Tasks/{WT}/Reservations…`.
struct UnderTask;
/// `/Workers/{WK}/Reservations…`.
struct UnderWorker;

impl Via for UnderTask {
    const PARENT: Parent = Parent::Task;
}

impl Via for UnderWorker {
    const PARENT: Parent = Parent::Worker;
}

impl Parent {
    fn segment(self) -> &'static str {
        match self {
            Parent::Task => "Tasks",
            Parent::Worker => "Workers",
        }
    }

    fn prefix(self) -> SidPrefix {
        match self {
            Parent::Task => SidPrefix::Task,
            Parent::Worker => SidPrefix::Worker,
        }
    }
}

fn reservation_json(c: &Ctx, ws: &Workspace, r: &Reservation, via: Parent) -> Value {
    let url = match via {
        Parent::Worker => format!(
            "{}/Workers/{}/Reservations/{}",
            c.ws_url(ws),
            r.worker_sid,
            r.sid
        ),
        Parent::Task => format!(
            "{}/Tasks/{}/Reservations/{}",
            c.ws_url(ws),
            r.task_sid,
            r.sid
        ),
    };
    json!({
        "account_sid": c.account, "date_created": iso(r.date_created),
        "date_updated": iso(r.date_updated), "reservation_status": r.status.as_str(),
        "sid": r.sid, "task_sid": r.task_sid,
        "worker_name": ws.workers.get(&r.worker_sid).map(|w| &w.friendly_name),
        "worker_sid": r.worker_sid, "workspace_sid": ws.sid, "url": url,
        "routing": {
            "filter": r.routing.filter, "target_index": r.routing.target_index,
            "task_queue_sid": r.queue_sid, "ordering": r.routing.ordering,
            "eligible_workers": r.routing.eligible,
        },
        "links": {
            "task": format!("{}/Tasks/{}", c.ws_url(ws), r.task_sid),
            "worker": format!("{}/Workers/{}", c.ws_url(ws), r.worker_sid),
            "workspace": c.ws_url(ws),
        }
    })
}

/// The parent's reservations (`None`: no such task or worker).
fn reservations_of<'a>(
    w: &'a Workspace,
    via: Parent,
    parent: &'a Sid,
) -> Option<impl Iterator<Item = &'a Reservation>> {
    let exists = match via {
        Parent::Worker => w.workers.contains_key(parent),
        Parent::Task => w.tasks.contains_key(parent),
    };
    exists.then(|| {
        w.reservations.values().filter(move |r| match via {
            Parent::Worker => r.worker_sid == *parent,
            Parent::Task => r.task_sid == *parent,
        })
    })
}

/// The filters of a worker's or a task's sub-lists, on an item as rendered.
pub(super) fn sub_list_keeps(params: &Params, v: &Value) -> bool {
    params
        .get("ReservationStatus")
        .is_none_or(|s| v["reservation_status"] == s)
        && params.get("WorkerSid").is_none_or(|s| v["worker_sid"] == s)
}

/// `/v1/Workspaces/{ws}/{Parent}/{parent}/Reservations[/{sid}]`: the path (for errors), the
/// workspace's SID and the parent's, checked in that order.
fn reservations_path(
    ws: &str,
    via: Parent,
    parent: &str,
    sid: Option<&str>,
) -> Result<(String, Sid, Sid), ApiError> {
    let kind = via.segment();
    let path = match sid {
        Some(sid) => format!("/v1/Workspaces/{ws}/{kind}/{parent}/Reservations/{sid}"),
        None => format!("/v1/Workspaces/{ws}/{kind}/{parent}/Reservations"),
    };
    let ws = path_sid(ws, SidPrefix::Workspace, &path)?;
    let parent = path_sid(parent, via.prefix(), &path)?;
    Ok((path, ws, parent))
}

async fn list<V: Via>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, parent)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let via = V::PARENT;
    let caller = caller.sid;
    let (path, ws, parent) = reservations_path(&ws, via, &parent, None)?;
    let c = ctx(&state, &caller);
    let url = format!("{}{}", c.base, path);
    let params = Params::from_query(query.as_deref())?;
    let not_found = ApiError::not_found(&path);
    let items = read(&state, &caller, &ws, &path, move |w| {
        Ok(reservations_of(w, via, &parent)
            .ok_or(not_found)?
            .map(|r| reservation_json(&c, w, r, via))
            .filter(|v| sub_list_keeps(&params, v))
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(Json(page(items, "reservations", &url, query.as_deref())?))
}

async fn fetch<V: Via>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, parent, sid)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let via = V::PARENT;
    let caller = caller.sid;
    let (path, ws, parent) = reservations_path(&ws, via, &parent, Some(&sid))?;
    let c = ctx(&state, &caller);
    let not_found = ApiError::not_found(&path);
    Ok(Json(
        read(&state, &caller, &ws, &path, move |w| {
            reservations_of(w, via, &parent)
                .ok_or_else(|| not_found.clone())?
                .find(|r| r.sid.as_str() == sid)
                .map(|r| reservation_json(&c, w, r, via))
                .ok_or(not_found)
        })
        .await?,
    ))
}

/// The status an update asks for: `ReservationStatus`, or what `Instruction` means.
fn wanted_status(params: &Params) -> Result<String, ApiError> {
    match (params.get("ReservationStatus"), params.get("Instruction")) {
        (Some(s), _) => Ok(s.to_string()),
        (None, Some("accept")) => Ok("accepted".into()),
        (None, Some("reject")) => Ok("rejected".into()),
        (None, Some(other)) => Err(ApiError::bad_parameter(format!(
            "Instruction {other:?} needs a call to act on; only accept and reject are supported"
        ))),
        (None, None) => Err(ApiError::bad_parameter(
            "ReservationStatus or Instruction is required",
        )),
    }
}

async fn update<V: Via>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, parent, sid)): Path<(String, String, String)>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let via = V::PARENT;
    let caller = caller.sid;
    let (path, ws, parent) = reservations_path(&ws, via, &parent, Some(&sid))?;
    let c = ctx(&state, &caller);
    let reservation = path_sid(&sid, SidPrefix::Reservation, &path)?;
    let command_ = Command::UpdateReservation {
        sid: reservation.clone(),
        via: parent,
        status: wanted_status(&params)?,
        activity_sid: params.sid("WorkerActivitySid", SidPrefix::Activity)?,
        if_match: if_match(&headers)?,
    };
    command(
        &state,
        &caller,
        &ws,
        &path,
        command_,
        StatusCode::OK,
        move |w, _| {
            w.reservations
                .get(&reservation)
                .map(|r| reservation_json(&c, w, r, via))
        },
    )
    .await
}
