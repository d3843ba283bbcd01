//! The order of events per flow, as the event callback and `/Events` show them: a task enters
//! its workflow, then a queue, then matches the target, then is offered; a reservation ends
//! (wrap-up, completion, cancelation) just before its task does; a target timeout or skip
//! says so before the task moves; a queue's new expression is its own fact.

use super::*;
use crate::taskrouter::events::{TaskQueueUpdated, WorkflowUpdated};
use crate::taskrouter::state::{ReservationStatus, TaskStatus};

/// The wire names of `events`, without the workers' activity moves (they depend on the
/// queue's activities, not on the flow).
fn names(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .map(Event::type_name)
        .filter(|n| *n != "worker.activity.update")
        .collect()
}

/// Sets `task`'s assignment status.
fn set_status(w: &mut World, task: &Sid, status: &str) -> Vec<Event> {
    w.run(Command::UpdateTask {
        sid: task.clone(),
        attributes: None,
        priority: None,
        assignment_status: Some(status.into()),
        reason: Some("resolved".into()),
        if_match: None,
    })
    .expect("status")
}

/// One queue, worker alice available in it, and a task offered to her: (alice, the task,
/// the task's events, the reservation).
fn offered_to_alice(w: &mut World) -> (Sid, Sid, Vec<Event>, Sid) {
    let (_, wf) = single_queue(w, 1);
    let alice = w.worker("alice", json!({}), true);
    let (task, events) = w.task(&wf, json!({}), 0);
    let r = offered(&events);
    (alice, task, events, r)
}

/// The one reservation `events` created.
fn offered(events: &[Event]) -> Sid {
    World::reservations_of(events)
        .first()
        .map(|r| r.sid.clone())
        .expect("a reservation")
}

#[test]
fn a_task_enters_its_workflow_then_its_queue_then_matches_the_target_then_is_offered() {
    let mut w = World::new();
    let (_, _, events, _) = offered_to_alice(&mut w);
    assert_eq!(
        names(&events),
        [
            "task.created",
            "workflow.entered",
            "task-queue.entered",
            "workflow.target-matched",
            "reservation.created"
        ]
    );
}

#[test]
fn completing_an_accepted_task_completes_its_reservation_just_before_it() {
    let mut w = World::new();
    let (alice, task, _, r) = offered_to_alice(&mut w);
    assert_eq!(
        names(&w.answer(&r, "accepted").expect("accept")),
        ["reservation.accepted"]
    );
    let done = set_status(&mut w, &task, "completed");
    assert_eq!(names(&done), ["reservation.completed", "task.completed"]);
    assert!(matches!(&done[0], Event::ReservationCompleted(x) if x.sid == r));
    assert_eq!(w.ws().reservations[&r].status, ReservationStatus::Completed);
    assert!(w.ws().workers[&alice]
        .channels
        .values()
        .all(|c| c.busy == 0));
}

#[test]
fn wrapping_up_through_the_reservation_wraps_both_up_and_completing_completes_both() {
    let mut w = World::new();
    let (_, task, _, r) = offered_to_alice(&mut w);
    w.answer(&r, "accepted").expect("accept");
    let wrapping = w.answer(&r, "wrapping").expect("wrap up");
    assert_eq!(names(&wrapping), ["reservation.wrapup", "task.wrapup"]);
    assert_eq!(w.ws().reservations[&r].status, ReservationStatus::Wrapping);
    let completed = w.answer(&r, "completed").expect("complete");
    assert_eq!(
        names(&completed),
        ["reservation.completed", "task.completed"]
    );
    assert_eq!(w.ws().tasks[&task].status, TaskStatus::Completed);
}

#[test]
fn canceling_a_reserved_task_cancels_its_pending_reservation_just_before_it() {
    let mut w = World::new();
    let (_, task, _, r) = offered_to_alice(&mut w);
    let canceled = set_status(&mut w, &task, "canceled");
    assert_eq!(names(&canceled), ["reservation.canceled", "task.canceled"]);
    assert_eq!(w.ws().reservations[&r].status, ReservationStatus::Canceled);
}

#[test]
fn a_target_timeout_says_so_then_moves_the_task_and_the_last_one_times_out_the_workflow() {
    let mut w = World::new();
    let first = w.queue("tier == 'gold'", 1, QueueOrder::Fifo);
    let second = w.queue("tier == 'silver'", 1, QueueOrder::Fifo);
    let wf = w.workflow(json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [
            {"queue": first.as_str(), "timeout": 30}, {"queue": second.as_str(), "timeout": 30}]}
    ]}}));
    let (task, _) = w.task(&wf, json!({}), 0);
    w.now = t(31);
    let moved = w.run(Command::Tick).expect("tick");
    assert_eq!(
        names(&moved),
        [
            "task-queue.timeout",
            "task-queue.moved",
            "task-queue.entered",
            "workflow.target-matched"
        ]
    );
    assert!(matches!(&moved[1], Event::TaskQueueMoved(m)
        if m.task_sid == task && m.task_queue_sid == first && m.to_task_queue_sid == second));
    w.now = t(62);
    let ended = w.run(Command::Tick).expect("tick");
    assert_eq!(
        names(&ended),
        ["task-queue.timeout", "workflow.timeout", "task.canceled"]
    );
}

#[test]
fn a_skipped_target_says_so_before_the_task_moves_to_the_next_queue() {
    let mut w = World::new();
    let first = w.queue("skills HAS 'first'", 1, QueueOrder::Fifo);
    let second = w.queue("skills HAS 'second'", 1, QueueOrder::Fifo);
    let wf = w.workflow(json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [
            {"queue": first.as_str(), "skip_if": "workers.available == 0"},
            {"queue": second.as_str(), "skip_if": "workers.available == 0"}]}
    ]}}));
    let (_, events) = w.task(&wf, json!({}), 0);
    assert_eq!(
        names(&events),
        [
            "task.created",
            "workflow.entered",
            "task-queue.entered",
            "workflow.target-matched",
            "workflow.skipped",
            "task-queue.moved",
            "task-queue.entered",
            "workflow.target-matched",
            // The last target is skipped too: nowhere to go, the task waits there.
            "workflow.skipped"
        ]
    );
    assert!(matches!(events.last(), Some(Event::WorkflowSkipped(s))
        if s.task_queue_sid == second && s.target_index == 1));
}

#[test]
fn re_evaluation_into_another_queue_moves_the_task() {
    let mut w = World::new();
    let first = w.queue("tier == 'gold'", 1, QueueOrder::Fifo);
    let second = w.queue("tier == 'silver'", 1, QueueOrder::Fifo);
    let wf = w.workflow(json!({"task_routing": {"filters": [],
        "default_filter": {"queue": first.as_str()}}}));
    w.task(&wf, json!({}), 0);
    let config = json!({"task_routing": {"filters": [],
        "default_filter": {"queue": second.as_str()}}});
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
        .expect("update");
    assert_eq!(
        names(&events),
        [
            "workflow.updated",
            "task-queue.moved",
            "task-queue.entered",
            "workflow.target-matched"
        ]
    );
}

#[test]
fn a_new_target_workers_expression_is_its_own_fact_and_an_unchanged_one_is_not() {
    let mut w = World::new();
    let q = w.queue("1==1", 1, QueueOrder::Fifo);
    let update = |target: &str| {
        Command::UpdateTaskQueue(TaskQueueUpdated {
            sid: q.clone(),
            friendly_name: None,
            target_workers: Some(target.into()),
            task_order: None,
            max_reserved_workers: None,
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        })
    };
    let changed = w.run(update("tier == 'gold'")).expect("update");
    assert_eq!(
        names(&changed),
        ["task-queue.updated", "task-queue.expression.updated"]
    );
    let same = w.run(update("tier == 'gold'")).expect("update");
    assert_eq!(names(&same), ["task-queue.updated"]);
}

#[test]
fn a_reservation_timing_out_in_the_tick_its_task_expires_in_is_not_canceled_as_well() {
    let mut w = World::new();
    let (_, wf) = single_queue(&mut w, 1);
    w.worker("alice", json!({}), true);
    let e = w
        .run(Command::CreateTask {
            attributes: Some("{}".into()),
            priority: None,
            timeout: Some(20),
            task_channel: None,
            workflow_sid: Some(wf),
            virtual_start_time: None,
        })
        .expect("task");
    let r = offered(&e);
    // The reservation times out at 30 s, the task's TTL at 20 s: one tick at 40 s sees both.
    w.now = t(40);
    let events = w.run(Command::Tick).expect("tick");
    assert_eq!(names(&events), ["reservation.timeout", "task.canceled"]);
    assert_eq!(w.ws().reservations[&r].status, ReservationStatus::Timeout);
}

#[test]
fn a_log_written_before_reservations_had_closing_events_still_folds_to_the_same_statuses() {
    let mut w = World::new();
    let (alice, task, _, r) = offered_to_alice(&mut w);
    w.answer(&r, "accepted").expect("accept");
    // An older build recorded only the task's event.
    let mut old = w.state.clone();
    old = evolve(
        old,
        &ws_sid(),
        w.now,
        &Event::TaskCompleted(crate::taskrouter::events::TaskClosed {
            sid: task.clone(),
            reason: "resolved".into(),
        }),
    );
    let old = old.expect("workspace");
    assert_eq!(old.reservations[&r].status, ReservationStatus::Completed);
    assert_eq!(old.tasks[&task].status, TaskStatus::Completed);
    assert!(old.workers[&alice].channels.values().all(|c| c.busy == 0));
}
