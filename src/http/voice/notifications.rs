//! Call notifications, in Twilio's 2010-04-01 shape, from the `notifications` read model:
//!
//! - `GET /2010-04-01/Accounts/{AC}/Notifications.json`: the account's, newest first;
//! - `GET /2010-04-01/Accounts/{AC}/Notifications/{NO}.json`;
//! - `GET /2010-04-01/Accounts/{AC}/Calls/{CA}/Notifications.json`: one call's;
//! - `GET /2010-04-01/Accounts/{AC}/Calls/{CA}/Notifications/{NO}.json`.
//!
//! Lists filter by `Log` (`0` error, `1` warning) and `MessageDate` (`=`, `<=`, `>=`, as the
//! SDKs send `MessageDate`, `MessageDate<`, `MessageDate>`; a bare date covers its whole
//! day), page by `PageSize`/`Page`/`PageToken` in the 2010-04-01 envelope with relative URIs;
//! as Twilio does, `request_variables`, `response_headers` and `response_body` are only in the
//! instance. Twilio has no DELETE for these resources, so neither do we.
//!
//! Tenancy: the path's account must be the caller or one of its subaccounts, and a
//! notification is served only under its own account (and call); anything else is the same
//! 404 as a SID that does not exist. Paging is by key (the last item's `message_date` and
//! SID), so notifications raised while a client pages never shift or repeat an item.

use crate::http::accounts::visible;
use crate::http::auth::Caller;
use crate::http::twilio::{parse_date_key_token, rfc2822, ApiError, DateKey, Params, TokenPage};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::DateTime;
use serde_json::{json, Map, Value};
use switchboard_events::account::Account;
use switchboard_events::alert::more_info;
use switchboard_events::call::params::API_VERSION;
use switchboard_events::call::NotificationLevel;
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::notifications::{self, Filter, Notification};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account_sid}/Notifications.json",
            get(list_account),
        )
        .route(
            "/2010-04-01/Accounts/{account_sid}/Notifications/{notification_file}",
            get(fetch_account),
        )
        .route(
            "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}/Notifications.json",
            get(list_call),
        )
        .route(
            "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}/Notifications/{notification_file}",
            get(fetch_call),
        )
}

/// The read model the handlers wait for (read-your-writes).
const PROJECTION: &str = "notifications";

/// Where a request looks: the account, and the call when under `/Calls/{CA}`.
struct Scope {
    account: Sid,
    call: Option<Sid>,
}

impl Scope {
    /// The URI of the list this scope names.
    fn list_uri(&self) -> String {
        match &self.call {
            None => format!("/2010-04-01/Accounts/{}/Notifications.json", self.account),
            Some(call) => format!(
                "/2010-04-01/Accounts/{}/Calls/{call}/Notifications.json",
                self.account
            ),
        }
    }

    /// The URI of notification `sid` in this scope.
    fn item_uri(&self, sid: &Sid) -> String {
        match &self.call {
            None => format!(
                "/2010-04-01/Accounts/{}/Notifications/{sid}.json",
                self.account
            ),
            Some(call) => format!(
                "/2010-04-01/Accounts/{}/Calls/{call}/Notifications/{sid}.json",
                self.account
            ),
        }
    }

    /// Whether `n` is served under this scope.
    fn holds(&self, n: &Notification) -> bool {
        n.account_sid == self.account && self.call.as_ref().is_none_or(|c| *c == n.call_sid)
    }
}

/// The scope of a request by `caller` for `account_raw` (and `call_raw`): a malformed SID, an
/// account that does not exist or is not the caller's to see are all the 404 of `path`.
async fn scope(
    state: &AppState,
    caller: &Account,
    account_raw: &str,
    call_raw: Option<&str>,
    path: &str,
) -> Result<Scope, ApiError> {
    let missing = || ApiError::not_found(path);
    let account = Sid::parse_as(account_raw, SidPrefix::Account).map_err(|_| missing())?;
    let call = call_raw
        .map(|raw| Sid::parse_as(raw, SidPrefix::Call).map_err(|_| missing()))
        .transpose()?;
    if account != caller.sid {
        match state.account(&account).await? {
            Some(target) if visible(caller, &target) => {}
            _ => return Err(missing()),
        }
    }
    Ok(Scope { account, call })
}

/// The fields of a list item (`api.v2010.account.notification`, `…call.call_notification`).
fn item_json(scope: &Scope, n: &Notification) -> Map<String, Value> {
    let r = &n.raised;
    let date = rfc2822(DateTime::from_timestamp_millis(n.message_date_ms).unwrap_or_default());
    let Value::Object(map) = json!({
        "account_sid": n.account_sid,
        "api_version": API_VERSION,
        "call_sid": n.call_sid,
        "date_created": date,
        // A notification never changes after it is raised.
        "date_updated": date,
        "error_code": r.error_code.to_string(),
        "log": r.log_level.log(),
        "message_date": date,
        "message_text": r.message_text,
        "more_info": more_info(r.error_code),
        "request_method": r.request_method.map(|m| m.as_str()),
        // Inline TwiML has no URL: Twilio's null rather than an empty string.
        "request_url": (!r.request_url.is_empty()).then_some(&r.request_url),
        "sid": n.sid,
        "uri": scope.item_uri(&n.sid),
    }) else {
        return Map::new();
    };
    map
}

/// The instance: the item and what only a fetch shows.
fn instance_json(scope: &Scope, n: &Notification) -> Value {
    let r = &n.raised;
    let mut map = item_json(scope, n);
    map.insert("request_variables".into(), json!(r.request_variables));
    map.insert("response_headers".into(), json!(r.response_headers));
    map.insert("response_body".into(), json!(r.response_body));
    Value::Object(map)
}

async fn fetch_account(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account}/Notifications/{file}");
    let scope = scope(&state, &caller, &account, None, &path).await?;
    fetch(&state, &caller, scope, &file, &path, &headers).await
}

async fn fetch_call(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account, call, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account}/Calls/{call}/Notifications/{file}");
    let scope = scope(&state, &caller, &account, Some(&call), &path).await?;
    fetch(&state, &caller, scope, &file, &path, &headers).await
}

async fn fetch(
    state: &AppState,
    caller: &Account,
    scope: Scope,
    file: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let raw = file.strip_suffix(".json").unwrap_or(file);
    let sid = Sid::parse_as(raw, SidPrefix::Alert).map_err(|_| ApiError::not_found(path))?;
    state
        .read_your_writes(PROJECTION, &caller.sid, headers)
        .await;
    let mut conn = state.read_model().await?;
    let found = notifications::get(&mut conn, sid.as_str())
        .await
        .map_err(|e| ApiError::internal("cannot read notifications", e))?;
    match found.filter(|n| scope.holds(n)) {
        Some(n) => Ok(Json(instance_json(&scope, &n))),
        None => Err(ApiError::not_found(path)),
    }
}

async fn list_account(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account}/Notifications.json");
    let scope = scope(&state, &caller, &account, None, &path).await?;
    list(&state, &caller, scope, query.as_deref(), &headers).await
}

async fn list_call(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account, call)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account}/Calls/{call}/Notifications.json");
    let scope = scope(&state, &caller, &account, Some(&call), &path).await?;
    list(&state, &caller, scope, query.as_deref(), &headers).await
}

/// One page's request: the filters and the paging (which repeats the filters in its URIs).
struct ListRequest {
    filter: Filter,
    page: TokenPage<DateKey>,
}

impl ListRequest {
    fn parse(query: Option<&str>, call: Option<&Sid>) -> Result<ListRequest, ApiError> {
        let params = Params::from_query(query)?;
        let log_level = match params.get("Log") {
            None | Some("") => None,
            Some("0") => Some(NotificationLevel::Error),
            Some("1") => Some(NotificationLevel::Warning),
            Some(v) => {
                return Err(ApiError::bad_parameter(format!(
                    "Log must be 0 (error) or 1 (warning), got {v:?}"
                )))
            }
        };
        let (start_ms, end_ms) = params.date_range("MessageDate")?;
        let page = TokenPage::parse_with(
            &params,
            &["Log", "MessageDate", "MessageDate>", "MessageDate<"],
            |t| page_token(t).map(|(ms, sid)| DateKey(ms, sid)),
        )?;
        let filter = Filter {
            call_sid: call.map(Sid::to_string),
            log_level,
            start_ms,
            end_ms,
            after: page.after.clone().map(|DateKey(ms, sid)| (ms, sid)),
        };
        Ok(ListRequest { filter, page })
    }
}

/// Reads a `PageToken` this API issued: `PA`, the last item's `message_date` (ms), `-`, its SID.
fn page_token(t: &str) -> Result<(i64, String), ApiError> {
    parse_date_key_token(t, SidPrefix::Alert)
}

async fn list(
    state: &AppState,
    caller: &Account,
    scope: Scope,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let req = ListRequest::parse(query, scope.call.as_ref())?;
    state
        .read_your_writes(PROJECTION, &caller.sid, headers)
        .await;
    let mut conn = state.read_model().await?;
    let items = notifications::list(
        &mut conn,
        scope.account.as_str(),
        &req.filter,
        req.page.limit(),
    )
    .await
    .map_err(|e| ApiError::internal("cannot list notifications", e))?;
    drop(conn);
    Ok(Json(req.page.envelope(
        "notifications",
        &scope.list_uri(),
        &[],
        &items,
        |n| DateKey(n.message_date_ms, n.sid.to_string()),
        |n| Value::Object(item_json(&scope, n)),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::http::twilio::date_key_token;

    /// Milliseconds in a day.
    const DAY_MS: i64 = 86_400_000;

    #[test]
    fn a_page_token_names_a_notification() {
        let sid = Sid::from_u128(SidPrefix::Alert, 5);
        let token = date_key_token(1_764_000_000_000, &sid);
        assert_eq!(
            page_token(&token).ok(),
            Some((1_764_000_000_000, sid.to_string()))
        );
        let call = Sid::from_u128(SidPrefix::Call, 5);
        assert!(page_token(&date_key_token(1, &call)).is_err());
    }

    #[test]
    fn date_filters_bound_the_list_and_a_bare_date_covers_its_day() {
        let req = ListRequest::parse(
            Some("MessageDate%3E=1970-01-02&MessageDate%3C=1970-01-03"),
            None,
        )
        .map_err(|e| e.message)
        .unwrap_or_else(|m| panic!("{m}"));
        assert_eq!(req.filter.start_ms, Some(DAY_MS));
        assert_eq!(req.filter.end_ms, Some(3 * DAY_MS - 1));
        let on = ListRequest::parse(Some("MessageDate=1970-01-02&Log=1"), None)
            .map_err(|e| e.message)
            .unwrap_or_else(|m| panic!("{m}"));
        assert_eq!(
            (on.filter.start_ms, on.filter.end_ms),
            (Some(DAY_MS), Some(2 * DAY_MS - 1))
        );
        assert_eq!(on.filter.log_level, Some(NotificationLevel::Warning));
        assert_eq!(on.page.filters(), "&Log=1&MessageDate=1970-01-02");
        assert!(ListRequest::parse(Some("Log=2"), None).is_err());
        assert!(ListRequest::parse(Some("MessageDate=yesterday"), None).is_err());
    }
}
