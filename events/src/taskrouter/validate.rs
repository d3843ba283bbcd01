//! What a command may ask: the checks the deciders in [`commands`](super::commands) share,
//! and Twilio's limits. Each check refuses with the parameter named as Twilio names it
//! (`FriendlyName`, `Attributes`, …), so a refusal reads the same whichever command made it;
//! a check never records anything, and a decider runs them all before it builds an event.

use super::error::{invalid, TaskRouterError};
use super::events::ResourceRef;
use super::expression::Expression;
use super::state::{Task, Worker, Workspace};
use super::workflow::Workflow;
use crate::event::Event;
use crate::sid::Sid;
use serde_json::Value;

/// Longest attributes document Twilio accepts (characters).
pub const MAX_ATTRIBUTES: usize = 4096;
/// Highest task priority.
pub const MAX_PRIORITY: i64 = 2_147_483_647;
/// Default and longest task TTL (seconds).
pub const DEFAULT_TASK_TIMEOUT: u32 = 86_400;
/// Longest task TTL.
pub const MAX_TASK_TIMEOUT: u32 = 1_209_600;

/// The workspace, unless it was never created or is deleted.
pub(crate) fn live(state: Option<&Workspace>) -> Result<&Workspace, TaskRouterError> {
    state
        .filter(|w| !w.deleted)
        .ok_or_else(|| TaskRouterError::NotFound("workspace".into()))
}

pub(crate) fn check_name(param: &'static str, name: &str) -> Result<(), TaskRouterError> {
    if name.trim().is_empty() || name.chars().count() > 64 {
        return Err(invalid(param, "must be 1 to 64 characters"));
    }
    Ok(())
}

pub(crate) fn check_attributes(text: &str) -> Result<(), TaskRouterError> {
    if text.chars().count() > MAX_ATTRIBUTES {
        return Err(invalid(
            "Attributes",
            format!("must be at most {MAX_ATTRIBUTES} characters"),
        ));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(_) => Err(invalid("Attributes", "must be a JSON object")),
        Err(e) => Err(invalid("Attributes", format!("is not valid JSON: {e}"))),
    }
}

pub(crate) fn check_expression(param: &'static str, text: &str) -> Result<(), TaskRouterError> {
    Expression::parse(text)
        .map(|_| ())
        .map_err(|e| invalid(param, e.to_string()))
}

pub(crate) fn check_priority(p: i64) -> Result<(), TaskRouterError> {
    if !(0..=MAX_PRIORITY).contains(&p) {
        return Err(invalid(
            "Priority",
            format!("must be between 0 and {MAX_PRIORITY}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_version(expected: Option<u64>, actual: u64) -> Result<(), TaskRouterError> {
    match expected {
        Some(e) if e != actual => Err(TaskRouterError::Precondition {
            expected: e,
            actual,
        }),
        _ => Ok(()),
    }
}

pub(crate) fn not_found(what: &str, sid: &impl std::fmt::Display) -> TaskRouterError {
    TaskRouterError::NotFound(format!("{what} {sid}"))
}

/// The worker `sid`, at the version `If-Match` names (when it names one).
pub(crate) fn worker_at<'a>(
    ws: &'a Workspace,
    sid: &Sid,
    if_match: Option<u64>,
) -> Result<&'a Worker, TaskRouterError> {
    let w = ws
        .workers
        .get(sid)
        .ok_or_else(|| not_found("worker", sid))?;
    check_version(if_match, w.version)?;
    Ok(w)
}

/// The task `sid`, at the version `If-Match` names (when it names one).
pub(crate) fn task_at<'a>(
    ws: &'a Workspace,
    sid: &Sid,
    if_match: Option<u64>,
) -> Result<&'a Task, TaskRouterError> {
    let t = ws.tasks.get(sid).ok_or_else(|| not_found("task", sid))?;
    check_version(if_match, t.version)?;
    Ok(t)
}

/// A deletion refused while the resource is in use (`in_use` says why), or the event.
pub(crate) fn delete_unless(
    exists: bool,
    what: &str,
    sid: &Sid,
    in_use: Option<&str>,
    event: fn(ResourceRef) -> Event,
) -> Result<Vec<Event>, TaskRouterError> {
    if !exists {
        return Err(not_found(what, sid));
    }
    if let Some(why) = in_use {
        return Err(TaskRouterError::Conflict(why.to_string()));
    }
    Ok(vec![event(ResourceRef { sid: sid.clone() })])
}

/// Whether a task not yet closed passes `uses` (a channel or workflow still in use).
pub(crate) fn open_task_uses(ws: &Workspace, uses: impl Fn(&Task) -> bool) -> bool {
    ws.tasks.values().any(|t| uses(t) && !t.status.closed())
}

pub(crate) fn activity_exists(
    ws: &Workspace,
    param: &'static str,
    sid: &Sid,
) -> Result<(), TaskRouterError> {
    if ws.activities.contains_key(sid) {
        Ok(())
    } else {
        Err(invalid(
            param,
            format!("no activity {sid} in this workspace"),
        ))
    }
}

/// A worker name no other worker has (case-insensitively); `except` is the worker renamed.
pub(crate) fn worker_name_free(
    ws: &Workspace,
    name: &str,
    except: Option<&Sid>,
) -> Result<(), TaskRouterError> {
    if ws
        .workers
        .values()
        .any(|w| Some(&w.sid) != except && w.friendly_name.eq_ignore_ascii_case(name))
    {
        return Err(TaskRouterError::Conflict(format!(
            "a worker named {name:?} already exists"
        )));
    }
    Ok(())
}

/// A task queue's `MaxReservedWorkers` (create and update).
pub(crate) fn check_max_reserved_workers(max: u32) -> Result<(), TaskRouterError> {
    if !(1..=50).contains(&max) {
        return Err(invalid("MaxReservedWorkers", "must be between 1 and 50"));
    }
    Ok(())
}

/// A task queue's reservation and assignment activities, where given (create and update).
pub(crate) fn check_queue_activities(
    ws: &Workspace,
    reservation_activity_sid: Option<&Sid>,
    assignment_activity_sid: Option<&Sid>,
) -> Result<(), TaskRouterError> {
    for (param, a) in [
        ("ReservationActivitySid", reservation_activity_sid),
        ("AssignmentActivitySid", assignment_activity_sid),
    ] {
        if let Some(a) = a {
            activity_exists(ws, param, a)?;
        }
    }
    Ok(())
}

/// A workflow's `TaskReservationTimeout` (create and update).
pub(crate) fn check_reservation_timeout(timeout: u32) -> Result<(), TaskRouterError> {
    if !(1..=86_400).contains(&timeout) {
        return Err(invalid(
            "TaskReservationTimeout",
            "must be between 1 and 86400",
        ));
    }
    Ok(())
}

/// Compiles a workflow document and checks every queue it names exists here.
pub(crate) fn check_workflow(
    ws: &Workspace,
    configuration: &str,
) -> Result<Workflow, TaskRouterError> {
    let compiled =
        Workflow::compile(configuration).map_err(|e| invalid("Configuration", e.to_string()))?;
    for q in compiled.queues() {
        if !ws.queues.contains_key(q) {
            return Err(invalid(
                "Configuration",
                format!("task queue {q} does not exist in this workspace"),
            ));
        }
    }
    Ok(compiled)
}
