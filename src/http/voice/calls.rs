//! `/2010-04-01/Accounts/{AccountSid}/Calls…`: placing, steering, listing and deleting calls
//! in Twilio's shape (VOICE-NOTES §2.1–2.3). Placing and steering go through the call
//! router's port (`crate::voice::calls::CallService`); reads come from the `calls` read model
//! (every node), or from a live call's controller on the node that runs it.

use crate::http::AppState;
use axum::Router;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
