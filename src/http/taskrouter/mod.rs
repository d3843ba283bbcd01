//! TaskRouter v1, path for path under `/v1/Workspaces`. Commands go to the workspace's actor
//! ([`crate::taskrouter`]); reads are answered from its state, so a read after a command sees
//! it. Lists use Twilio's `meta` envelope with absolute URLs built from `--public-url`; dates
//! are ISO 8601; errors are Twilio's body (all three from [`super::twilio`]).
//!
//! One module per resource, each with a `router()` whose routes name their full paths (so a
//! path is found by grep, and each route's `MatchedPath` names its own tracing span):
//!
//! - `workspaces`: the list `/v1/Workspaces` and `/v1/Workspaces/{WS}`.
//! - `activities`, `task_channels`, `workers`, `task_queues`, `workflows`,
//!   `tasks`: `/v1/Workspaces/{WS}/<Kind>` and `/<Kind>/{Sid}`.
//! - `worker_channels`: a worker's capacities, `/Workers/{WK}/Channels[/{Channel}]`.
//! - `reservations`: under a worker or a task, `/Workers/{WK}/Reservations[/{WR}]` and
//!   `/Tasks/{WT}/Reservations[/{WR}]`.
//! - `events`: the Event resources, `/Events[/{EV}]`, from the read model's Event index.
//! - `statistics`: every `Statistics`, `RealTimeStatistics` and `CumulativeStatistics`.
//!
//! The six kinds with a list and members (`resource::Resource`) share their handlers, in
//! `resource`; their modules say what differs (rendering, filters, the commands a request
//! asks for). This module holds what all share: the rendering context, the read and command
//! runners (tenancy: another account's workspace is the same 404 as none), SIDs from the
//! path, `If-Match`, and the mapping of TaskRouter's errors onto Twilio's.
//!
//! Paths of a workspace's shape that no resource owns (`/v1/Workspaces/{WS}/Bogus`, an
//! unknown sub-resource) are routed too, behind authentication like the rest, and answer 404
//! naming the path, with the methods their shape always took (others are 405).

use super::twilio::{ApiError, Params};
use super::AppState;
use crate::taskrouter::{EngineError, Loaded};
use axum::extract::{MatchedPath, RawPathParams};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use switchboard_events::taskrouter::decide::{Command, TaskRouterError};
use switchboard_events::taskrouter::events::QueueOrder;
use switchboard_events::taskrouter::state::Workspace;
use switchboard_events::{Event, Sid, SidPrefix};
use uuid::Uuid;

mod activities;
mod events;
mod reservations;
mod resource;
mod statistics;
mod task_channels;
mod task_queues;
mod tasks;
mod worker_channels;
mod workers;
mod workflows;
mod workspaces;

/// Every TaskRouter route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(workspaces::router())
        .merge(activities::router())
        .merge(task_channels::router())
        .merge(workers::router())
        .merge(worker_channels::router())
        .merge(task_queues::router())
        .merge(workflows::router())
        .merge(tasks::router())
        .merge(reservations::router())
        .merge(events::router())
        .merge(statistics::router())
        .merge(unknown_router())
}

/// The shapes of path a workspace's resources have, for names no resource owns. The routes
/// above are static where these capture, and static segments win in matchit, so these only
/// see what nothing else matched.
fn unknown_router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/{resource}",
            get(no_such).post(no_such_command),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/{resource}/{sid}",
            get(no_such).post(no_such_command).delete(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/{resource}/{sid}/{sub}",
            get(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/{resource}/{sid}/{sub}/{sub_sid}",
            get(no_such).post(no_such_command),
        )
}

/// A path under a workspace that names no resource, or an operation its resource does not
/// have: the 404 of a resource that does not exist.
pub(super) async fn no_such(matched: MatchedPath, params: RawPathParams) -> ApiError {
    ApiError::not_found(&spelled(&matched, &params))
}

/// [`no_such`] for a POST: the body is read first, as every command's is, so a body that does
/// not parse is a 400 here as it is on every other POST.
pub(super) async fn no_such_command(
    matched: MatchedPath,
    params: RawPathParams,
    _body: Params,
) -> ApiError {
    ApiError::not_found(&spelled(&matched, &params))
}

/// The request's path with its captures decoded, as a 404 names it.
fn spelled(matched: &MatchedPath, params: &RawPathParams) -> String {
    matched
        .as_str()
        .split('/')
        .map(|segment| {
            segment
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .and_then(|name| params.iter().find(|(k, _)| *k == name))
                .map_or(segment, |(_, v)| v)
        })
        .collect::<Vec<&str>>()
        .join("/")
}

/// URLs and ownership every rendering needs.
#[derive(Clone)]
struct Ctx {
    base: String,
    account: String,
}

impl Ctx {
    fn ws_url(&self, ws: &Workspace) -> String {
        format!("{}/v1/Workspaces/{}", self.base, ws.sid)
    }
}

fn ctx(state: &AppState, caller: &Sid) -> Ctx {
    Ctx {
        base: state.config().public_url.clone(),
        account: caller.to_string(),
    }
}

/// A SID from the path; one that does not parse as `prefix` names nothing (404 of `path`).
fn path_sid(raw: &str, prefix: SidPrefix, path: &str) -> Result<Sid, ApiError> {
    Sid::parse_as(raw, prefix).map_err(|_| ApiError::not_found(path))
}

/// `/v1/Workspaces/{ws}/{list}` as a request named it: the path (what its 404s name) and the
/// workspace's SID.
struct ListPath {
    path: String,
    ws: Sid,
}

impl ListPath {
    fn parse(ws: &str, list: &str) -> Result<ListPath, ApiError> {
        let path = format!("/v1/Workspaces/{ws}/{list}");
        let ws = path_sid(ws, SidPrefix::Workspace, &path)?;
        Ok(ListPath { path, ws })
    }
}

/// `/v1/Workspaces/{ws}/{Kind}/{sid}` as a request named it: the path, the workspace's SID
/// and the resource's, checked in that order.
struct MemberPath {
    path: String,
    ws: Sid,
    sid: Sid,
}

impl MemberPath {
    fn parse(ws: &str, list: &str, sid: &str, prefix: SidPrefix) -> Result<MemberPath, ApiError> {
        let path = format!("/v1/Workspaces/{ws}/{list}/{sid}");
        let ws = path_sid(ws, SidPrefix::Workspace, &path)?;
        let sid = path_sid(sid, prefix, &path)?;
        Ok(MemberPath { path, ws, sid })
    }
}

/// The version an `If-Match` header names (the quotes of an ETag are optional).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim_matches('"').parse::<u64>().map_err(|_| {
                ApiError::bad_parameter(format!("If-Match {v:?} is not a version this API issued"))
            })
        })
        .transpose()
}

/// A queue order parameter: `FIFO` or `LIFO`.
fn order(params: &Params, name: &str) -> Result<Option<QueueOrder>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some("FIFO") => Ok(Some(QueueOrder::Fifo)),
        Some("LIFO") => Ok(Some(QueueOrder::Lifo)),
        Some(v) => Err(ApiError::bad_parameter(format!(
            "{name} must be FIFO or LIFO, got {v:?}"
        ))),
    }
}

fn domain_error(e: EngineError, path: &str) -> ApiError {
    match e {
        EngineError::Domain(TaskRouterError::NotFound(_)) => ApiError::not_found(path),
        EngineError::Domain(e @ TaskRouterError::Invalid { .. }) => {
            ApiError::new(StatusCode::BAD_REQUEST, 20001, e.to_string())
        }
        EngineError::Domain(e @ TaskRouterError::Conflict(_)) => {
            ApiError::new(StatusCode::CONFLICT, 20409, e.to_string())
        }
        EngineError::Domain(e @ TaskRouterError::Precondition { .. }) => {
            ApiError::new(StatusCode::PRECONDITION_FAILED, 20412, e.to_string())
        }
        EngineError::Append(e) => ApiError::unavailable(format!(
            "The event log is unavailable ({e}); the change was not acknowledged. Retry later."
        )),
        EngineError::Read(crate::log::ReadError::Damaged(d)) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            format!(
                "The workspace's history holds a record this server cannot read (log position {}: {}); nothing was written",
                d.position, d.reason
            ),
        ),
        EngineError::Read(e) => ApiError::unavailable(format!("The workspace cannot be read: {e}")),
    }
}

/// Reads the workspace as `caller`; another account's workspace is the same 404 as none.
async fn read<T: Send + 'static>(
    state: &AppState,
    caller: &Sid,
    ws: &Sid,
    path: &str,
    f: impl FnOnce(&Workspace) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let owner = caller.clone();
    let not_found = ApiError::not_found(path);
    state
        .taskrouter()
        .read(ws, move |l: &Loaded| match &l.state {
            Some(w) if !w.deleted && l.account_sid.as_ref() == Some(&owner) => f(w),
            _ => Err(not_found),
        })
        .await
        .map_err(|e| domain_error(e, path))?
}

/// Runs a command as `caller` and renders the result with `f` (status 201 or 200; 204 has no
/// body). A rendering that finds nothing is the 404 of `path`.
async fn command(
    state: &AppState,
    caller: &Sid,
    ws: &Sid,
    path: &str,
    command: Command,
    status: StatusCode,
    f: impl FnOnce(&Workspace, &[Event]) -> Option<Value> + Send + 'static,
) -> Result<Response, ApiError> {
    let meta = state.commands().metadata(caller.clone(), Uuid::now_v7());
    let done = state
        .taskrouter()
        .execute(ws, command, meta, move |l: &Loaded, events: &[Event]| {
            l.state.as_ref().and_then(|w| f(w, events))
        })
        .await
        .map_err(|e| domain_error(e, path))?;
    let header = state.wrote(
        caller,
        &crate::commands::Executed {
            position: done.position,
            version: 0,
            appended: 0,
        },
    );
    match done.body {
        _ if status == StatusCode::NO_CONTENT => {
            Ok((StatusCode::NO_CONTENT, [header]).into_response())
        }
        Some(body) => Ok((status, [header], Json(body)).into_response()),
        None => Err(ApiError::not_found(path)),
    }
}

/// The SID of what a create command made.
fn created_sid(events: &[Event]) -> Option<Sid> {
    events.iter().find_map(|e| match e {
        Event::ActivityCreated(x) => Some(x.sid.clone()),
        Event::TaskChannelCreated(x) => Some(x.sid.clone()),
        Event::WorkerCreated(x) => Some(x.sid.clone()),
        Event::TaskQueueCreated(x) => Some(x.sid.clone()),
        Event::WorkflowCreated(x) => Some(x.sid.clone()),
        Event::TaskCreated(x) => Some(x.sid.clone()),
        _ => None,
    })
}

/// `"true"` or `"false"`, as the `Available` filters compare.
fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}
