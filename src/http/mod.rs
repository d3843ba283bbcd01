//! The HTTP API: Twilio-shaped resources under their real paths, plus `/healthz` and
//! `/metrics`.
//!
//! Every resource module exposes `router()`; [`app`] merges them, puts authentication in
//! front of the API routes, and adds tracing, a timeout, a body limit and panic catching, so
//! a request can fail but never take the server with it.
//!
//! # Modules
//! - [`twilio`]: what every Twilio-shaped API shares: the error body, parameters, the list
//!   envelopes and paging, dates.
//! - [`auth`]: HTTP Basic with an account SID and auth token (the one reading of the header).
//! - `forward`: on a node without the writer role, commands go to the writer node.
//! - [`accounts`]: the account resource, `/2010-04-01/Accounts`.
//! - [`operator`]: top-level accounts for the operator, `/operator/v1/Accounts`, behind the
//!   operator token instead of an account's credentials.
//! - [`auth_tokens`]: rotating the caller's auth token, `/v1/AuthTokens/{Secondary,Promote}`.
//! - [`taskrouter`]: TaskRouter v1 under `/v1/Workspaces`, a module per resource.
//! - [`voice`]: Voice 2010-04-01 under `/2010-04-01/Accounts/{AC}/…`: incoming phone
//!   numbers and applications.
//! - [`monitor`]: Monitor v1, the account's alerts under `/v1/Alerts`.
//! - [`voice`]: Programmable Voice 2010-04-01 (call notifications).
//! - [`supervisor`]: reads from the `taskrouter` read model,
//!   `/supervisor/v1/Workspaces/{WS}/…`.
//! - [`health`]: the unauthenticated `/healthz` and `/metrics`.
//! - [`limits`]: the transport's limits (URI length 414, body size 413) in Twilio's shape.
//! - `tenancy`: a parent account acts as its subaccount on the subaccount's workspaces.
//! - [`routes`]: every `(method, path)` the API serves, one table (tests check the routers
//!   against it, and the cross-tenant matrix runs over it).
//!
//! Reads are read-your-writes: a command records the position it reached for the calling
//! account (and returns it in `Switchboard-Position`); a later read by that account waits,
//! at most `--read-wait-ms`, for the read models to pass it. A client can also send
//! `Switchboard-Min-Position: PARTITION:OFFSET` itself.

pub mod accounts;
pub mod auth;
pub mod auth_tokens;
mod forward;
pub mod health;
pub mod limits;
pub mod monitor;
pub mod operator;
pub mod routes;
pub mod supervisor;
pub mod taskrouter;
mod tenancy;
pub mod twilio;
pub mod voice;

use crate::commands::{Commands, Executed};
use crate::log::Checkpoint;
use crate::metrics::{HttpLabel, Metrics};
use crate::projector::Projector;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_events::{Position, Sid};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::warn;
use twilio::ApiError;

/// Header carrying the position a command reached.
pub const POSITION_HEADER: HeaderName = HeaderName::from_static("switchboard-position");
/// Header a client may send to read at least its own writes.
pub const MIN_POSITION_HEADER: HeaderName = HeaderName::from_static("switchboard-min-position");

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Base of absolute URLs (no trailing slash).
    pub public_url: String,
    /// Longest wait of a read for the caller's last write.
    pub read_wait: Duration,
    /// Longest request.
    pub request_timeout: Duration,
    /// Largest body.
    pub body_limit: usize,
    /// Longest request URI (path and query), bytes.
    pub uri_limit: usize,
    /// On a node without the writer role: where commands go (`--writer-url`).
    pub writer_url: Option<String>,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    commands: Commands,
    /// The server key new auth tokens are sealed under.
    secrets: Arc<crate::secrets::Keyring>,
    /// The operator API's credential.
    operator: crate::operator::token::OperatorTokens,
    projector: Arc<Projector>,
    metrics: Arc<Metrics>,
    config: HttpConfig,
    /// Last position each account's commands reached (read-your-writes).
    sessions: Mutex<HashMap<Sid, Checkpoint>>,
    /// TaskRouter's workspace actors.
    taskrouter: crate::taskrouter::Engine,
    /// Whether the accounts read model has caught up with the log as it was at start.
    accounts_synced: std::sync::atomic::AtomicBool,
    /// The last position an account command reached on this node.
    last_account_write: Mutex<Option<Position>>,
    /// Accounts as last read, with the accounts projection's generation then (used only
    /// while this process applies that projection, so a change is always seen).
    account_cache: Mutex<HashMap<Sid, (u64, Option<switchboard_events::account::Account>)>>,
    /// Each workspace's owner once seen (a workspace never changes owner), for `tenancy`.
    workspace_owners: Mutex<HashMap<Sid, Sid>>,
    /// The call router's Calls port, once the SIP engine runs (set after the HTTP state is
    /// built: the engine starts later). `None` on a node without SIP.
    calls: std::sync::OnceLock<Arc<dyn crate::voice::calls::CallService>>,
}

impl AppState {
    /// Builds the state.
    pub fn new(
        commands: Commands,
        taskrouter: crate::taskrouter::Engine,
        projector: Arc<Projector>,
        metrics: Arc<Metrics>,
        config: HttpConfig,
        secrets: Arc<crate::secrets::Keyring>,
        operator: crate::operator::token::OperatorTokens,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                secrets,
                operator,
                taskrouter,
                accounts_synced: Default::default(),
                last_account_write: Mutex::default(),
                account_cache: Mutex::default(),
                workspace_owners: Mutex::default(),
                calls: std::sync::OnceLock::new(),
                commands,
                projector,
                metrics,
                config,
                sessions: Mutex::default(),
            }),
        }
    }

    /// Connects the Calls API to the call router (once; a second call is ignored).
    pub fn set_calls(&self, calls: Arc<dyn crate::voice::calls::CallService>) {
        let _ = self.inner.calls.set(calls);
    }

    /// The call router's Calls port, when this node places calls.
    pub fn calls(&self) -> Option<&Arc<dyn crate::voice::calls::CallService>> {
        self.inner.calls.get()
    }

    /// The application service.
    pub fn commands(&self) -> &Commands {
        &self.inner.commands
    }

    /// The server key new auth tokens are sealed under.
    pub fn secrets(&self) -> &crate::secrets::Keyring {
        &self.inner.secrets
    }

    /// The tokens the operator API takes.
    pub fn operator_tokens(&self) -> &crate::operator::token::OperatorTokens {
        &self.inner.operator
    }

    /// TaskRouter's workspace actors.
    pub fn taskrouter(&self) -> &crate::taskrouter::Engine {
        &self.inner.taskrouter
    }

    /// The projector (read models and their progress).
    pub fn projector(&self) -> &Arc<Projector> {
        &self.inner.projector
    }

    /// Settings.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// A connection to the read-model store (503 when it cannot be reached).
    pub async fn read_model(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, ApiError> {
        self.inner
            .projector
            .store()
            .pool()
            .acquire()
            .await
            .map_err(|e| {
                ApiError::unavailable(format!("The read-model store cannot be reached: {e}"))
            })
    }

    /// An account from the read model (no tenancy check: callers decide what to show).
    pub async fn account(
        &self,
        sid: &Sid,
    ) -> Result<Option<switchboard_events::account::Account>, ApiError> {
        // Read the generation before the row: a change committed in between bumps it, and
        // the next lookup reads again.
        let generation = self.inner.projector.generation("accounts");
        if let Some(g) = generation {
            let cache = self
                .inner
                .account_cache
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((at, account)) = cache.get(sid) {
                if *at == g {
                    return Ok(account.clone());
                }
            }
        }
        let mut conn = self.read_model().await?;
        let row = switchboard_projections::accounts::get(&mut conn, sid.as_str())
            .await
            .map_err(|e| ApiError::internal("cannot read accounts", e))?;
        let account = row.map(|r| r.account);
        if let Some(g) = generation {
            let mut cache = self
                .inner
                .account_cache
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(sid.clone(), (g, account.clone()));
        }
        Ok(account)
    }

    /// The account that owns workspace `ws` (None: no such workspace, or it cannot be read).
    pub async fn workspace_owner(&self, ws: &Sid) -> Option<Sid> {
        let cached = self
            .inner
            .workspace_owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(ws)
            .cloned();
        if cached.is_some() {
            return cached;
        }
        let owner = self
            .inner
            .taskrouter
            .read(ws, |l| l.account_sid.clone())
            .await
            .ok()??;
        let mut owners = self
            .inner
            .workspace_owners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if owners.len() > 100_000 {
            owners.clear();
        }
        owners.insert(ws.clone(), owner.clone());
        Some(owner)
    }

    /// Remembers that `account`'s command reached `executed.position`, and returns the
    /// header that tells the client.
    pub fn wrote(&self, account: &Sid, executed: &Executed) -> (HeaderName, HeaderValue) {
        let p = executed.position;
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let entry = sessions.entry(account.clone()).or_default();
        let offset = entry.entry(p.partition).or_insert(0);
        *offset = (*offset).max(p.offset);
        drop(sessions);
        let value =
            HeaderValue::from_str(&p.to_string()).unwrap_or(HeaderValue::from_static("0:0"));
        (POSITION_HEADER, value)
    }

    /// Records that an account command reached `p`: authentication waits for it.
    pub fn account_written(&self, p: Position) {
        let mut last = self
            .inner
            .last_account_write
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|l| l < p) {
            *last = Some(p);
        }
    }

    /// Waits until the accounts read model can be trusted for authentication: caught up with
    /// the whole log once (at start), and afterwards with every account command this node has
    /// taken, so a suspension or a new subaccount counts from the very next request. Other
    /// writes (tasks, calls) do not hold authentication up.
    pub async fn accounts_barrier(&self) {
        use std::sync::atomic::Ordering;
        let wait = self.inner.config.read_wait;
        if !self.inner.accounts_synced.load(Ordering::Acquire) {
            if self.inner.projector.wait_for_head("accounts", wait).await {
                self.inner.accounts_synced.store(true, Ordering::Release);
            }
            return;
        }
        let last = *self
            .inner
            .last_account_write
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // With the log unreachable the projector cannot move: answer at once (a command then
        // fails fast with 503) rather than after the read wait.
        if let Some(p) = last {
            if self.inner.commands.log().heads().await.is_ok() {
                self.inner.projector.wait_for("accounts", p, wait).await;
            }
        }
    }

    /// Remembers a position `account`'s command reached on another node.
    pub fn wrote_at(&self, account: &Sid, p: Position) {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let offset = sessions
            .entry(account.clone())
            .or_default()
            .entry(p.partition)
            .or_insert(0);
        *offset = (*offset).max(p.offset);
    }

    /// Waits until `projection` has passed the caller's last write (and any position the
    /// client named), at most `--read-wait-ms`. Answers from what the read model holds after
    /// that, with a warning in the log.
    pub async fn read_your_writes(&self, projection: &str, account: &Sid, headers: &HeaderMap) {
        let mut wanted: Vec<Position> = {
            let sessions = self
                .inner
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            sessions
                .get(account)
                .map(|cp| {
                    cp.iter()
                        .map(|(p, o)| Position {
                            partition: *p,
                            offset: *o,
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        if let Some(p) = headers
            .get(MIN_POSITION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Position>().ok())
        {
            wanted.push(p);
        }
        let deadline = self.inner.config.read_wait;
        for position in wanted {
            if !self
                .inner
                .projector
                .wait_for(projection, position, deadline)
                .await
            {
                warn!(projection, %position, account_sid = %account, "read model did not reach the caller's write in time; answering from what it holds");
            }
        }
    }
}

/// Only `/healthz` and `/metrics`, for nodes without the `api` role.
pub fn ops_only(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .fallback(not_found)
        .with_state(state)
}

/// The whole API as a router, ready to serve (or to `oneshot` in tests).
pub fn app(state: AppState) -> Router {
    let config = state.config().clone();
    let api = Router::new()
        .merge(accounts::router())
        .merge(auth_tokens::router())
        .merge(monitor::router())
        .merge(voice::router())
        .merge(
            Router::new()
                .merge(taskrouter::router())
                .merge(supervisor::router())
                // Inside authentication (route layers added later wrap this one).
                .route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    tenancy::act_as_owner,
                )),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ))
        // The operator's routes: its own credential instead of an account's (merged after
        // `require_auth`, so that layer is not on them); forwarded like any command.
        .merge(
            operator::router().route_layer(middleware::from_fn_with_state(
                state.clone(),
                operator::require_operator,
            )),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            forward::forward_writes,
        ));
    Router::new()
        .merge(health::router())
        .merge(api)
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("request handler panicked", "see the server log").into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        // `--body-limit` is the one limit: not axum's own 2 MB default on top of it.
        .layer(DefaultBodyLimit::disable())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let path = req
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            tracing::info_span!("http", method = %req.method(), path)
        }))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::uri_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            finish_response,
        ))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(req.uri().path())
}

/// Outermost: counts every response, and gives the bare ones the layers below produce
/// (405 from routing, 408 from the timeout, 413 from the body limit) Twilio's error body.
async fn finish_response(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let response = match response.status() {
        _ if is_json => response,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            20004,
            format!("Method {method} is not allowed on {path}"),
        )
        .into_response(),
        StatusCode::REQUEST_TIMEOUT => {
            ApiError::unavailable("The request took too long and was abandoned.").into_response()
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            twilio::params::body_too_large(state.config().body_limit).into_response()
        }
        _ => response,
    };
    state
        .inner
        .metrics
        .http_responses
        .get_or_create(&HttpLabel {
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
