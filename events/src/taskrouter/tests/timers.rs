//! The workspace's timers against a brute-force scan: after any random sequence of commands
//! (tasks with TTLs, targets with timeouts, answers, cancels, deletes, workflow changes, a
//! workflow that stops compiling, ticks and expiries) the ordered index holds exactly what a
//! scan of every task and reservation finds, and a tick or an expiry at any instant fires
//! exactly what the scan would (the scan is the decider this index replaced, kept here as the
//! oracle). Then: an idle workspace with 10,000 open tasks has nothing to visit.

use super::*;
use crate::taskrouter::close::close;
use crate::taskrouter::events::{ResourceRef, TaskInQueue, WorkflowTimeout, WorkflowUpdated};
use crate::taskrouter::routing::{enter, move_worker, step_of};
use crate::taskrouter::state::{after, ReservationStatus, TaskStatus, Timer, TimerKind};
use crate::taskrouter::timeouts::{expired, timeouts};
use chrono::Duration;
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Every timer a scan of the state finds (the index's definition, written as a scan).
fn scan_entries(ws: &Workspace) -> BTreeSet<Timer> {
    let mut out = BTreeSet::new();
    for r in ws
        .reservations
        .values()
        .filter(|r| r.status == ReservationStatus::Pending)
    {
        let limit = reservation_timeout(ws, r);
        if let Some(due) = after(r.date_created, u64::from(limit)) {
            out.insert(timer(due, TimerKind::Reservation, &r.sid));
        }
    }
    for t in ws.tasks.values() {
        if t.status.closed() {
            let closed = t.date_closed.unwrap_or(t.date_updated);
            out.insert(timer(closed, TimerKind::Retention, &t.sid));
            continue;
        }
        if let Some(due) = after(t.date_created, u64::from(t.timeout)) {
            out.insert(timer(due, TimerKind::Ttl, &t.sid));
        }
        let compiles = ws
            .workflows
            .get(&t.workflow_sid)
            .is_some_and(|w| w.compile_error.is_none());
        if let (TaskStatus::Pending, true, Some(step)) = (t.status, compiles, &t.step) {
            if let Some(due) = step.timeout.and_then(|s| after(step.entered_at, s)) {
                out.insert(timer(due, TimerKind::Target, &t.sid));
            }
        }
    }
    out
}

/// A reservation's timeout: its task's workflow's, else Twilio's default.
fn reservation_timeout(ws: &Workspace, r: &crate::taskrouter::state::Reservation) -> u32 {
    ws.tasks
        .get(&r.task_sid)
        .and_then(|t| ws.workflows.get(&t.workflow_sid))
        .map_or(120, |w| w.task_reservation_timeout)
}

fn timer(due: DateTime<Utc>, kind: TimerKind, sid: &Sid) -> Timer {
    Timer {
        due,
        kind,
        sid: sid.clone(),
    }
}

/// The once-a-second scan this index replaced, verbatim in what it decides.
fn scan_timeouts(ws: &Workspace, now: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut timed_out = BTreeSet::new();
    for r in ws
        .reservations
        .values()
        .filter(|r| r.status == ReservationStatus::Pending)
    {
        let limit = reservation_timeout(ws, r);
        if now >= r.date_created + chrono::Duration::seconds(i64::from(limit)) {
            out.push(Event::ReservationTimeout(ResourceRef {
                sid: r.sid.clone(),
            }));
            timed_out.insert(r.sid.clone());
            out.extend(move_worker(
                ws,
                &r.worker_sid,
                ws.timeout_activity_sid.as_ref(),
            ));
        }
    }
    for t in ws.tasks.values().filter(|t| !t.status.closed()) {
        if now >= t.date_created + chrono::Duration::seconds(i64::from(t.timeout)) {
            let reason = "Task TTL Exceeded".to_string();
            out.extend(close(ws, &t.sid, TaskStatus::Canceled, reason, &timed_out));
            continue;
        }
        if t.status != TaskStatus::Pending {
            continue;
        }
        let workflow = ws
            .workflows
            .get(&t.workflow_sid)
            .filter(|w| w.compile_error.is_none());
        let (Some(step), Some(workflow)) = (&t.step, workflow) else {
            continue;
        };
        let Some(timeout) = step.timeout else {
            continue;
        };
        let due = i64::try_from(timeout)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .and_then(|d| step.entered_at.checked_add_signed(d));
        if due.is_none_or(|due| now < due) {
            continue;
        }
        out.push(Event::TaskQueueTimeout(TaskInQueue {
            task_sid: t.sid.clone(),
            task_queue_sid: step.queue_sid.clone(),
        }));
        match workflow.compiled.next(step_of(step), &t.document, now) {
            Some(next) => out.extend(enter(&workflow.compiled, &workflow.sid, t, next)),
            None => {
                out.push(Event::WorkflowTimeout(WorkflowTimeout {
                    task_sid: t.sid.clone(),
                    workflow_sid: workflow.sid.clone(),
                }));
                let reason = "Workflow Timeout".to_string();
                out.extend(close(ws, &t.sid, TaskStatus::Canceled, reason, &timed_out));
            }
        }
    }
    out
}

/// The closed tasks a scan finds past `retention` at `now`, earliest closed first.
fn scan_expired(ws: &Workspace, now: DateTime<Utc>, retention: Duration) -> Vec<Event> {
    let mut closed: Vec<(DateTime<Utc>, &Sid)> = ws
        .tasks
        .values()
        .filter(|t| t.status.closed())
        .map(|t| (t.date_closed.unwrap_or(t.date_updated), &t.sid))
        .filter(|(at, _)| *at + retention <= now)
        .collect();
    closed.sort();
    closed
        .into_iter()
        .map(|(_, sid)| Event::TaskSystemDeleted(ResourceRef { sid: sid.clone() }))
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    Task { ttl: Option<u32>, gold: bool },
    Worker,
    Answer { pick: usize, status: u8 },
    CloseTask { pick: usize, status: u8 },
    ReservationTimeout(u32),
    Breaks(bool),
    Tick(i64),
    Expire(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (proptest::option::of(5u32..200), any::<bool>()).prop_map(|(ttl, gold)| Op::Task { ttl, gold }),
        1 => Just(Op::Worker),
        2 => (0usize..50, 0u8..4).prop_map(|(pick, status)| Op::Answer { pick, status }),
        1 => (0usize..50, 0u8..3).prop_map(|(pick, status)| Op::CloseTask { pick, status }),
        1 => (1u32..90).prop_map(Op::ReservationTimeout),
        1 => any::<bool>().prop_map(Op::Breaks),
        3 => (1i64..60).prop_map(Op::Tick),
        1 => (0u64..120).prop_map(Op::Expire),
    ]
}

/// Picks the `pick`th key of a map, if any.
fn nth<V>(map: &std::collections::BTreeMap<Sid, V>, pick: usize) -> Option<Sid> {
    (!map.is_empty()).then(|| map.keys().nth(pick % map.len()).cloned())?
}

/// A workspace with two queues and a workflow whose targets time out (gold tasks go through
/// both, others only the catch-all queue), so every kind of timer occurs.
fn escalating(w: &mut World) -> (Sid, String) {
    let first = w.queue("tier == 'gold'", 2, QueueOrder::Fifo);
    let second = w.queue("1==1", 2, QueueOrder::Fifo);
    let config = json!({"task_routing": {"filters": [
        {"filter_friendly_name": "Gold", "expression": "tier == 'gold'",
         "targets": [{"queue": first.as_str(), "timeout": 20}, {"queue": second.as_str(), "timeout": 45}]}
    ], "default_filter": {"queue": second.as_str()}}})
    .to_string();
    let wf = w.workflow(serde_json::from_str(&config).unwrap_or_default());
    (wf, config)
}

/// Runs one op on the world (refusals are fine: they record nothing).
fn apply(w: &mut World, op: &Op, wf: &Sid, config: &str, clock: &mut i64) {
    match op {
        Op::Task { ttl, gold } => {
            *clock += 1;
            w.now = t(*clock);
            let attributes = if *gold {
                json!({"tier": "gold"})
            } else {
                json!({})
            };
            let _ = w.run(Command::CreateTask {
                attributes: Some(attributes.to_string()),
                priority: None,
                timeout: *ttl,
                task_channel: None,
                workflow_sid: Some(wf.clone()),
                virtual_start_time: None,
            });
        }
        Op::Worker => {
            let name = format!("w{}", w.next);
            let tier = if w.next.is_multiple_of(2) {
                "gold"
            } else {
                "basic"
            };
            w.worker(&name, json!({ "tier": tier }), true);
        }
        Op::Answer { pick, status } => {
            if let Some(r) = nth(&w.ws().reservations, *pick) {
                let status =
                    ["accepted", "rejected", "wrapping", "completed"][*status as usize % 4];
                let _ = w.answer(&r, status);
            }
        }
        Op::CloseTask { pick, status } => {
            if let Some(task) = nth(&w.ws().tasks, *pick) {
                let command = match status % 3 {
                    0 => Command::DeleteTask {
                        sid: task,
                        if_match: None,
                    },
                    s => Command::UpdateTask {
                        sid: task,
                        attributes: None,
                        priority: None,
                        assignment_status: Some(
                            if s == 1 { "canceled" } else { "completed" }.into(),
                        ),
                        reason: Some("done".into()),
                        if_match: None,
                    },
                };
                let _ = w.run(command);
            }
        }
        Op::ReservationTimeout(secs) => {
            let _ = w.run(Command::UpdateWorkflow {
                change: WorkflowUpdated {
                    sid: wf.clone(),
                    friendly_name: None,
                    configuration: None,
                    assignment_callback_url: None,
                    fallback_assignment_callback_url: None,
                    task_reservation_timeout: Some(*secs),
                },
                re_evaluate_tasks: false,
            });
        }
        Op::Breaks(broken) => {
            // A stored document this build rejects, folded as a replay would meet it (the
            // deciders would refuse it), and then the good one again.
            let configuration = if *broken {
                "{not a workflow".to_string()
            } else {
                config.to_string()
            };
            let e = Event::WorkflowUpdated(WorkflowUpdated {
                sid: wf.clone(),
                friendly_name: None,
                configuration: Some(configuration),
                assignment_callback_url: None,
                fallback_assignment_callback_url: None,
                task_reservation_timeout: None,
            });
            w.state = evolve(w.state.take(), &ws_sid(), w.now, &e);
        }
        Op::Tick(d) => {
            *clock += d;
            w.now = t(*clock);
            let _ = w.run(Command::Tick);
        }
        Op::Expire(retention_secs) => {
            let _ = w.run(Command::ExpireClosedTasks {
                retention_secs: *retention_secs,
            });
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn the_timers_hold_what_a_scan_finds_and_fire_what_it_would(
        ops in proptest::collection::vec(op(), 1..80),
        probes in proptest::collection::vec((0i64..300, 0i64..200), 4),
    ) {
        let mut w = World::new();
        let (wf, config) = escalating(&mut w);
        let mut clock = 0;
        for op in &ops {
            apply(&mut w, op, &wf, &config, &mut clock);
            let ws = w.ws();
            let index: BTreeSet<Timer> = ws.timers.entries().cloned().collect();
            prop_assert_eq!(&index, &scan_entries(ws), "after {:?}", op);
            prop_assert_eq!(ws.timers.len(), index.len(), "no entry twice");
            for (ahead, retention) in &probes {
                let at = w.now + Duration::seconds(*ahead);
                prop_assert_eq!(timeouts(ws, at), scan_timeouts(ws, at), "tick at +{}", ahead);
                let retention = Duration::seconds(*retention);
                prop_assert_eq!(expired(ws, at, retention), scan_expired(ws, at, retention));
            }
        }
    }
}

#[test]
fn an_idle_workspace_with_ten_thousand_open_tasks_has_nothing_to_visit_each_second() {
    let mut w = World::new();
    let (_, wf) = single_queue(&mut w, 1);
    // In batches of 500 with one routing pass each, as the shell's actor decides them (a pass
    // per task would make this test quadratic in the matcher, not in the timers).
    let mut next = w.next;
    let mut new_sid = |p: SidPrefix| {
        next += 1;
        Sid::from_u128(p, next)
    };
    let mut ctx = Ctx {
        now: w.now,
        new_sid: &mut new_sid,
    };
    for _ in 0..20 {
        let mut decided = Vec::new();
        for _ in 0..500 {
            let create = Command::CreateTask {
                attributes: None,
                priority: None,
                timeout: None,
                task_channel: None,
                workflow_sid: Some(wf.clone()),
                virtual_start_time: None,
            };
            decided.extend(decide_mut(&mut w.state, &ws_sid(), &create, &mut ctx).expect("task"));
        }
        route_mut(&mut w.state, &ws_sid(), &decided, &mut ctx);
    }
    let ws = w.ws();
    assert_eq!(ws.tasks.len(), 10_000);
    assert_eq!(ws.timers.len(), 10_000, "one TTL per open task");
    // A minute of once-a-second ticks visits no entry and records nothing; the next due time
    // is the first TTL, a day away (the default timeout), which is when the actor wakes.
    for s in 1..=60 {
        let now = w.now + Duration::seconds(s);
        assert_eq!(ws.timers.due_at(now).count(), 0);
        assert!(timeouts(ws, now).is_empty());
    }
    assert_eq!(
        ws.timers.next_timeout(),
        Some(t(0) + Duration::seconds(i64::from(crate::taskrouter::decide::DEFAULT_TASK_TIMEOUT)))
    );
    // Once the TTLs pass, each is visited once.
    let late = t(0) + Duration::days(30);
    assert_eq!(ws.timers.due_at(late).count(), 10_000);
}
