//! Alerts: `GET /v1/Alerts` (the caller's alerts, newest first, filtered by `LogLevel`,
//! `StartDate` and `EndDate`, in v1's `meta` envelope with `PageToken` paging) and
//! `GET /v1/Alerts/{NO…}`, in Twilio's Monitor shape. As Twilio does, `request_variables`,
//! `request_headers`, `response_body` and `response_headers` are only in the instance.
//!
//! Paging is by key, not offset: the token is the last alert of the page (its
//! `date_generated` and SID), so alerts raised while a client pages never shift or repeat an
//! item.

use crate::http::auth::Caller;
use crate::http::twilio::{iso, parse_date_key_token, ApiError, DateKey, Params, TokenPage};
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use switchboard_events::alert::{Alert, LogLevel};
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::alerts::Filter;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/Alerts", get(list))
        .route("/v1/Alerts/{sid}", get(fetch))
}

/// The read model the handlers wait for (read-your-writes).
const PROJECTION: &str = "alerts";

/// The fields of the list item (`monitor.v1.alert`).
fn alert_json(base: &str, a: &Alert) -> Map<String, Value> {
    let r = &a.raised;
    let date = iso(a.date_created);
    let Value::Object(map) = json!({
        "account_sid": a.account_sid,
        "alert_text": r.alert_text,
        "api_version": r.api_version,
        "date_created": date,
        "date_generated": iso(r.date_generated),
        // An alert never changes after it is raised.
        "date_updated": date,
        "error_code": r.error_code.to_string(),
        "log_level": r.log_level.as_str(),
        "more_info": r.more_info,
        "request_method": r.request_method,
        "request_url": r.request_url,
        "resource_sid": r.resource_sid,
        "service_sid": r.service_sid,
        "sid": a.sid,
        "url": format!("{base}/v1/Alerts/{}", a.sid),
    }) else {
        return Map::new();
    };
    map
}

/// The instance (`monitor.v1.alert-instance`): the item and what only a fetch shows.
fn instance_json(base: &str, a: &Alert) -> Value {
    let r = &a.raised;
    let mut map = alert_json(base, a);
    map.insert("request_variables".into(), json!(r.request_variables));
    map.insert("request_headers".into(), json!(r.request_headers));
    map.insert("response_body".into(), json!(r.response_body));
    map.insert("response_headers".into(), json!(r.response_headers));
    Value::Object(map)
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/v1/Alerts/{raw}");
    let sid = Sid::parse_as(&raw, SidPrefix::Alert).map_err(|_| ApiError::not_found(&path))?;
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let mut conn = state.read_model().await?;
    let alert = switchboard_projections::alerts::get(&mut conn, sid.as_str())
        .await
        .map_err(|e| ApiError::internal("cannot read alerts", e))?;
    // Another account's alert is exactly what a missing one is.
    match alert.filter(|a| a.account_sid == caller.sid) {
        Some(a) => Ok(Json(instance_json(&state.config().public_url, &a))),
        None => Err(ApiError::not_found(&path)),
    }
}

/// One page's request: the filters and the paging (which repeats the filters in its URLs).
struct ListRequest {
    filter: Filter,
    page: TokenPage<DateKey>,
}

impl ListRequest {
    fn parse(query: Option<&str>) -> Result<ListRequest, ApiError> {
        let params = Params::from_query(query)?;
        let log_level = match params.get("LogLevel") {
            None | Some("") => None,
            Some(v) => Some(LogLevel::parse(v).ok_or_else(|| {
                ApiError::bad_parameter(format!(
                    "LogLevel must be error, warning, notice or debug, got {v:?}"
                ))
            })?),
        };
        let start_ms = params.date("StartDate")?.map(|d| d.timestamp_millis());
        let end_ms = params
            .date("EndDate")?
            .map(|d| end_of(params.get("EndDate").unwrap_or_default(), d));
        let page = TokenPage::parse_with(&params, &["LogLevel", "StartDate", "EndDate"], |t| {
            page_token(t).map(|(ms, sid)| DateKey(ms, sid))
        })?;
        Ok(ListRequest {
            filter: Filter {
                log_level,
                start_ms,
                end_ms,
                after: page.after.clone().map(|DateKey(ms, sid)| (ms, sid)),
            },
            page,
        })
    }
}

/// `EndDate` includes the whole of a bare `YYYY-MM-DD` ("on or before this date").
fn end_of(raw: &str, d: DateTime<Utc>) -> i64 {
    let ms = d.timestamp_millis();
    if raw.len() == 10 {
        ms.saturating_add(86_400_000 - 1)
    } else {
        ms
    }
}

/// Reads a `PageToken` this API issued: `PA`, the last alert's `date_generated` (ms), `-`, its SID.
fn page_token(t: &str) -> Result<(i64, String), ApiError> {
    parse_date_key_token(t, SidPrefix::Alert)
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let req = ListRequest::parse(query.as_deref())?;
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let mut conn = state.read_model().await?;
    let alerts = switchboard_projections::alerts::list(
        &mut conn,
        caller.sid.as_str(),
        &req.filter,
        req.page.limit(),
    )
    .await
    .map_err(|e| ApiError::internal("cannot list alerts", e))?;
    drop(conn);
    let base = &state.config().public_url;
    Ok(Json(req.page.meta(
        "alerts",
        &format!("{base}/v1/Alerts"),
        &alerts,
        |a| {
            DateKey(
                a.raised.date_generated.timestamp_millis(),
                a.sid.to_string(),
            )
        },
        |a| Value::Object(alert_json(base, a)),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_token_round_trips_and_anything_else_is_refused() {
        let sid = Sid::from_u128(SidPrefix::Alert, 5);
        let token = format!("PA1764000000000-{sid}");
        assert_eq!(
            page_token(&token).ok(),
            Some((1_764_000_000_000, sid.to_string()))
        );
        let workspace = Sid::from_u128(SidPrefix::Workspace, 5);
        for bad in [
            "",
            "PA",
            "PA12",
            "PAx-NO",
            &format!("PA1-{workspace}"),
            &sid.to_string(),
        ] {
            assert!(page_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_bare_end_date_includes_its_whole_day() {
        let midnight = DateTime::from_timestamp_millis(86_400_000).unwrap_or_default();
        assert_eq!(end_of("1970-01-02", midnight), 2 * 86_400_000 - 1);
        assert_eq!(end_of("1970-01-02T00:00:00Z", midnight), 86_400_000);
    }
}
