//! `/2010-04-01/Accounts…`: the account resource, in Twilio's shape.
//!
//! - `GET  /2010-04-01/Accounts.json`: the caller and its subaccounts (paged, filters
//!   `FriendlyName`, `Status`).
//! - `POST /2010-04-01/Accounts.json`: create a subaccount (`FriendlyName`); the response is
//!   the only time its `auth_token` is shown.
//! - `GET  /2010-04-01/Accounts/{AccountSid}.json`, `POST` (update `FriendlyName`, `Status`).
//!
//! Tenancy: an account sees itself and its own subaccounts; anything else is answered 404
//! exactly as a SID that does not exist. The account decisions' errors become Twilio's error
//! bodies here (`From<CommandError<AccountError>> for ApiError`).

use super::auth::Caller;
use super::twilio::{rfc2822, ApiError, Params, TokenPage};
use super::AppState;
use crate::commands::{new_sid, CommandError};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::account::{Account, AccountError, AccountStatus, UpdateAccount};
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::accounts;
use tracing::error;
use uuid::Uuid;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/2010-04-01/Accounts.json", get(list).post(create))
        .route("/2010-04-01/Accounts/{file}", get(fetch).post(update))
}

const PROJECTION: &str = "accounts";

/// An account in Twilio's JSON shape. `auth_token` is shown only right after creation (the
/// store keeps its hash and a sealed copy for signing, never the token), so it is `null`
/// elsewhere.
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
pub(super) fn path_sid(file: &str, full_path: &str) -> Result<Sid, ApiError> {
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
            _ => Err(AccountError::NotFound(sid.clone())),
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
    let created = state
        .commands()
        .create_account(
            state.secrets(),
            new_sid(SidPrefix::Account),
            &meta,
            friendly_name,
            Some(caller.clone()),
        )
        .await?;
    let header = state.wrote(&caller.sid, &created.executed);
    state.account_written(created.executed.position);
    Ok((
        StatusCode::CREATED,
        [header],
        Json(account_json(&created.account, Some(&created.auth_token))),
    ))
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let params = Params::from_query(query.as_deref())?;
    let page = TokenPage::parse(&params, SidPrefix::Account)?;
    let friendly_name = params.get("FriendlyName");
    let status = params.get("Status");
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let mut conn = state.read_model().await?;
    let rows = accounts::list_family(
        &mut conn,
        caller.sid.as_str(),
        page.after.as_ref().map(Sid::as_str),
        friendly_name,
        status,
        page.limit(),
    )
    .await
    .map_err(|e| ApiError::internal("cannot list accounts", e))?;
    Ok(Json(page.envelope(
        "accounts",
        "/2010-04-01/Accounts.json",
        &[("FriendlyName", friendly_name), ("Status", status)],
        &rows,
        |r| r.account.sid.clone(),
        |r| account_json(&r.account, None),
    )))
}

/// The account decisions' errors (and the log's) as the API answers them.
impl From<CommandError<AccountError>> for ApiError {
    fn from(e: CommandError<AccountError>) -> Self {
        match e {
            CommandError::Domain(AccountError::FriendlyName) => {
                ApiError::new(StatusCode::BAD_REQUEST, 20002, e.to_string())
            }
            CommandError::Domain(AccountError::NotFound(sid)) => {
                ApiError::not_found(&format!("/2010-04-01/Accounts/{sid}.json"))
            }
            CommandError::Domain(
                AccountError::AlreadyExists(_)
                | AccountError::Closed(_)
                | AccountError::NestedSubaccount(_),
            ) => ApiError::new(StatusCode::BAD_REQUEST, 20001, e.to_string()),
            // The handlers of `/v1/AuthTokens/…` answer with their own path; this is the
            // fallback for any other caller.
            CommandError::Domain(AccountError::NoSecondaryAuthToken(_)) => {
                ApiError::not_found("/v1/AuthTokens/Secondary")
            }
            CommandError::Contended(_) => ApiError::new(StatusCode::CONFLICT, 20409, e.to_string()),
            CommandError::Append(crate::log::AppendError::Unavailable(ref why)) => {
                error!(cause = %e, "append failed");
                ApiError::unavailable(format!(
                    "The event log is unavailable ({why}); the change was not acknowledged. Retry later."
                ))
            }
            CommandError::Read(crate::log::ReadError::Damaged(d)) => {
                error!(position = %d.position, stream = ?d.stream, reason = %d.reason, "command refused: unreadable record in its stream");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    20500,
                    format!(
                        "The resource's history holds a record this server cannot read (log position {}: {}); nothing was written",
                        d.position, d.reason
                    ),
                )
            }
            CommandError::Read(crate::log::ReadError::Unavailable(ref why)) => {
                error!(cause = %e, "stream read failed");
                ApiError::unavailable(format!(
                    "The event log is unavailable ({why}); nothing was written. Retry later."
                ))
            }
            CommandError::Append(_) => ApiError::internal("command failed", e),
        }
    }
}
