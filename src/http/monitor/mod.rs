//! Monitor v1 (`monitor.twilio.com`), path for path: the account's alerts, served from the
//! `alerts` read model. One module per resource, each with a `router()`:
//!
//! - `alerts`: `GET /v1/Alerts` and `GET /v1/Alerts/{NO…}`.
//!
//! Tenancy: everything here is the authenticated account's own; another account's alert is
//! the same 404 as one that does not exist.

use super::AppState;
use axum::Router;

mod alerts;

/// Every Monitor route.
pub fn router() -> Router<AppState> {
    Router::new().merge(alerts::router())
}
