//! HTTP Basic authentication with an account SID and auth token, as Twilio's API takes it.
//!
//! The token is checked against the SHA-256s kept in the `accounts` read model — the primary
//! token's, and the secondary's while one exists (Twilio's rotation: both work until the
//! secondary is promoted or deleted) — read once the read model has reached the log's head as
//! of the request's arrival (bounded by `--read-wait-ms`). The token itself is stored only
//! sealed under the server key, for signing; authentication never opens it.

use super::twilio::ApiError;
use super::AppState;
use crate::commands::hash_token;
use crate::secrets::constant_time_eq;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use switchboard_events::account::Account;
use switchboard_events::{Sid, SidPrefix};

/// The authenticated account, put into the request's extensions.
#[derive(Debug, Clone)]
pub struct Caller(pub Account);

/// Middleware: 401 unless the request carries a valid account SID and auth token.
pub async fn require_auth(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (user, password) = credentials(&req)?;
    let sid = Sid::parse_as(&user, SidPrefix::Account).map_err(|e| {
        ApiError::unauthenticated(format!(
            "Authentication failed: the username is not an account SID ({e})"
        ))
    })?;
    // Credentials are checked against a read model that has every account command this node
    // took (and the whole log as of start), so a suspension, a new subaccount or a token
    // change takes effect for the very next request.
    state.accounts_barrier().await;
    let account = state.account(&sid).await?;
    let presented = hash_token(&password);
    let account = account
        .filter(|a| {
            // Every current hash is compared (no early exit), so timing says nothing about
            // which token matched.
            a.token_hashes().fold(false, |matched, hash| {
                constant_time_eq(hash.as_bytes(), presented.as_bytes()) | matched
            })
        })
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "Authentication failed: unknown account SID or wrong auth token",
            )
        })?;
    if !account.status.can_use_api() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            20005,
            format!("Account {} is {}", account.sid, account.status.as_str()),
        ));
    }
    req.extensions_mut().insert(Caller(account));
    Ok(next.run(req).await)
}

/// Why a request's Basic credentials cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BadCredentials {
    /// No `Authorization: Basic …` header.
    Missing,
    /// A Basic header whose value is not base64 of UTF-8 `user:password`.
    Malformed,
}

/// The user and password of an `Authorization: Basic` header (the scheme's case as clients
/// send it, `Basic` or `basic`). The one reading of the header: authentication here and the
/// forwarding of commands to the writer node ([`super::forward`]) agree on who is asking.
pub(super) fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), BadCredentials> {
    let header = headers
        .get(AUTHORIZATION)
        .ok_or(BadCredentials::Missing)?
        .to_str()
        .map_err(|_| BadCredentials::Missing)?;
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
        .ok_or(BadCredentials::Missing)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| BadCredentials::Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| BadCredentials::Malformed)?;
    let (user, password) = text.split_once(':').ok_or(BadCredentials::Malformed)?;
    Ok((user.to_string(), password.to_string()))
}

fn credentials(req: &Request) -> Result<(String, String), ApiError> {
    basic_credentials(req.headers()).map_err(|e| match e {
        BadCredentials::Missing => ApiError::unauthenticated(
            "Authentication required: HTTP Basic with your AccountSid and AuthToken",
        ),
        BadCredentials::Malformed => {
            ApiError::unauthenticated("Authentication failed: malformed Basic credentials")
        }
    })
}
