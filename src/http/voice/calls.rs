//! `/2010-04-01/Accounts/{AccountSid}/Calls…`: placing, steering, listing and deleting calls
//! in Twilio's shape (VOICE-NOTES §2.1–2.3).
//!
//! - `POST …/Calls.json`: place a call ([`create`] checks the parameters; the call router's
//!   port, `crate::voice::calls::CallService`, records and dials it) → 201.
//! - `GET …/Calls.json`: newest first; filters `To`, `From`, `Status`, `ParentCallSid`,
//!   `StartTime`/`EndTime` (`=`, `>`, `<`, a bare `YYYY-MM-DD` covering its day); paged by
//!   `PageSize`/`Page`/`PageToken` (the token: the last call's `date_created` and SID).
//! - `GET …/Calls/{CA}.json`; `POST …/Calls/{CA}.json` (`Url`[+`Method`] or `Twiml`: redirect
//!   a live call at once; `Status=canceled`/`completed`); `DELETE …/Calls/{CA}.json` → 204.
//!
//! Reads: a live call on this node is shown as its controller holds it (read-your-writes
//! without waiting for the read model); otherwise the `calls` read model answers, and the
//! call's stream in the log when the read model has not caught up with it yet (a call just
//! placed, or just ended). Tenancy as every 2010 resource: another account's call is the 404
//! of a SID that does not exist.
//!
//! Refusals (Twilio's codes): steering a call that is not live here, or a redirect before the
//! answer, is 400 **21220** ("Call is not in-progress"); `Status=completed` on a finished
//! call, and `Status=canceled` on an answered or finished one, change nothing and answer 200
//! with the call (Twilio: "no effect"); deleting a live call is 400 21220 too (switchboard's
//! choice: Twilio documents only that DELETE removes a finished call's record).

pub mod create;
pub mod json;

use super::{command_error, path_account, path_sid, read_failed};
use crate::http::auth::Caller;
use crate::http::twilio::{ApiError, DateKey, Params, TokenPage};
use crate::http::AppState;
use crate::voice::calls::PlaceError;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use json::call_json;
use serde_json::Value;
use std::time::Duration;
use switchboard_events::account::Account;
use switchboard_events::call::{self, Call, CallCommand, CallError, HttpMethod};
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::calls::{self as read, parse_status, CallRow, Filter};
use uuid::Uuid;

/// The read model the handlers wait for (read-your-writes).
const PROJECTION: &str = "calls";

/// How long `create` waits for the call's first events to be in the log, so a list right
/// after it can wait for them (read-your-writes).
const RECORDED_WAIT: Duration = Duration::from_secs(2);

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account_sid}/Calls.json",
            get(list).post(place),
        )
        .route(
            "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}",
            get(fetch).post(update).delete(remove),
        )
}

fn not_live(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        21220,
        format!("Call is not in-progress. Cannot {what}."),
    )
}

/// The call's stream folded from the log (the write model): exact, whatever the read model
/// has applied.
async fn from_log(state: &AppState, sid: &Sid) -> Result<Option<Call>, ApiError> {
    let recorded = state
        .commands()
        .log()
        .read_stream(sid.as_str())
        .await
        .map_err(super::read_error)?;
    let mut call = None;
    for r in &recorded {
        let Ok(e) = r.decode() else { continue };
        call = call::evolve(
            call,
            e.occurred_at.timestamp_millis(),
            e.account_sid.as_str(),
            &e.stream,
            &e.event,
        );
    }
    Ok(call)
}

/// The call `sid` of `account` as a reader should see it (module doc), or the 404 of `path`.
async fn lookup(
    state: &AppState,
    caller: &Account,
    account: &Account,
    sid: &Sid,
    path: &str,
    headers: &HeaderMap,
) -> Result<CallRow, ApiError> {
    let live = state.calls().and_then(|c| c.live(sid));
    let row = match live.and_then(|c| c.state()) {
        Some(call) => CallRow::from_call(&call),
        None => {
            state
                .read_your_writes(PROJECTION, &caller.sid, headers)
                .await;
            let mut conn = state.read_model().await?;
            let row = read::get(&mut conn, sid.as_str())
                .await
                .map_err(read_failed("cannot read calls"))?;
            drop(conn);
            match row {
                // Not live on this node: the log says whether it ended since.
                Some(r) if !r.is_live() => Some(r),
                _ => from_log(state, sid)
                    .await?
                    .as_ref()
                    .and_then(CallRow::from_call),
            }
        }
    };
    row.filter(|r| r.account_sid == account.sid)
        .ok_or_else(|| ApiError::not_found(path))
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account_sid, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/Calls/{file}");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let sid = path_sid(&file, SidPrefix::Call, &path)?;
    let row = lookup(&state, &caller, &account, &sid, &path, &headers).await?;
    Ok(Json(call_json(&row)))
}

/// The list's filters, as named in every page's URIs.
const FILTERS: [&str; 10] = [
    "To",
    "From",
    "Status",
    "ParentCallSid",
    "StartTime",
    "StartTime>",
    "StartTime<",
    "EndTime",
    "EndTime>",
    "EndTime<",
];

fn list_request(query: Option<&str>) -> Result<(Filter, TokenPage<DateKey>), ApiError> {
    let params = Params::from_query(query)?;
    let text = |name: &str| {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let status = match text("Status") {
        None => None,
        Some(s) => Some(parse_status(&s).ok_or_else(|| {
            ApiError::bad_parameter(format!(
                "Status must be one of queued, ringing, in-progress, canceled, completed, \
                 failed, busy, no-answer; got {s:?}"
            ))
        })?),
    };
    let parent = params.sid("ParentCallSid", SidPrefix::Call)?;
    let (start_from_ms, start_to_ms) = params.date_range("StartTime")?;
    let (end_from_ms, end_to_ms) = params.date_range("EndTime")?;
    let page = TokenPage::parse_dated(&params, SidPrefix::Call, &FILTERS)?;
    let filter = Filter {
        to: text("To"),
        from: text("From"),
        status,
        parent_call_sid: parent.map(|p| p.to_string()),
        start_from_ms,
        start_to_ms,
        end_from_ms,
        end_to_ms,
        after: page.after.clone().map(|DateKey(ms, sid)| (ms, sid)),
    };
    Ok((filter, page))
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(account_sid): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let base = format!("/2010-04-01/Accounts/{account_sid}/Calls.json");
    let account = path_account(&state, &caller, &account_sid, &base).await?;
    let (filter, page) = list_request(query.as_deref())?;
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let mut conn = state.read_model().await?;
    let rows = read::list(&mut conn, account.sid.as_str(), &filter, page.limit())
        .await
        .map_err(read_failed("cannot list calls"))?;
    drop(conn);
    Ok(Json(page.envelope(
        "calls",
        &format!("/2010-04-01/Accounts/{}/Calls.json", account.sid),
        &[],
        &rows,
        |r| DateKey(r.created_at_ms, r.sid.to_string()),
        call_json,
    )))
}

async fn place(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(account_sid): Path<String>,
    params: Params,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/Calls.json");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let request = create::Request::parse(&params)?;
    let application = match &request.source {
        create::Source::Application(sid) => {
            let mut conn = state.read_model().await?;
            switchboard_projections::numbers::application(&mut conn, sid.as_str())
                .await
                .map_err(read_failed("cannot read applications"))?
                .filter(|a| a.account_sid == account.sid)
        }
        _ => None,
    };
    let placing = request.place(&account.sid, application.as_ref())?;
    let Some(calls) = state.calls() else {
        return Err(ApiError::unavailable(
            "This node does not place calls (it runs no SIP engine)",
        ));
    };
    let call = calls.place(placing).await.map_err(|e| match e {
        PlaceError::To(m) => ApiError::new(StatusCode::BAD_REQUEST, 21211, m),
        PlaceError::Unavailable(m) => ApiError::unavailable(m),
    })?;
    let row = CallRow::from_call(&call)
        .ok_or_else(|| ApiError::internal("cannot show the placed call", &call.sid))?;
    wait_recorded(&state, &caller.sid, &row.sid).await;
    Ok((StatusCode::CREATED, Json(call_json(&row))))
}

/// Waits (at most [`RECORDED_WAIT`]) until the placed call's first events are in the log and
/// notes their position for `caller`'s reads: the controller appends them on its own task.
async fn wait_recorded(state: &AppState, caller: &Sid, sid: &Sid) {
    let deadline = tokio::time::Instant::now() + RECORDED_WAIT;
    loop {
        if let Ok(recorded) = state.commands().log().read_stream(sid.as_str()).await {
            // call.initiated and call.routed, recorded together by `place`.
            if recorded.len() >= 2 {
                if let Some(last) = recorded.last() {
                    state.wrote_at(caller, last.position);
                }
                return;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What `POST /Calls/{CA}` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Redirect { url: String, method: HttpMethod },
    RedirectTwiml(String),
    Cancel,
    Hangup,
    Nothing,
}

fn change(params: &Params) -> Result<Change, ApiError> {
    let given = |name: &str| params.get(name).filter(|v| !v.is_empty());
    if let Some(status) = given("Status") {
        return match status {
            "canceled" => Ok(Change::Cancel),
            "completed" => Ok(Change::Hangup),
            other => Err(ApiError::bad_parameter(format!(
                "Status must be canceled or completed, got {other:?}"
            ))),
        };
    }
    match (create::url(params, "Url")?, given("Twiml")) {
        (Some(_), Some(_)) => Err(ApiError::bad_parameter(
            "Url and Twiml are mutually exclusive on update",
        )),
        (Some(url), None) => Ok(Change::Redirect {
            url,
            method: create::method(params, "Method")?,
        }),
        (None, Some(t)) => Ok(Change::RedirectTwiml(create::twiml(t)?)),
        (None, None) => Ok(Change::Nothing),
    }
}

async fn update(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account_sid, file)): Path<(String, String)>,
    headers: HeaderMap,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/Calls/{file}");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let sid = path_sid(&file, SidPrefix::Call, &path)?;
    let wanted = change(&params)?;
    let row = lookup(&state, &caller, &account, &sid, &path, &headers).await?;
    let command = match wanted {
        Change::Nothing => return Ok(Json(call_json(&row))),
        // Twilio: "no effect" on a call that is over (either) or answered (canceled).
        Change::Hangup if !row.is_live() => return Ok(Json(call_json(&row))),
        Change::Cancel
            if row.status != call::CallStatus::Queued
                && row.status != call::CallStatus::Ringing =>
        {
            return Ok(Json(call_json(&row)))
        }
        Change::Hangup => CallCommand::Hangup,
        Change::Cancel => CallCommand::Cancel,
        Change::Redirect { url, method } => CallCommand::Redirect { url, method },
        Change::RedirectTwiml(twiml) => CallCommand::RedirectTwiml { twiml },
    };
    let what = match command {
        CallCommand::Hangup => "hang up",
        CallCommand::Cancel => "cancel",
        _ => "redirect",
    };
    let controller = state
        .calls()
        .and_then(|c| c.live(&sid))
        .ok_or_else(|| not_live(what))?;
    controller.execute(command).map_err(|e| match e {
        CallError::NotAnswered { .. } | CallError::Ended { .. } => not_live(what),
        CallError::CancelInProgress => not_live(what),
        other => ApiError::bad_parameter(other.to_string()),
    })?;
    let shown = controller
        .state()
        .as_ref()
        .and_then(CallRow::from_call)
        .unwrap_or(row);
    Ok(Json(call_json(&shown)))
}

/// Why a deletion was refused.
#[derive(Debug)]
enum DeleteRefused {
    Missing,
    Call(CallError),
}

async fn remove(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account_sid, file)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/Calls/{file}");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let sid = path_sid(&file, SidPrefix::Call, &path)?;
    let commands = state.commands();
    let meta = commands.metadata(account.sid.clone(), Uuid::now_v7());
    let stream = sid.to_string();
    // A finished call has no controller: load its stream and append after exactly what was
    // read (a racing writer is a conflict, decided again).
    let (executed, _) = commands
        .execute_as(
            &stream,
            &meta,
            |s, owner, at, e| call::evolve(s, at.timestamp_millis(), owner.as_str(), &stream, e),
            |s: Option<&Call>| match s {
                Some(c) if c.account_sid == account.sid.as_str() && !c.deleted => {
                    call::decide(&CallCommand::Delete, Some(c)).map_err(DeleteRefused::Call)
                }
                _ => Err(DeleteRefused::Missing),
            },
        )
        .await
        .map_err(|e| {
            command_error(e, |d| match d {
                DeleteRefused::Missing => ApiError::not_found(&path),
                DeleteRefused::Call(CallError::NotEnded { .. }) => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    21220,
                    "Call is in progress. Cannot delete a call until it has ended.",
                ),
                DeleteRefused::Call(_) => ApiError::not_found(&path),
            })
        })?;
    let header = state.wrote(&caller.sid, &executed);
    Ok((StatusCode::NO_CONTENT, [header]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn an_update_asks_for_one_change() {
        let url = ("Url", "https://app.example/next");
        assert_eq!(
            change(&p(&[url])).ok(),
            Some(Change::Redirect {
                url: url.1.into(),
                method: HttpMethod::Post
            })
        );
        assert_eq!(
            change(&p(&[url, ("Twiml", "<Response/>")]))
                .err()
                .map(|e| e.code),
            Some(20001)
        );
        assert_eq!(
            change(&p(&[("Twiml", "<Response/>")])).ok(),
            Some(Change::RedirectTwiml("<Response/>".into()))
        );
        assert_eq!(
            change(&p(&[("Status", "completed"), url])).ok(),
            Some(Change::Hangup)
        );
        assert_eq!(
            change(&p(&[("Status", "canceled")])).ok(),
            Some(Change::Cancel)
        );
        assert!(change(&p(&[("Status", "in-progress")])).is_err());
        assert_eq!(change(&p(&[])).ok(), Some(Change::Nothing));
    }

    #[test]
    fn list_filters_and_paging_parse() {
        let (f, page) = list_request(Some(
            "To=%2B15551230000&Status=in-progress&StartTime%3E=1970-01-02&EndTime%3C=1970-01-03&PageSize=2",
        ))
        .map_err(|e| e.message)
        .unwrap_or_else(|m| panic!("{m}"));
        assert_eq!(f.to.as_deref(), Some("+15551230000"));
        assert_eq!(f.status, Some(call::CallStatus::InProgress));
        assert_eq!(f.start_from_ms, Some(86_400_000));
        assert_eq!(f.end_to_ms, Some(3 * 86_400_000 - 1));
        assert_eq!(page.size, 2);
        assert_eq!(
            page.filters(),
            "&To=%2B15551230000&Status=in-progress&StartTime%3E=1970-01-02&EndTime%3C=1970-01-03"
        );
        assert!(list_request(Some("Status=initiated")).is_err());
        assert!(list_request(Some("PageToken=PA12-NO0123")).is_err());
        assert!(list_request(Some("StartTime=yesterday")).is_err());
    }
}
