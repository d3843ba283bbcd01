//! `ExpireClosedTasks`: completed and canceled tasks past their retention leave the workspace,
//! each through a `task.system-deleted` (what Twilio records when it removes one). Like `Tick`
//! it is time passing, so it is never refused: on a workspace that is not there (or is
//! deleted) it records nothing.

use crate::event::Event;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::timeouts::expired;
use crate::taskrouter::validate::live;
use chrono::{DateTime, Duration, Utc};

/// Decides `ExpireClosedTasks` at `now`. A retention too long to be a duration never expires
/// anything.
pub(crate) fn decide(
    state: Option<&Workspace>,
    now: DateTime<Utc>,
    retention_secs: u64,
) -> Vec<Event> {
    let retention = i64::try_from(retention_secs)
        .ok()
        .and_then(Duration::try_seconds);
    match (live(state), retention) {
        (Ok(ws), Some(retention)) => expired(ws, now, retention),
        _ => Vec::new(),
    }
}
