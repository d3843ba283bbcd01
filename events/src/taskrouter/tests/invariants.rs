//! The routing invariants under random command sequences: no worker past capacity, busy
//! counts equal to the reservations holding capacity, the state's indexes (`wanting`,
//! `unrouted`, queue members) equal to what they summarise, never two accepted reservations
//! for one task, and offers in priority-then-age order.

use super::*;
use crate::taskrouter::state::{ReservationStatus, TaskStatus};
use proptest::prelude::*;

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
            let unrouted: std::collections::BTreeSet<Sid> = ws.tasks.values().filter(|t| {
                t.status == crate::taskrouter::state::TaskStatus::Pending && t.step.is_none()
            }).map(|t| t.sid.clone()).collect();
            prop_assert_eq!(&ws.unrouted, &unrouted);
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
