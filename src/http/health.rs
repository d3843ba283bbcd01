//! `GET /healthz` (log head and each projection's checkpoint; no authentication) and
//! `GET /metrics` (Prometheus text format).

use super::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let heads = state.commands().log().heads().await;
    let projections: serde_json::Map<String, serde_json::Value> = state
        .projector()
        .projections()
        .iter()
        .map(|p| {
            let cp = state.projector().checkpoint(p.name());
            (
                p.name().to_string(),
                json!({"version": p.version(), "checkpoint": cp}),
            )
        })
        .collect();
    match heads {
        Ok(heads) => (
            axum::http::StatusCode::OK,
            Json(json!({"status": "ok", "log_head": heads, "projections": projections})),
        ),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "error": e.to_string()})),
        ),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.inner.metrics.render(),
    )
}
