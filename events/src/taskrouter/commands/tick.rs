//! `Tick`: time passed. Decides the [`timeouts`](crate::taskrouter::timeouts) due at the
//! command's time. A tick on a workspace that is not there (or is deleted) records nothing
//! and is not an error: time passing is never refused.

use crate::event::Event;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::timeouts::timeouts;
use crate::taskrouter::validate::live;
use chrono::{DateTime, Utc};

/// Decides `Tick` at `now`.
pub(crate) fn decide(state: Option<&Workspace>, now: DateTime<Utc>) -> Vec<Event> {
    live(state).map(|ws| timeouts(ws, now)).unwrap_or_default()
}
