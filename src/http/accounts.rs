//! `/2010-04-01/Accounts…`: the account resource, in Twilio's shape.
//!
//! - `GET  /2010-04-01/Accounts.json`: the caller and its subaccounts (paged, filters
//!   `FriendlyName`, `Status`).
//! - `POST /2010-04-01/Accounts.json`: create a subaccount (`FriendlyName`); the response is
//!   the only time its `auth_token` is shown.
//! - `GET  /2010-04-01/Accounts/{AccountSid}.json`, `POST` (update `FriendlyName`, `Status`).
//!
//! Tenancy: an account sees itself and its own subaccounts; anything else is answered 404
//! exactly as a SID that does not exist.

use super::auth::Caller;
use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::commands::{new_auth_token, new_sid};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use switchboard_events::account::{Account, AccountStatus, CreateAccount, UpdateAccount};
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::accounts;
use uuid::Uuid;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/2010-04-01/Accounts.json", get(list).post(create))
        .route("/2010-04-01/Accounts/{file}", get(fetch).post(update))
}

const PROJECTION: &str = "accounts";

/// RFC 2822, as the 2010-04-01 API writes dates.
pub fn rfc2822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// An account in Twilio's JSON shape. `auth_token` is only known right after creation (only
/// its hash is stored), so it is `null` elsewhere.
pub fn account_json(a: &Account, auth_token: Option<&str>) -> Value {
    let uri = format!("/2010-04-01/Accounts/{}", a.sid);
    json!({
        "auth_token": auth_token,
        "date_created": rfc2822(a.date_created),
        "date_updated": rfc2822(a.date_updated),
        "friendly_name": a.friendly_name,
        "owner_account_sid": a.owner_account_sid.as_ref().unwrap_or(&a.sid),
        "sid": a.sid,
        "status": a.status.as_str(),
        "subresource_uris": {
            "calls": format!("{uri}/Calls.json"),
            "queues": format!("{uri}/Queues.json"),
        },
        "type": match a.account_type {
            switchboard_events::account::AccountType::Trial => "Trial",
            switchboard_events::account::AccountType::Full => "Full",
        },
        "uri": format!("{uri}.json"),
    })
}

/// Whether `caller` may see `target`: itself or its own subaccount.
pub fn visible(caller: &Account, target: &Account) -> bool {
    target.sid == caller.sid || target.owner_account_sid.as_ref() == Some(&caller.sid)
}

/// Parses `{AccountSid}.json` from the path; anything malformed is a 404 that says why.
fn path_sid(file: &str, full_path: &str) -> Result<Sid, ApiError> {
    let raw = file.strip_suffix(".json").unwrap_or(file);
    Sid::parse_as(raw, SidPrefix::Account).map_err(|e| {
        let mut err = ApiError::not_found(full_path);
        err.message = format!("{} ({e})", err.message);
        err
    })
}

async fn load_visible(
    state: &AppState,
    caller: &Account,
    sid: &Sid,
    path: &str,
) -> Result<Account, ApiError> {
    match state.account(sid).await? {
        Some(a) if visible(caller, &a) => Ok(a),
        _ => Err(ApiError::not_found(path)),
    }
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/2010-04-01/Accounts/{file}");
    let sid = path_sid(&file, &path)?;
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let account = load_visible(&state, &caller, &sid, &path).await?;
    Ok(Json(account_json(&account, None)))
}

async fn update(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(file): Path<String>,
    params: Params,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/2010-04-01/Accounts/{file}");
    let sid = path_sid(&file, &path)?;
    // Tenancy is checked against the write model's own state inside the command; the read
    // model only answers "may the caller name this SID at all".
    let status = match params.get("Status") {
        None => None,
        Some(s) => Some(AccountStatus::parse(s).ok_or_else(|| {
            ApiError::bad_parameter(format!(
                "Status must be active, suspended or closed, got {s:?}"
            ))
        })?),
    };
    if sid == caller.sid
        && status.is_some_and(|s| s != AccountStatus::Active)
        && caller.owner_account_sid.is_none()
    {
        return Err(ApiError::bad_parameter(
            "A main account cannot suspend or close itself",
        ));
    }
    let command = UpdateAccount {
        sid: sid.clone(),
        friendly_name: params.get("FriendlyName").map(str::to_string),
        status,
    };
    let meta = state
        .commands()
        .metadata(caller.sid.clone(), Uuid::now_v7());
    let caller_sid = caller.sid.clone();
    let (executed, after) = state
        .commands()
        .account(&sid, &meta, |current| match current {
            Some(a) if visible(&caller, a) => command.decide(current),
            _ => Err(switchboard_events::account::AccountError::NotFound(
                sid.clone(),
            )),
        })
        .await?;
    let header = state.wrote(&caller_sid, &executed);
    state.account_written(executed.position);
    let account = after.ok_or_else(|| ApiError::not_found(&path))?;
    Ok(([header], Json(account_json(&account, None))))
}

async fn create(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    params: Params,
) -> Result<impl IntoResponse, ApiError> {
    let sid = new_sid(SidPrefix::Account);
    let (token, hash) = new_auth_token();
    let meta = state
        .commands()
        .metadata(caller.sid.clone(), Uuid::now_v7());
    let friendly_name = params
        .get("FriendlyName")
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "SubAccount Created at {}",
                meta.occurred_at.format("%Y-%m-%d %I:%M %p")
            )
        });
    let command = CreateAccount {
        sid: sid.clone(),
        friendly_name,
        owner: Some(caller.clone()),
        auth_token_hash: hash,
    };
    let (executed, after) = state
        .commands()
        .account(&sid, &meta, |current| command.decide(current))
        .await?;
    let header = state.wrote(&caller.sid, &executed);
    state.account_written(executed.position);
    let account =
        after.ok_or_else(|| ApiError::internal("account creation", "no state after create"))?;
    Ok((
        StatusCode::CREATED,
        [header],
        Json(account_json(&account, Some(&token))),
    ))
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let params = Params::from_query(query.as_deref());
    let page_size = params.int("PageSize", 1..=1000)?.unwrap_or(50);
    let page = params.int("Page", 0..=i64::from(u32::MAX))?.unwrap_or(0);
    let after = match params.get("PageToken") {
        None => None,
        Some(t) => Some(
            t.strip_prefix("PA")
                .and_then(|s| Sid::parse_as(s, SidPrefix::Account).ok())
                .ok_or_else(|| {
                    ApiError::bad_parameter(format!("PageToken {t:?} is not one this API issued"))
                })?,
        ),
    };
    let friendly_name = params.get("FriendlyName");
    let status = params.get("Status");
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let mut conn = state.read_model().await?;
    let rows = accounts::list_family(
        &mut conn,
        caller.sid.as_str(),
        after.as_ref().map(Sid::as_str),
        friendly_name,
        status,
        page_size + 1,
    )
    .await
    .map_err(|e| ApiError::internal("cannot list accounts", e))?;
    let has_more = rows.len() as i64 > page_size;
    let items: Vec<&accounts::AccountRow> = rows.iter().take(page_size as usize).collect();
    let mut filters = String::new();
    for (k, v) in [("FriendlyName", friendly_name), ("Status", status)] {
        if let Some(v) = v {
            filters.push_str(&format!(
                "&{k}={}",
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            ));
        }
    }
    let base = "/2010-04-01/Accounts.json";
    let uri = match &after {
        None => format!("{base}?PageSize={page_size}&Page={page}{filters}"),
        Some(a) => format!("{base}?PageSize={page_size}&Page={page}&PageToken=PA{a}{filters}"),
    };
    let next = match (has_more, items.last()) {
        (true, Some(last)) => Some(format!(
            "{base}?PageSize={page_size}&Page={}&PageToken=PA{}{filters}",
            page + 1,
            last.account.sid
        )),
        _ => None,
    };
    let start = page * page_size;
    Ok(Json(json!({
        "accounts": items.iter().map(|r| account_json(&r.account, None)).collect::<Vec<_>>(),
        "end": start + (items.len() as i64) - 1,
        "first_page_uri": format!("{base}?PageSize={page_size}&Page=0{filters}"),
        "next_page_uri": next,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": Value::Null,
        "start": start,
        "uri": uri,
    })))
}
