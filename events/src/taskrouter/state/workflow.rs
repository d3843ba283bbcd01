//! Workflows in the workspace fold, each kept compiled beside its document so routing never
//! parses one; an empty callback URL clears it.
//!
//! A stored configuration this build cannot compile (the decider refuses such a document, so
//! only a log written by another build holds one) follows the fold's one failure policy
//! ([`state`](super)): the workflow is kept with the document as stored, `compile_error` says
//! why, and its compiled form routes nothing. Its tasks stay where they are and are offered to
//! no worker ([`index`](super::index) keeps them out of `wanting`), rather than being routed by
//! rules that are not the ones written.

use super::Workspace;
use crate::sid::Sid;
use crate::taskrouter::events::{ResourceRef, WorkflowCreated, WorkflowUpdated};
use crate::taskrouter::workflow::{Configuration, TaskRouting, Workflow};
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
    /// The same, compiled; routes nothing when `compile_error` is set.
    pub compiled: Workflow,
    /// Why `configuration` does not compile in this build (`None`: it does). The API shows
    /// it; routing offers the workflow's tasks to nobody.
    pub compile_error: Option<String>,
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

/// Compiles a stored configuration: the workflow, or one with no filters and no default
/// target and the reason.
fn compile(configuration: &str) -> (Workflow, Option<String>) {
    match Workflow::compile(configuration) {
        Ok(w) => (w, None),
        Err(e) => (routes_nothing(), Some(e.to_string())),
    }
}

fn routes_nothing() -> Workflow {
    Workflow {
        filters: Vec::new(),
        default_target: None,
        document: Configuration {
            task_routing: TaskRouting {
                filters: Vec::new(),
                default_filter: None,
            },
        },
    }
}

/// A new workflow: always recorded, compiled or not (see the module doc).
pub(super) fn created(ws: &mut Workspace, e: &WorkflowCreated, at: DateTime<Utc>) {
    let (compiled, compile_error) = compile(&e.configuration);
    ws.workflows.insert(
        e.sid.clone(),
        WorkflowState {
            sid: e.sid.clone(),
            friendly_name: e.friendly_name.clone(),
            configuration: e.configuration.clone(),
            compiled,
            compile_error,
            assignment_callback_url: e.assignment_callback_url.clone(),
            fallback_assignment_callback_url: e.fallback_assignment_callback_url.clone(),
            task_reservation_timeout: e.task_reservation_timeout,
            date_created: at,
            date_updated: at,
        },
    );
}

pub(super) fn updated(ws: &mut Workspace, e: &WorkflowUpdated, at: DateTime<Utc>) {
    if let Some(w) = ws.workflows.get_mut(&e.sid) {
        if let Some(v) = &e.friendly_name {
            w.friendly_name.clone_from(v);
        }
        if let Some(v) = &e.configuration {
            // The stored fact is the new document; whether this build compiles it is the
            // policy's.
            let (compiled, compile_error) = compile(v);
            w.configuration.clone_from(v);
            w.compiled = compiled;
            w.compile_error = compile_error;
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
