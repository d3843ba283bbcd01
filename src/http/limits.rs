//! Transport limits, answered in Twilio's error body before any handler runs: a request URI
//! longer than `--uri-limit` is a 414 (a list filter rides in the query, so this is what
//! bounds `TargetWorkersExpression=` and friends), and a body past `--body-limit` a 413
//! (from `tower-http`'s limit, reshaped in [`finish_response`](super::finish_response), or
//! from the reading of a chunked body in [`Params`](super::twilio::Params)).
//!
//! Below these, hyper's HTTP/1 parser has its own: a URI over 65,534 bytes gets its bare 414
//! and a request head over about 400 KiB its bare 431, before the application sees the
//! request. Keep `--uri-limit` under 65,534 so every refusal the application can make is in
//! Twilio's shape.

use super::twilio::ApiError;
use super::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Default of `--uri-limit`: 16 KiB. Twilio's longest real URIs (a list with every filter,
/// a page token) are a few hundred bytes; 16 KiB leaves room for a long expression filter
/// and stays under hyper's own 64 KiB.
pub const DEFAULT_URI_LIMIT: usize = 16 * 1024;

/// Middleware: a URI (path and query) longer than the configured limit is a 414.
pub async fn uri_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config().uri_limit;
    let length = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if length > limit {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            20001,
            format!("The request URI is {length} bytes, over the limit of {limit} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}
