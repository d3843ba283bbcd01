//! The fold's one failure policy (see `state/mod.rs`): a history whose stored queue expression
//! or workflow document this build cannot compile still folds to the whole workspace; the
//! queue matches no worker and the workflow's tasks are offered to no one, both flagged.

use super::*;
use crate::taskrouter::events::{ReservationCreated, RoutingDecision};
use crate::taskrouter::state::TaskStatus;

/// A workspace with one gold worker (offline), a catch-all queue fed by one workflow and a
/// gold queue fed by another, and a task on each workflow. Returns the world and the SIDs:
/// (worker, catch-all queue, gold workflow, task on the catch-all, task on the gold workflow).
fn history() -> (World, [Sid; 5]) {
    let mut w = World::new();
    let worker = w.worker("Alice", json!({"tier": "gold"}), false);
    let everyone = w.queue("1 == 1", 1, QueueOrder::Fifo);
    let gold = w.queue("tier == 'gold'", 1, QueueOrder::Fifo);
    let plain =
        w.workflow(json!({"task_routing": {"default_filter": {"queue": everyone.to_string()}}}));
    let golden = w.workflow(json!({"task_routing": {"filters": [{"expression": "1 == 1",
        "targets": [{"queue": gold.to_string(), "expression": "worker.tier == 'platinum'", "timeout": 60}]}]}}));
    let (on_everyone, _) = w.task(&plain, json!({}), 0);
    let (on_golden, _) = w.task(&golden, json!({}), 0);
    (w, [worker, everyone, golden, on_everyone, on_golden])
}

/// The same history as another build might have stored it: the catch-all queue's expression
/// and the gold workflow's document in forms this build does not compile.
fn with_documents_this_build_rejects(log: &[Event], queue: &Sid, workflow: &Sid) -> Vec<Event> {
    log.iter()
        .cloned()
        .map(|mut e| {
            match &mut e {
                Event::TaskQueueCreated(q) if &q.sid == queue => {
                    q.target_workers = "tier == ".into()
                }
                Event::WorkflowCreated(f) if &f.sid == workflow => {
                    f.configuration = r#"{"task_routing": {"filters": [{"expression": "1 =="#.into()
                }
                _ => {}
            }
            e
        })
        .collect()
}

fn refold(log: &[Event]) -> Option<Workspace> {
    log.iter()
        .fold(None, |state, e| evolve(state, &ws_sid(), t(0), e))
}

fn make_available(w: &mut World, worker: &Sid) -> Vec<Event> {
    let available = w.activity("Available");
    w.run(Command::UpdateWorker {
        sid: worker.clone(),
        friendly_name: None,
        attributes: None,
        activity_sid: Some(available),
        reject_pending_reservations: false,
        if_match: None,
    })
    .expect("worker available")
}

fn reservations(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::ReservationCreated(_)))
        .count()
}

#[test]
fn as_written_the_catch_all_queue_offers_its_task_to_the_worker() {
    // The control: without the rewrite the same history does make an offer, so the test
    // below fails if the policy ever lets the broken queue match.
    let (mut w, [worker, ..]) = history();
    assert_eq!(reservations(&make_available(&mut w, &worker)), 1);
}

#[test]
fn documents_that_no_longer_compile_keep_the_workspace_and_match_no_one() {
    let (mut w, [worker, everyone, golden, on_everyone, on_golden]) = history();
    let before = w.ws().clone();
    let log = with_documents_this_build_rejects(&w.log, &everyone, &golden);
    let ws = refold(&log).expect("the workspace still folds");

    // Everything else is as it was.
    assert_eq!(ws.workers.len(), before.workers.len());
    assert_eq!(ws.activities, before.activities);
    assert_eq!(ws.channels, before.channels);
    assert_eq!(ws.queues.len(), 2);
    assert_eq!(ws.workflows.len(), 2);
    assert_eq!(ws.tasks.len(), 2);
    assert_eq!(ws.tasks[&on_everyone].status, TaskStatus::Pending);
    assert_eq!(ws.tasks[&on_golden].status, TaskStatus::Pending);

    // The queue keeps its stored text, says why it does not compile, and has no members.
    let q = &ws.queues[&everyone];
    assert_eq!(q.target_workers, "tier == ");
    assert!(q.compile_error.is_some());
    assert_eq!(q.members.as_ref().map(|m| m.len()), Some(0));
    // The workflow keeps its stored document and says why; its task is offered to no one.
    let f = &ws.workflows[&golden];
    assert!(f.configuration.starts_with(r#"{"task_routing""#));
    assert!(f.compile_error.is_some());
    assert!(!ws.wanting.contains(&on_golden));
    // The documents that compile are untouched.
    assert!(ws
        .queues
        .values()
        .filter(|q| q.sid != everyone)
        .all(|q| q.compile_error.is_none()));

    // Routing from there: the worker comes online and nothing is offered to it.
    w.state = Some(ws);
    let events = make_available(&mut w, &worker);
    assert_eq!(reservations(&events), 0, "{events:#?}");
    assert!(w.ws().reservations.is_empty());
    // No new task can enter the workflow that does not compile; it says why.
    let refused = w.run(Command::CreateTask {
        attributes: None,
        priority: None,
        timeout: None,
        task_channel: None,
        workflow_sid: Some(golden.clone()),
        virtual_start_time: None,
    });
    assert!(
        matches!(&refused, Err(e) if e.to_string().contains("cannot compile")),
        "{refused:?}"
    );
    // Long after every target timeout, the waiting tasks are still there (TTL aside).
    w.now = t(3600);
    w.run(Command::Tick).expect("tick");
    assert_eq!(w.ws().tasks[&on_golden].status, TaskStatus::Pending);
}

#[test]
fn an_update_to_a_document_that_does_not_compile_is_kept_and_matches_no_one() {
    let (w, [_, everyone, ..]) = history();
    let mut log = w.log.clone();
    log.push(Event::TaskQueueUpdated(
        crate::taskrouter::events::TaskQueueUpdated {
            sid: everyone.clone(),
            friendly_name: None,
            target_workers: Some("((".into()),
            task_order: None,
            max_reserved_workers: None,
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        },
    ));
    let ws = refold(&log).expect("folds");
    let q = &ws.queues[&everyone];
    assert_eq!(q.target_workers, "((");
    assert!(q.compile_error.is_some());
    assert_eq!(q.members.as_ref().map(|m| m.len()), Some(0));
}

#[test]
fn a_reservation_of_a_missing_task_changes_nothing_and_erases_nothing() {
    let (w, [worker, everyone, ..]) = history();
    let mut log = w.log.clone();
    log.push(Event::ReservationCreated(ReservationCreated {
        sid: Sid::from_u128(SidPrefix::Reservation, 9),
        task_sid: Sid::from_u128(SidPrefix::Task, 9),
        worker_sid: worker,
        task_queue_sid: everyone,
        routing: RoutingDecision {
            filter: "default".into(),
            target_index: 0,
            ordering: "longest idle".into(),
            eligible: 1,
        },
    }));
    let ws = refold(&log).expect("folds");
    assert_eq!(&ws, w.ws());
}
