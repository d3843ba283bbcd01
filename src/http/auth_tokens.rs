//! `/v1/AuthTokens/…`: rotating the caller's auth token, in the shape of Twilio's Accounts v1
//! API (`accounts.twilio.com`; the official libraries' `client.accounts.v1.secondary_auth_token`
//! and `.auth_token_promotion`).
//!
//! - `POST   /v1/AuthTokens/Secondary`: a new secondary token (201; the only time it is
//!   shown). It replaces an earlier secondary; it and the primary both authenticate.
//! - `DELETE /v1/AuthTokens/Secondary`: the secondary stops authenticating (204; 404 20404
//!   when there is none).
//! - `POST   /v1/AuthTokens/Promote`: the secondary becomes the primary, shown once more in
//!   the answer; the old primary stops authenticating at once (404 20404 without a secondary).
//!
//! Each acts on the authenticated account only (a subaccount rotates its own token by
//! authenticating as itself), as Twilio's do. The new token is drawn and sealed under the
//! server key here; the log holds its hash and the sealed copy. Promotion is how an account
//! created before tokens were sealed (only a hash stored) gets a token webhooks can be signed
//! with.

use super::auth::Caller;
use super::twilio::{iso, ApiError};
use super::AppState;
use crate::commands::{new_sealed_auth_token, CommandError};
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::account::{
    Account, AccountError, CreateSecondaryAuthToken, DeleteSecondaryAuthToken, PromoteAuthToken,
};
use switchboard_events::Event;
use tracing::error;
use uuid::Uuid;

const SECONDARY: &str = "/v1/AuthTokens/Secondary";
const PROMOTE: &str = "/v1/AuthTokens/Promote";

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        // Full paths spelled out (the route table's check reads them; the constants name the
        // same paths for the handlers' URLs).
        .route(
            "/v1/AuthTokens/Secondary",
            post(create_secondary).delete(delete_secondary),
        )
        .route("/v1/AuthTokens/Promote", post(promote))
}

/// Runs one token command on the caller's account stream; returns the position header and
/// the account after it. A missing secondary answers 404 naming `path`, as Twilio does.
async fn run(
    state: &AppState,
    caller: &Account,
    path: &str,
    decide: impl Fn(Option<&Account>) -> Result<Vec<Event>, AccountError>,
) -> Result<((HeaderName, HeaderValue), Account), ApiError> {
    let meta = state
        .commands()
        .metadata(caller.sid.clone(), Uuid::now_v7());
    let (executed, after) = state
        .commands()
        .account(&caller.sid, &meta, decide)
        .await
        .map_err(|e| match e {
            CommandError::Domain(AccountError::NoSecondaryAuthToken(_)) => {
                ApiError::not_found(path.trim_start_matches("/v1"))
            }
            other => ApiError::from(other),
        })?;
    let header = state.wrote(&caller.sid, &executed);
    // Authentication waits for this position: the next request sees the new token.
    state.account_written(executed.position);
    let account = after.ok_or_else(|| ApiError::not_found(path))?;
    Ok((header, account))
}

async fn create_secondary(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    let token = new_sealed_auth_token(state.secrets());
    let command = CreateSecondaryAuthToken {
        sid: caller.sid.clone(),
        auth_token_hash: token.hash.clone(),
        auth_token_sealed: token.sealed.clone(),
    };
    let (header, account) = run(&state, &caller, SECONDARY, |s| command.decide(s)).await?;
    let created = account
        .secondary_auth_token
        .as_ref()
        .map_or(account.date_updated, |s| s.date_created);
    let body = json!({
        "account_sid": account.sid,
        "date_created": iso(created),
        "date_updated": iso(created),
        "secondary_auth_token": token.token,
        "url": url(&state, SECONDARY),
    });
    Ok((StatusCode::CREATED, [header], Json(body)))
}

async fn delete_secondary(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    let command = DeleteSecondaryAuthToken {
        sid: caller.sid.clone(),
    };
    let (header, _) = run(&state, &caller, SECONDARY, |s| command.decide(s)).await?;
    Ok((StatusCode::NO_CONTENT, [header]))
}

async fn promote(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    let command = PromoteAuthToken {
        sid: caller.sid.clone(),
    };
    let (header, account) = run(&state, &caller, PROMOTE, |s| command.decide(s)).await?;
    // Twilio shows the promoted token once more; it is only kept sealed, so open it. A token
    // sealed under a key this node lacks is still promoted (the log says so): answer `null`
    // rather than fail a change that happened.
    let token = account
        .auth_token_sealed
        .as_deref()
        .and_then(|sealed| match state.secrets().open(sealed) {
            Ok(token) => Some(token),
            Err(e) => {
                error!(account_sid = %account.sid, cause = %e, "cannot open the promoted auth token");
                None
            }
        });
    let body: Value = json!({
        "account_sid": account.sid,
        "auth_token": token,
        "date_created": iso(account.auth_token_created),
        "date_updated": iso(account.date_updated),
        "url": url(&state, PROMOTE),
    });
    Ok(([header], Json(body)))
}

fn url(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.config().public_url)
}
