//! Events: `GET /v1/Workspaces/{WS}/Events` (newest first; filters `StartDate`/`Minutes`,
//! `EndDate`, `EventType` (a comma list) and the SIDs `TaskSid`, `WorkerSid`,
//! `ReservationSid`, `TaskQueueSid`, `WorkflowSid`, `Sid`) and
//! `GET /v1/Workspaces/{WS}/Events/{EV}`.
//!
//! The log is the event store: every Event resource is a record of the workspace's stream,
//! read as it is, with the SID `EV` + its envelope id; nothing is kept beside it. Events have
//! no commands: a POST or DELETE is the 404 of an unknown resource.

use super::{no_such, no_such_command, path_sid, read};
use crate::http::auth::Caller;
use crate::http::twilio::{iso, page, ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use switchboard_events::{Envelope, Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Events",
            get(list).post(no_such_command),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Events/{event_sid}",
            get(fetch).post(no_such_command).delete(no_such),
        )
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/v1/Workspaces/{ws}/Events");
    let sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
    let items = events(&state, &caller.sid, &sid, &path, query.as_deref(), None).await?;
    let url = format!("{}{}", state.config().public_url, path);
    Ok(Json(page(items, "events", &url, query.as_deref())?))
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/v1/Workspaces/{ws}/Events/{sid}");
    let ws_sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
    let ev = path_sid(&sid, SidPrefix::Event, &path)?;
    let found = events(&state, &caller.sid, &ws_sid, &path, None, Some(&ev)).await?;
    found
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(&path))
}

/// A reservation's task, worker and queue, by the reservation's SID: what the SID filters
/// match a reservation's events by.
type Related = HashMap<String, (String, String, String)>;

/// The list's filters.
struct Filters {
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    types: Option<Vec<String>>,
    /// SIDs an event must mention (each of them).
    wanted: Vec<String>,
}

impl Filters {
    fn parse(query: Option<&str>) -> Result<Filters, ApiError> {
        let params = Params::from_query(query)?;
        let start = match (
            params.date("StartDate")?,
            params.int("Minutes", 1..=43_200)?,
        ) {
            (Some(d), _) => Some(d),
            (None, Some(m)) => Some(crate::commands::now_ms() - chrono::Duration::minutes(m)),
            (None, None) => None,
        };
        let end = params.date("EndDate")?;
        let types = params
            .get("EventType")
            .map(|t| t.split(',').map(str::to_string).collect());
        let wanted = [
            "TaskSid",
            "WorkerSid",
            "ReservationSid",
            "TaskQueueSid",
            "WorkflowSid",
            "Sid",
        ]
        .iter()
        .filter_map(|p| params.get(p))
        .map(str::to_string)
        .collect();
        Ok(Filters {
            start,
            end,
            types,
            wanted,
        })
    }

    /// Whether an event of this type, time and rendering passes the type and date filters.
    fn keeps_type_and_time(&self, event_type: &str, at: DateTime<Utc>) -> bool {
        !(self
            .types
            .as_ref()
            .is_some_and(|t| !t.iter().any(|t| t == event_type))
            || self.start.is_some_and(|s| at < s)
            || self.end.is_some_and(|x| at > x))
    }

    /// Whether the event mentions every wanted SID: as itself, as its resource, anywhere in
    /// its data, or as the task, worker or queue of its reservation.
    fn keeps_sids(
        &self,
        sid: &str,
        resource_sid: &str,
        data: &str,
        related: Option<&(String, String, String)>,
    ) -> bool {
        self.wanted.iter().all(|w| {
            *w == sid
                || resource_sid == w
                || data.contains(w.as_str())
                || related.is_some_and(|(t, k, q)| t == w || k == w || q == w)
        })
    }
}

/// The workspace's events as Twilio's Event resources, newest first, read from the
/// workspace's stream, filtered by the list's parameters (`only`: the one event of a fetch).
async fn events(
    state: &AppState,
    caller: &Sid,
    ws: &Sid,
    path: &str,
    query: Option<&str>,
    only: Option<&Sid>,
) -> Result<Vec<Value>, ApiError> {
    // Tenancy first, and the reservations' tasks and workers for the filters.
    let related: Related = read(state, caller, ws, path, |w| {
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
    let filters = Filters::parse(query)?;
    let recorded = state
        .commands()
        .log()
        .read_stream(ws.as_str())
        .await
        .map_err(|e| {
            ApiError::unavailable(format!("The workspace's events cannot be read: {e}"))
        })?;
    let public_url = &state.config().public_url;
    let mut out = Vec::new();
    for r in recorded.into_iter().rev() {
        let Ok(e) = r.into_envelope() else { continue };
        let sid = format!("EV{}", e.id.simple());
        if only.is_some_and(|o| o.as_str() != sid) {
            continue;
        }
        if !filters.keeps_type_and_time(e.event.type_name(), e.occurred_at) {
            continue;
        }
        if let Some(v) = event_json(public_url, ws, &e, sid, &related, &filters) {
            out.push(v);
        }
    }
    Ok(out)
}

/// One recorded event as an Event resource, unless the SID filters drop it.
fn event_json(
    public_url: &str,
    ws: &Sid,
    e: &Envelope,
    sid: String,
    related: &Related,
    filters: &Filters,
) -> Option<Value> {
    let event_type = e.event.type_name();
    let data: Value = serde_json::from_str(&e.event.data_json()).unwrap_or(Value::Null);
    let (resource_type, resource_sid) = switchboard_events::process::taskrouter::resource(&e.event)
        .map_or(("workspace", ws.to_string()), |(k, s)| (k, s.to_string()));
    let related = related.get(&resource_sid);
    if !filters.keeps_sids(&sid, &resource_sid, &data.to_string(), related) {
        return None;
    }
    let base = format!("{public_url}/v1/Workspaces/{ws}");
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
    Some(json!({
        "account_sid": e.account_sid,
        "actor_sid": e.account_sid,
        "actor_type": "account",
        "actor_url": format!("{public_url}/2010-04-01/Accounts/{}.json", e.account_sid),
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
    }))
}
