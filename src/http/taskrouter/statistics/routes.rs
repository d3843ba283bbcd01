//! The routes of the Statistics family, one per path, each naming its scope and form (the
//! figures themselves are the parent module's).
//!
//! Some of these paths share their shape with a resource's (`Workers/Statistics` with
//! `Workers/{WK}`): static segments win over captures, so these routes take them, and answer
//! the methods the resource's route would have taken there with the 404 it would have given
//! (the name is no SID), so a path answers the same whichever route took it.

use super::{bulk_realtime, queues_statistics, statistics, Form, Scope};
use crate::http::auth::Caller;
use crate::http::taskrouter::{no_such, no_such_command, path_sid};
use crate::http::twilio::{ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::Value;
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Statistics",
            get(workspace::<Combined>).post(no_such_command),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/RealTimeStatistics",
            get(workspace::<RealTime>).post(no_such_command),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/CumulativeStatistics",
            get(workspace::<Cumulative>).post(no_such_command),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/Statistics",
            get(workers::<Combined>)
                .post(no_such_command)
                .delete(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/RealTimeStatistics",
            get(workers::<RealTime>)
                .post(no_such_command)
                .delete(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/CumulativeStatistics",
            get(workers::<Cumulative>)
                .post(no_such_command)
                .delete(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Statistics",
            get(worker),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues/Statistics",
            get(queues).post(no_such_command).delete(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues/RealTimeStatistics",
            get(no_such).post(bulk).delete(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/Statistics",
            get(queue::<Combined>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/RealTimeStatistics",
            get(queue::<RealTime>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/CumulativeStatistics",
            get(queue::<Cumulative>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/Statistics",
            get(workflow::<Combined>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/RealTimeStatistics",
            get(workflow::<RealTime>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/CumulativeStatistics",
            get(workflow::<Cumulative>),
        )
}

/// A form as a type, so one handler serves a scope's three paths.
trait Named: Send + Sync + 'static {
    const FORM: Form;
}

/// `Statistics`: `{realtime, cumulative}`.
struct Combined;
/// `RealTimeStatistics`.
struct RealTime;
/// `CumulativeStatistics`.
struct Cumulative;

impl Named for Combined {
    const FORM: Form = Form::Combined;
}

impl Named for RealTime {
    const FORM: Form = Form::RealTime;
}

impl Named for Cumulative {
    const FORM: Form = Form::Cumulative;
}

/// `/v1/Workspaces/{ws}/{rest}`: the path (for errors) and the workspace's SID.
fn workspace_path(ws: &str, rest: &str) -> Result<(String, Sid), ApiError> {
    let path = format!("/v1/Workspaces/{ws}/{rest}");
    let ws = path_sid(ws, SidPrefix::Workspace, &path)?;
    Ok((path, ws))
}

/// `/v1/Workspaces/{ws}/{list}/{sid}/{segment}`: the path, the workspace's SID and the
/// resource's (of kind `prefix`), checked in that order.
fn member_path(
    (ws, sid): (String, String),
    list: &str,
    prefix: SidPrefix,
    segment: &str,
) -> Result<(String, Sid, Sid), ApiError> {
    let (path, ws) = workspace_path(&ws, &format!("{list}/{sid}/{segment}"))?;
    let sid = path_sid(&sid, prefix, &path)?;
    Ok((path, ws, sid))
}

async fn workspace<F: Named>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (path, ws) = workspace_path(&ws, F::FORM.segment())?;
    let scope = Scope::Workspace;
    statistics(
        &state,
        &caller.sid,
        &ws,
        scope,
        F::FORM,
        &path,
        query.as_deref(),
    )
    .await
    .map(Json)
}

async fn workers<F: Named>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (path, ws) = workspace_path(&ws, &format!("Workers/{}", F::FORM.segment()))?;
    let scope = Scope::Workers;
    statistics(
        &state,
        &caller.sid,
        &ws,
        scope,
        F::FORM,
        &path,
        query.as_deref(),
    )
    .await
    .map(Json)
}

/// One worker's statistics: cumulative only, as Twilio (so only the combined path).
async fn worker(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(at): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (path, ws, worker) = member_path(at, "Workers", SidPrefix::Worker, "Statistics")?;
    let scope = Scope::Worker(worker);
    statistics(
        &state,
        &caller.sid,
        &ws,
        scope,
        Form::Combined,
        &path,
        query.as_deref(),
    )
    .await
    .map(Json)
}

async fn queue<F: Named>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(at): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (path, ws, queue) = member_path(at, "TaskQueues", SidPrefix::TaskQueue, F::FORM.segment())?;
    let scope = Scope::Queue(queue);
    statistics(
        &state,
        &caller.sid,
        &ws,
        scope,
        F::FORM,
        &path,
        query.as_deref(),
    )
    .await
    .map(Json)
}

async fn workflow<F: Named>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(at): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (path, ws, workflow) =
        member_path(at, "Workflows", SidPrefix::Workflow, F::FORM.segment())?;
    let scope = Scope::Workflow(workflow);
    statistics(
        &state,
        &caller.sid,
        &ws,
        scope,
        F::FORM,
        &path,
        query.as_deref(),
    )
    .await
    .map(Json)
}

/// `GET TaskQueues/Statistics`: every queue's, a page at a time.
async fn queues(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (path, ws) = workspace_path(&ws, "TaskQueues/Statistics")?;
    queues_statistics(&state, &caller.sid, &ws, &path, query.as_deref())
        .await
        .map(Json)
}

/// `POST TaskQueues/RealTimeStatistics`: the named queues' real-time figures at once.
async fn bulk(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let (path, ws) = workspace_path(&ws, "TaskQueues/RealTimeStatistics")?;
    bulk_realtime(&state, &caller.sid, &ws, &path, &params)
        .await
        .map(Json)
}
