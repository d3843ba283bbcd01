//! Workflows in the workspace fold, each kept compiled beside its document so routing never
//! parses one. An update whose document does not compile keeps the old one (the decider
//! refuses it first); an empty callback URL clears it.

use super::Workspace;
use crate::sid::Sid;
use crate::taskrouter::events::{ResourceRef, WorkflowCreated, WorkflowUpdated};
use crate::taskrouter::workflow::Workflow;
use chrono::{DateTime, Utc};

/// A workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowState {
    /// Its SID.
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// The configuration document as given.
    pub configuration: String,
    /// The same, compiled.
    pub compiled: Workflow,
    /// Where reservations are announced.
    pub assignment_callback_url: Option<String>,
    /// Tried when that fails.
    pub fallback_assignment_callback_url: Option<String>,
    /// Seconds a reservation stays pending.
    pub task_reservation_timeout: u32,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

/// A new workflow. `None` (the whole workspace fails to fold) when its document does not
/// compile, which the decider never records.
pub(super) fn created(ws: &mut Workspace, e: &WorkflowCreated, at: DateTime<Utc>) -> Option<()> {
    let compiled = Workflow::compile(&e.configuration).ok()?;
    ws.workflows.insert(
        e.sid.clone(),
        WorkflowState {
            sid: e.sid.clone(),
            friendly_name: e.friendly_name.clone(),
            configuration: e.configuration.clone(),
            compiled,
            assignment_callback_url: e.assignment_callback_url.clone(),
            fallback_assignment_callback_url: e.fallback_assignment_callback_url.clone(),
            task_reservation_timeout: e.task_reservation_timeout,
            date_created: at,
            date_updated: at,
        },
    );
    Some(())
}

pub(super) fn updated(ws: &mut Workspace, e: &WorkflowUpdated, at: DateTime<Utc>) {
    if let Some(w) = ws.workflows.get_mut(&e.sid) {
        if let Some(v) = &e.friendly_name {
            w.friendly_name.clone_from(v);
        }
        if let Some(v) = &e.configuration {
            if let Ok(c) = Workflow::compile(v) {
                w.configuration.clone_from(v);
                w.compiled = c;
            }
        }
        if let Some(v) = &e.assignment_callback_url {
            w.assignment_callback_url = Some(v.clone()).filter(|v| !v.is_empty());
        }
        if let Some(v) = &e.fallback_assignment_callback_url {
            w.fallback_assignment_callback_url = Some(v.clone()).filter(|v| !v.is_empty());
        }
        if let Some(v) = e.task_reservation_timeout {
            w.task_reservation_timeout = v;
        }
        w.date_updated = at;
    }
}

pub(super) fn deleted(ws: &mut Workspace, e: &ResourceRef) {
    ws.workflows.remove(&e.sid);
}
