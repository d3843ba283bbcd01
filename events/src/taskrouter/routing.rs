//! Routing: what follows every accepted command. [`route_mut`] first puts each new task on its
//! workflow's first matching target ([`TargetMatched`]), then asks the
//! [`matcher`] which waiting tasks to offer to which workers
//! ([`ReservationCreated`]). Both read only the state and the [`Ctx`], so the same state routes
//! the same way on every replay.

use super::events::{
    QueueOrder, ReservationCreated, RoutingDecision, TargetMatched, TaskClosed,
    WorkerActivityUpdated,
};
use super::matcher::{self, ChannelLoad, QueueView, TaskOrder, TaskView, WorkerView};
use super::state::{evolve, ReservationStatus, Task, TaskStatus, TaskStep, Workspace};
use super::workflow::{Step, Workflow};
use crate::event::Event;
use crate::sid::{Sid, SidPrefix};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What a decision needs from the shell.
pub struct Ctx<'a> {
    /// The command's time.
    pub now: DateTime<Utc>,
    /// A fresh SID of a prefix.
    pub new_sid: &'a mut dyn FnMut(SidPrefix) -> Sid,
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

/// The event that puts `task` on `step` of `workflow`.
pub(crate) fn matched(workflow: &Workflow, workflow_sid: &Sid, task: &Sid, step: Step) -> Event {
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

/// Moves `worker` to `activity` (when given and not already its activity).
pub(crate) fn move_worker(ws: &Workspace, worker: &Sid, activity: Option<&Sid>) -> Option<Event> {
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
    let queues = queue_views(ws);
    let channel_names: BTreeMap<&Sid, &str> = ws
        .channels
        .values()
        .map(|c| (&c.sid, c.unique_name.as_str()))
        .collect();
    let wanting = wanting(ws);
    let tasks = task_views(ws, &wanting, &channel_names);
    if tasks.is_empty() {
        return out;
    }
    let workers = worker_views(ws, &channel_names);
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

/// Every queue as the matcher sees it.
fn queue_views(ws: &Workspace) -> Vec<QueueView<'_>> {
    ws.queues
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
        .collect()
}

/// A task that can take another offer, its step, and the workers it is pending with.
type Wanting<'a> = (&'a Task, &'a TaskStep, Vec<Sid>);

/// Only tasks that can take another offer: routable, stepped, and holding fewer pending
/// reservations than their queue allows. The state keeps that set (`wanting`), so tasks
/// with all their offers out cost nothing here however many there are.
fn wanting(ws: &Workspace) -> Vec<Wanting<'_>> {
    ws.wanting
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
        .collect()
}

/// The wanting tasks as the matcher sees them.
fn task_views<'a>(
    ws: &'a Workspace,
    wanting: &'a [Wanting<'a>],
    channel_names: &BTreeMap<&Sid, &'a str>,
) -> Vec<TaskView<'a>> {
    wanting
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
        .collect()
}

/// Every worker as the matcher sees it: available only in an available activity, and (without
/// multitasking) only while it holds nothing on any channel.
fn worker_views<'a>(
    ws: &'a Workspace,
    channel_names: &BTreeMap<&Sid, &'a str>,
) -> Vec<WorkerView<'a>> {
    ws.workers
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
        .collect()
}
