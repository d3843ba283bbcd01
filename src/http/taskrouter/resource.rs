//! The handlers every kind with a list and members shares (activities, task channels,
//! workers, task queues, workflows, tasks): `GET`/`POST /v1/Workspaces/{WS}/{Kind}` and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/{Kind}/{Sid}`, generic over a [`Resource`] that
//! its module implements. The module's router names the paths
//! (`get(fetch::<Workers>)`), so each keeps a route, and a span name, of its own.
//!
//! The order of checks is the same for every kind: the path (workspace, then SID: a 404),
//! then the parameters (a 400), then the command or read (tenancy, the decision).

use super::{command, created_sid, ctx, read, Ctx, ListPath, MemberPath};
use crate::http::auth::Caller;
use crate::http::twilio::{page, ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde_json::Value;
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::expression::Expression;
use switchboard_events::taskrouter::state::Workspace;
use switchboard_events::{Sid, SidPrefix};

/// A kind of resource inside a workspace, as its module describes it.
pub(super) trait Resource: Send + Sync + 'static {
    /// The path segment of its list (`Workers`).
    const LIST: &'static str;
    /// The key of its list in the envelope (`workers`).
    const KEY: &'static str;
    /// Its SIDs' kind.
    const PREFIX: SidPrefix;

    /// One of its resources by SID (`None`: the workspace has no such one).
    fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value>;

    /// Its resources that a list's filters keep, rendered (in any order: the list sorts).
    fn select(c: &Ctx, ws: &Workspace, params: &Params) -> Vec<Value>;

    /// The command a POST to the list asks for.
    fn create(params: &Params) -> Result<Command, ApiError>;

    /// The command a POST to the resource `sid` asks for.
    fn update(sid: Sid, headers: &HeaderMap, params: &Params) -> Result<Command, ApiError>;

    /// The command a DELETE of the resource `sid` asks for.
    fn delete(sid: Sid, headers: &HeaderMap) -> Result<Command, ApiError>;
}

/// `GET /v1/Workspaces/{WS}/{Kind}`: oldest first, as Twilio lists them (the SID breaks ties
/// within a second), a page at a time.
pub(super) async fn list<R: Resource>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let ListPath { path, ws } = ListPath::parse(&ws, R::LIST)?;
    let c = ctx(&state, &caller.sid);
    let url = format!("{}{}", c.base, path);
    let params = Params::from_query(query.as_deref())?;
    // Every list refuses a malformed expression filter, whichever kind it lists (the workers'
    // and tasks' lists are the ones that apply it), and one past the input limits: the
    // handlers below then parse only what passed here.
    for name in ["TargetWorkersExpression", "EvaluateTaskAttributes"] {
        if let Some(e) = params.get(name) {
            Expression::parse_input(e).map_err(|err| {
                ApiError::bad_parameter(format!("invalid expression in {name}: {err}"))
            })?;
        }
    }
    let mut items = read(&state, &caller.sid, &ws, &path, move |w| {
        Ok(R::select(&c, w, &params))
    })
    .await?;
    items.sort_by(|a, b| {
        (a["date_created"].as_str(), a["sid"].as_str())
            .cmp(&(b["date_created"].as_str(), b["sid"].as_str()))
    });
    Ok(Json(page(items, R::KEY, &url, query.as_deref())?))
}

/// `GET /v1/Workspaces/{WS}/{Kind}/{Sid}`.
pub(super) async fn fetch<R: Resource>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let MemberPath { path, ws, sid } = MemberPath::parse(&ws, R::LIST, &sid, R::PREFIX)?;
    let c = ctx(&state, &caller.sid);
    let not_found = ApiError::not_found(&path);
    Ok(Json(
        read(&state, &caller.sid, &ws, &path, move |w| {
            R::render(&c, w, &sid).ok_or(not_found)
        })
        .await?,
    ))
}

/// `POST /v1/Workspaces/{WS}/{Kind}`: 201 with what the command made.
pub(super) async fn create<R: Resource>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let ListPath { path, ws } = ListPath::parse(&ws, R::LIST)?;
    let command_ = R::create(&params)?;
    let c = ctx(&state, &caller.sid);
    command(
        &state,
        &caller.sid,
        &ws,
        &path,
        command_,
        StatusCode::CREATED,
        move |w, events| R::render(&c, w, &created_sid(events)?),
    )
    .await
}

/// `POST /v1/Workspaces/{WS}/{Kind}/{Sid}`: 200 with the resource as the command left it.
pub(super) async fn update<R: Resource>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let MemberPath { path, ws, sid } = MemberPath::parse(&ws, R::LIST, &sid, R::PREFIX)?;
    let command_ = R::update(sid.clone(), &headers, &params)?;
    let c = ctx(&state, &caller.sid);
    command(
        &state,
        &caller.sid,
        &ws,
        &path,
        command_,
        StatusCode::OK,
        move |w, _| R::render(&c, w, &sid),
    )
    .await
}

/// `DELETE /v1/Workspaces/{WS}/{Kind}/{Sid}`: 204.
pub(super) async fn delete<R: Resource>(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let MemberPath { path, ws, sid } = MemberPath::parse(&ws, R::LIST, &sid, R::PREFIX)?;
    let command_ = R::delete(sid, &headers)?;
    command(
        &state,
        &caller.sid,
        &ws,
        &path,
        command_,
        StatusCode::NO_CONTENT,
        |_, _| None,
    )
    .await
}
