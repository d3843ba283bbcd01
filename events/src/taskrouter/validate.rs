//! What a command may ask: the checks the deciders in [`commands`](super::commands) share,
//! and Twilio's limits. Each check refuses with the parameter named as Twilio names it
//! (`FriendlyName`, `Attributes`, …), so a refusal reads the same whichever command made it;
//! a check never records anything, and a decider runs them all before it builds an event.
//!
//! Limits on what a request may store, so no document or expression costs unbounded work
//! (see the README's "Limits"): attributes at most [`MAX_ATTRIBUTES`] characters (Twilio's)
//! and, like every JSON document here, nested at most 128 levels (serde_json refuses deeper
//! ones while parsing); expressions within [`Limits::INPUT`](super::expression::Limits);
//! workflow documents at most [`MAX_CONFIGURATION_BYTES`] (Twilio's), with at most
//! [`MAX_FILTERS`] filters of at most [`MAX_TARGETS`] targets each. They apply to commands
//! only: a fold reads back whatever an older build stored.

use super::error::{invalid, TaskRouterError};
use super::events::ResourceRef;
use super::expression::Expression;
use super::state::{Task, Worker, Workspace};
use super::workflow::{Workflow, MAX_CONFIGURATION_BYTES};
use crate::event::Event;
use crate::sid::Sid;
use serde_json::Value;

/// Longest attributes document Twilio accepts (characters).
pub const MAX_ATTRIBUTES: usize = 4096;
/// Most filters in a workflow: 1,000. Twilio documents no number; hand-written workflows
/// have a handful, and every routing decision may try each filter in turn.
pub const MAX_FILTERS: usize = 1_000;
/// Most targets in one filter: 100 (each a step with its own timeout; real ones have a few).
pub const MAX_TARGETS: usize = 100;
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
    Expression::parse_input(text)
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

/// Compiles a workflow document, checks it within the limits (the module doc) and that
/// every queue it names exists here.
pub(crate) fn check_workflow(
    ws: &Workspace,
    configuration: &str,
) -> Result<Workflow, TaskRouterError> {
    let compiled =
        Workflow::compile(configuration).map_err(|e| invalid("Configuration", e.to_string()))?;
    // Compiling skips unknown members without a nesting limit; as a whole value the document
    // is held to serde_json's 128 levels, like every other document here.
    if let Err(e) = serde_json::from_str::<Value>(configuration) {
        return Err(invalid("Configuration", format!("is refused: {e}")));
    }
    check_workflow_limits(&compiled)?;
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

/// A compiled workflow within the limits on filters, targets and each expression (compiling
/// reads expressions as a fold would; a command holds them to [`Limits::INPUT`]).
///
/// [`Limits::INPUT`]: super::expression::Limits::INPUT
pub(crate) fn check_workflow_limits(compiled: &Workflow) -> Result<(), TaskRouterError> {
    let routing = &compiled.document.task_routing;
    if routing.filters.len() > MAX_FILTERS {
        return Err(invalid(
            "Configuration",
            format!(
                "task_routing has {} filters, over the limit of {MAX_FILTERS} filters \
                 (documents are at most {MAX_CONFIGURATION_BYTES} bytes)",
                routing.filters.len()
            ),
        ));
    }
    let mut expressions = Vec::new();
    for (i, f) in routing.filters.iter().enumerate() {
        let path = format!("task_routing.filters[{i}]");
        if f.targets.len() > MAX_TARGETS {
            return Err(invalid(
                "Configuration",
                format!(
                    "{path} has {} targets, over the limit of {MAX_TARGETS} targets",
                    f.targets.len()
                ),
            ));
        }
        expressions.push((format!("{path}.expression"), f.expression.as_str()));
        for (j, t) in f.targets.iter().enumerate() {
            target_expressions(&format!("{path}.targets[{j}]"), t, &mut expressions);
        }
    }
    if let Some(t) = &routing.default_filter {
        target_expressions("task_routing.default_filter", t, &mut expressions);
    }
    for (path, text) in expressions {
        Expression::parse_input(text).map_err(|e| {
            invalid(
                "Configuration",
                format!("invalid workflow configuration at {path}: {e}"),
            )
        })?;
    }
    Ok(())
}

fn target_expressions<'a>(
    path: &str,
    t: &'a super::workflow::TargetDoc,
    out: &mut Vec<(String, &'a str)>,
) {
    for (name, e) in [("expression", &t.expression), ("skip_if", &t.skip_if)] {
        if let Some(e) = e {
            out.push((format!("{path}.{name}"), e.as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const QUEUE: &str = "WQ00000000000000000000000000000000";

    fn check(doc: Value) -> Result<(), TaskRouterError> {
        let compiled = Workflow::compile(&doc.to_string())
            .map_err(|e| invalid("Configuration", e.to_string()))?;
        check_workflow_limits(&compiled)
    }

    fn refused_saying(doc: Value, says: &str) {
        match check(doc) {
            Err(TaskRouterError::Invalid { param, message }) => {
                assert_eq!(param, "Configuration");
                assert!(message.contains(says), "{message}");
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn workflow_documents_are_bounded_in_filters_targets_and_expressions() {
        let target = json!({"queue": QUEUE});
        let filter = json!({"expression": "1 == 1", "targets": [target]});
        assert!(
            check(json!({"task_routing": {"filters": vec![filter.clone(); MAX_FILTERS]}})).is_ok()
        );
        refused_saying(
            json!({"task_routing": {"filters": vec![filter; MAX_FILTERS + 1]}}),
            "limit of 1000 filters",
        );
        refused_saying(
            json!({"task_routing": {"filters": [
                {"expression": "1 == 1", "targets": vec![target; MAX_TARGETS + 1]}]}}),
            "limit of 100 targets",
        );
        let wide = vec!["a == 1"; 1_001].join(" OR ");
        let deep = format!("{}a == 1{}", "(".repeat(33), ")".repeat(33));
        for (doc, at) in [
            (
                json!({"task_routing": {"filters": [{"expression": wide, "targets": [{"queue": QUEUE}]}]}}),
                "filters[0].expression",
            ),
            (
                json!({"task_routing": {"filters": [{"expression": "1 == 1", "targets": [
                {"queue": QUEUE}, {"expression": deep}]}]}}),
                "filters[0].targets[1].expression",
            ),
            (
                json!({"task_routing": {"default_filter": {"queue": QUEUE, "skip_if": wide}}}),
                "default_filter.skip_if",
            ),
        ] {
            refused_saying(doc, at);
        }
    }

    #[test]
    fn documents_nested_past_128_levels_are_refused_while_parsing() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Workflow::compile(&deep).is_err());
        let deep_object = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
        assert!(check_attributes(&deep_object).is_err());
        let shallow = format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100));
        assert!(check_attributes(&shallow).is_ok());
    }
}
