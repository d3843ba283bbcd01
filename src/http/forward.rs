//! A node without the writer role passes two kinds of request to the writer node's API as
//! they came (method, path, query, body, credentials) and the answer back as it came:
//!
//! - **Commands** (anything but GET, HEAD and OPTIONS): only the writer appends. The position
//!   the writer reports is remembered, so the caller's next read here waits for its write
//!   (read-your-writes across nodes).
//! - **Every TaskRouter request** (paths under `/v1/Workspaces` and `/supervisor/`), reads
//!   included. A workspace's state lives in its actor on the writer, the one place its
//!   commands are decided; a read there sees every acknowledged command, so it answers as of
//!   the caller's last write on any log, and no node serves a copy loaded once and left
//!   stale. The price: TaskRouter reads load the writer, and fail with it (as its commands
//!   do). Following the log here instead would need each read to wait until this node's copy
//!   of the workspace includes the caller's last write, on every log; forwarding gives the
//!   same answer with one rule.
//!
//! Every other read (accounts, calls, alerts: the shared read models) is served here.
use super::auth::basic_credentials;
use super::{ApiError, AppState, MIN_POSITION_HEADER, POSITION_HEADER};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use std::time::Duration;
use switchboard_events::{Position, Sid};

/// Request headers passed to the writer.
const REQUEST_HEADERS: [HeaderName; 5] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT,
    header::IF_MATCH,
    MIN_POSITION_HEADER,
];

/// Response headers passed back.
const RESPONSE_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::ETAG,
    header::LOCATION,
    POSITION_HEADER,
];

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default()
    })
}

/// The account SID a request claims in its Basic credentials (checked by the writer, not
/// here: it only keys the read-your-writes record of a successful command).
fn claimed_account(headers: &axum::http::HeaderMap) -> Option<Sid> {
    let (user, _) = basic_credentials(headers).ok()?;
    Sid::parse(&user).ok()
}

/// Whether `path` is TaskRouter's (served by the writer, module doc).
fn taskrouter(path: &str) -> bool {
    path == "/v1/Workspaces"
        || path.starts_with("/v1/Workspaces/")
        || path.starts_with("/supervisor/")
}

/// Middleware: on a node with `--writer-url`, sends commands and TaskRouter requests to the
/// writer and passes its answer back; everything else is served here (module doc).
pub async fn forward_writes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(writer) = state.config().writer_url.clone() else {
        return next.run(req).await;
    };
    let read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if read && !taskrouter(req.uri().path()) {
        return next.run(req).await;
    }
    let account = claimed_account(req.headers());
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, state.config().body_limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                20001,
                "request body too large",
            )
            .into_response()
        }
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = client()
        .request(parts.method.clone(), format!("{writer}{path}"))
        .body(body);
    for name in REQUEST_HEADERS {
        if let Some(v) = parts.headers.get(&name) {
            request = request.header(name, v);
        }
    }
    let answer = match request.send().await {
        Ok(a) => a,
        Err(e) => {
            return ApiError::unavailable(format!(
            "this node forwards commands and TaskRouter requests to the writer node at {writer}, which did not answer: {e}"
        ))
            .into_response()
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::unavailable(format!(
                "the writer node at {writer} broke off its answer: {e}"
            ))
            .into_response()
        }
    };
    if status.is_success() && !read {
        let position = headers
            .get(&POSITION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Position>().ok());
        if let (Some(account), Some(position)) = (account, position) {
            state.wrote_at(&account, position);
        }
    }
    let mut response = Response::builder().status(status);
    for name in RESPONSE_HEADERS {
        if let Some(v) = headers.get(&name) {
            response = response.header(name, v);
        }
    }
    response.body(Body::from(bytes)).unwrap_or_else(|e| {
        ApiError::internal("cannot pass on the writer's answer", e).into_response()
    })
}
