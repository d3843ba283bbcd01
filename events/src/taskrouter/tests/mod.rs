//! Scenario tests of the TaskRouter deciders: a [`World`] runs commands through
//! [`decide`](super::decide::decide) and folds what they record, as the shell does, so each
//! test reads as given / when / then over one workspace. Split by topic: [`event_order`] (the
//! order of events per flow), [`routing`] (offers,
//! accepting and rejecting), [`timeouts`], [`skip_if`] (targets skipped by worker counts),
//! [`refusals`] (bad input records nothing), [`determinism`] (the same commands give byte-identical events), [`fold_policy`] (stored documents this build
//! rejects) and [`invariants`] (a property test over random command sequences).

use super::decide::{decide, decide_mut, route_mut, Command, Ctx, TaskRouterError, Template};
use super::events::{QueueOrder, ReservationCreated};
use super::state::{evolve, Workspace};
use crate::event::Event;
use crate::sid::{Sid, SidPrefix};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

mod determinism;
mod event_order;
mod fold_policy;
mod invariants;
mod refusals;
mod retention;
mod routing;
mod skip_if;
mod timeouts;
mod timers;

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

    /// [`World::run`] the way the shell runs a command: folded in place and routed after,
    /// without copying the workspace (for tests of large workspaces).
    fn run_in_place(&mut self, command: Command) -> Result<Vec<Event>, TaskRouterError> {
        let mut next = self.next;
        let mut new_sid = |p: SidPrefix| {
            next += 1;
            Sid::from_u128(p, next)
        };
        let mut ctx = Ctx {
            now: self.now,
            new_sid: &mut new_sid,
        };
        let mut events = decide_mut(&mut self.state, &ws_sid(), &command, &mut ctx)?;
        let routed = route_mut(&mut self.state, &ws_sid(), &events, &mut ctx);
        events.extend(routed);
        self.next = next;
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
