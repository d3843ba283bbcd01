//! Timeout scenarios on `Tick`: workflow targets time out into the next one and the last
//! cancels the task; a timeout too large for a date never fires; an unanswered reservation
//! times out and moves its worker to the timeout activity.

use super::*;
use crate::taskrouter::state::{ReservationStatus, TaskStatus};

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
fn the_last_target_timing_out_records_workflow_timeout_just_before_the_cancel() {
    let mut w = World::new();
    let q = w.queue("1==1", 1, QueueOrder::Fifo);
    let wf = w.workflow(json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [{"queue": q.as_str(), "timeout": 10}]}
    ]}}));
    let (task, _) = w.task(&wf, json!({}), 0);
    w.now = t(11);
    let events = w.run(Command::Tick).expect("tick");
    let timeout = events.iter().position(
        |e| matches!(e, Event::WorkflowTimeout(x) if x.task_sid == task && x.workflow_sid == wf),
    );
    let cancel = events
        .iter()
        .position(|e| matches!(e, Event::TaskCanceled(c) if c.sid == task));
    assert!(timeout.is_some(), "no workflow.timeout in {events:?}");
    assert_eq!(
        timeout.map(|i| i + 1),
        cancel,
        "workflow.timeout must come just before task.canceled"
    );
    // A caller canceling with the same reason text is not a workflow timeout.
    let (other, _) = w.task(&wf, json!({}), 0);
    let events = w
        .run(Command::UpdateTask {
            sid: other.clone(),
            if_match: None,
            attributes: None,
            priority: None,
            assignment_status: Some("canceled".into()),
            reason: Some("Workflow Timeout".into()),
        })
        .expect("cancel");
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::WorkflowTimeout(_))));
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
