//! `/operator/v1/Accounts…`: top-level accounts, for the operator of the deployment and for
//! no account.
//!
//! - `POST /operator/v1/Accounts`: create a top-level account (`FriendlyName`); 201 with the
//!   account in Twilio's Accounts shape, the only time its `auth_token` is shown.
//! - `GET  /operator/v1/Accounts`: the top-level accounts, paged as
//!   `/2010-04-01/Accounts.json` is (`PageSize`, `PageToken`; filters `FriendlyName`,
//!   `Status`).
//! - `GET  /operator/v1/Accounts/{account_sid}`: any account, subaccounts included.
//!
//! Authentication is HTTP Basic `operator:<operator token>` ([`crate::operator::token`]) and
//! nothing else: an account's SID and auth token answer 401 20003 here, as a wrong token
//! does, and the operator token is no account's credential anywhere else. An account is made
//! by [`crate::commands::Commands::create_account`], exactly as `switchboard accounts create`
//! makes one, so its token is sealed and signs webhooks the same way.

use super::accounts::{account_json, path_sid};
use super::auth::{basic_credentials, BadCredentials};
use super::twilio::{ApiError, Params, TokenPage};
use super::AppState;
use crate::commands::{new_sid, DEFAULT_ACCOUNT_NAME};
use crate::operator::token::USER;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::accounts;
use tracing::error;
use uuid::Uuid;

/// The routes (authentication is [`require_operator`], layered on in [`super::app`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operator/v1/Accounts", get(list).post(create))
        .route("/operator/v1/Accounts/{account_sid}", get(fetch))
}

const LIST: &str = "/operator/v1/Accounts";

/// Middleware: 401 (Twilio's 20003) unless the request carries `operator` and one of the
/// operator token file's tokens.
pub async fn require_operator(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (user, password) = basic_credentials(req.headers()).map_err(|e| match e {
        BadCredentials::Missing => ApiError::unauthenticated(format!(
            "Authentication required: HTTP Basic with the user {USER:?} and the operator token"
        )),
        BadCredentials::Malformed => {
            ApiError::unauthenticated("Authentication failed: malformed Basic credentials")
        }
    })?;
    let tokens = state.operator_tokens();
    let accepted = tokens.accepts(&password).unwrap_or_else(|e| {
        // Refuse everyone rather than guess: the file is the operator's to fix.
        error!(cause = %e, "the operator token file cannot be used: every operator request is refused");
        false
    });
    if !accepted || user != USER {
        return Err(ApiError::unauthenticated(
            "Authentication failed: the operator API takes the operator token (user \"operator\"), not an account's credentials",
        ));
    }
    Ok(next.run(req).await)
}

async fn create(
    State(state): State<AppState>,
    params: Params,
) -> Result<impl IntoResponse, ApiError> {
    let friendly_name = params
        .get("FriendlyName")
        .unwrap_or(DEFAULT_ACCOUNT_NAME)
        .to_string();
    let sid = new_sid(SidPrefix::Account);
    let meta = state.commands().metadata(sid.clone(), Uuid::now_v7());
    let created = state
        .commands()
        .create_account(state.secrets(), sid, &meta, friendly_name, None)
        .await?;
    // The new account's first requests here wait for its creation (authentication, reads).
    let header = state.wrote(&created.account.sid, &created.executed);
    state.account_written(created.executed.position);
    Ok((
        StatusCode::CREATED,
        [header],
        Json(account_json(&created.account, Some(&created.auth_token))),
    ))
}

async fn fetch(
    State(state): State<AppState>,
    Path(account_sid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let path = format!("{LIST}/{account_sid}");
    let sid = path_sid(&account_sid, &path)?;
    // The operator's reads see every account command this node took.
    state.accounts_barrier().await;
    let account = state
        .account(&sid)
        .await?
        .ok_or_else(|| ApiError::not_found(&path))?;
    Ok(Json(account_json(&account, None)))
}

async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::from_query(query.as_deref())?;
    let page = TokenPage::parse(&params, SidPrefix::Account)?;
    let friendly_name = params.get("FriendlyName");
    let status = params.get("Status");
    state.accounts_barrier().await;
    let mut conn = state.read_model().await?;
    let rows = accounts::list_top_level(
        &mut conn,
        page.after.as_ref().map(Sid::as_str),
        friendly_name,
        status,
        page.limit(),
    )
    .await
    .map_err(|e| ApiError::internal("cannot list accounts", e))?;
    Ok(Json(page.envelope(
        "accounts",
        LIST,
        &[("FriendlyName", friendly_name), ("Status", status)],
        &rows,
        |r| r.account.sid.clone(),
        |r| account_json(&r.account, None),
    )))
}
