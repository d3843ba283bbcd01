//! Task channels in the workspace fold. Every worker has an entry for every channel: a new
//! channel gives each existing worker capacity 1 on it, and a deleted one leaves every
//! worker, so a worker's channel map always names exactly the workspace's channels.

use super::worker::WorkerChannel;
use super::Workspace;
use crate::sid::Sid;
use crate::taskrouter::events::{ResourceRef, TaskChannelCreated, TaskChannelUpdated};
use chrono::{DateTime, Utc};

/// A task channel.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskChannel {
    /// Its SID.
    pub sid: Sid,
    /// `default`, `voice`, …
    pub unique_name: String,
    /// Human name.
    pub friendly_name: String,
    /// Prefer the longest-idle worker across queues.
    pub channel_optimized_routing: bool,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

pub(super) fn created(ws: &mut Workspace, e: &TaskChannelCreated, at: DateTime<Utc>) {
    ws.channels.insert(
        e.sid.clone(),
        TaskChannel {
            sid: e.sid.clone(),
            unique_name: e.unique_name.clone(),
            friendly_name: e.friendly_name.clone(),
            channel_optimized_routing: e.channel_optimized_routing,
            date_created: at,
            date_updated: at,
        },
    );
    for w in ws.workers.values_mut() {
        w.channels
            .entry(e.sid.clone())
            .or_insert(WorkerChannel::new(at));
    }
}

pub(super) fn updated(ws: &mut Workspace, e: &TaskChannelUpdated, at: DateTime<Utc>) {
    if let Some(c) = ws.channels.get_mut(&e.sid) {
        if let Some(v) = &e.friendly_name {
            c.friendly_name.clone_from(v);
        }
        if let Some(v) = e.channel_optimized_routing {
            c.channel_optimized_routing = v;
        }
        c.date_updated = at;
    }
}

pub(super) fn deleted(ws: &mut Workspace, e: &ResourceRef) {
    ws.channels.remove(&e.sid);
    for w in ws.workers.values_mut() {
        w.channels.remove(&e.sid);
    }
}
