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
            get(whole::<OfWorkspace, Combined>).post(no_such_command),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/RealTimeStatistics",
            get(whole::<OfWorkspace, RealTime>).post(no_such_command),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/CumulativeStatistics",
            get(whole::<OfWorkspace, Cumulative>).post(no_such_command),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/Statistics",
            get(whole::<OfWorkers, Combined>)
                .post(no_such_command)
                .delete(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/RealTimeStatistics",
            get(whole::<OfWorkers, RealTime>)
                .post(no_such_command)
                .delete(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/CumulativeStatistics",
            get(whole::<OfWorkers, Cumulative>)
                .post(no_such_command)
                .delete(no_such),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Statistics",
            get(member::<OfWorker, Combined>),
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
            get(member::<OfQueue, Combined>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/RealTimeStatistics",
            get(member::<OfQueue, RealTime>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/CumulativeStatistics",
            get(member::<OfQueue, Cumulative>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/Statistics",
            get(member::<OfWorkflow, Combined>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/RealTimeStatistics",
            get(member::<OfWorkflow, RealTime>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/CumulativeStatistics",
            get(member::<OfWorkflow, Cumulative>),
        )
}

/// A form as a type, so one handler serves a scope's three paths (one worker's statistics
/// are only combined, as Twilio's: it has one route).
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

/// A scope over the whole workspace: its statistics are at `{AT}{form}` under it.
trait Whole: Send + Sync + 'static {
    const AT: &'static str;
    fn scope() -> Scope;
}

/// A scope of one resource: its statistics are at `{LIST}/{sid}/{form}` under the workspace.
trait Member: Send + Sync + 'static {
    const LIST: &'static str;
    const PREFIX: SidPrefix;
    fn scope(sid: Sid) -> Scope;
}

/// The workspace: `/Statistics`.
struct OfWorkspace;
/// Every worker: `/Workers/Statistics`.
struct OfWorkers;
/// One worker: `/Workers/{WK}/Statistics`.
struct OfWorker;
/// One queue: `/TaskQueues/{WQ}/Statistics`.
struct OfQueue;
/// One workflow: `/Workflows/{WW}/Statistics`.
struct OfWorkflow;

impl Whole for OfWorkspace {
    const AT: &'static str = "";
    fn scope() -> Scope {
        Scope::Workspace
    }
}

impl Whole for OfWorkers {
    const AT: &'static str = "Workers/";
    fn scope() -> Scope {
        Scope::Workers
    }
}

impl Member for OfWorker {
    const LIST: &'static str = "Workers";
    const PREFIX: SidPrefix = SidPrefix::Worker;
    fn scope(sid: Sid) -> Scope {
        Scope::Worker(sid)
    }
}

impl Member for OfQueue {
    const LIST: &'static str = "TaskQueues";
    const PREFIX: SidPrefix = SidPrefix::TaskQueue;
    fn scope(sid: Sid) -> Scope {
        Scope::Queue(sid)
    }
}

impl Member for OfWorkflow {
    const LIST: &'static str = "Workflows";
    const PREFIX: SidPrefix = SidPrefix::Workflow;
    fn scope(sid: Sid) -> Scope {
        Scope::Workflow(sid)
    }
}

/// `/v1/Workspaces/{ws}/{rest}`: the path (for errors) and the workspace's SID.
fn workspace_path(ws: &str, rest: &str) -> Result<(String, Sid), ApiError> {
    let path = format!("/v1/Workspaces/{ws}/{rest}");
    let ws = path_sid(ws, SidPrefix::Workspace, &path)?;
    Ok((path, ws))
}

/// The statistics of a scope over the whole workspace, in form `F`.
async fn whole<S: Whole, F: Named>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (path, ws) = workspace_path(&ws, &format!("{}{}", S::AT, F::FORM.segment()))?;
    statistics(
        &state,
        &caller.sid,
        &ws,
        S::scope(),
        F::FORM,
        &path,
        query.as_deref(),
    )
    .await
    .map(Json)
}

/// The statistics of one resource, in form `F` (the workspace's SID is checked first).
async fn member<S: Member, F: Named>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let rest = format!("{}/{sid}/{}", S::LIST, F::FORM.segment());
    let (path, ws) = workspace_path(&ws, &rest)?;
    let sid = path_sid(&sid, S::PREFIX, &path)?;
    statistics(
        &state,
        &caller.sid,
        &ws,
        S::scope(sid),
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
