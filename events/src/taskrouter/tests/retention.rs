//! Closed tasks leave the workspace: a completed or canceled task stays readable for its
//! retention, then `ExpireClosedTasks` removes it through `task.system-deleted`, and nothing
//! in the state names it afterwards (tasks, reservations, indexes, timers). Under a steady
//! create / accept / complete load the state's size stays flat.

use super::*;
use crate::taskrouter::decide::CLOSED_TASK_RETENTION_SECS;
use crate::taskrouter::state::TaskStatus;
use chrono::Duration;

/// Whether anything in the workspace still names `task` or one of `reservations`.
fn traces(ws: &Workspace, task: &Sid, reservations: &[Sid]) -> Vec<&'static str> {
    let mut out = Vec::new();
    if ws.tasks.contains_key(task) {
        out.push("tasks");
    }
    if reservations.iter().any(|r| ws.reservations.contains_key(r)) {
        out.push("reservations");
    }
    if ws.reservations.values().any(|r| r.task_sid == *task) {
        out.push("a reservation of it");
    }
    if ws.wanting.contains(task) || ws.unrouted.contains(task) {
        out.push("routing sets");
    }
    if ws
        .timers
        .entries()
        .any(|t| t.sid == *task || reservations.contains(&t.sid))
    {
        out.push("timers");
    }
    out
}

/// A task offered to one worker and accepted; returns the task and its reservation.
fn accepted_task(w: &mut World, wf: &Sid) -> (Sid, Sid) {
    let events = w
        .run_in_place(Command::CreateTask {
            attributes: None,
            priority: None,
            timeout: None,
            task_channel: None,
            workflow_sid: Some(wf.clone()),
            virtual_start_time: None,
        })
        .expect("task");
    let task = World::created(&events, |e| match e {
        Event::TaskCreated(t) => Some(t.sid.clone()),
        _ => None,
    });
    let r = World::reservations_of(&events)
        .first()
        .map(|r| r.sid.clone())
        .expect("offered");
    w.run_in_place(Command::UpdateReservation {
        sid: r.clone(),
        via: task.clone(),
        status: "accepted".into(),
        activity_sid: None,
        if_match: None,
    })
    .expect("accept");
    (task, r)
}

fn close(w: &mut World, task: &Sid, status: &str) {
    w.run_in_place(Command::UpdateTask {
        sid: task.clone(),
        attributes: None,
        priority: None,
        assignment_status: Some(status.into()),
        reason: Some("done".into()),
        if_match: None,
    })
    .expect("close");
}

fn expire(w: &mut World, retention_secs: u64) -> Vec<Event> {
    w.run_in_place(Command::ExpireClosedTasks { retention_secs })
        .expect("expire")
}

#[test]
fn a_completed_task_is_readable_for_its_retention_then_leaves_no_trace() {
    let mut w = World::new();
    let (_, wf) = single_queue(&mut w, 1);
    w.worker("alice", json!({}), true);
    let (task, r) = accepted_task(&mut w, &wf);
    w.now = t(10);
    close(&mut w, &task, "completed");
    // Just before the retention runs out the task is still there, completed.
    w.now = t(10) + Duration::seconds(CLOSED_TASK_RETENTION_SECS as i64 - 1);
    assert!(expire(&mut w, CLOSED_TASK_RETENTION_SECS).is_empty());
    assert_eq!(w.ws().tasks[&task].status, TaskStatus::Completed);
    assert!(w.ws().reservations.contains_key(&r));
    // At it, one `task.system-deleted` removes the task and its reservation.
    w.now = t(10) + Duration::seconds(CLOSED_TASK_RETENTION_SECS as i64);
    let events = expire(&mut w, CLOSED_TASK_RETENTION_SECS);
    assert_eq!(
        events,
        vec![Event::TaskSystemDeleted(
            crate::taskrouter::events::ResourceRef { sid: task.clone() }
        )]
    );
    assert_eq!(traces(w.ws(), &task, &[r]), Vec::<&str>::new());
    assert!(w.ws().timers.is_empty());
    // The worker is free again and nothing more expires.
    let alice = w.ws().workers.values().next().expect("worker");
    assert!(alice.channels.values().all(|c| c.busy == 0));
    assert!(expire(&mut w, CLOSED_TASK_RETENTION_SECS).is_empty());
}

#[test]
fn a_canceled_task_expires_too_but_an_open_or_wrapping_one_never_does() {
    let mut w = World::new();
    let (_, wf) = single_queue(&mut w, 1);
    w.worker("alice", json!({}), true);
    let (canceled, _) = w.task(&wf, json!({}), 0);
    close(&mut w, &canceled, "canceled");
    let (wrapping, _) = accepted_task(&mut w, &wf);
    close(&mut w, &wrapping, "wrapping");
    let (open, _) = w.task(&wf, json!({}), 0);
    w.now = t(3_600);
    let events = expire(&mut w, 60);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(!w.ws().tasks.contains_key(&canceled));
    assert_eq!(w.ws().tasks[&wrapping].status, TaskStatus::Wrapping);
    assert!(w.ws().tasks.contains_key(&open));
}

#[test]
fn the_state_stays_flat_under_a_steady_create_accept_complete_load() {
    let mut w = World::new();
    let (_, wf) = single_queue(&mut w, 1);
    w.worker("alice", json!({}), true);
    let retention = 60;
    let mut sizes = Vec::new();
    // One task a second for an hour, expiring each second as the actor would.
    for s in 0..3_600 {
        w.now = t(s);
        let (task, _) = accepted_task(&mut w, &wf);
        close(&mut w, &task, "completed");
        expire(&mut w, retention);
        let ws = w.ws();
        sizes.push(ws.tasks.len() + ws.reservations.len() + ws.timers.len());
    }
    // At most a retention's worth of closed tasks (each with its reservation and timer).
    let most = *sizes.iter().max().unwrap_or(&0);
    assert!(most <= 3 * (retention as usize + 1), "{most}");
    assert_eq!(
        sizes[600], sizes[3_599],
        "flat once the retention is reached"
    );
}
