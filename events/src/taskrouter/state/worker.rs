//! Workers in the workspace fold: their attributes, activity and per-channel load. A worker's
//! `document` (what target expressions read under `worker.`) is re-derived on every change to
//! its name, attributes or activity, so it never lags the worker; `busy` counts move only
//! with reservations (see [`reservation`](super::reservation)).

use super::{parse_attributes, Workspace};
use crate::sid::Sid;
use crate::taskrouter::events::{
    ResourceRef, WorkerActivityUpdated, WorkerAttributesUpdated, WorkerCapacityUpdated,
    WorkerChannelAvailabilityUpdated, WorkerCreated, WorkerRenamed,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

/// A worker's capacity on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerChannel {
    /// Tasks it may hold at once.
    pub capacity: u32,
    /// Whether it takes work here.
    pub available: bool,
    /// Reservations pending or accepted (not yet completed) on this channel.
    pub busy: u32,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

impl WorkerChannel {
    /// A worker's default on a channel: capacity 1, available, nothing held.
    pub(super) fn new(at: DateTime<Utc>) -> WorkerChannel {
        WorkerChannel {
            capacity: 1,
            available: true,
            busy: 0,
            date_updated: at,
        }
    }
}

/// A worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    /// Its SID.
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// Attributes as given (JSON text).
    pub attributes: String,
    /// Attributes parsed, with `sid`, `friendly_name`, `activity_sid` and `activity_name`
    /// available to target expressions under `worker.`.
    pub document: Value,
    /// Its activity.
    pub activity_sid: Sid,
    /// When its activity last changed.
    pub date_status_changed: DateTime<Utc>,
    /// Since when it has had no reservation (longest idle is offered first).
    pub idle_since: DateTime<Utc>,
    /// Its channels by channel SID.
    pub channels: BTreeMap<Sid, WorkerChannel>,
    /// Bumped by every change (the `If-Match` value).
    pub version: u64,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

fn worker_document(w: &Worker, activity_name: Option<&str>) -> Value {
    let mut doc = parse_attributes(&w.attributes);
    if let Value::Object(map) = &mut doc {
        map.insert("sid".into(), Value::String(w.sid.to_string()));
        map.insert(
            "friendly_name".into(),
            Value::String(w.friendly_name.clone()),
        );
        map.insert(
            "activity_sid".into(),
            Value::String(w.activity_sid.to_string()),
        );
        map.insert(
            "activity_name".into(),
            activity_name.map_or(Value::Null, |n| Value::String(n.to_string())),
        );
    }
    doc
}

/// Re-derives the worker's document from its attributes, name and activity.
pub(super) fn refresh_document(ws: &mut Workspace, sid: &Sid) {
    let name = ws
        .workers
        .get(sid)
        .and_then(|w| ws.activities.get(&w.activity_sid))
        .map(|a| a.friendly_name.clone());
    if let Some(w) = ws.workers.get_mut(sid) {
        w.document = worker_document(w, name.as_deref());
    }
}

/// A new worker, with the default load on every channel of the workspace.
pub(super) fn created(ws: &mut Workspace, e: &WorkerCreated, at: DateTime<Utc>) {
    let channels = ws
        .channels
        .keys()
        .map(|c| (c.clone(), WorkerChannel::new(at)))
        .collect();
    ws.workers.insert(
        e.sid.clone(),
        Worker {
            sid: e.sid.clone(),
            friendly_name: e.friendly_name.clone(),
            attributes: e.attributes.clone(),
            document: Value::Null,
            activity_sid: e.activity_sid.clone(),
            date_status_changed: at,
            idle_since: at,
            channels,
            version: 0,
            date_created: at,
            date_updated: at,
        },
    );
    refresh_document(ws, &e.sid);
}

pub(super) fn renamed(ws: &mut Workspace, e: &WorkerRenamed, at: DateTime<Utc>) {
    if let Some(w) = ws.workers.get_mut(&e.sid) {
        w.friendly_name.clone_from(&e.friendly_name);
        w.version += 1;
        w.date_updated = at;
    }
    refresh_document(ws, &e.sid);
}

pub(super) fn activity_updated(ws: &mut Workspace, e: &WorkerActivityUpdated, at: DateTime<Utc>) {
    if let Some(w) = ws.workers.get_mut(&e.sid) {
        w.activity_sid = e.activity_sid.clone();
        w.date_status_changed = at;
        w.version += 1;
        w.date_updated = at;
    }
    refresh_document(ws, &e.sid);
}

pub(super) fn attributes_updated(
    ws: &mut Workspace,
    e: &WorkerAttributesUpdated,
    at: DateTime<Utc>,
) {
    if let Some(w) = ws.workers.get_mut(&e.sid) {
        w.attributes.clone_from(&e.attributes);
        w.version += 1;
        w.date_updated = at;
    }
    refresh_document(ws, &e.sid);
}

pub(super) fn capacity_updated(ws: &mut Workspace, e: &WorkerCapacityUpdated, at: DateTime<Utc>) {
    if let Some(c) = channel_mut(ws, &e.sid, &e.task_channel_sid) {
        c.capacity = e.capacity;
        c.date_updated = at;
    }
}

pub(super) fn availability_updated(
    ws: &mut Workspace,
    e: &WorkerChannelAvailabilityUpdated,
    at: DateTime<Utc>,
) {
    if let Some(c) = channel_mut(ws, &e.sid, &e.task_channel_sid) {
        c.available = e.available;
        c.date_updated = at;
    }
}

pub(super) fn deleted(ws: &mut Workspace, e: &ResourceRef) {
    ws.workers.remove(&e.sid);
}

/// The worker's load on a channel.
pub(super) fn channel_mut<'a>(
    ws: &'a mut Workspace,
    worker: &Sid,
    channel: &Sid,
) -> Option<&'a mut WorkerChannel> {
    ws.workers
        .get_mut(worker)
        .and_then(|w| w.channels.get_mut(channel))
}
