//! Commands on a workspace and the routing that follows each of them.
//!
//! [`decide`] turns a command into events against the workspace's state, then runs
//! [`route`] on the state those events make: new tasks enter their workflow's first matching
//! target, and the matcher offers waiting tasks to eligible workers. SIDs come from the shell
//! (a `FnMut` the caller passes), time from the command; nothing here reads a clock, so the
//! same events and the same command give the same decision.

use super::events::*;
use super::expression::Expression;
use super::matcher::{self, ChannelLoad, QueueView, TaskOrder, TaskView, WorkerView};
use super::state::{evolve, ReservationStatus, TaskStatus, Workspace};
use super::workflow::{Step, Workflow};
use crate::event::Event;
use crate::sid::{Sid, SidPrefix};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

/// Longest attributes document Twilio accepts (characters).
pub const MAX_ATTRIBUTES: usize = 4096;
/// Highest task priority.
pub const MAX_PRIORITY: i64 = 2_147_483_647;
/// Default and longest task TTL (seconds).
pub const DEFAULT_TASK_TIMEOUT: u32 = 86_400;
/// Longest task TTL.
pub const MAX_TASK_TIMEOUT: u32 = 1_209_600;

/// Why a command was refused. Each maps onto one Twilio error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskRouterError {
    /// The resource does not exist (or belongs to another workspace).
    #[error("The requested resource {0} was not found")]
    NotFound(String),
    /// A parameter is invalid: which, and why.
    #[error("Invalid parameter {param}: {message}")]
    Invalid {
        /// The parameter, as Twilio names it.
        param: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The change conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named another version.
    #[error("The resource has changed (version {actual}, If-Match {expected})")]
    Precondition {
        /// The version the caller named.
        expected: u64,
        /// The version it is at.
        actual: u64,
    },
}

fn invalid(param: &'static str, message: impl Into<String>) -> TaskRouterError {
    TaskRouterError::Invalid {
        param,
        message: message.into(),
    }
}

/// Workspace templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Only the default activities and channels.
    None,
    /// Also a queue for everyone and a FIFO workflow into it.
    Fifo,
}

/// A command on a workspace.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create the workspace.
    CreateWorkspace {
        /// Name.
        friendly_name: String,
        /// Event callback URL.
        event_callback_url: Option<String>,
        /// Events filter.
        events_filter: Option<String>,
        /// Multitasking (default true).
        multi_task_enabled: Option<bool>,
        /// FIFO or LIFO.
        prioritize_queue_order: Option<QueueOrder>,
        /// Template.
        template: Template,
    },
    /// Change the workspace.
    UpdateWorkspace(WorkspaceUpdated),
    /// Delete the workspace.
    DeleteWorkspace,
    /// Create an activity.
    CreateActivity {
        /// Name.
        friendly_name: String,
        /// Whether workers in it take work (default true).
        available: Option<bool>,
    },
    /// Rename an activity.
    UpdateActivity {
        /// The activity.
        sid: Sid,
        /// New name.
        friendly_name: String,
    },
    /// Delete an activity.
    DeleteActivity {
        /// The activity.
        sid: Sid,
    },
    /// Create a task channel.
    CreateTaskChannel {
        /// Unique name.
        unique_name: String,
        /// Human name.
        friendly_name: String,
        /// Channel-optimized routing.
        channel_optimized_routing: Option<bool>,
    },
    /// Change a task channel.
    UpdateTaskChannel(TaskChannelUpdated),
    /// Delete a task channel.
    DeleteTaskChannel {
        /// The channel.
        sid: Sid,
    },
    /// Create a worker.
    CreateWorker {
        /// Name.
        friendly_name: String,
        /// Attributes (JSON object).
        attributes: Option<String>,
        /// Starting activity (default: the workspace's default activity).
        activity_sid: Option<Sid>,
    },
    /// Change a worker.
    UpdateWorker {
        /// The worker.
        sid: Sid,
        /// New name.
        friendly_name: Option<String>,
        /// New attributes.
        attributes: Option<String>,
        /// New activity.
        activity_sid: Option<Sid>,
        /// Reject pending reservations when moving to an unavailable activity.
        reject_pending_reservations: bool,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Delete a worker.
    DeleteWorker {
        /// The worker.
        sid: Sid,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Change a worker's channel.
    UpdateWorkerChannel {
        /// The worker.
        worker: Sid,
        /// The channel (SID or unique name).
        channel: String,
        /// New capacity.
        capacity: Option<u32>,
        /// New availability.
        available: Option<bool>,
    },
    /// Create a task queue.
    CreateTaskQueue {
        /// Name.
        friendly_name: String,
        /// Target workers expression (default `1==1`).
        target_workers: Option<String>,
        /// FIFO or LIFO.
        task_order: Option<QueueOrder>,
        /// 1–50 (default 1).
        max_reserved_workers: Option<u32>,
        /// Activity on reservation.
        reservation_activity_sid: Option<Sid>,
        /// Activity on acceptance.
        assignment_activity_sid: Option<Sid>,
    },
    /// Change a task queue.
    UpdateTaskQueue(TaskQueueUpdated),
    /// Delete a task queue.
    DeleteTaskQueue {
        /// The queue.
        sid: Sid,
    },
    /// Create a workflow.
    CreateWorkflow {
        /// Name.
        friendly_name: String,
        /// Configuration document.
        configuration: String,
        /// Assignment callback.
        assignment_callback_url: Option<String>,
        /// Fallback.
        fallback_assignment_callback_url: Option<String>,
        /// Reservation timeout (default 120).
        task_reservation_timeout: Option<u32>,
    },
    /// Change a workflow.
    UpdateWorkflow {
        /// What changes.
        change: WorkflowUpdated,
        /// Route the workflow's pending tasks again under the new configuration.
        re_evaluate_tasks: bool,
    },
    /// Delete a workflow.
    DeleteWorkflow {
        /// The workflow.
        sid: Sid,
    },
    /// Create a task.
    CreateTask {
        /// Attributes (JSON object, default `{}`).
        attributes: Option<String>,
        /// Priority (default 0).
        priority: Option<i64>,
        /// TTL seconds.
        timeout: Option<u32>,
        /// Channel, by unique name or SID (default `default`).
        task_channel: Option<String>,
        /// Workflow (optional when the workspace has exactly one).
        workflow_sid: Option<Sid>,
        /// Age counts from here.
        virtual_start_time: Option<DateTime<Utc>>,
    },
    /// Change a task.
    UpdateTask {
        /// The task.
        sid: Sid,
        /// New attributes.
        attributes: Option<String>,
        /// New priority.
        priority: Option<i64>,
        /// `canceled`, `wrapping` or `completed`.
        assignment_status: Option<String>,
        /// Why (required to cancel or complete).
        reason: Option<String>,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Delete a task.
    DeleteTask {
        /// The task.
        sid: Sid,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Answer a reservation.
    UpdateReservation {
        /// The reservation.
        sid: Sid,
        /// The task or worker it was addressed under (must match).
        via: Sid,
        /// `accepted`, `rejected`, `wrapping`, `completed`.
        status: String,
        /// Activity to move the worker to (reject).
        activity_sid: Option<Sid>,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Time passed: reservations and workflow steps past their timeouts, task TTLs.
    Tick,
}

/// What a decision needs from the shell.
pub struct Ctx<'a> {
    /// The command's time.
    pub now: DateTime<Utc>,
    /// A fresh SID of a prefix.
    pub new_sid: &'a mut dyn FnMut(SidPrefix) -> Sid,
}

fn check_name(param: &'static str, name: &str) -> Result<(), TaskRouterError> {
    if name.trim().is_empty() || name.chars().count() > 64 {
        return Err(invalid(param, "must be 1 to 64 characters"));
    }
    Ok(())
}

fn check_attributes(text: &str) -> Result<(), TaskRouterError> {
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

fn check_expression(param: &'static str, text: &str) -> Result<(), TaskRouterError> {
    Expression::parse(text)
        .map(|_| ())
        .map_err(|e| invalid(param, e.to_string()))
}

fn check_priority(p: i64) -> Result<(), TaskRouterError> {
    if !(0..=MAX_PRIORITY).contains(&p) {
        return Err(invalid(
            "Priority",
            format!("must be between 0 and {MAX_PRIORITY}"),
        ));
    }
    Ok(())
}

fn check_version(expected: Option<u64>, actual: u64) -> Result<(), TaskRouterError> {
    match expected {
        Some(e) if e != actual => Err(TaskRouterError::Precondition {
            expected: e,
            actual,
        }),
        _ => Ok(()),
    }
}

fn not_found(what: &str, sid: &impl std::fmt::Display) -> TaskRouterError {
    TaskRouterError::NotFound(format!("{what} {sid}"))
}

/// A deletion refused while the resource is in use (`in_use` says why), or the event.
fn delete_unless(
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

/// Moves `worker` to `activity` (when given and not already its activity).
fn move_worker(ws: &Workspace, worker: &Sid, activity: Option<&Sid>) -> Option<Event> {
    let activity = activity?;
    ws.workers
        .get(worker)
        .filter(|w| w.activity_sid != *activity)
        .map(|_| {
            Event::WorkerActivityUpdated(WorkerActivityUpdated {
                sid: worker.clone(),
                activity_sid: activity.clone(),
            })
        })
}

fn activity_exists(ws: &Workspace, param: &'static str, sid: &Sid) -> Result<(), TaskRouterError> {
    if ws.activities.contains_key(sid) {
        Ok(())
    } else {
        Err(invalid(
            param,
            format!("no activity {sid} in this workspace"),
        ))
    }
}

/// Decides a command: its own events, then the routing they lead to.
pub fn decide(
    state: Option<&Workspace>,
    workspace_sid: &Sid,
    command: &Command,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    let mut scratch = state.cloned();
    let mut events = decide_mut(&mut scratch, workspace_sid, command, ctx)?;
    if !events.is_empty() {
        events.extend(route_mut(&mut scratch, workspace_sid, ctx));
    }
    Ok(events)
}

/// [`decide`] without the routing, folding the events into `state` as it goes (nothing is
/// folded when the command is refused). The shell decides a batch of commands this way and
/// routes once after them ([`route_mut`]), without copying the workspace.
pub fn decide_mut(
    state: &mut Option<Workspace>,
    workspace_sid: &Sid,
    command: &Command,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    let events = decide_only(state.as_ref(), command, ctx)?;
    for e in &events {
        *state = evolve(state.take(), workspace_sid, ctx.now, e);
    }
    Ok(events)
}

/// Routes on `state` and folds the routing events into it.
pub fn route_mut(
    state: &mut Option<Workspace>,
    workspace_sid: &Sid,
    ctx: &mut Ctx<'_>,
) -> Vec<Event> {
    let Some(ws) = state.as_ref().filter(|w| !w.deleted) else {
        return Vec::new();
    };
    let steps = route_steps(ws, ctx.now);
    for e in &steps {
        *state = evolve(state.take(), workspace_sid, ctx.now, e);
    }
    let Some(ws) = state.as_ref() else {
        return steps;
    };
    let offers = route_offers(ws, ctx);
    for e in &offers {
        *state = evolve(state.take(), workspace_sid, ctx.now, e);
    }
    let mut out = steps;
    out.extend(offers);
    out
}

fn live(state: Option<&Workspace>) -> Result<&Workspace, TaskRouterError> {
    state
        .filter(|w| !w.deleted)
        .ok_or_else(|| TaskRouterError::NotFound("workspace".into()))
}

fn decide_only(
    state: Option<&Workspace>,
    command: &Command,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    match command {
        Command::CreateWorkspace {
            friendly_name,
            event_callback_url,
            events_filter,
            multi_task_enabled,
            prioritize_queue_order,
            template,
        } => {
            if state.is_some() {
                return Err(TaskRouterError::Conflict("workspace exists".into()));
            }
            check_name("FriendlyName", friendly_name)?;
            let mut out = vec![Event::WorkspaceCreated(WorkspaceCreated {
                friendly_name: friendly_name.clone(),
                event_callback_url: event_callback_url.clone(),
                events_filter: events_filter.clone(),
                multi_task_enabled: multi_task_enabled.unwrap_or(true),
                prioritize_queue_order: prioritize_queue_order.unwrap_or_default(),
            })];
            for name in ["default", "voice", "chat", "sms", "video"] {
                out.push(Event::TaskChannelCreated(TaskChannelCreated {
                    sid: (ctx.new_sid)(SidPrefix::TaskChannel),
                    unique_name: name.into(),
                    friendly_name: name[..1].to_uppercase() + &name[1..],
                    channel_optimized_routing: false,
                }));
            }
            let mut offline = None;
            let mut available = None;
            for (name, avail) in [
                ("Offline", false),
                ("Available", true),
                ("Unavailable", false),
                ("Break", false),
            ] {
                let sid = (ctx.new_sid)(SidPrefix::Activity);
                match name {
                    "Offline" => offline = Some(sid.clone()),
                    "Available" => available = Some(sid.clone()),
                    _ => {}
                }
                out.push(Event::ActivityCreated(ActivityCreated {
                    sid,
                    friendly_name: name.into(),
                    available: avail,
                }));
            }
            out.push(Event::WorkspaceUpdated(WorkspaceUpdated {
                default_activity_sid: offline.clone(),
                timeout_activity_sid: offline,
                ..Default::default()
            }));
            let _ = available;
            if *template == Template::Fifo {
                let queue = (ctx.new_sid)(SidPrefix::TaskQueue);
                out.push(Event::TaskQueueCreated(TaskQueueCreated {
                    sid: queue.clone(),
                    friendly_name: "Sample Queue".into(),
                    target_workers: "1==1".into(),
                    task_order: QueueOrder::Fifo,
                    max_reserved_workers: 1,
                    reservation_activity_sid: None,
                    assignment_activity_sid: None,
                }));
                let configuration = serde_json::json!({"task_routing": {
                    "filters": [],
                    "default_filter": {"queue": queue.as_str()}
                }})
                .to_string();
                out.push(Event::WorkflowCreated(WorkflowCreated {
                    sid: (ctx.new_sid)(SidPrefix::Workflow),
                    friendly_name: "Default Fifo Workflow".into(),
                    configuration,
                    assignment_callback_url: None,
                    fallback_assignment_callback_url: None,
                    task_reservation_timeout: 120,
                }));
            }
            Ok(out)
        }
        Command::UpdateWorkspace(change) => {
            let ws = live(state)?;
            if let Some(n) = &change.friendly_name {
                check_name("FriendlyName", n)?;
            }
            if let Some(a) = &change.default_activity_sid {
                activity_exists(ws, "DefaultActivitySid", a)?;
            }
            if let Some(a) = &change.timeout_activity_sid {
                activity_exists(ws, "TimeoutActivitySid", a)?;
            }
            if *change == WorkspaceUpdated::default() {
                return Ok(vec![]);
            }
            Ok(vec![Event::WorkspaceUpdated(change.clone())])
        }
        Command::DeleteWorkspace => {
            live(state)?;
            Ok(vec![Event::WorkspaceDeleted(WorkspaceDeleted {})])
        }
        Command::CreateActivity {
            friendly_name,
            available,
        } => {
            let ws = live(state)?;
            check_name("FriendlyName", friendly_name)?;
            if ws
                .activities
                .values()
                .any(|a| a.friendly_name.eq_ignore_ascii_case(friendly_name))
            {
                return Err(TaskRouterError::Conflict(format!(
                    "an activity named {friendly_name:?} already exists"
                )));
            }
            Ok(vec![Event::ActivityCreated(ActivityCreated {
                sid: (ctx.new_sid)(SidPrefix::Activity),
                friendly_name: friendly_name.clone(),
                available: available.unwrap_or(true),
            })])
        }
        Command::UpdateActivity { sid, friendly_name } => {
            let ws = live(state)?;
            let a = ws
                .activities
                .get(sid)
                .ok_or_else(|| not_found("activity", sid))?;
            check_name("FriendlyName", friendly_name)?;
            if a.friendly_name == *friendly_name {
                return Ok(vec![]);
            }
            Ok(vec![Event::ActivityUpdated(ActivityUpdated {
                sid: sid.clone(),
                friendly_name: friendly_name.clone(),
            })])
        }
        Command::DeleteActivity { sid } => {
            let ws = live(state)?;
            ws.activities
                .get(sid)
                .ok_or_else(|| not_found("activity", sid))?;
            if ws.default_activity_sid.as_ref() == Some(sid)
                || ws.timeout_activity_sid.as_ref() == Some(sid)
            {
                return Err(TaskRouterError::Conflict(
                    "the workspace's default or timeout activity cannot be deleted".into(),
                ));
            }
            if ws.workers.values().any(|w| w.activity_sid == *sid) {
                return Err(TaskRouterError::Conflict(
                    "workers are in this activity".into(),
                ));
            }
            Ok(vec![Event::ActivityDeleted(ResourceRef {
                sid: sid.clone(),
            })])
        }
        Command::CreateTaskChannel {
            unique_name,
            friendly_name,
            channel_optimized_routing,
        } => {
            let ws = live(state)?;
            check_name("UniqueName", unique_name)?;
            check_name("FriendlyName", friendly_name)?;
            if unique_name.contains('-') {
                return Err(invalid("UniqueName", "must not contain hyphens"));
            }
            if ws.channel_named(unique_name).is_some() {
                return Err(TaskRouterError::Conflict(format!(
                    "a task channel named {unique_name:?} already exists"
                )));
            }
            Ok(vec![Event::TaskChannelCreated(TaskChannelCreated {
                sid: (ctx.new_sid)(SidPrefix::TaskChannel),
                unique_name: unique_name.clone(),
                friendly_name: friendly_name.clone(),
                channel_optimized_routing: channel_optimized_routing.unwrap_or(false),
            })])
        }
        Command::UpdateTaskChannel(change) => {
            let ws = live(state)?;
            ws.channels
                .get(&change.sid)
                .ok_or_else(|| not_found("task channel", &change.sid))?;
            if let Some(n) = &change.friendly_name {
                check_name("FriendlyName", n)?;
            }
            Ok(vec![Event::TaskChannelUpdated(change.clone())])
        }
        Command::DeleteTaskChannel { sid } => {
            let ws = live(state)?;
            let used = ws
                .tasks
                .values()
                .any(|t| t.task_channel_sid == *sid && !t.status.closed());
            delete_unless(
                ws.channels.contains_key(sid),
                "task channel",
                sid,
                used.then_some("open tasks use this channel"),
                Event::TaskChannelDeleted,
            )
        }
        Command::CreateWorker {
            friendly_name,
            attributes,
            activity_sid,
        } => {
            let ws = live(state)?;
            check_name("FriendlyName", friendly_name)?;
            let attributes = attributes.clone().unwrap_or_else(|| "{}".into());
            check_attributes(&attributes)?;
            if ws
                .workers
                .values()
                .any(|w| w.friendly_name.eq_ignore_ascii_case(friendly_name))
            {
                return Err(TaskRouterError::Conflict(format!(
                    "a worker named {friendly_name:?} already exists"
                )));
            }
            let activity = match activity_sid {
                Some(a) => {
                    activity_exists(ws, "ActivitySid", a)?;
                    a.clone()
                }
                None => ws.default_activity_sid.clone().ok_or_else(|| {
                    invalid("ActivitySid", "the workspace has no default activity")
                })?,
            };
            Ok(vec![Event::WorkerCreated(WorkerCreated {
                sid: (ctx.new_sid)(SidPrefix::Worker),
                friendly_name: friendly_name.clone(),
                attributes,
                activity_sid: activity,
            })])
        }
        Command::UpdateWorker {
            sid,
            friendly_name,
            attributes,
            activity_sid,
            reject_pending_reservations,
            if_match,
        } => {
            let ws = live(state)?;
            let w = ws
                .workers
                .get(sid)
                .ok_or_else(|| not_found("worker", sid))?;
            check_version(*if_match, w.version)?;
            let mut out = Vec::new();
            if let Some(n) = friendly_name.as_ref().filter(|n| **n != w.friendly_name) {
                check_name("FriendlyName", n)?;
                if ws
                    .workers
                    .values()
                    .any(|o| o.sid != *sid && o.friendly_name.eq_ignore_ascii_case(n))
                {
                    return Err(TaskRouterError::Conflict(format!(
                        "a worker named {n:?} already exists"
                    )));
                }
                out.push(Event::WorkerRenamed(WorkerRenamed {
                    sid: sid.clone(),
                    friendly_name: n.clone(),
                }));
            }
            if let Some(a) = attributes.as_ref().filter(|a| **a != w.attributes) {
                check_attributes(a)?;
                out.push(Event::WorkerAttributesUpdated(WorkerAttributesUpdated {
                    sid: sid.clone(),
                    attributes: a.clone(),
                }));
            }
            if let Some(a) = activity_sid.as_ref().filter(|a| **a != w.activity_sid) {
                activity_exists(ws, "ActivitySid", a)?;
                let to_unavailable = ws.activities.get(a).is_some_and(|a| !a.available);
                if *reject_pending_reservations && to_unavailable {
                    for r in ws
                        .reservations
                        .values()
                        .filter(|r| r.worker_sid == *sid && r.status == ReservationStatus::Pending)
                    {
                        out.push(Event::ReservationRejected(ReservationRejected {
                            sid: r.sid.clone(),
                            activity_sid: None,
                        }));
                    }
                }
                out.push(Event::WorkerActivityUpdated(WorkerActivityUpdated {
                    sid: sid.clone(),
                    activity_sid: a.clone(),
                }));
            }
            Ok(out)
        }
        Command::DeleteWorker { sid, if_match } => {
            let ws = live(state)?;
            let w = ws
                .workers
                .get(sid)
                .ok_or_else(|| not_found("worker", sid))?;
            check_version(*if_match, w.version)?;
            if w.channels.values().any(|c| c.busy > 0) {
                return Err(TaskRouterError::Conflict(
                    "the worker holds reservations; complete or reject them first".into(),
                ));
            }
            Ok(vec![Event::WorkerDeleted(ResourceRef { sid: sid.clone() })])
        }
        Command::UpdateWorkerChannel {
            worker,
            channel,
            capacity,
            available,
        } => {
            let ws = live(state)?;
            let w = ws
                .workers
                .get(worker)
                .ok_or_else(|| not_found("worker", worker))?;
            let c = ws
                .channel_named(channel)
                .ok_or_else(|| not_found("worker channel", channel))?;
            let current = w
                .channels
                .get(&c.sid)
                .ok_or_else(|| not_found("worker channel", channel))?;
            let mut out = Vec::new();
            if let Some(cap) = capacity.filter(|cap| *cap != current.capacity) {
                if cap > 50 {
                    return Err(invalid("Capacity", "must be between 0 and 50"));
                }
                out.push(Event::WorkerCapacityUpdated(WorkerCapacityUpdated {
                    sid: worker.clone(),
                    task_channel_sid: c.sid.clone(),
                    capacity: cap,
                }));
            }
            if let Some(a) = available.filter(|a| *a != current.available) {
                out.push(Event::WorkerChannelAvailabilityUpdated(
                    WorkerChannelAvailabilityUpdated {
                        sid: worker.clone(),
                        task_channel_sid: c.sid.clone(),
                        available: a,
                    },
                ));
            }
            Ok(out)
        }
        Command::CreateTaskQueue {
            friendly_name,
            target_workers,
            task_order,
            max_reserved_workers,
            reservation_activity_sid,
            assignment_activity_sid,
        } => {
            let ws = live(state)?;
            check_name("FriendlyName", friendly_name)?;
            let target = target_workers.clone().unwrap_or_else(|| "1==1".into());
            check_expression("TargetWorkers", &target)?;
            let max = max_reserved_workers.unwrap_or(1);
            if !(1..=50).contains(&max) {
                return Err(invalid("MaxReservedWorkers", "must be between 1 and 50"));
            }
            for (param, a) in [
                ("ReservationActivitySid", reservation_activity_sid),
                ("AssignmentActivitySid", assignment_activity_sid),
            ] {
                if let Some(a) = a {
                    activity_exists(ws, param, a)?;
                }
            }
            Ok(vec![Event::TaskQueueCreated(TaskQueueCreated {
                sid: (ctx.new_sid)(SidPrefix::TaskQueue),
                friendly_name: friendly_name.clone(),
                target_workers: target,
                task_order: task_order.unwrap_or_default(),
                max_reserved_workers: max,
                reservation_activity_sid: reservation_activity_sid.clone(),
                assignment_activity_sid: assignment_activity_sid.clone(),
            })])
        }
        Command::UpdateTaskQueue(change) => {
            let ws = live(state)?;
            ws.queues
                .get(&change.sid)
                .ok_or_else(|| not_found("task queue", &change.sid))?;
            if let Some(n) = &change.friendly_name {
                check_name("FriendlyName", n)?;
            }
            if let Some(t) = &change.target_workers {
                check_expression("TargetWorkers", t)?;
            }
            if let Some(m) = change.max_reserved_workers {
                if !(1..=50).contains(&m) {
                    return Err(invalid("MaxReservedWorkers", "must be between 1 and 50"));
                }
            }
            for (param, a) in [
                ("ReservationActivitySid", &change.reservation_activity_sid),
                ("AssignmentActivitySid", &change.assignment_activity_sid),
            ] {
                if let Some(a) = a {
                    activity_exists(ws, param, a)?;
                }
            }
            Ok(vec![Event::TaskQueueUpdated(change.clone())])
        }
        Command::DeleteTaskQueue { sid } => {
            let ws = live(state)?;
            let used = ws.tasks.values().any(|t| {
                t.status.routable() && t.step.as_ref().is_some_and(|s| s.queue_sid == *sid)
            });
            delete_unless(
                ws.queues.contains_key(sid),
                "task queue",
                sid,
                used.then_some("tasks are waiting in this queue"),
                Event::TaskQueueDeleted,
            )
        }
        Command::CreateWorkflow {
            friendly_name,
            configuration,
            assignment_callback_url,
            fallback_assignment_callback_url,
            task_reservation_timeout,
        } => {
            let ws = live(state)?;
            check_name("FriendlyName", friendly_name)?;
            check_workflow(ws, configuration)?;
            let timeout = task_reservation_timeout.unwrap_or(120);
            if !(1..=86_400).contains(&timeout) {
                return Err(invalid(
                    "TaskReservationTimeout",
                    "must be between 1 and 86400",
                ));
            }
            Ok(vec![Event::WorkflowCreated(WorkflowCreated {
                sid: (ctx.new_sid)(SidPrefix::Workflow),
                friendly_name: friendly_name.clone(),
                configuration: configuration.clone(),
                assignment_callback_url: assignment_callback_url.clone().filter(|u| !u.is_empty()),
                fallback_assignment_callback_url: fallback_assignment_callback_url
                    .clone()
                    .filter(|u| !u.is_empty()),
                task_reservation_timeout: timeout,
            })])
        }
        Command::UpdateWorkflow {
            change,
            re_evaluate_tasks,
        } => {
            let ws = live(state)?;
            ws.workflows
                .get(&change.sid)
                .ok_or_else(|| not_found("workflow", &change.sid))?;
            if let Some(n) = &change.friendly_name {
                check_name("FriendlyName", n)?;
            }
            let compiled = match &change.configuration {
                Some(c) => Some(check_workflow(ws, c)?),
                None => None,
            };
            if let Some(t) = change.task_reservation_timeout {
                if !(1..=86_400).contains(&t) {
                    return Err(invalid(
                        "TaskReservationTimeout",
                        "must be between 1 and 86400",
                    ));
                }
            }
            let mut out = vec![Event::WorkflowUpdated(change.clone())];
            let current = ws.workflows.get(&change.sid).map(|w| w.compiled.clone());
            if let (true, Some(workflow)) = (*re_evaluate_tasks, compiled.or(current)) {
                for t in ws
                    .tasks
                    .values()
                    .filter(|t| t.workflow_sid == change.sid && t.status == TaskStatus::Pending)
                {
                    match workflow.route(&t.document, ctx.now) {
                        Some(step) => out.push(matched(&workflow, &change.sid, &t.sid, step)),
                        None => out.push(Event::TaskCanceled(TaskClosed {
                            sid: t.sid.clone(),
                            reason: "No matching workflow filter after re-evaluation".into(),
                        })),
                    }
                }
            }
            Ok(out)
        }
        Command::DeleteWorkflow { sid } => {
            let ws = live(state)?;
            let used = ws
                .tasks
                .values()
                .any(|t| t.workflow_sid == *sid && !t.status.closed());
            delete_unless(
                ws.workflows.contains_key(sid),
                "workflow",
                sid,
                used.then_some("open tasks are routed by this workflow"),
                Event::WorkflowDeleted,
            )
        }
        Command::CreateTask {
            attributes,
            priority,
            timeout,
            task_channel,
            workflow_sid,
            virtual_start_time,
        } => {
            let ws = live(state)?;
            let attributes = attributes.clone().unwrap_or_else(|| "{}".into());
            check_attributes(&attributes)?;
            let priority = priority.unwrap_or(0);
            check_priority(priority)?;
            let timeout = timeout.unwrap_or(DEFAULT_TASK_TIMEOUT);
            if !(1..=MAX_TASK_TIMEOUT).contains(&timeout) {
                return Err(invalid(
                    "Timeout",
                    format!("must be between 1 and {MAX_TASK_TIMEOUT}"),
                ));
            }
            let channel = ws
                .channel_named(task_channel.as_deref().unwrap_or("default"))
                .ok_or_else(|| invalid("TaskChannel", "no such task channel"))?;
            let workflow = match workflow_sid {
                Some(w) => ws.workflows.get(w).ok_or_else(|| {
                    invalid("WorkflowSid", format!("no workflow {w} in this workspace"))
                })?,
                None if ws.workflows.len() == 1 => ws
                    .workflows
                    .values()
                    .next()
                    .ok_or_else(|| invalid("WorkflowSid", "required"))?,
                None => {
                    return Err(invalid(
                        "WorkflowSid",
                        "required when the workspace does not have exactly one workflow",
                    ))
                }
            };
            Ok(vec![Event::TaskCreated(TaskCreated {
                sid: (ctx.new_sid)(SidPrefix::Task),
                attributes,
                priority,
                timeout,
                task_channel_sid: channel.sid.clone(),
                workflow_sid: workflow.sid.clone(),
                virtual_start_time: *virtual_start_time,
            })])
        }
        Command::UpdateTask {
            sid,
            attributes,
            priority,
            assignment_status,
            reason,
            if_match,
        } => {
            let ws = live(state)?;
            let t = ws.tasks.get(sid).ok_or_else(|| not_found("task", sid))?;
            check_version(*if_match, t.version)?;
            let mut out = Vec::new();
            let attributes = attributes.clone().filter(|a| *a != t.attributes);
            if let Some(a) = &attributes {
                check_attributes(a)?;
            }
            let priority = priority.filter(|p| *p != t.priority);
            if let Some(p) = priority {
                check_priority(p)?;
            }
            if attributes.is_some() || priority.is_some() {
                if t.status.closed() {
                    return Err(TaskRouterError::Conflict(format!(
                        "task {sid} is {} and cannot change",
                        t.status.as_str()
                    )));
                }
                out.push(Event::TaskUpdated(TaskUpdated {
                    sid: sid.clone(),
                    attributes,
                    priority,
                }));
            }
            if let Some(status) = assignment_status.as_deref() {
                let reason = reason.clone().unwrap_or_default();
                let close = |reason: String| TaskClosed {
                    sid: sid.clone(),
                    reason,
                };
                match (status, t.status) {
                    (s, current) if s == current.as_str() => {}
                    ("canceled", current) if !current.closed() => {
                        out.push(Event::TaskCanceled(close(reason)))
                    }
                    ("wrapping", TaskStatus::Assigned) => {
                        out.push(Event::TaskWrapup(close(reason)))
                    }
                    ("completed", TaskStatus::Assigned | TaskStatus::Wrapping) => {
                        out.push(Event::TaskCompleted(close(reason)))
                    }
                    ("canceled" | "wrapping" | "completed", current) => {
                        return Err(TaskRouterError::Conflict(format!(
                            "task {sid} is {} and cannot become {status}",
                            current.as_str()
                        )))
                    }
                    (other, _) => {
                        return Err(invalid(
                            "AssignmentStatus",
                            format!("{other:?} is not canceled, wrapping or completed"),
                        ))
                    }
                }
            }
            Ok(out)
        }
        Command::DeleteTask { sid, if_match } => {
            let ws = live(state)?;
            let t = ws.tasks.get(sid).ok_or_else(|| not_found("task", sid))?;
            check_version(*if_match, t.version)?;
            Ok(vec![Event::TaskDeleted(ResourceRef { sid: sid.clone() })])
        }
        Command::UpdateReservation {
            sid,
            via,
            status,
            activity_sid,
            if_match,
        } => {
            let ws = live(state)?;
            let r = ws
                .reservations
                .get(sid)
                .filter(|r| r.task_sid == *via || r.worker_sid == *via)
                .ok_or_else(|| not_found("reservation", sid))?;
            check_version(*if_match, r.version)?;
            let this = ResourceRef { sid: sid.clone() };
            match (status.as_str(), r.status) {
                ("accepted", ReservationStatus::Accepted) => Ok(vec![]),
                ("accepted", ReservationStatus::Pending) => {
                    let mut out = vec![Event::ReservationAccepted(this)];
                    for other in ws
                        .tasks
                        .get(&r.task_sid)
                        .map(|t| t.reservations.as_slice())
                        .unwrap_or_default()
                        .iter()
                        .filter(|o| {
                            *o != sid
                                && ws
                                    .reservations
                                    .get(*o)
                                    .is_some_and(|o| o.status == ReservationStatus::Pending)
                        })
                    {
                        out.push(Event::ReservationRescinded(ResourceRef {
                            sid: other.clone(),
                        }));
                    }
                    let assignment = ws
                        .queues
                        .get(&r.queue_sid)
                        .and_then(|q| q.assignment_activity_sid.as_ref());
                    out.extend(move_worker(ws, &r.worker_sid, assignment));
                    Ok(out)
                }
                ("rejected", ReservationStatus::Pending) => {
                    if let Some(a) = activity_sid {
                        activity_exists(ws, "WorkerActivitySid", a)?;
                    }
                    let mut out = vec![Event::ReservationRejected(ReservationRejected {
                        sid: sid.clone(),
                        activity_sid: activity_sid.clone(),
                    })];
                    if let Some(a) = activity_sid {
                        out.push(Event::WorkerActivityUpdated(WorkerActivityUpdated {
                            sid: r.worker_sid.clone(),
                            activity_sid: a.clone(),
                        }));
                    }
                    Ok(out)
                }
                ("wrapping", ReservationStatus::Accepted) => {
                    Ok(vec![Event::TaskWrapup(TaskClosed {
                        sid: r.task_sid.clone(),
                        reason: "reservation wrapping".into(),
                    })])
                }
                ("completed", ReservationStatus::Accepted | ReservationStatus::Wrapping) => {
                    Ok(vec![Event::TaskCompleted(TaskClosed {
                        sid: r.task_sid.clone(),
                        reason: "reservation completed".into(),
                    })])
                }
                ("accepted" | "rejected" | "wrapping" | "completed", current) => {
                    Err(TaskRouterError::Conflict(format!(
                        "reservation {sid} is {} and cannot become {status}",
                        current.as_str()
                    )))
                }
                (other, _) => Err(invalid(
                    "ReservationStatus",
                    format!("{other:?} is not accepted, rejected, wrapping or completed"),
                )),
            }
        }
        Command::Tick => Ok(live(state)
            .map(|ws| timeouts(ws, ctx.now))
            .unwrap_or_default()),
    }
}

/// Compiles a workflow document and checks every queue it names exists here.
fn check_workflow(ws: &Workspace, configuration: &str) -> Result<Workflow, TaskRouterError> {
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

fn matched(workflow: &Workflow, workflow_sid: &Sid, task: &Sid, step: Step) -> Event {
    let target = workflow.target(step);
    Event::TargetMatched(TargetMatched {
        task_sid: task.clone(),
        workflow_sid: workflow_sid.clone(),
        filter_index: step.filter.map(|f| f as u32),
        filter_name: step
            .filter
            .and_then(|f| workflow.filters.get(f))
            .map_or_else(|| "default".to_string(), |f| f.name.clone()),
        target_index: step.target as u32,
        task_queue_sid: target.map_or_else(
            || Sid::from_u128(SidPrefix::TaskQueue, 0),
            |t| t.queue.clone(),
        ),
        priority: target.and_then(|t| t.priority),
        timeout: target.and_then(|t| t.timeout),
    })
}

/// Everything past its time at `now`: pending reservations past the workflow's reservation
/// timeout (the worker moves to the workspace's timeout activity), tasks past their TTL, and
/// tasks whose workflow target timed out (next target, or canceled at the end).
pub fn timeouts(ws: &Workspace, now: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    for r in ws
        .reservations
        .values()
        .filter(|r| r.status == ReservationStatus::Pending)
    {
        let limit = ws
            .tasks
            .get(&r.task_sid)
            .and_then(|t| ws.workflows.get(&t.workflow_sid))
            .map_or(120, |w| w.task_reservation_timeout);
        if now >= r.date_created + chrono::Duration::seconds(i64::from(limit)) {
            out.push(Event::ReservationTimeout(ResourceRef {
                sid: r.sid.clone(),
            }));
            out.extend(move_worker(
                ws,
                &r.worker_sid,
                ws.timeout_activity_sid.as_ref(),
            ));
        }
    }
    for t in ws.tasks.values().filter(|t| !t.status.closed()) {
        if now >= t.date_created + chrono::Duration::seconds(i64::from(t.timeout)) {
            out.push(Event::TaskCanceled(TaskClosed {
                sid: t.sid.clone(),
                reason: "Task TTL Exceeded".into(),
            }));
            continue;
        }
        if t.status != TaskStatus::Pending {
            continue;
        }
        let (Some(step), Some(workflow)) = (&t.step, ws.workflows.get(&t.workflow_sid)) else {
            continue;
        };
        let Some(timeout) = step.timeout else {
            continue;
        };
        // A timeout too large to add to a date never fires (the document is the user's).
        let due = i64::try_from(timeout)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .and_then(|d| step.entered_at.checked_add_signed(d));
        if due.is_none_or(|due| now < due) {
            continue;
        }
        let current = Step {
            filter: step.filter_index.map(|f| f as usize),
            target: step.target_index as usize,
        };
        match workflow.compiled.next(current, &t.document, now) {
            Some(next) => out.push(matched(&workflow.compiled, &workflow.sid, &t.sid, next)),
            None => out.push(Event::TaskCanceled(TaskClosed {
                sid: t.sid.clone(),
                reason: "Workflow Timeout".into(),
            })),
        }
    }
    out
}

/// Tasks without a step enter their workflow's first matching target (or are canceled when
/// nothing matches).
fn route_steps(ws: &Workspace, now: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    for t in ws
        .tasks
        .values()
        .filter(|t| t.status == TaskStatus::Pending && t.step.is_none())
    {
        let Some(workflow) = ws.workflows.get(&t.workflow_sid) else {
            continue;
        };
        match workflow.compiled.route(&t.document, now) {
            Some(step) => out.push(matched(&workflow.compiled, &workflow.sid, &t.sid, step)),
            None => out.push(Event::TaskCanceled(TaskClosed {
                sid: t.sid.clone(),
                reason: "No matching workflow filter".into(),
            })),
        }
    }
    out
}

/// Offers waiting tasks to eligible workers.
fn route_offers(ws: &Workspace, ctx: &mut Ctx<'_>) -> Vec<Event> {
    let mut out = Vec::new();
    let queues: Vec<QueueView<'_>> = ws
        .queues
        .values()
        .map(|q| QueueView {
            sid: &q.sid,
            target_workers: &q.target_expression,
            task_order: match q.task_order {
                QueueOrder::Fifo => TaskOrder::Fifo,
                QueueOrder::Lifo => TaskOrder::Lifo,
            },
            max_reserved_workers: q.max_reserved_workers as usize,
            members: q.members.as_ref(),
        })
        .collect();
    let channel_names: BTreeMap<&Sid, &str> = ws
        .channels
        .values()
        .map(|c| (&c.sid, c.unique_name.as_str()))
        .collect();
    // Only tasks that can take another offer: routable, stepped, and holding fewer pending
    // reservations than their queue allows. The state keeps that set (`wanting`), so tasks
    // with all their offers out cost nothing here however many there are.
    let wanting: Vec<(&super::state::Task, &super::state::TaskStep, Vec<Sid>)> = ws
        .wanting
        .iter()
        .filter_map(|sid| ws.tasks.get(sid))
        .filter(|t| t.status.routable())
        .filter_map(|t| {
            let step = t.step.as_ref()?;
            let max = ws.queues.get(&step.queue_sid)?.max_reserved_workers as usize;
            if t.pending_reservations as usize >= max {
                return None;
            }
            let pending: Vec<Sid> = t
                .reservations
                .iter()
                .filter_map(|r| ws.reservations.get(r))
                .filter(|r| r.status == ReservationStatus::Pending)
                .map(|r| r.worker_sid.clone())
                .collect();
            (pending.len() < max).then_some((t, step, pending))
        })
        .collect();
    let tasks: Vec<TaskView<'_>> = wanting
        .iter()
        .map(|(t, step, pending)| TaskView {
            sid: &t.sid,
            queue: &step.queue_sid,
            priority: t.effective_priority(),
            age_from: t.age_from(),
            channel: channel_names
                .get(&t.task_channel_sid)
                .copied()
                .unwrap_or(""),
            attributes: &t.document,
            target: ws.workflows.get(&t.workflow_sid).and_then(|w| {
                w.compiled.target(Step {
                    filter: step.filter_index.map(|f| f as usize),
                    target: step.target_index as usize,
                })
            }),
            reserved_by: pending,
            rejected_by: &t.rejected_by,
        })
        .collect();
    if tasks.is_empty() {
        return out;
    }
    let workers: Vec<WorkerView<'_>> = ws
        .workers
        .values()
        .map(|w| {
            let busy_anywhere = w.channels.values().any(|c| c.busy > 0);
            WorkerView {
                sid: &w.sid,
                attributes: &w.document,
                available: ws.worker_available(w) && (ws.multi_task_enabled || !busy_anywhere),
                idle_since: w.idle_since,
                channels: w
                    .channels
                    .iter()
                    .filter_map(|(sid, c)| {
                        Some((
                            *channel_names.get(sid)?,
                            ChannelLoad {
                                capacity: c.capacity,
                                busy: c.busy,
                                available: c.available,
                            },
                        ))
                    })
                    .collect(),
            }
        })
        .collect();
    for offer in matcher::offers(&queues, &tasks, &workers, ctx.now) {
        let step = ws.tasks.get(&offer.task).and_then(|t| t.step.clone());
        out.push(Event::ReservationCreated(ReservationCreated {
            sid: (ctx.new_sid)(SidPrefix::Reservation),
            task_sid: offer.task.clone(),
            worker_sid: offer.worker.clone(),
            task_queue_sid: offer.queue.clone(),
            routing: RoutingDecision {
                filter: step
                    .as_ref()
                    .map_or_else(String::new, |s| s.filter_name.clone()),
                target_index: step.as_ref().map_or(0, |s| s.target_index),
                ordering: offer.ordering.clone(),
                eligible: offer.eligible as u32,
            },
        }));
        let reservation = ws
            .queues
            .get(&offer.queue)
            .and_then(|q| q.reservation_activity_sid.as_ref());
        out.extend(move_worker(ws, &offer.worker, reservation));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskrouter::state::Workspace;
    use proptest::prelude::*;
    use serde_json::json;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap_or_default()
    }

    fn ws_sid() -> Sid {
        Sid::from_u128(SidPrefix::Workspace, 1)
    }

    /// A workspace under test: its events so far and a SID counter.
    struct World {
        state: Option<Workspace>,
        next: u128,
        now: DateTime<Utc>,
        log: Vec<Event>,
    }

    impl World {
        fn new() -> World {
            let mut w = World {
                state: None,
                next: 100,
                now: t(0),
                log: Vec::new(),
            };
            w.run(Command::CreateWorkspace {
                friendly_name: "Support".into(),
                event_callback_url: None,
                events_filter: None,
                multi_task_enabled: None,
                prioritize_queue_order: None,
                template: Template::None,
            })
            .expect("workspace");
            w
        }

        fn run(&mut self, command: Command) -> Result<Vec<Event>, TaskRouterError> {
            let mut next = self.next;
            let mut new_sid = |p: SidPrefix| {
                next += 1;
                Sid::from_u128(p, next)
            };
            let mut ctx = Ctx {
                now: self.now,
                new_sid: &mut new_sid,
            };
            let events = decide(self.state.as_ref(), &ws_sid(), &command, &mut ctx)?;
            self.next = next;
            for e in &events {
                self.state = evolve(self.state.take(), &ws_sid(), self.now, e);
            }
            self.log.extend(events.clone());
            Ok(events)
        }

        fn ws(&self) -> &Workspace {
            self.state.as_ref().expect("workspace exists")
        }

        fn activity(&self, name: &str) -> Sid {
            self.ws()
                .activities
                .values()
                .find(|a| a.friendly_name == name)
                .map(|a| a.sid.clone())
                .expect("activity")
        }

        fn created<T>(events: &[Event], pick: impl Fn(&Event) -> Option<T>) -> T {
            events.iter().find_map(pick).expect("created")
        }

        fn queue(&mut self, target: &str, max: u32, order: QueueOrder) -> Sid {
            let e = self
                .run(Command::CreateTaskQueue {
                    friendly_name: format!("q{}", self.next),
                    target_workers: Some(target.into()),
                    task_order: Some(order),
                    max_reserved_workers: Some(max),
                    reservation_activity_sid: None,
                    assignment_activity_sid: None,
                })
                .expect("queue");
            World::created(&e, |e| match e {
                Event::TaskQueueCreated(q) => Some(q.sid.clone()),
                _ => None,
            })
        }

        fn workflow(&mut self, config: Value) -> Sid {
            let e = self
                .run(Command::CreateWorkflow {
                    friendly_name: format!("wf{}", self.next),
                    configuration: config.to_string(),
                    assignment_callback_url: None,
                    fallback_assignment_callback_url: None,
                    task_reservation_timeout: Some(30),
                })
                .expect("workflow");
            World::created(&e, |e| match e {
                Event::WorkflowCreated(w) => Some(w.sid.clone()),
                _ => None,
            })
        }

        fn worker(&mut self, name: &str, attributes: Value, available: bool) -> Sid {
            let activity = self.activity(if available { "Available" } else { "Offline" });
            let e = self
                .run(Command::CreateWorker {
                    friendly_name: name.into(),
                    attributes: Some(attributes.to_string()),
                    activity_sid: Some(activity),
                })
                .expect("worker");
            World::created(&e, |e| match e {
                Event::WorkerCreated(w) => Some(w.sid.clone()),
                _ => None,
            })
        }

        fn task(&mut self, workflow: &Sid, attributes: Value, priority: i64) -> (Sid, Vec<Event>) {
            let e = self
                .run(Command::CreateTask {
                    attributes: Some(attributes.to_string()),
                    priority: Some(priority),
                    timeout: None,
                    task_channel: None,
                    workflow_sid: Some(workflow.clone()),
                    virtual_start_time: None,
                })
                .expect("task");
            let sid = World::created(&e, |e| match e {
                Event::TaskCreated(t) => Some(t.sid.clone()),
                _ => None,
            });
            (sid, e)
        }

        fn reservations_of(events: &[Event]) -> Vec<&ReservationCreated> {
            events
                .iter()
                .filter_map(|e| match e {
                    Event::ReservationCreated(r) => Some(r),
                    _ => None,
                })
                .collect()
        }

        fn answer(&mut self, r: &Sid, status: &str) -> Result<Vec<Event>, TaskRouterError> {
            let via = self.ws().reservations[r].task_sid.clone();
            self.run(Command::UpdateReservation {
                sid: r.clone(),
                via,
                status: status.into(),
                activity_sid: None,
                if_match: None,
            })
        }
    }

    fn single_queue(w: &mut World, max: u32) -> (Sid, Sid) {
        let q = w.queue("1==1", max, QueueOrder::Fifo);
        let wf = w.workflow(
            json!({"task_routing": {"filters": [], "default_filter": {"queue": q.as_str()}}}),
        );
        (q, wf)
    }

    #[test]
    fn a_new_workspace_has_the_default_channels_and_activities_and_starts_workers_offline() {
        let mut w = World::new();
        let names: Vec<_> = w
            .ws()
            .channels
            .values()
            .map(|c| c.unique_name.clone())
            .collect();
        assert_eq!(names, ["default", "voice", "chat", "sms", "video"]);
        assert_eq!(w.ws().activities.len(), 4);
        let offline = w.activity("Offline");
        assert_eq!(w.ws().default_activity_sid.as_ref(), Some(&offline));
        let e = w
            .run(Command::CreateWorker {
                friendly_name: "Alice".into(),
                attributes: None,
                activity_sid: None,
            })
            .expect("worker");
        assert!(matches!(&e[0], Event::WorkerCreated(c) if c.activity_sid == offline));
    }

    #[test]
    fn a_task_is_routed_through_the_first_matching_filter_and_reserved_to_an_eligible_worker() {
        let mut w = World::new();
        let sales = w.queue("skills HAS 'sales'", 1, QueueOrder::Fifo);
        let support = w.queue("skills HAS 'support'", 1, QueueOrder::Fifo);
        let wf = w.workflow(json!({"task_routing": {
            "filters": [
                {"filter_friendly_name": "Sales", "expression": "type == 'sales'", "targets": [{"queue": sales.as_str()}]},
                {"filter_friendly_name": "Any", "expression": "1==1", "targets": [{"queue": support.as_str()}]}
            ]}}));
        let alice = w.worker("alice", json!({"skills": ["support"]}), true);
        let bob = w.worker("bob", json!({"skills": ["sales"]}), true);
        let (task, events) = w.task(&wf, json!({"type": "sales"}), 0);
        assert!(events.iter().any(|e| matches!(e, Event::TargetMatched(m) if m.task_queue_sid == sales && m.filter_name == "Sales")));
        let r = World::reservations_of(&events);
        assert_eq!(r.len(), 1);
        assert_eq!((&r[0].task_sid, &r[0].worker_sid), (&task, &bob));
        assert_eq!(r[0].routing.filter, "Sales");
        assert_eq!(w.ws().tasks[&task].status, TaskStatus::Reserved);
        let (_, events) = w.task(&wf, json!({"type": "billing"}), 0);
        assert_eq!(World::reservations_of(&events)[0].worker_sid, alice);
    }

    #[test]
    fn accepting_assigns_the_task_and_rescinds_the_other_offers() {
        let mut w = World::new();
        let (_, wf) = single_queue(&mut w, 3);
        for n in ["a", "b", "c"] {
            w.worker(n, json!({}), true);
        }
        let (task, events) = w.task(&wf, json!({}), 0);
        let offers: Vec<Sid> = World::reservations_of(&events)
            .iter()
            .map(|r| r.sid.clone())
            .collect();
        assert_eq!(offers.len(), 3, "max_reserved_workers 3");
        let accepted = w.answer(&offers[1], "accepted").expect("accepted");
        let rescinded = accepted
            .iter()
            .filter(|e| matches!(e, Event::ReservationRescinded(_)))
            .count();
        assert_eq!(rescinded, 2);
        assert_eq!(w.ws().tasks[&task].status, TaskStatus::Assigned);
        assert!(matches!(
            w.answer(&offers[0], "accepted"),
            Err(TaskRouterError::Conflict(_))
        ));
        // Completing frees the worker.
        w.run(Command::UpdateTask {
            sid: task.clone(),
            attributes: None,
            priority: None,
            assignment_status: Some("completed".into()),
            reason: Some("done".into()),
            if_match: None,
        })
        .expect("completed");
        assert_eq!(
            w.ws().reservations[&offers[1]].status,
            ReservationStatus::Completed
        );
        assert!(w
            .ws()
            .workers
            .values()
            .all(|wk| wk.channels.values().all(|c| c.busy == 0)));
    }

    #[test]
    fn a_rejected_task_goes_to_another_worker_and_never_back_to_the_one_who_rejected() {
        let mut w = World::new();
        let (_, wf) = single_queue(&mut w, 1);
        let a = w.worker("a", json!({}), true);
        let (task, events) = w.task(&wf, json!({}), 0);
        let first = World::reservations_of(&events)[0].sid.clone();
        let rejected = w.answer(&first, "rejected").expect("rejected");
        assert!(
            World::reservations_of(&rejected).is_empty(),
            "nobody else yet"
        );
        assert_eq!(w.ws().tasks[&task].status, TaskStatus::Pending);
        assert_eq!(w.ws().tasks[&task].rejected_by, vec![a]);
        let b = w.worker("b", json!({}), true);
        let offered = World::reservations_of(&w.log)
            .last()
            .map(|r| r.worker_sid.clone());
        assert_eq!(offered, Some(b));
    }

    #[test]
    fn a_target_timeout_moves_the_task_on_and_the_last_one_cancels_it() {
        let mut w = World::new();
        let first = w.queue("tier == 'gold'", 1, QueueOrder::Fifo);
        let second = w.queue("1==1", 1, QueueOrder::Fifo);
        let wf = w.workflow(json!({"task_routing": {"filters": [
            {"filter_friendly_name": "Escalate", "expression": "1==1",
             "targets": [{"queue": first.as_str(), "timeout": 30}, {"queue": second.as_str(), "timeout": 60, "priority": 5}]}
        ]}}));
        let (task, _) = w.task(&wf, json!({}), 1);
        w.now = t(31);
        let events = w.run(Command::Tick).expect("tick");
        assert!(events.iter().any(|e| matches!(e, Event::TargetMatched(m) if m.task_queue_sid == second && m.target_index == 1)));
        assert_eq!(w.ws().tasks[&task].effective_priority(), 5);
        w.now = t(92);
        w.run(Command::Tick).expect("tick");
        assert_eq!(w.ws().tasks[&task].status, TaskStatus::Canceled);
        assert_eq!(
            w.ws().tasks[&task].reason.as_deref(),
            Some("Workflow Timeout")
        );
    }

    #[test]
    fn a_target_timeout_too_large_for_a_date_never_fires_and_never_panics() {
        let mut w = World::new();
        let q = w.queue("1==1", 1, QueueOrder::Fifo);
        let wf = w.workflow(json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": q.as_str(), "timeout": u64::MAX}]},
            {"expression": "1==1", "targets": [{"queue": q.as_str(), "timeout": 1_000_000_000_000_000u64}]}
        ]}}));
        let (task, _) = w.task(&wf, json!({}), 0);
        w.now = t(80_000); // before the task's 86,400 s TTL
        w.run(Command::Tick).expect("tick");
        assert_eq!(w.ws().tasks[&task].status, TaskStatus::Pending);
        // Past the first target (never due), then the second (10^15 s: past any date).
        let wf2 = w.workflow(json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": q.as_str(), "timeout": 1_000_000_000_000_000u64}]}
        ]}}));
        let (task2, _) = w.task(&wf2, json!({}), 0);
        w.run(Command::Tick).expect("tick");
        assert_eq!(w.ws().tasks[&task2].status, TaskStatus::Pending);
    }

    #[test]
    fn an_unanswered_reservation_times_out_and_moves_the_worker_to_the_timeout_activity() {
        let mut w = World::new();
        let (_, wf) = single_queue(&mut w, 1);
        let a = w.worker("a", json!({}), true);
        let (task, events) = w.task(&wf, json!({}), 0);
        let r = World::reservations_of(&events)[0].sid.clone();
        w.now = t(31);
        w.run(Command::Tick).expect("tick");
        assert_eq!(w.ws().reservations[&r].status, ReservationStatus::Timeout);
        assert_eq!(w.ws().workers[&a].activity_sid, w.activity("Offline"));
        assert_eq!(w.ws().tasks[&task].status, TaskStatus::Pending);
    }

    #[test]
    fn bad_input_is_refused_with_the_parameter_named_and_nothing_recorded() {
        let mut w = World::new();
        let (_, wf) = single_queue(&mut w, 1);
        let before = w.log.len();
        let cases: Vec<(Command, &str)> = vec![
            (
                Command::CreateTaskQueue {
                    friendly_name: "x".into(),
                    target_workers: Some("skills HAS".into()),
                    task_order: None,
                    max_reserved_workers: None,
                    reservation_activity_sid: None,
                    assignment_activity_sid: None,
                },
                "TargetWorkers",
            ),
            (
                Command::CreateWorkflow {
                    friendly_name: "x".into(),
                    configuration: "{\"task_routing\": 3}".into(),
                    assignment_callback_url: None,
                    fallback_assignment_callback_url: None,
                    task_reservation_timeout: None,
                },
                "Configuration",
            ),
            (
                Command::CreateTask {
                    attributes: Some(format!("{{\"a\": \"{}\"}}", "x".repeat(4100))),
                    priority: None,
                    timeout: None,
                    task_channel: None,
                    workflow_sid: Some(wf.clone()),
                    virtual_start_time: None,
                },
                "Attributes",
            ),
            (
                Command::CreateTask {
                    attributes: None,
                    priority: Some(-1),
                    timeout: None,
                    task_channel: None,
                    workflow_sid: Some(wf.clone()),
                    virtual_start_time: None,
                },
                "Priority",
            ),
            (
                Command::CreateTask {
                    attributes: None,
                    priority: Some(MAX_PRIORITY + 1),
                    timeout: None,
                    task_channel: None,
                    workflow_sid: Some(wf.clone()),
                    virtual_start_time: None,
                },
                "Priority",
            ),
            (
                Command::CreateTask {
                    attributes: Some("[1]".into()),
                    priority: None,
                    timeout: None,
                    task_channel: None,
                    workflow_sid: Some(wf.clone()),
                    virtual_start_time: None,
                },
                "Attributes",
            ),
        ];
        for (command, param) in cases {
            match w.run(command) {
                Err(TaskRouterError::Invalid { param: p, .. }) => assert_eq!(p, param),
                other => panic!("expected Invalid {param}, got {other:?}"),
            }
        }
        assert!(matches!(
            w.run(Command::UpdateTask {
                sid: Sid::from_u128(SidPrefix::Task, 999),
                attributes: None,
                priority: None,
                assignment_status: None,
                reason: None,
                if_match: None
            }),
            Err(TaskRouterError::NotFound(_))
        ));
        assert_eq!(w.log.len(), before, "nothing recorded");
    }

    #[test]
    fn if_match_with_a_stale_version_is_refused() {
        let mut w = World::new();
        let a = w.worker("a", json!({}), false);
        let version = w.ws().workers[&a].version;
        w.run(Command::UpdateWorker {
            sid: a.clone(),
            friendly_name: None,
            attributes: Some("{\"x\":1}".into()),
            activity_sid: None,
            reject_pending_reservations: false,
            if_match: Some(version),
        })
        .expect("current version");
        assert!(matches!(
            w.run(Command::UpdateWorker {
                sid: a,
                friendly_name: None,
                attributes: Some("{\"x\":2}".into()),
                activity_sid: None,
                reject_pending_reservations: false,
                if_match: Some(version)
            }),
            Err(TaskRouterError::Precondition { .. })
        ));
    }

    #[derive(Debug, Clone)]
    enum Step_ {
        Task(i64),
        Worker(u32),
        Accept(usize),
        Reject(usize),
        Complete(usize),
        Tick(i64),
    }

    fn step() -> impl Strategy<Value = Step_> {
        prop_oneof![
            (0i64..4).prop_map(Step_::Task),
            (0u32..3).prop_map(Step_::Worker),
            (0usize..50).prop_map(Step_::Accept),
            (0usize..50).prop_map(Step_::Reject),
            (0usize..50).prop_map(Step_::Complete),
            (1i64..40).prop_map(Step_::Tick),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn routing_never_overbooks_never_double_assigns_and_serves_priority_then_age(steps in proptest::collection::vec(step(), 1..60)) {
            let mut w = World::new();
            let (_, wf) = single_queue(&mut w, 2);
            let mut workers = 0;
            let mut clock = 0;
            for s in steps {
                let before = w.state.clone();
                match s {
                    Step_::Task(p) => { clock += 1; w.now = t(clock); w.task(&wf, json!({}), p); }
                    Step_::Worker(cap) => {
                        workers += 1;
                        let sid = w.worker(&format!("w{workers}"), json!({}), true);
                        let _ = w.run(Command::UpdateWorkerChannel { worker: sid, channel: "default".into(), capacity: Some(cap), available: None });
                    }
                    Step_::Accept(i) | Step_::Reject(i) | Step_::Complete(i) => {
                        let rs: Vec<Sid> = w.ws().reservations.keys().cloned().collect();
                        if rs.is_empty() { continue; }
                        let r = rs[i % rs.len()].clone();
                        let _ = match s {
                            Step_::Accept(_) => w.answer(&r, "accepted"),
                            Step_::Reject(_) => w.answer(&r, "rejected"),
                            _ => w.answer(&r, "completed"),
                        };
                    }
                    Step_::Tick(d) => { clock += d; w.now = t(clock); let _ = w.run(Command::Tick); }
                }
                let ws = w.ws();
                // Never over capacity, and busy counts match the reservations holding capacity.
                for worker in ws.workers.values() {
                    for (channel, c) in &worker.channels {
                        let held = ws.reservations.values().filter(|r| r.worker_sid == worker.sid && r.task_channel_sid == *channel && r.status.holds_capacity()).count() as u32;
                        prop_assert_eq!(c.busy, held);
                        let pending_or_new = ws.reservations.values().filter(|r| r.worker_sid == worker.sid && r.task_channel_sid == *channel && r.status == ReservationStatus::Pending).count() as u32;
                        prop_assert!(pending_or_new <= c.capacity.max(held), "pending offers within capacity");
                    }
                }
                // The indexes the state keeps equal what they summarise: the tasks that can
                // take another offer, and each queue's members.
                let wanting: std::collections::BTreeSet<Sid> = ws.tasks.values().filter(|t| {
                    t.status.routable() && t.step.as_ref().is_some_and(|st| ws.queues.get(&st.queue_sid).is_some_and(|q| t.pending_reservations < q.max_reserved_workers))
                }).map(|t| t.sid.clone()).collect();
                prop_assert_eq!(&ws.wanting, &wanting);
                for q in ws.queues.values() {
                    let members: std::collections::BTreeSet<Sid> = ws.workers.values().filter(|x| q.target_expression.matches(&crate::taskrouter::expression::Context::document(&x.document))).map(|x| x.sid.clone()).collect();
                    prop_assert_eq!(q.members.as_ref(), Some(&members));
                }
                // Never two accepted reservations for one task.
                for task in ws.tasks.values() {
                    let accepted = task.reservations.iter().filter(|r| matches!(ws.reservations.get(*r).map(|r| r.status), Some(ReservationStatus::Accepted | ReservationStatus::Wrapping | ReservationStatus::Completed))).count();
                    prop_assert!(accepted <= 1);
                }
                // A task waiting unreserved while a lower-priority (or same-priority, younger)
                // task got a new offer in this step would break priority-then-FIFO order.
                if let Some(before) = before {
                    let new: Vec<&Sid> = ws.reservations.keys().filter(|r| !before.reservations.contains_key(*r)).collect();
                    for r in new {
                        let offered = &ws.tasks[&ws.reservations[r].task_sid];
                        for waiting in ws.tasks.values().filter(|t| t.status == TaskStatus::Pending && t.rejected_by.is_empty()) {
                            let ahead = waiting.effective_priority() > offered.effective_priority()
                                || (waiting.effective_priority() == offered.effective_priority() && waiting.age_from() < offered.age_from());
                            prop_assert!(!ahead, "task {} waits while {} was offered", waiting.sid, offered.sid);
                        }
                    }
                }
            }
        }
    }
}
