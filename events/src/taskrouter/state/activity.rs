//! Activities in the workspace fold: what a worker is doing and whether that takes work.
//! Renaming one re-derives the documents of the workers in it, so `worker.activity_name` in
//! an expression always reads the activity's current name.

use super::worker::refresh_document;
use super::Workspace;
use crate::sid::Sid;
use crate::taskrouter::events::{ActivityCreated, ActivityUpdated, ResourceRef};
use chrono::{DateTime, Utc};

/// An activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Its SID.
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// Whether workers in it take work.
    pub available: bool,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

pub(super) fn created(ws: &mut Workspace, e: &ActivityCreated, at: DateTime<Utc>) {
    ws.activities.insert(
        e.sid.clone(),
        Activity {
            sid: e.sid.clone(),
            friendly_name: e.friendly_name.clone(),
            available: e.available,
            date_created: at,
            date_updated: at,
        },
    );
}

pub(super) fn updated(ws: &mut Workspace, e: &ActivityUpdated, at: DateTime<Utc>) {
    if let Some(a) = ws.activities.get_mut(&e.sid) {
        a.friendly_name.clone_from(&e.friendly_name);
        a.date_updated = at;
    }
    let workers: Vec<Sid> = ws
        .workers
        .values()
        .filter(|w| w.activity_sid == e.sid)
        .map(|w| w.sid.clone())
        .collect();
    for w in workers {
        refresh_document(ws, &w);
    }
}

pub(super) fn deleted(ws: &mut Workspace, e: &ResourceRef) {
    ws.activities.remove(&e.sid);
}
