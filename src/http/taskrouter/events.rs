//! Events: `GET /v1/Workspaces/{WS}/Events` and `GET /v1/Workspaces/{WS}/Events/{EV}`, served
//! from the `taskrouter` read model's Event index (`tr_events`), never by reading the stream.
//!
//! - Filters, as Twilio's OpenAPI document lists them: `EventType` (a comma list is accepted
//!   too), `TaskSid`, `WorkerSid`, `ReservationSid`, `TaskQueueSid`, `WorkflowSid`,
//!   `TaskChannel` (unique name or SID), `Sid`, and the window `StartDate` or `Minutes` (15
//!   by default, as Twilio's) to `EndDate`. A reservation's events match its task, worker and
//!   queue; a task's events match its workflow, channel and the queue it waits in.
//! - Newest first, in the v1 `meta` envelope. Pages are cut by `PageToken` (`PT`/`PB` and
//!   the stream version of the row the page starts after), which the `next_page_url` and
//!   `previous_page_url` carry, so a page stays put while new events arrive; `Page` without a
//!   token counts pages from the newest (Twilio's clients never send one alone).
//! - Read-your-writes: a list waits (bounded) until the read model has passed the caller's
//!   last write, as every read-model query does.
//!
//! Events have no commands: a POST or DELETE is the 404 of an unknown resource.

use super::{no_such, no_such_command, path_sid, read};
use crate::http::auth::Caller;
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::taskrouter::{self as projection, EventQuery, EventRow};

/// Twilio's default window when neither `StartDate` nor `Minutes` is given.
const DEFAULT_MINUTES: i64 = 15;

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
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/v1/Workspaces/{ws}/Events");
    let sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
    let params = Params::from_query(query.as_deref())?;
    let channels = channels(&state, &caller.sid, &sid, &path).await?;
    let paging = Paging::parse(&params)?;
    let mut q = filters(&params, &channels)?;
    paging.narrow(&mut q);
    let rows = indexed(&state, &caller.sid, &sid, &headers, &q).await?;
    let url = format!("{}{}", state.config().public_url, path);
    Ok(Json(paging.envelope(&state, &sid, rows, &url, &params)))
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((ws, sid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/v1/Workspaces/{ws}/Events/{sid}");
    let ws_sid = path_sid(&ws, SidPrefix::Workspace, &path)?;
    let ev = path_sid(&sid, SidPrefix::Event, &path)?;
    channels(&state, &caller.sid, &ws_sid, &path).await?;
    let q = EventQuery {
        sid: Some(ev.to_string()),
        limit: 1,
        ..EventQuery::default()
    };
    let public_url = &state.config().public_url;
    indexed(&state, &caller.sid, &ws_sid, &headers, &q)
        .await?
        .first()
        .map(|r| Json(event_json(public_url, &ws_sid, r)))
        .ok_or_else(|| ApiError::not_found(&path))
}

/// The workspace's channels (unique name, SID), for `TaskChannel`; reading them checks the
/// workspace is the caller's first.
async fn channels(
    state: &AppState,
    caller: &Sid,
    ws: &Sid,
    path: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    read(state, caller, ws, path, |w| {
        Ok(w.channels
            .values()
            .map(|c| (c.unique_name.clone(), c.sid.to_string()))
            .collect())
    })
    .await
}

/// The rows `q` asks for, once the read model has passed the caller's writes.
async fn indexed(
    state: &AppState,
    caller: &Sid,
    ws: &Sid,
    headers: &HeaderMap,
    q: &EventQuery,
) -> Result<Vec<EventRow>, ApiError> {
    state.read_your_writes("taskrouter", caller, headers).await;
    let mut conn = state.read_model().await?;
    projection::events(&mut conn, ws.as_str(), q)
        .await
        .map_err(|e| ApiError::unavailable(format!("The workspace's events cannot be read: {e}")))
}

/// The list's filters as a query of the index (paging is added by [`Paging::narrow`]).
fn filters(params: &Params, channels: &[(String, String)]) -> Result<EventQuery, ApiError> {
    let now = crate::commands::now_ms();
    let start = match (
        params.date("StartDate")?,
        params.int("Minutes", 1..=43_200)?,
    ) {
        (Some(d), _) => d,
        (None, m) => now - chrono::Duration::minutes(m.unwrap_or(DEFAULT_MINUTES)),
    };
    let text = |name: &str| params.get(name).map(str::to_string);
    // A channel the workspace does not have matches nothing (rather than everything).
    let task_channel_sid = params.get("TaskChannel").map(|name| {
        channels
            .iter()
            .find(|(unique, sid)| unique == name || sid == name)
            .map_or_else(|| format!("unknown:{name}"), |(_, sid)| sid.clone())
    });
    Ok(EventQuery {
        types: params
            .get("EventType")
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        sid: text("Sid"),
        task_sid: text("TaskSid"),
        worker_sid: text("WorkerSid"),
        reservation_sid: text("ReservationSid"),
        task_queue_sid: text("TaskQueueSid"),
        workflow_sid: text("WorkflowSid"),
        task_channel_sid,
        from_ms: Some(start.timestamp_millis()),
        to_ms: params.date("EndDate")?.map(|d| d.timestamp_millis()),
        ..EventQuery::default()
    })
}

/// Where a page starts: after a row (`PT{seq}`: the older events after the previous page's
/// last), before one (`PB{seq}`: the newer ones before the next page's first), or `Page`
/// pages from the newest.
enum Start {
    Newest(i64),
    OlderThan(i64),
    NewerThan(i64),
}

/// `PageSize`, `Page` and `PageToken`.
struct Paging {
    size: i64,
    number: i64,
    start: Start,
}

impl Paging {
    fn parse(params: &Params) -> Result<Paging, ApiError> {
        let size = params.int("PageSize", 1..=1000)?.unwrap_or(50);
        let number = params.int("Page", 0..=1_000_000)?.unwrap_or(0);
        let bad = |t: &str| {
            ApiError::bad_parameter(format!("PageToken {t:?} is not one this API issued"))
        };
        let start = match params.get("PageToken") {
            None => Start::Newest(number),
            Some(t) => {
                let seq = |s: &str| s.parse::<i64>().map_err(|_| bad(t));
                match (t.strip_prefix("PT"), t.strip_prefix("PB")) {
                    (Some(s), _) => Start::OlderThan(seq(s)?),
                    (_, Some(s)) => Start::NewerThan(seq(s)?),
                    _ => return Err(bad(t)),
                }
            }
        };
        Ok(Paging {
            size,
            number,
            start,
        })
    }

    /// Adds the page's bounds to `q`: one row past the page, to learn whether more follow.
    fn narrow(&self, q: &mut EventQuery) {
        q.limit = self.size + 1;
        match self.start {
            Start::Newest(n) => q.offset = n.saturating_mul(self.size),
            Start::OlderThan(s) => q.before_seq = Some(s),
            Start::NewerThan(s) => q.after_seq = Some(s),
        }
    }

    /// The page of `rows` (as read by [`Paging::narrow`]'s query) in the v1 envelope.
    fn envelope(
        &self,
        state: &AppState,
        ws: &Sid,
        mut rows: Vec<EventRow>,
        url: &str,
        params: &Params,
    ) -> Value {
        let more = rows.len() as i64 > self.size;
        rows.truncate(self.size as usize);
        // A page of newer events is read oldest first (the nearest to its token), so the one
        // past the page was its newest; it is shown newest first like every page.
        if let Start::NewerThan(_) = self.start {
            rows.reverse();
        }
        let (older, newer) = match self.start {
            Start::NewerThan(_) => (true, more),
            Start::OlderThan(_) => (more, true),
            Start::Newest(n) => (more, n > 0),
        };
        let filters: String = params
            .0
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
            .map(|(k, v)| format!("&{}={}", encode(k), encode(v)))
            .collect();
        let size = self.size;
        let at = |n: i64, token: Option<String>| {
            let token = token.map_or_else(String::new, |t| format!("&PageToken={t}"));
            format!("{url}?PageSize={size}&Page={n}{token}{filters}")
        };
        let this_token = match self.start {
            Start::Newest(_) => None,
            Start::OlderThan(s) => Some(format!("PT{s}")),
            Start::NewerThan(s) => Some(format!("PB{s}")),
        };
        let next = match (older, rows.last()) {
            (true, Some(last)) => Some(at(self.number + 1, Some(format!("PT{}", last.seq)))),
            _ => None,
        };
        let previous = match (newer, rows.first()) {
            (true, Some(first)) => Some(at(
                (self.number - 1).max(0),
                Some(format!("PB{}", first.seq)),
            )),
            _ => None,
        };
        let public_url = &state.config().public_url;
        json!({
            "events": rows.iter().map(|r| event_json(public_url, ws, r)).collect::<Vec<_>>(),
            "meta": {
                "first_page_url": at(0, None),
                "key": "events",
                "next_page_url": next,
                "page": self.number,
                "page_size": size,
                "previous_page_url": previous,
                "url": at(self.number, this_token),
            }
        })
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One indexed event as Twilio's Event resource (every property of the OpenAPI document's
/// `taskrouter.v1.workspace.event`).
fn event_json(public_url: &str, ws: &Sid, r: &EventRow) -> Value {
    let base = format!("{public_url}/v1/Workspaces/{ws}");
    let sid = &r.resource_sid;
    let resource_url = match r.resource_type.as_str() {
        "task" => format!("{base}/Tasks/{sid}"),
        "worker" => format!("{base}/Workers/{sid}"),
        "activity" => format!("{base}/Activities/{sid}"),
        "task_queue" => format!("{base}/TaskQueues/{sid}"),
        "workflow" => format!("{base}/Workflows/{sid}"),
        "task_channel" => format!("{base}/TaskChannels/{sid}"),
        "reservation" => match &r.task_sid {
            Some(task) => format!("{base}/Tasks/{task}/Reservations/{sid}"),
            None => base.clone(),
        },
        _ => base.clone(),
    };
    let at = chrono::DateTime::from_timestamp_millis(r.occurred_ms).unwrap_or_default();
    let data: Value = serde_json::from_str(&r.data).unwrap_or(Value::Null);
    json!({
        "account_sid": r.account_sid,
        "actor_sid": r.account_sid,
        "actor_type": "account",
        "actor_url": format!("{public_url}/2010-04-01/Accounts/{}.json", r.account_sid),
        "description": format!("{} ({} {sid})", r.event_type, r.resource_type),
        "event_data": data,
        "event_date": iso(at),
        "event_date_ms": r.occurred_ms,
        "event_type": r.event_type,
        "resource_sid": sid,
        "resource_type": r.resource_type,
        "resource_url": resource_url,
        "sid": r.sid,
        "source": r.region,
        "source_ip_address": null,
        "url": format!("{base}/Events/{}", r.sid),
        "workspace_sid": ws,
    })
}
