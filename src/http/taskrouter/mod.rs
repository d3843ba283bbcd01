//! TaskRouter v1, path for path under `/v1/Workspaces`: workspaces, activities, task channels,
//! workers and their channels, task queues, workflows, tasks and reservations. Commands go to
//! the workspace's actor ([`crate::taskrouter`]); reads are answered from its state, so a read
//! after a command sees it. Lists use Twilio's `meta` envelope with absolute URLs built from
//! `--public-url`; dates are ISO 8601; errors are Twilio's body.

use super::auth::Caller;
use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::taskrouter::{EngineError, Loaded};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::{Command, TaskRouterError, Template};
use switchboard_events::taskrouter::events::{
    QueueOrder, TaskChannelUpdated, TaskQueueUpdated, WorkflowUpdated, WorkspaceUpdated,
};
use switchboard_events::taskrouter::expression::{Context, Expression};
use switchboard_events::taskrouter::state::{
    Activity, Reservation, Task, TaskChannel, TaskQueue, Worker, WorkflowState, Workspace,
};
use switchboard_events::{Event, Sid, SidPrefix};
use uuid::Uuid;

mod statistics;
use statistics::{Form, Scope};

/// The routes.
pub fn router() -> Router<AppState> {
    let ws = "/v1/Workspaces/{ws}";
    Router::new()
        .route(
            "/v1/Workspaces",
            get(list_workspaces).post(create_workspace),
        )
        .route(
            ws,
            get(fetch_workspace)
                .post(update_workspace)
                .delete(delete_workspace),
        )
        .route(&format!("{ws}/{{kind}}"), get(list).post(create))
        .route(
            &format!("{ws}/{{kind}}/{{sid}}"),
            get(fetch).post(update).delete(delete),
        )
        .route(&format!("{ws}/{{kind}}/{{parent}}/{{sub}}"), get(list_sub))
        .route(
            &format!("{ws}/{{kind}}/{{parent}}/{{sub}}/{{sid}}"),
            get(fetch_sub).post(update_sub),
        )
}

pub(super) fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn flag(params: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(ApiError::bad_parameter(format!(
                "{name} must be true or false, got {v:?}"
            ))),
        },
    }
}

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

fn sid_param(params: &Params, name: &str, prefix: SidPrefix) -> Result<Option<Sid>, ApiError> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            Sid::parse_as(v, prefix)
                .map_err(|e| ApiError::bad_parameter(format!("{name} {v:?} is not valid: {e}")))
        })
        .transpose()
}

fn path_sid(raw: &str, prefix: SidPrefix, path: &str) -> Result<Sid, ApiError> {
    Sid::parse_as(raw, prefix).map_err(|_| ApiError::not_found(path))
}

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
        EngineError::Read(e) => ApiError::unavailable(format!("The workspace cannot be read: {e}")),
    }
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

fn workspace_json(c: &Ctx, ws: &Workspace) -> Value {
    let url = c.ws_url(ws);
    let link = |p: &str| format!("{url}/{p}");
    json!({
        "account_sid": c.account,
        "date_created": iso(ws.date_created),
        "date_updated": iso(ws.date_updated),
        "default_activity_name": ws.default_activity_sid.as_ref().and_then(|a| ws.activity_name(a)),
        "default_activity_sid": ws.default_activity_sid,
        "event_callback_url": ws.event_callback_url,
        "events_filter": ws.events_filter,
        "friendly_name": ws.friendly_name,
        "multi_task_enabled": ws.multi_task_enabled,
        "sid": ws.sid,
        "timeout_activity_name": ws.timeout_activity_sid.as_ref().and_then(|a| ws.activity_name(a)),
        "timeout_activity_sid": ws.timeout_activity_sid,
        "prioritize_queue_order": ws.prioritize_queue_order.as_str(),
        "url": url,
        "links": {
            "activities": link("Activities"), "task_channels": link("TaskChannels"),
            "task_queues": link("TaskQueues"), "tasks": link("Tasks"), "workers": link("Workers"),
            "workflows": link("Workflows"), "events": link("Events"), "statistics": link("Statistics"),
            "real_time_statistics": link("RealTimeStatistics"),
            "cumulative_statistics": link("CumulativeStatistics"),
        }
    })
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

fn channel_json(c: &Ctx, ws: &Workspace, t: &TaskChannel) -> Value {
    json!({
        "account_sid": c.account, "date_created": iso(t.date_created), "date_updated": iso(t.date_updated),
        "friendly_name": t.friendly_name, "sid": t.sid, "unique_name": t.unique_name,
        "workspace_sid": ws.sid, "channel_optimized_routing": t.channel_optimized_routing,
        "url": format!("{}/TaskChannels/{}", c.ws_url(ws), t.sid),
        "links": {"workspace": c.ws_url(ws)}
    })
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

fn queue_json(c: &Ctx, ws: &Workspace, q: &TaskQueue) -> Value {
    let url = format!("{}/TaskQueues/{}", c.ws_url(ws), q.sid);
    let name = |a: &Option<Sid>| a.as_ref().and_then(|a| ws.activity_name(a));
    json!({
        "account_sid": c.account,
        "assignment_activity_sid": q.assignment_activity_sid,
        "assignment_activity_name": name(&q.assignment_activity_sid),
        "date_created": iso(q.date_created), "date_updated": iso(q.date_updated),
        "friendly_name": q.friendly_name, "max_reserved_workers": q.max_reserved_workers,
        "reservation_activity_sid": q.reservation_activity_sid,
        "reservation_activity_name": name(&q.reservation_activity_sid),
        "sid": q.sid, "target_workers": q.target_workers, "task_order": q.task_order.as_str(),
        "url": url, "workspace_sid": ws.sid,
        "links": {
            "statistics": format!("{url}/Statistics"),
            "real_time_statistics": format!("{url}/RealTimeStatistics"),
            "cumulative_statistics": format!("{url}/CumulativeStatistics"),
            "workspace": c.ws_url(ws),
        }
    })
}

fn workflow_json(c: &Ctx, ws: &Workspace, w: &WorkflowState) -> Value {
    let url = format!("{}/Workflows/{}", c.ws_url(ws), w.sid);
    json!({
        "account_sid": c.account, "assignment_callback_url": w.assignment_callback_url,
        "configuration": w.configuration, "date_created": iso(w.date_created),
        "date_updated": iso(w.date_updated), "document_content_type": "application/json",
        "fallback_assignment_callback_url": w.fallback_assignment_callback_url,
        "friendly_name": w.friendly_name, "sid": w.sid,
        "task_reservation_timeout": w.task_reservation_timeout, "workspace_sid": ws.sid,
        "url": url,
        "links": {
            "statistics": format!("{url}/Statistics"),
            "real_time_statistics": format!("{url}/RealTimeStatistics"),
            "cumulative_statistics": format!("{url}/CumulativeStatistics"),
            "workspace": c.ws_url(ws),
        }
    })
}

fn task_json(c: &Ctx, ws: &Workspace, t: &Task, now: DateTime<Utc>) -> Value {
    let url = format!("{}/Tasks/{}", c.ws_url(ws), t.sid);
    let queue = t.step.as_ref().and_then(|s| ws.queues.get(&s.queue_sid));
    let channel = ws.channels.get(&t.task_channel_sid);
    json!({
        "account_sid": c.account,
        "age": (now - t.date_created).num_seconds().max(0),
        "assignment_status": t.status.as_str(),
        "attributes": t.attributes,
        "addons": "{}",
        "date_created": iso(t.date_created), "date_updated": iso(t.date_updated),
        "task_queue_entered_date": t.step.as_ref().map(|s| iso(s.entered_at)),
        "priority": t.effective_priority(),
        "reason": t.reason,
        "sid": t.sid,
        "task_queue_sid": t.step.as_ref().map(|s| &s.queue_sid),
        "task_queue_friendly_name": queue.map(|q| &q.friendly_name),
        "task_channel_sid": t.task_channel_sid,
        "task_channel_unique_name": channel.map(|c| &c.unique_name),
        "timeout": t.timeout,
        "workflow_sid": t.workflow_sid,
        "workflow_friendly_name": ws.workflows.get(&t.workflow_sid).map(|w| &w.friendly_name),
        "workspace_sid": ws.sid,
        "url": url,
        "links": {
            "reservations": format!("{url}/Reservations"),
            "task_queue": t.step.as_ref().map(|s| format!("{}/TaskQueues/{}", c.ws_url(ws), s.queue_sid)),
            "workflow": format!("{}/Workflows/{}", c.ws_url(ws), t.workflow_sid),
            "workspace": c.ws_url(ws),
        },
        "virtual_start_time": iso(t.age_from()),
        "ignore_capacity": false,
        "routing_target": null,
    })
}

fn reservation_json(c: &Ctx, ws: &Workspace, r: &Reservation, under_worker: bool) -> Value {
    let url = if under_worker {
        format!(
            "{}/Workers/{}/Reservations/{}",
            c.ws_url(ws),
            r.worker_sid,
            r.sid
        )
    } else {
        format!(
            "{}/Tasks/{}/Reservations/{}",
            c.ws_url(ws),
            r.task_sid,
            r.sid
        )
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

/// A page of `items` in Twilio's list envelope (the supervisor reads use it too).
pub(super) fn page(
    items: Vec<Value>,
    key: &str,
    url: &str,
    query: Option<&str>,
) -> Result<Value, ApiError> {
    let params = Params::from_query(query);
    let size = params.int("PageSize", 1..=1000)?.unwrap_or(50) as usize;
    let number = params.int("Page", 0..=1_000_000)?.unwrap_or(0) as usize;
    let filters: String = params
        .0
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
        .map(|(k, v)| {
            format!(
                "&{}={}",
                form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>(),
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect();
    let at = |n: usize| format!("{url}?PageSize={size}&Page={n}{filters}");
    let start = number.saturating_mul(size);
    let more = items.len() > start + size;
    let slice: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    Ok(json!({
        key: slice,
        "meta": {
            "first_page_url": at(0),
            "key": key,
            "next_page_url": more.then(|| at(number + 1)),
            "page": number,
            "page_size": size,
            "previous_page_url": (number > 0).then(|| at(number - 1)),
            "url": at(number),
        }
    }))
}

fn ctx(state: &AppState, caller: &Sid) -> Ctx {
    Ctx {
        base: state.config().public_url.clone(),
        account: caller.to_string(),
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

/// Runs a command as `caller` and renders the result with `f` (status 201 or 200).
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
        Some(body) if status == StatusCode::NO_CONTENT => {
            let _ = body;
            Ok((StatusCode::NO_CONTENT, [header]).into_response())
        }
        Some(body) => Ok((status, [header], Json(body)).into_response()),
        None if status == StatusCode::NO_CONTENT => {
            Ok((StatusCode::NO_CONTENT, [header]).into_response())
        }
        None => Err(ApiError::not_found(path)),
    }
}

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

// ---- workspaces -------------------------------------------------------------------------

async fn list_workspaces(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state
        .read_your_writes("workspaces", &caller.sid, &headers)
        .await;
    let params = Params::from_query(query.as_deref());
    let mut conn = state.read_model().await?;
    let rows = switchboard_projections::workspaces::list(
        &mut conn,
        caller.sid.as_str(),
        params.get("FriendlyName"),
        0,
        100_000,
    )
    .await
    .map_err(|e| ApiError::internal("cannot list workspaces", e))?;
    drop(conn);
    let c = ctx(&state, &caller.sid);
    let mut items = Vec::new();
    for row in rows {
        let Ok(sid) = Sid::parse_as(&row.sid, SidPrefix::Workspace) else {
            continue;
        };
        let c2 = c.clone();
        if let Ok(v) = read(&state, &caller.sid, &sid, "", move |w| {
            Ok(workspace_json(&c2, w))
        })
        .await
        {
            items.push(v);
        }
    }
    let url = format!("{}/v1/Workspaces", c.base);
    Ok(Json(page(items, "workspaces", &url, query.as_deref())?))
}

async fn create_workspace(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    params: Params,
) -> Result<Response, ApiError> {
    let friendly_name = params
        .get("FriendlyName")
        .ok_or_else(|| {
            ApiError::bad_parameter("Missing required parameter FriendlyName in the post body")
        })?
        .to_string();
    let template = match params.get("Template") {
        None | Some("NONE") => Template::None,
        Some("FIFO") => Template::Fifo,
        Some(v) => {
            return Err(ApiError::bad_parameter(format!(
                "Template must be NONE or FIFO, got {v:?}"
            )))
        }
    };
    let command_ = Command::CreateWorkspace {
        friendly_name,
        event_callback_url: params.get("EventCallbackUrl").map(str::to_string),
        events_filter: params.get("EventsFilter").map(str::to_string),
        multi_task_enabled: flag(&params, "MultiTaskEnabled")?,
        prioritize_queue_order: order(&params, "PrioritizeQueueOrder")?,
        template,
    };
    let sid = crate::commands::new_sid(SidPrefix::Workspace);
    let c = ctx(&state, &caller.sid);
    command(
        &state,
        &caller.sid,
        &sid,
        "/v1/Workspaces",
        command_,
        StatusCode::CREATED,
        move |w, _| Some(workspace_json(&c, w)),
    )
    .await
}

async fn fetch_workspace(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/v1/Workspaces/{ws}");
    let sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
    let c = ctx(&state, &caller.sid);
    Ok(Json(
        read(&state, &caller.sid, &sid, &path, move |w| {
            Ok(workspace_json(&c, w))
        })
        .await?,
    ))
}

async fn update_workspace(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let path = format!("/v1/Workspaces/{ws}");
    let sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
    let change = WorkspaceUpdated {
        friendly_name: params.get("FriendlyName").map(str::to_string),
        event_callback_url: params.get("EventCallbackUrl").map(str::to_string),
        events_filter: params.get("EventsFilter").map(str::to_string),
        multi_task_enabled: flag(&params, "MultiTaskEnabled")?,
        prioritize_queue_order: order(&params, "PrioritizeQueueOrder")?,
        default_activity_sid: sid_param(&params, "DefaultActivitySid", SidPrefix::Activity)?,
        timeout_activity_sid: sid_param(&params, "TimeoutActivitySid", SidPrefix::Activity)?,
    };
    let c = ctx(&state, &caller.sid);
    command(
        &state,
        &caller.sid,
        &sid,
        &path,
        Command::UpdateWorkspace(change),
        StatusCode::OK,
        move |w, _| Some(workspace_json(&c, w)),
    )
    .await
}

async fn delete_workspace(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
) -> Result<Response, ApiError> {
    let path = format!("/v1/Workspaces/{ws}");
    let sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
    command(
        &state,
        &caller.sid,
        &sid,
        &path,
        Command::DeleteWorkspace,
        StatusCode::NO_CONTENT,
        |_, _| None,
    )
    .await
}

// ---- resources inside a workspace -------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Activities,
    TaskChannels,
    Workers,
    TaskQueues,
    Workflows,
    Tasks,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "Activities" => Kind::Activities,
            "TaskChannels" => Kind::TaskChannels,
            "Workers" => Kind::Workers,
            "TaskQueues" => Kind::TaskQueues,
            "Workflows" => Kind::Workflows,
            "Tasks" => Kind::Tasks,
            _ => return None,
        })
    }

    fn key(self) -> &'static str {
        match self {
            Kind::Activities => "activities",
            Kind::TaskChannels => "channels",
            Kind::Workers => "workers",
            Kind::TaskQueues => "task_queues",
            Kind::Workflows => "workflows",
            Kind::Tasks => "tasks",
        }
    }

    fn prefix(self) -> SidPrefix {
        match self {
            Kind::Activities => SidPrefix::Activity,
            Kind::TaskChannels => SidPrefix::TaskChannel,
            Kind::Workers => SidPrefix::Worker,
            Kind::TaskQueues => SidPrefix::TaskQueue,
            Kind::Workflows => SidPrefix::Workflow,
            Kind::Tasks => SidPrefix::Task,
        }
    }
}

fn render(c: &Ctx, w: &Workspace, kind: Kind, sid: &Sid, now: DateTime<Utc>) -> Option<Value> {
    match kind {
        Kind::Activities => w.activities.get(sid).map(|a| activity_json(c, w, a)),
        Kind::TaskChannels => w.channels.get(sid).map(|t| channel_json(c, w, t)),
        Kind::Workers => w.workers.get(sid).map(|x| worker_json(c, w, x)),
        Kind::TaskQueues => w.queues.get(sid).map(|q| queue_json(c, w, q)),
        Kind::Workflows => w.workflows.get(sid).map(|x| workflow_json(c, w, x)),
        Kind::Tasks => w.tasks.get(sid).map(|t| task_json(c, w, t, now)),
    }
}

/// `given`: the list's expression filter (`TargetWorkersExpression` for workers,
/// `EvaluateTaskAttributes` for tasks), parsed once; `Some(None)` when it does not parse, which
/// matches nothing.
fn matches_filters(
    w: &Workspace,
    kind: Kind,
    sid: &Sid,
    p: &Params,
    given: Option<Option<&Expression>>,
) -> bool {
    let expression_matches = |document: &Value| {
        given.is_none_or(|e| e.is_some_and(|e| e.matches(&Context::document(document))))
    };
    let eq = |name: &str, value: &str| p.get(name).is_none_or(|v| v == value);
    match kind {
        Kind::Activities => w.activities.get(sid).is_some_and(|a| {
            eq("FriendlyName", &a.friendly_name)
                && eq("Available", if a.available { "true" } else { "false" })
        }),
        Kind::TaskChannels => true,
        Kind::Workers => w.workers.get(sid).is_some_and(|x| {
            eq("FriendlyName", &x.friendly_name)
                && eq("ActivitySid", x.activity_sid.as_str())
                && eq(
                    "ActivityName",
                    w.activity_name(&x.activity_sid).unwrap_or(""),
                )
                && eq(
                    "Available",
                    if w.worker_available(x) {
                        "true"
                    } else {
                        "false"
                    },
                )
                && expression_matches(&x.document)
                && p.get("TaskQueueSid").is_none_or(|q| {
                    w.queues.values().any(|queue| {
                        queue.sid.as_str() == q
                            && queue
                                .target_expression
                                .matches(&Context::document(&x.document))
                    })
                })
        }),
        Kind::TaskQueues => w
            .queues
            .get(sid)
            .is_some_and(|q| eq("FriendlyName", &q.friendly_name)),
        Kind::Workflows => w
            .workflows
            .get(sid)
            .is_some_and(|x| eq("FriendlyName", &x.friendly_name)),
        Kind::Tasks => w.tasks.get(sid).is_some_and(|t| {
            p.get("AssignmentStatus")
                .is_none_or(|s| s.split(',').any(|s| s == t.status.as_str()))
                && eq("WorkflowSid", t.workflow_sid.as_str())
                && eq("Priority", &t.effective_priority().to_string())
                && p.get("TaskQueueSid")
                    .is_none_or(|q| t.step.as_ref().is_some_and(|s| s.queue_sid.as_str() == q))
                && expression_matches(&t.document)
        }),
    }
}

/// Parses `/v1/Workspaces/{ws}/{kind}/{sid}`: its path (for errors), kind, workspace and SID.
fn resource(ws: &str, kind: &str, sid: &str) -> Result<(String, Kind, Sid, Sid), ApiError> {
    let path = format!("/v1/Workspaces/{ws}/{kind}/{sid}");
    let k = kind_or_404(kind, &path)?;
    let ws_sid = path_sid(ws, SidPrefix::Workspace, &path)?;
    let sid = path_sid(sid, k.prefix(), &path)?;
    Ok((path, k, ws_sid, sid))
}

/// Parses `/v1/Workspaces/{ws}/{kind}/{parent}/{sub}[/{sid}]`: its path, the parent's SID
/// prefix and the list key, the workspace and the parent.
fn sub_resource(
    ws: &str,
    kind: &str,
    parent: &str,
    sub: &str,
    sid: Option<&str>,
) -> Result<(String, SidPrefix, &'static str, Sid, Sid), ApiError> {
    let path = match sid {
        Some(sid) => format!("/v1/Workspaces/{ws}/{kind}/{parent}/{sub}/{sid}"),
        None => format!("/v1/Workspaces/{ws}/{kind}/{parent}/{sub}"),
    };
    let (prefix, key) = sub_kind(kind, sub, &path)?;
    let ws_sid = path_sid(ws, SidPrefix::Workspace, &path)?;
    let parent = path_sid(parent, prefix, &path)?;
    Ok((path, prefix, key, ws_sid, parent))
}

fn kind_or_404(kind: &str, path: &str) -> Result<Kind, ApiError> {
    Kind::parse(kind).ok_or_else(|| ApiError::not_found(path))
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, kind)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/v1/Workspaces/{ws}/{kind}");
    if let Some(form) = Form::parse(&kind) {
        let sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
        return statistics::statistics(
            &state,
            &caller.sid,
            &sid,
            Scope::Workspace,
            form,
            &path,
            query.as_deref(),
        )
        .await
        .map(Json);
    }
    if kind == "Events" {
        let sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
        let items = events(&state, &caller.sid, &sid, &path, query.as_deref(), None).await?;
        let url = format!("{}{}", state.config().public_url, path);
        return Ok(Json(page(items, "events", &url, query.as_deref())?));
    }
    let k = kind_or_404(&kind, &path)?;
    let sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
    let c = ctx(&state, &caller.sid);
    let url = format!("{}{}", c.base, path);
    let params = Params::from_query(query.as_deref());
    if let Some(e) = params
        .get("TargetWorkersExpression")
        .or(params.get("EvaluateTaskAttributes"))
    {
        Expression::parse(e)
            .map_err(|err| ApiError::bad_parameter(format!("invalid expression: {err}")))?;
    }
    let parsed: Option<Option<Expression>> = match k {
        Kind::Workers => params.get("TargetWorkersExpression"),
        Kind::Tasks => params.get("EvaluateTaskAttributes"),
        _ => None,
    }
    .map(|e| Expression::parse(e).ok());
    let now = crate::commands::now_ms();
    let items = read(&state, &caller.sid, &sid, &path, move |w| {
        let given = parsed.as_ref().map(Option::as_ref);
        let sids: Vec<Sid> = match k {
            Kind::Activities => w.activities.keys().cloned().collect(),
            Kind::TaskChannels => w.channels.keys().cloned().collect(),
            Kind::Workers => w.workers.keys().cloned().collect(),
            Kind::TaskQueues => w.queues.keys().cloned().collect(),
            Kind::Workflows => w.workflows.keys().cloned().collect(),
            Kind::Tasks => w.tasks.keys().cloned().collect(),
        };
        Ok(sids
            .iter()
            .filter(|s| matches_filters(w, k, s, &params, given))
            .filter_map(|s| render(&c, w, k, s, now))
            .collect::<Vec<Value>>())
    })
    .await?;
    let mut items = items;
    // Oldest first, as Twilio lists them; the SID breaks ties within a second.
    items.sort_by(|a, b| {
        (a["date_created"].as_str(), a["sid"].as_str())
            .cmp(&(b["date_created"].as_str(), b["sid"].as_str()))
    });
    Ok(Json(page(items, k.key(), &url, query.as_deref())?))
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, kind, sid)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let stats = |kind: &str| format!("/v1/Workspaces/{ws}/{kind}/{sid}");
    match (kind.as_str(), Form::parse(&sid)) {
        ("Workers", Some(form)) => {
            let path = stats("Workers");
            let ws_sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
            return statistics::statistics(
                &state,
                &caller.sid,
                &ws_sid,
                Scope::Workers,
                form,
                &path,
                query.as_deref(),
            )
            .await
            .map(Json);
        }
        ("TaskQueues", Some(Form::Combined)) => {
            let path = stats("TaskQueues");
            let ws_sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
            return statistics::queues_statistics(
                &state,
                &caller.sid,
                &ws_sid,
                &path,
                query.as_deref(),
            )
            .await
            .map(Json);
        }
        _ => {}
    }
    if kind == "Events" {
        let path = format!("/v1/Workspaces/{ws}/Events/{sid}");
        let ws_sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
        let ev = path_sid(&sid, SidPrefix::Event, &path)?;
        let found = events(&state, &caller.sid, &ws_sid, &path, None, Some(&ev)).await?;
        return found
            .into_iter()
            .next()
            .map(Json)
            .ok_or_else(|| ApiError::not_found(&path));
    }
    let (path, k, ws_sid, sid) = resource(&ws, &kind, &sid)?;
    let c = ctx(&state, &caller.sid);
    let now = crate::commands::now_ms();
    let not_found = ApiError::not_found(&path);
    Ok(Json(
        read(&state, &caller.sid, &ws_sid, &path, move |w| {
            render(&c, w, k, &sid, now).ok_or(not_found)
        })
        .await?,
    ))
}

fn required(params: &Params, name: &str) -> Result<String, ApiError> {
    params.get(name).map(str::to_string).ok_or_else(|| {
        ApiError::bad_parameter(format!(
            "Missing required parameter {name} in the post body"
        ))
    })
}

fn u32_param(params: &Params, name: &str, max: i64) -> Result<Option<u32>, ApiError> {
    Ok(params.int(name, 0..=max)?.map(|v| v as u32))
}

fn i64_param(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => {
            v.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_parameter(format!("{name} must be an integer, got {v:?}"))
            })
        }
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, kind)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let path = format!("/v1/Workspaces/{ws}/{kind}");
    let k = kind_or_404(&kind, &path)?;
    let ws_sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
    let command_ = match k {
        Kind::Activities => Command::CreateActivity {
            friendly_name: required(&params, "FriendlyName")?,
            available: flag(&params, "Available")?,
        },
        Kind::TaskChannels => Command::CreateTaskChannel {
            friendly_name: required(&params, "FriendlyName")?,
            unique_name: required(&params, "UniqueName")?,
            channel_optimized_routing: flag(&params, "ChannelOptimizedRouting")?,
        },
        Kind::Workers => Command::CreateWorker {
            friendly_name: required(&params, "FriendlyName")?,
            attributes: params.get("Attributes").map(str::to_string),
            activity_sid: sid_param(&params, "ActivitySid", SidPrefix::Activity)?,
        },
        Kind::TaskQueues => Command::CreateTaskQueue {
            friendly_name: required(&params, "FriendlyName")?,
            target_workers: params.get("TargetWorkers").map(str::to_string),
            task_order: order(&params, "TaskOrder")?,
            max_reserved_workers: u32_param(&params, "MaxReservedWorkers", 1000)?,
            reservation_activity_sid: sid_param(
                &params,
                "ReservationActivitySid",
                SidPrefix::Activity,
            )?,
            assignment_activity_sid: sid_param(
                &params,
                "AssignmentActivitySid",
                SidPrefix::Activity,
            )?,
        },
        Kind::Workflows => Command::CreateWorkflow {
            friendly_name: required(&params, "FriendlyName")?,
            configuration: required(&params, "Configuration")?,
            assignment_callback_url: params.get("AssignmentCallbackUrl").map(str::to_string),
            fallback_assignment_callback_url: params
                .get("FallbackAssignmentCallbackUrl")
                .map(str::to_string),
            task_reservation_timeout: u32_param(&params, "TaskReservationTimeout", 1_000_000)?,
        },
        Kind::Tasks => Command::CreateTask {
            attributes: params.get("Attributes").map(str::to_string),
            priority: i64_param(&params, "Priority")?,
            timeout: u32_param(&params, "Timeout", i64::from(u32::MAX))?,
            task_channel: params.get("TaskChannel").map(str::to_string),
            workflow_sid: sid_param(&params, "WorkflowSid", SidPrefix::Workflow)?,
            virtual_start_time: params
                .get("VirtualStartTime")
                .map(|v| {
                    DateTime::parse_from_rfc3339(v)
                        .map(|d| d.with_timezone(&Utc))
                        .map_err(|_| {
                            ApiError::bad_parameter(format!(
                                "VirtualStartTime must be ISO 8601, got {v:?}"
                            ))
                        })
                })
                .transpose()?,
        },
    };
    let c = ctx(&state, &caller.sid);
    command(
        &state,
        &caller.sid,
        &ws_sid,
        &path,
        command_,
        StatusCode::CREATED,
        move |w, events| {
            let sid = created_sid(events)?;
            render(&c, w, k, &sid, crate::commands::now_ms())
        },
    )
    .await
}

async fn update(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, kind, sid)): Path<(String, String, String)>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    if kind == "TaskQueues" && sid == "RealTimeStatistics" {
        let path = format!("/v1/Workspaces/{ws}/TaskQueues/RealTimeStatistics");
        let ws_sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
        let body = statistics::bulk_realtime(&state, &caller.sid, &ws_sid, &path, &params).await?;
        return Ok((StatusCode::OK, Json(body)).into_response());
    }
    let (path, k, ws_sid, sid) = resource(&ws, &kind, &sid)?;
    let command_ = match k {
        Kind::Activities => Command::UpdateActivity {
            sid: sid.clone(),
            friendly_name: required(&params, "FriendlyName")?,
        },
        Kind::TaskChannels => Command::UpdateTaskChannel(TaskChannelUpdated {
            sid: sid.clone(),
            friendly_name: params.get("FriendlyName").map(str::to_string),
            channel_optimized_routing: flag(&params, "ChannelOptimizedRouting")?,
        }),
        Kind::Workers => Command::UpdateWorker {
            sid: sid.clone(),
            friendly_name: params.get("FriendlyName").map(str::to_string),
            attributes: params.get("Attributes").map(str::to_string),
            activity_sid: sid_param(&params, "ActivitySid", SidPrefix::Activity)?,
            reject_pending_reservations: flag(&params, "RejectPendingReservations")?
                .unwrap_or(false),
            if_match: if_match(&headers)?,
        },
        Kind::TaskQueues => Command::UpdateTaskQueue(TaskQueueUpdated {
            sid: sid.clone(),
            friendly_name: params.get("FriendlyName").map(str::to_string),
            target_workers: params.get("TargetWorkers").map(str::to_string),
            task_order: order(&params, "TaskOrder")?,
            max_reserved_workers: u32_param(&params, "MaxReservedWorkers", 1000)?,
            reservation_activity_sid: sid_param(
                &params,
                "ReservationActivitySid",
                SidPrefix::Activity,
            )?,
            assignment_activity_sid: sid_param(
                &params,
                "AssignmentActivitySid",
                SidPrefix::Activity,
            )?,
        }),
        Kind::Workflows => Command::UpdateWorkflow {
            change: WorkflowUpdated {
                sid: sid.clone(),
                friendly_name: params.get("FriendlyName").map(str::to_string),
                configuration: params.get("Configuration").map(str::to_string),
                assignment_callback_url: params.get("AssignmentCallbackUrl").map(str::to_string),
                fallback_assignment_callback_url: params
                    .get("FallbackAssignmentCallbackUrl")
                    .map(str::to_string),
                task_reservation_timeout: u32_param(&params, "TaskReservationTimeout", 1_000_000)?,
            },
            re_evaluate_tasks: flag(&params, "ReEvaluateTasks")?.unwrap_or(false),
        },
        Kind::Tasks => Command::UpdateTask {
            sid: sid.clone(),
            attributes: params.get("Attributes").map(str::to_string),
            priority: i64_param(&params, "Priority")?,
            assignment_status: params.get("AssignmentStatus").map(str::to_string),
            reason: params.get("Reason").map(str::to_string),
            if_match: if_match(&headers)?,
        },
    };
    let c = ctx(&state, &caller.sid);
    command(
        &state,
        &caller.sid,
        &ws_sid,
        &path,
        command_,
        StatusCode::OK,
        move |w, _| render(&c, w, k, &sid, crate::commands::now_ms()),
    )
    .await
}

async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, kind, sid)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (path, k, ws_sid, sid) = resource(&ws, &kind, &sid)?;
    let command_ = match k {
        Kind::Activities => Command::DeleteActivity { sid },
        Kind::TaskChannels => Command::DeleteTaskChannel { sid },
        Kind::Workers => Command::DeleteWorker {
            sid,
            if_match: if_match(&headers)?,
        },
        Kind::TaskQueues => Command::DeleteTaskQueue { sid },
        Kind::Workflows => Command::DeleteWorkflow { sid },
        Kind::Tasks => Command::DeleteTask {
            sid,
            if_match: if_match(&headers)?,
        },
    };
    command(
        &state,
        &caller.sid,
        &ws_sid,
        &path,
        command_,
        StatusCode::NO_CONTENT,
        |_, _| None,
    )
    .await
}

// ---- sub-resources: worker channels, reservations ---------------------------------------

/// `(parent kind, sub)`: Workers/Channels, Workers/Reservations, Tasks/Reservations.
fn sub_kind(kind: &str, sub: &str, path: &str) -> Result<(SidPrefix, &'static str), ApiError> {
    match (kind, sub) {
        ("Workers", "Channels") => Ok((SidPrefix::Worker, "channels")),
        ("Workers", "Reservations") => Ok((SidPrefix::Worker, "reservations")),
        ("Tasks", "Reservations") => Ok((SidPrefix::Task, "reservations")),
        _ => Err(ApiError::not_found(path)),
    }
}

fn sub_items(c: &Ctx, w: &Workspace, parent: &Sid, key: &str) -> Option<Vec<(String, Value)>> {
    if key == "channels" {
        let worker = w.workers.get(parent)?;
        return Some(
            w.channels
                .values()
                .filter_map(|ch| Some((ch.sid.to_string(), worker_channel_json(c, w, worker, ch)?)))
                .collect(),
        );
    }
    let under_worker = parent.prefix() == SidPrefix::Worker;
    if under_worker && !w.workers.contains_key(parent)
        || !under_worker && !w.tasks.contains_key(parent)
    {
        return None;
    }
    Some(
        w.reservations
            .values()
            .filter(|r| {
                if under_worker {
                    r.worker_sid == *parent
                } else {
                    r.task_sid == *parent
                }
            })
            .map(|r| (r.sid.to_string(), reservation_json(c, w, r, under_worker)))
            .collect(),
    )
}

async fn list_sub(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, kind, parent, sub)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    if let Some(form) = Form::parse(&sub) {
        let path = format!("/v1/Workspaces/{ws}/{kind}/{parent}/{sub}");
        let ws_sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
        let scope = match (kind.as_str(), form) {
            ("TaskQueues", _) => Scope::Queue(path_sid(&parent, SidPrefix::TaskQueue, &path)?),
            ("Workflows", _) => Scope::Workflow(path_sid(&parent, SidPrefix::Workflow, &path)?),
            ("Workers", Form::Combined) => {
                Scope::Worker(path_sid(&parent, SidPrefix::Worker, &path)?)
            }
            _ => return Err(ApiError::not_found(&path)),
        };
        return statistics::statistics(
            &state,
            &caller.sid,
            &ws_sid,
            scope,
            form,
            &path,
            query.as_deref(),
        )
        .await
        .map(Json);
    }
    let (path, _, key, ws_sid, parent) = sub_resource(&ws, &kind, &parent, &sub, None)?;
    let c = ctx(&state, &caller.sid);
    let url = format!("{}{}", c.base, path);
    let params = Params::from_query(query.as_deref());
    let not_found = ApiError::not_found(&path);
    let items = read(&state, &caller.sid, &ws_sid, &path, move |w| {
        let items = sub_items(&c, w, &parent, key).ok_or(not_found)?;
        Ok(items
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| {
                params
                    .get("ReservationStatus")
                    .is_none_or(|s| v["reservation_status"] == s)
                    && params.get("WorkerSid").is_none_or(|s| v["worker_sid"] == s)
            })
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(Json(page(items, key, &url, query.as_deref())?))
}

async fn fetch_sub(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, kind, parent, sub, sid)): Path<(String, String, String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (path, _, key, ws_sid, parent) = sub_resource(&ws, &kind, &parent, &sub, Some(&sid))?;
    let c = ctx(&state, &caller.sid);
    let not_found = ApiError::not_found(&path);
    Ok(Json(
        read(&state, &caller.sid, &ws_sid, &path, move |w| {
            let items = sub_items(&c, w, &parent, key).ok_or_else(|| not_found.clone())?;
            items
                .into_iter()
                .find(|(s, v)| *s == sid || v["task_channel_unique_name"] == sid.as_str())
                .map(|(_, v)| v)
                .ok_or(not_found)
        })
        .await?,
    ))
}

async fn update_sub(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, kind, parent, sub, sid)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let (path, prefix, key, ws_sid, parent) = sub_resource(&ws, &kind, &parent, &sub, Some(&sid))?;
    let c = ctx(&state, &caller.sid);
    if key == "channels" {
        let command_ = Command::UpdateWorkerChannel {
            worker: parent.clone(),
            channel: sid.clone(),
            capacity: u32_param(&params, "Capacity", 1000)?,
            available: flag(&params, "Available")?,
        };
        return command(
            &state,
            &caller.sid,
            &ws_sid,
            &path,
            command_,
            StatusCode::OK,
            move |w, _| {
                let worker = w.workers.get(&parent)?;
                let channel = w.channel_named(&sid)?;
                worker_channel_json(&c, w, worker, channel)
            },
        )
        .await;
    }
    let reservation = path_sid(&sid, SidPrefix::Reservation, &path)?;
    let status = match (params.get("ReservationStatus"), params.get("Instruction")) {
        (Some(s), _) => s.to_string(),
        (None, Some("accept")) => "accepted".into(),
        (None, Some("reject")) => "rejected".into(),
        (None, Some(other)) => {
            return Err(ApiError::bad_parameter(format!(
                "Instruction {other:?} needs a call to act on; only accept and reject are supported"
            )))
        }
        (None, None) => {
            return Err(ApiError::bad_parameter(
                "ReservationStatus or Instruction is required",
            ))
        }
    };
    let command_ = Command::UpdateReservation {
        sid: reservation.clone(),
        via: parent.clone(),
        status,
        activity_sid: sid_param(&params, "WorkerActivitySid", SidPrefix::Activity)?,
        if_match: if_match(&headers)?,
    };
    let under_worker = prefix == SidPrefix::Worker;
    command(
        &state,
        &caller.sid,
        &ws_sid,
        &path,
        command_,
        StatusCode::OK,
        move |w, _| {
            w.reservations
                .get(&reservation)
                .map(|r| reservation_json(&c, w, r, under_worker))
        },
    )
    .await
}

// ---- events ------------------------------------------------------------------------------

/// The workspace's events as Twilio's Event resources, newest first, read from the
/// workspace's stream (the log is the event store), filtered by the list's parameters.
async fn events(
    state: &AppState,
    caller: &Sid,
    ws: &Sid,
    path: &str,
    query: Option<&str>,
    only: Option<&Sid>,
) -> Result<Vec<Value>, ApiError> {
    // Tenancy first, and the reservations' tasks and workers for the filters.
    let reservations: std::collections::HashMap<String, (String, String, String)> =
        read(state, caller, ws, path, |w| {
            Ok(w.reservations
                .values()
                .map(|r| {
                    (
                        r.sid.to_string(),
                        (
                            r.task_sid.to_string(),
                            r.worker_sid.to_string(),
                            r.queue_sid.to_string(),
                        ),
                    )
                })
                .collect())
        })
        .await?;
    let params = Params::from_query(query);
    let start = match (
        params.date("StartDate")?,
        params.int("Minutes", 1..=43_200)?,
    ) {
        (Some(d), _) => Some(d),
        (None, Some(m)) => Some(crate::commands::now_ms() - chrono::Duration::minutes(m)),
        (None, None) => None,
    };
    let end = params.date("EndDate")?;
    let types: Option<Vec<&str>> = params.get("EventType").map(|t| t.split(',').collect());
    let wanted: Vec<&str> = [
        "TaskSid",
        "WorkerSid",
        "ReservationSid",
        "TaskQueueSid",
        "WorkflowSid",
        "Sid",
    ]
    .iter()
    .filter_map(|p| params.get(p))
    .collect();
    let recorded = state
        .commands()
        .log()
        .read_stream(ws.as_str())
        .await
        .map_err(|e| {
            ApiError::unavailable(format!("The workspace's events cannot be read: {e}"))
        })?;
    let base = format!("{}/v1/Workspaces/{ws}", state.config().public_url);
    let mut out = Vec::new();
    for r in recorded.into_iter().rev() {
        let Ok(e) = r.into_envelope() else { continue };
        let sid = format!("EV{}", e.id.simple());
        if only.is_some_and(|o| o.as_str() != sid) {
            continue;
        }
        let event_type = e.event.type_name();
        if types.as_ref().is_some_and(|t| !t.contains(&event_type))
            || start.is_some_and(|s| e.occurred_at < s)
            || end.is_some_and(|x| e.occurred_at > x)
        {
            continue;
        }
        let data: Value = serde_json::from_str(&e.event.data_json()).unwrap_or(Value::Null);
        let (resource_type, resource_sid) = crate::taskrouter::callback::resource(&e.event)
            .map_or(("workspace", ws.to_string()), |(k, s)| (k, s.to_string()));
        let related = reservations.get(&resource_sid);
        let text = data.to_string();
        if !wanted.iter().all(|w| {
            *w == sid
                || resource_sid == *w
                || text.contains(w)
                || related.is_some_and(|(t, k, q)| t == w || k == w || q == w)
        }) {
            continue;
        }
        let resource_url = match resource_type {
            "workspace" => base.clone(),
            "task" => format!("{base}/Tasks/{resource_sid}"),
            "worker" => format!("{base}/Workers/{resource_sid}"),
            "activity" => format!("{base}/Activities/{resource_sid}"),
            "task_queue" => format!("{base}/TaskQueues/{resource_sid}"),
            "workflow" => format!("{base}/Workflows/{resource_sid}"),
            "task_channel" => format!("{base}/TaskChannels/{resource_sid}"),
            _ => match related {
                Some((task, _, _)) => format!("{base}/Tasks/{task}/Reservations/{resource_sid}"),
                None => base.clone(),
            },
        };
        out.push(json!({
            "account_sid": e.account_sid,
            "actor_sid": e.account_sid,
            "actor_type": "account",
            "actor_url": format!("{}/2010-04-01/Accounts/{}.json", state.config().public_url, e.account_sid),
            "description": format!("{event_type} ({resource_type} {resource_sid})"),
            "event_data": data,
            "event_date": iso(e.occurred_at),
            "event_date_ms": e.occurred_at.timestamp_millis(),
            "event_type": event_type,
            "resource_sid": resource_sid,
            "resource_type": resource_type,
            "resource_url": resource_url,
            "sid": sid,
            "source": e.region,
            "source_ip_address": null,
            "url": format!("{base}/Events/{sid}"),
            "workspace_sid": ws,
        }));
    }
    Ok(out)
}
