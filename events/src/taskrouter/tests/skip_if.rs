//! `skip_if` (Skip Timeout) scenarios: a task that gets no reservation on entering a target
//! whose `skip_if` holds over the queue's worker counts moves on to the next target in the same
//! routing pass (on creation, after a target timeout, after re-evaluation), is reserved there,
//! and a chain of skips ends; a task with a reservation, or one that entered its target in an
//! earlier pass, is never skipped.

use super::*;
use crate::taskrouter::events::WorkflowUpdated;
use crate::taskrouter::state::TaskStatus;

/// Two queues by skill, and a workflow whose first target skips when `skip_if` holds.
fn two_queues(w: &mut World, skip_if: &str) -> (Sid, Sid, Sid) {
    let first = w.queue("skills HAS 'first'", 1, QueueOrder::Fifo);
    let second = w.queue("skills HAS 'second'", 1, QueueOrder::Fifo);
    let wf = w.workflow(json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [
            {"queue": first.as_str(), "skip_if": skip_if},
            {"queue": second.as_str()}]}
    ]}}));
    (first, second, wf)
}

/// The (queue, target index) of every `workflow.target-matched` for `task`, in order.
fn matched_of(events: &[Event], task: &Sid) -> Vec<(Sid, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TargetMatched(m) if m.task_sid == *task => {
                Some((m.task_queue_sid.clone(), m.target_index))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_task_with_nobody_available_in_the_first_queue_moves_on_at_once_and_is_reserved() {
    let mut w = World::new();
    let (first, second, wf) = two_queues(&mut w, "workers.available == 0");
    w.worker("offline", json!({"skills": ["first"]}), false);
    let bob = w.worker("bob", json!({"skills": ["second"]}), true);
    let (task, events) = w.task(&wf, json!({}), 0);
    assert_eq!(
        matched_of(&events, &task),
        vec![(first, 0), (second.clone(), 1)]
    );
    let r = World::reservations_of(&events);
    assert_eq!(r.len(), 1, "{events:?}");
    assert_eq!((&r[0].worker_sid, &r[0].task_queue_sid), (&bob, &second));
    assert_eq!(r[0].routing.target_index, 1);
    assert_eq!(w.ws().tasks[&task].status, TaskStatus::Reserved);
}

#[test]
fn a_task_with_someone_available_in_the_first_queue_stays_and_is_reserved_there() {
    let mut w = World::new();
    let (first, _, wf) = two_queues(&mut w, "workers.available == 0");
    let alice = w.worker("alice", json!({"skills": ["first"]}), true);
    w.worker("bob", json!({"skills": ["second"]}), true);
    let (task, events) = w.task(&wf, json!({}), 0);
    assert_eq!(matched_of(&events, &task), vec![(first.clone(), 0)]);
    let r = World::reservations_of(&events);
    assert_eq!((&r[0].worker_sid, &r[0].task_queue_sid), (&alice, &first));
    // Available but busy with that task: a second task gets no reservation, and the skip
    // does not hold (one worker is available), so it waits on the first target.
    let (other, events) = w.task(&wf, json!({}), 0);
    assert_eq!(matched_of(&events, &other), vec![(first, 0)]);
    assert!(World::reservations_of(&events).is_empty(), "{events:?}");
    assert_eq!(w.ws().tasks[&other].status, TaskStatus::Pending);
}

#[test]
fn one_equals_one_skips_straight_away_unless_a_reservation_is_made() {
    let mut w = World::new();
    let (first, second, wf) = two_queues(&mut w, "1==1");
    let bob = w.worker("bob", json!({"skills": ["second"]}), true);
    let (task, events) = w.task(&wf, json!({}), 0);
    assert_eq!(
        matched_of(&events, &task),
        vec![(first.clone(), 0), (second, 1)]
    );
    assert_eq!(World::reservations_of(&events)[0].worker_sid, bob);
    // With a worker free in the first queue the task is reserved there: skip_if is evaluated
    // only when no reservation is created.
    let alice = w.worker("alice", json!({"skills": ["first"]}), true);
    let (task, events) = w.task(&wf, json!({}), 0);
    assert_eq!(matched_of(&events, &task), vec![(first, 0)]);
    assert_eq!(World::reservations_of(&events)[0].worker_sid, alice);
}

#[test]
fn activity_counts_are_variables_too() {
    let mut w = World::new();
    let offline = w.activity("Offline");
    let (_, second, wf) = two_queues(&mut w, &format!("workers.{offline} >= 1"));
    w.worker("away", json!({"skills": ["first"]}), false);
    w.worker("bob", json!({"skills": ["second"]}), true);
    let (_, events) = w.task(&wf, json!({}), 0);
    assert_eq!(World::reservations_of(&events)[0].task_queue_sid, second);
}

#[test]
fn a_chain_of_skips_crosses_several_targets_and_filters_in_one_pass_and_ends() {
    let mut w = World::new();
    let a = w.queue("skills HAS 'a'", 1, QueueOrder::Fifo);
    let b = w.queue("skills HAS 'b'", 1, QueueOrder::Fifo);
    let c = w.queue("skills HAS 'c'", 1, QueueOrder::Fifo);
    let d = w.queue("skills HAS 'd'", 1, QueueOrder::Fifo);
    let wf = w.workflow(json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [
            {"queue": a.as_str(), "skip_if": "1==1"},
            {"queue": b.as_str(), "skip_if": "workers.available == 0"},
            {"queue": c.as_str(), "skip_if": "workers.unavailable == 0"}]},
        {"expression": "kind == 'never'", "targets": [{"queue": a.as_str()}]},
        {"expression": "1==1", "targets": [{"queue": d.as_str(), "skip_if": "1==1"}]}
    ]}}));
    let (task, events) = w.task(&wf, json!({}), 0);
    assert_eq!(
        matched_of(&events, &task),
        vec![(a, 0), (b, 1), (c, 2), (d.clone(), 0)]
    );
    // The last target skips too: the task stays there (workflow.skipped is not modelled yet).
    assert_eq!(w.ws().tasks[&task].status, TaskStatus::Pending);
    let step = w.ws().tasks[&task].step.clone().expect("step");
    assert_eq!((step.queue_sid, step.filter_index), (d.clone(), Some(2)));
    // Later passes do not evaluate it again: it entered its target in an earlier one.
    let bob = w.worker("bob", json!({"skills": ["d"]}), true);
    assert_eq!(matched_of(&w.log, &task).len(), 4, "{:?}", w.log);
    let offered = World::reservations_of(&w.log)
        .last()
        .map(|r| (r.worker_sid.clone(), r.task_queue_sid.clone()));
    assert_eq!(offered, Some((bob, d)));
}

#[test]
fn a_task_that_entered_its_target_earlier_is_not_skipped_when_its_workers_leave() {
    let mut w = World::new();
    let (first, _, wf) = two_queues(&mut w, "workers.available == 0");
    let alice = w.worker("alice", json!({"skills": ["first"]}), true);
    w.worker("bob", json!({"skills": ["second"]}), true);
    w.task(&wf, json!({}), 0);
    let (waiting, _) = w.task(&wf, json!({}), 0);
    let offline = w.activity("Offline");
    let events = w
        .run(Command::UpdateWorker {
            sid: alice,
            friendly_name: None,
            attributes: None,
            activity_sid: Some(offline),
            reject_pending_reservations: false,
            if_match: None,
        })
        .expect("offline");
    assert!(matched_of(&events, &waiting).is_empty(), "{events:?}");
    let step = w.ws().tasks[&waiting].step.clone().expect("step");
    assert_eq!(step.queue_sid, first);
}

#[test]
fn a_task_timed_out_into_a_skipping_target_moves_on_in_the_same_tick() {
    let mut w = World::new();
    let a = w.queue("skills HAS 'a'", 1, QueueOrder::Fifo);
    let b = w.queue("skills HAS 'b'", 1, QueueOrder::Fifo);
    let c = w.queue("skills HAS 'c'", 1, QueueOrder::Fifo);
    let wf = w.workflow(json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [
            {"queue": a.as_str(), "timeout": 10},
            {"queue": b.as_str(), "skip_if": "workers.available == 0"},
            {"queue": c.as_str()}]}
    ]}}));
    let carol = w.worker("carol", json!({"skills": ["c"]}), true);
    let (task, _) = w.task(&wf, json!({}), 0);
    w.now = t(11);
    let events = w.run(Command::Tick).expect("tick");
    assert_eq!(matched_of(&events, &task), vec![(b, 1), (c.clone(), 2)]);
    let r = World::reservations_of(&events);
    assert_eq!((&r[0].worker_sid, &r[0].task_queue_sid), (&carol, &c));
}

#[test]
fn a_re_evaluated_task_skips_a_target_of_the_new_configuration() {
    let mut w = World::new();
    let (first, second, wf) = two_queues(&mut w, "1==2");
    let bob = w.worker("bob", json!({"skills": ["second"]}), true);
    let (task, events) = w.task(&wf, json!({}), 0);
    assert!(World::reservations_of(&events).is_empty());
    let config = json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [
            {"queue": first.as_str(), "skip_if": "workers.available == 0"},
            {"queue": second.as_str()}]}
    ]}});
    let events = w
        .run(Command::UpdateWorkflow {
            change: WorkflowUpdated {
                sid: wf,
                friendly_name: None,
                configuration: Some(config.to_string()),
                assignment_callback_url: None,
                fallback_assignment_callback_url: None,
                task_reservation_timeout: None,
            },
            re_evaluate_tasks: true,
        })
        .expect("updated");
    assert_eq!(
        matched_of(&events, &task),
        vec![(first, 0), (second.clone(), 1)]
    );
    let r = World::reservations_of(&events);
    assert_eq!((&r[0].worker_sid, &r[0].task_queue_sid), (&bob, &second));
}
