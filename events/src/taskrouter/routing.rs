//! Routing: what follows every accepted command. [`route_mut`] first puts each new task into
//! its workflow ([`WorkflowEntered`]) and on the workflow's first matching target
//! ([`enter`]: `task-queue.entered`, then [`TargetMatched`]), then asks the
//! [`matcher`] which waiting tasks to offer to which workers
//! ([`ReservationCreated`]), then applies the targets' `skip_if`: a task that has just entered
//! a target (created, timed out of the previous one, re-evaluated, or skipped into it) and got
//! no reservation moves on to the next target when its `skip_if` holds over the worker counts
//! of the target's queue (`workflow.skipped`, then the next target's events), and is offered
//! again there, all in the same pass. Everything reads
//! only the state and the [`Ctx`], so the same state routes the same way on every replay.
//!
//! Invariant: `skip_if` is evaluated only for the tasks that entered a target in this pass
//! (never a scan of every waiting task), and a chain of skips ends: each skip moves a task
//! strictly forward in its workflow ([`Workflow::next`]), and the rounds are bounded by the
//! longest workflow's number of targets.

use super::events::{
    QueueOrder, ReservationCreated, RoutingDecision, TargetMatched, TaskClosed, TaskInQueue,
    TaskQueueMoved, WorkerActivityUpdated, WorkflowEntered, WorkflowSkipped,
};
use super::expression::Context;
use super::matcher::{self, ChannelLoad, QueueView, TaskOrder, TaskView, WorkerView};
use super::state::{evolve, ReservationStatus, Task, TaskStatus, TaskStep, Workspace};
use super::workflow::{Step, Workflow};
use crate::event::Event;
use crate::sid::{Sid, SidPrefix};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What a decision needs from the shell.
pub struct Ctx<'a> {
    /// The command's time.
    pub now: DateTime<Utc>,
    /// A fresh SID of a prefix.
    pub new_sid: &'a mut dyn FnMut(SidPrefix) -> Sid,
}

/// Routes on `state` and folds the routing events into it. `decided` are the events decided
/// since the last routing pass (the shell's batch, or one command's): the tasks they put on a
/// target ([`TargetMatched`], from a timeout or a re-evaluation) have their `skip_if` checked
/// here when they get no reservation, as the tasks this pass routes for the first time do.
pub fn route_mut<'e>(
    state: &mut Option<Workspace>,
    workspace_sid: &Sid,
    decided: impl IntoIterator<Item = &'e Event>,
    ctx: &mut Ctx<'_>,
) -> Vec<Event> {
    let Some(ws) = state.as_ref().filter(|w| !w.deleted) else {
        return Vec::new();
    };
    let steps = route_steps(ws, ctx.now);
    // Each round's skips move tasks strictly forward, so after as many rounds as the longest
    // workflow has targets every chain of skips has ended.
    let rounds = ws
        .workflows
        .values()
        .map(|w| w.compiled.target_count())
        .max()
        .unwrap_or(0);
    let mut just_entered = entered(decided);
    just_entered.extend(entered(&steps));
    let mut out = Vec::new();
    fold(state, workspace_sid, ctx.now, steps, &mut out);
    // The first round offers every task that wants an offer; later rounds only the tasks a
    // skip has just moved (nothing else has changed for the others since the first).
    let mut only: Option<BTreeSet<Sid>> = None;
    for round in 0..=rounds {
        let Some(ws) = state.as_ref() else {
            break;
        };
        let offers = route_offers(ws, only.as_ref(), ctx);
        fold(state, workspace_sid, ctx.now, offers, &mut out);
        let Some(ws) = state.as_ref().filter(|_| round < rounds) else {
            break;
        };
        let skipped = skips(ws, &just_entered, ctx.now);
        if skipped.is_empty() {
            break;
        }
        just_entered = entered(&skipped);
        fold(state, workspace_sid, ctx.now, skipped, &mut out);
        only = Some(just_entered.clone());
    }
    out
}

/// Folds `events` into `state` and appends them to `out`.
fn fold(
    state: &mut Option<Workspace>,
    workspace_sid: &Sid,
    now: DateTime<Utc>,
    events: Vec<Event>,
    out: &mut Vec<Event>,
) {
    for e in &events {
        *state = evolve(state.take(), workspace_sid, now, e);
    }
    out.extend(events);
}

/// The tasks `events` put on a workflow target.
fn entered<'e>(events: impl IntoIterator<Item = &'e Event>) -> BTreeSet<Sid> {
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::TargetMatched(m) => Some(m.task_sid.clone()),
            _ => None,
        })
        .collect()
}

/// The workflow step a task's recorded step names.
pub(crate) fn step_of(step: &TaskStep) -> Step {
    Step {
        filter: step.filter_index.map(|f| f as usize),
        target: step.target_index as usize,
    }
}

/// Skip Timeout: of the tasks that have just entered a target, those still pending (no
/// reservation was created for them) whose target's `skip_if` holds over its queue's worker
/// counts move to the next target ([`Workflow::next`], as a timeout would).
fn skips(ws: &Workspace, entered: &BTreeSet<Sid>, now: DateTime<Utc>) -> Vec<Event> {
    let mut counts: BTreeMap<&Sid, Value> = BTreeMap::new();
    let mut out = Vec::new();
    for t in entered
        .iter()
        .filter_map(|sid| ws.tasks.get(sid))
        .filter(|t| t.status == TaskStatus::Pending)
    {
        let (Some(step), Some(workflow)) = (&t.step, ws.workflows.get(&t.workflow_sid)) else {
            continue;
        };
        let current = step_of(step);
        let Some(skip_if) = workflow
            .compiled
            .target(current)
            .and_then(|target| target.skip_if.as_ref())
        else {
            continue;
        };
        let workers = counts
            .entry(&step.queue_sid)
            .or_insert_with(|| worker_counts(ws, &step.queue_sid, now));
        if !skip_if.matches(&Context::default().with_root("workers", workers).at(now)) {
            continue;
        }
        out.push(Event::WorkflowSkipped(WorkflowSkipped {
            task_sid: t.sid.clone(),
            workflow_sid: workflow.sid.clone(),
            filter_name: step.filter_name.clone(),
            target_index: step.target_index,
            task_queue_sid: step.queue_sid.clone(),
        }));
        // After the last target there is nowhere to skip to: the task stays where it is,
        // waiting on that target.
        if let Some(next) = workflow.compiled.next(current, &t.document, now) {
            out.extend(enter(&workflow.compiled, &workflow.sid, t, next));
        }
    }
    out
}

/// What `skip_if` reads under `workers.`, counted over the queue's workers (those its
/// `target_workers` matches): `available` and `unavailable` (by their activity), and one count
/// per activity SID of the workspace (zero when nobody is in it).
fn worker_counts(ws: &Workspace, queue: &Sid, now: DateTime<Utc>) -> Value {
    let mut per_activity: BTreeMap<&Sid, u64> = ws.activities.keys().map(|a| (a, 0)).collect();
    let (mut available, mut unavailable) = (0u64, 0u64);
    let mut count = |w: &super::state::Worker| {
        if ws.worker_available(w) {
            available += 1;
        } else {
            unavailable += 1;
        }
        if let Some(n) = per_activity.get_mut(&w.activity_sid) {
            *n += 1;
        }
    };
    if let Some(q) = ws.queues.get(queue) {
        match &q.members {
            Some(members) => members
                .iter()
                .filter_map(|sid| ws.workers.get(sid))
                .for_each(&mut count),
            // A clock-reading `target_workers` has no members kept: evaluate it now.
            None => ws
                .workers
                .values()
                .filter(|w| {
                    q.target_expression
                        .matches(&Context::document(&w.document).at(now))
                })
                .for_each(&mut count),
        }
    }
    let mut doc: Map<String, Value> = per_activity
        .into_iter()
        .map(|(sid, n)| (sid.to_string(), Value::from(n)))
        .collect();
    doc.insert("available".into(), Value::from(available));
    doc.insert("unavailable".into(), Value::from(unavailable));
    Value::Object(doc)
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

/// The events that put `task` on `step` of `workflow`, in the order the facts happen:
/// `task-queue.moved` when it leaves another queue for the step's, `task-queue.entered` when
/// the step's queue is not the one it waits in already, then `workflow.target-matched`.
pub(crate) fn enter(
    workflow: &Workflow,
    workflow_sid: &Sid,
    task: &Task,
    step: Step,
) -> Vec<Event> {
    let matched = matched(workflow, workflow_sid, &task.sid, step);
    let Event::TargetMatched(m) = &matched else {
        return vec![matched];
    };
    let to = m.task_queue_sid.clone();
    let mut out = Vec::new();
    let from = task.step.as_ref().map(|s| &s.queue_sid);
    if from != Some(&to) {
        if let Some(from) = from {
            out.push(Event::TaskQueueMoved(TaskQueueMoved {
                task_sid: task.sid.clone(),
                task_queue_sid: from.clone(),
                to_task_queue_sid: to.clone(),
            }));
        }
        out.push(Event::TaskQueueEntered(TaskInQueue {
            task_sid: task.sid.clone(),
            task_queue_sid: to,
        }));
    }
    out.push(matched);
    out
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

/// Tasks without a step enter their workflow (`workflow.entered`), then its first matching
/// target (or are canceled when nothing matches).
fn route_steps(ws: &Workspace, now: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    // The state keeps this set, so a pass costs the new tasks, not every task held.
    for t in ws.unrouted.iter().filter_map(|sid| ws.tasks.get(sid)) {
        let Some(workflow) = ws.workflows.get(&t.workflow_sid) else {
            continue;
        };
        out.push(Event::WorkflowEntered(WorkflowEntered {
            task_sid: t.sid.clone(),
            workflow_sid: workflow.sid.clone(),
        }));
        match workflow.compiled.route(&t.document, now) {
            Some(step) => out.extend(enter(&workflow.compiled, &workflow.sid, t, step)),
            None => out.push(Event::TaskCanceled(TaskClosed {
                sid: t.sid.clone(),
                reason: "No matching workflow filter".into(),
            })),
        }
    }
    out
}

/// Offers waiting tasks to eligible workers: every task that wants an offer, or only those in
/// `only` (that still want one).
fn route_offers(ws: &Workspace, only: Option<&BTreeSet<Sid>>, ctx: &mut Ctx<'_>) -> Vec<Event> {
    let mut out = Vec::new();
    let queues = queue_views(ws);
    let channel_names: BTreeMap<&Sid, &str> = ws
        .channels
        .values()
        .map(|c| (&c.sid, c.unique_name.as_str()))
        .collect();
    let wanting = wanting(ws, only);
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
/// with all their offers out cost nothing here however many there are. With `only`, just
/// those of its tasks that are in the set.
fn wanting<'a>(ws: &'a Workspace, only: Option<&BTreeSet<Sid>>) -> Vec<Wanting<'a>> {
    let candidates: Box<dyn Iterator<Item = &Sid> + '_> = match only {
        Some(only) => Box::new(only.iter().filter(|sid| ws.wanting.contains(*sid))),
        None => Box::new(ws.wanting.iter()),
    };
    candidates
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
            target: ws
                .workflows
                .get(&t.workflow_sid)
                .and_then(|w| w.compiled.target(step_of(step))),
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
