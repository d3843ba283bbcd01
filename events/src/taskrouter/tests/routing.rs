//! Routing scenarios: a new workspace's defaults, a task through its workflow's filters to an
//! eligible worker, accepting (the other offers are rescinded) and rejecting (never offered
//! back to the worker who rejected).

use super::*;
use crate::taskrouter::state::{ReservationStatus, TaskStatus};

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
