//! Commands on a workspace and the routing that follows each of them.
//!
//! [`decide`] turns a command into events against the workspace's state, then runs
//! [`route_mut`] on the state those events make: new tasks enter their workflow's first
//! matching target, and the matcher offers waiting tasks to eligible workers. SIDs come from
//! the shell (a `FnMut` the caller passes), time from the command; nothing here reads a
//! clock, so the same events and the same command give the same decision.
//!
//! This module is the entry point and the dispatcher: each command's decider is its own file
//! under `commands/`, and the items callers name here (the [`Command`], its
//! [`TaskRouterError`], [`Ctx`], [`route_mut`], [`timeouts`], the limits) are re-exported from
//! the modules that own them, so `taskrouter::decide::…` paths keep working.

use super::commands::*;
use super::state::{evolve, Workspace};
use super::validate::live;
use crate::event::Event;
use crate::sid::Sid;

pub use super::command::{Command, Template, CLOSED_TASK_RETENTION_SECS};
pub use super::error::TaskRouterError;
pub use super::routing::{route_mut, Ctx};
pub use super::timeouts::timeouts;
pub use super::validate::{DEFAULT_TASK_TIMEOUT, MAX_ATTRIBUTES, MAX_PRIORITY, MAX_TASK_TIMEOUT};

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
        let routed = route_mut(&mut scratch, workspace_sid, &events, ctx);
        events.extend(routed);
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

/// The command's own events, from its decider. Every command but `CreateWorkspace`, `Tick`
/// and `ExpireClosedTasks` needs a live workspace first.
// Longer than most functions here: one arm per command (24), each only destructuring the
// command and delegating; splitting it would hide which decider a command reaches.
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
        } => create_workspace::decide(
            state,
            friendly_name,
            event_callback_url,
            events_filter,
            *multi_task_enabled,
            *prioritize_queue_order,
            *template,
            ctx,
        ),
        Command::UpdateWorkspace(change) => update_workspace::decide(live(state)?, change),
        Command::DeleteWorkspace => delete_workspace::decide(live(state)?),
        Command::CreateActivity {
            friendly_name,
            available,
        } => create_activity::decide(live(state)?, friendly_name, *available, ctx),
        Command::UpdateActivity { sid, friendly_name } => {
            update_activity::decide(live(state)?, sid, friendly_name)
        }
        Command::DeleteActivity { sid } => delete_activity::decide(live(state)?, sid),
        Command::CreateTaskChannel {
            unique_name,
            friendly_name,
            channel_optimized_routing,
        } => create_task_channel::decide(
            live(state)?,
            unique_name,
            friendly_name,
            *channel_optimized_routing,
            ctx,
        ),
        Command::UpdateTaskChannel(change) => update_task_channel::decide(live(state)?, change),
        Command::DeleteTaskChannel { sid } => delete_task_channel::decide(live(state)?, sid),
        Command::CreateWorker {
            friendly_name,
            attributes,
            activity_sid,
        } => create_worker::decide(live(state)?, friendly_name, attributes, activity_sid, ctx),
        Command::UpdateWorker {
            sid,
            friendly_name,
            attributes,
            activity_sid,
            reject_pending_reservations,
            if_match,
        } => update_worker::decide(
            live(state)?,
            sid,
            friendly_name,
            attributes,
            activity_sid,
            *reject_pending_reservations,
            *if_match,
        ),
        Command::DeleteWorker { sid, if_match } => {
            delete_worker::decide(live(state)?, sid, *if_match)
        }
        Command::UpdateWorkerChannel {
            worker,
            channel,
            capacity,
            available,
        } => update_worker_channel::decide(live(state)?, worker, channel, *capacity, *available),
        Command::CreateTaskQueue {
            friendly_name,
            target_workers,
            task_order,
            max_reserved_workers,
            reservation_activity_sid,
            assignment_activity_sid,
        } => create_task_queue::decide(
            live(state)?,
            friendly_name,
            target_workers,
            *task_order,
            *max_reserved_workers,
            reservation_activity_sid,
            assignment_activity_sid,
            ctx,
        ),
        Command::UpdateTaskQueue(change) => update_task_queue::decide(live(state)?, change),
        Command::DeleteTaskQueue { sid } => delete_task_queue::decide(live(state)?, sid),
        Command::CreateWorkflow {
            friendly_name,
            configuration,
            assignment_callback_url,
            fallback_assignment_callback_url,
            task_reservation_timeout,
        } => create_workflow::decide(
            live(state)?,
            friendly_name,
            configuration,
            assignment_callback_url,
            fallback_assignment_callback_url,
            *task_reservation_timeout,
            ctx,
        ),
        Command::UpdateWorkflow {
            change,
            re_evaluate_tasks,
        } => update_workflow::decide(live(state)?, change, *re_evaluate_tasks, ctx.now),
        Command::DeleteWorkflow { sid } => delete_workflow::decide(live(state)?, sid),
        Command::CreateTask {
            attributes,
            priority,
            timeout,
            task_channel,
            workflow_sid,
            virtual_start_time,
        } => create_task::decide(
            live(state)?,
            attributes,
            *priority,
            *timeout,
            task_channel.as_deref(),
            workflow_sid,
            *virtual_start_time,
            ctx,
        ),
        Command::UpdateTask {
            sid,
            attributes,
            priority,
            assignment_status,
            reason,
            if_match,
        } => update_task::decide(
            live(state)?,
            sid,
            attributes,
            *priority,
            assignment_status.as_deref(),
            reason,
            *if_match,
        ),
        Command::DeleteTask { sid, if_match } => delete_task::decide(live(state)?, sid, *if_match),
        Command::UpdateReservation {
            sid,
            via,
            status,
            activity_sid,
            if_match,
        } => update_reservation::decide(live(state)?, sid, via, status, activity_sid, *if_match),
        Command::Tick => Ok(tick::decide(state, ctx.now)),
        Command::ExpireClosedTasks { retention_secs } => {
            Ok(expire_closed_tasks::decide(state, ctx.now, *retention_secs))
        }
    }
}
