//! Refusals: bad input names the offending parameter and records nothing; a stale `If-Match`
//! is a precondition failure.

use super::*;
use crate::taskrouter::decide::MAX_PRIORITY;

// Longer than ~80 lines: a table of refused commands, one case per parameter, read top to
// bottom; splitting it would only scatter the cases.
#[test]
fn bad_input_is_refused_with_the_parameter_named_and_nothing_recorded() {
    let mut w = World::new();
    let (_, wf) = single_queue(&mut w, 1);
    let before = w.log.len();
    let cases: Vec<(Command, &str)> = vec![
        (
            Command::CreateTaskQueue {
                friendly_name: "x".into(),
                target_workers: Some("skills HAS".into()),
                task_order: None,
                max_reserved_workers: None,
                reservation_activity_sid: None,
                assignment_activity_sid: None,
            },
            "TargetWorkers",
        ),
        (
            Command::CreateWorkflow {
                friendly_name: "x".into(),
                configuration: "{\"task_routing\": 3}".into(),
                assignment_callback_url: None,
                fallback_assignment_callback_url: None,
                task_reservation_timeout: None,
            },
            "Configuration",
        ),
        (
            Command::CreateTask {
                attributes: Some(format!("{{\"a\": \"{}\"}}", "x".repeat(4100))),
                priority: None,
                timeout: None,
                task_channel: None,
                workflow_sid: Some(wf.clone()),
                virtual_start_time: None,
            },
            "Attributes",
        ),
        (
            Command::CreateTask {
                attributes: None,
                priority: Some(-1),
                timeout: None,
                task_channel: None,
                workflow_sid: Some(wf.clone()),
                virtual_start_time: None,
            },
            "Priority",
        ),
        (
            Command::CreateTask {
                attributes: None,
                priority: Some(MAX_PRIORITY + 1),
                timeout: None,
                task_channel: None,
                workflow_sid: Some(wf.clone()),
                virtual_start_time: None,
            },
            "Priority",
        ),
        (
            Command::CreateTask {
                attributes: Some("[1]".into()),
                priority: None,
                timeout: None,
                task_channel: None,
                workflow_sid: Some(wf.clone()),
                virtual_start_time: None,
            },
            "Attributes",
        ),
    ];
    for (command, param) in cases {
        match w.run(command) {
            Err(TaskRouterError::Invalid { param: p, .. }) => assert_eq!(p, param),
            other => panic!("expected Invalid {param}, got {other:?}"),
        }
    }
    assert!(matches!(
        w.run(Command::UpdateTask {
            sid: Sid::from_u128(SidPrefix::Task, 999),
            attributes: None,
            priority: None,
            assignment_status: None,
            reason: None,
            if_match: None
        }),
        Err(TaskRouterError::NotFound(_))
    ));
    assert_eq!(w.log.len(), before, "nothing recorded");
}

#[test]
fn if_match_with_a_stale_version_is_refused() {
    let mut w = World::new();
    let a = w.worker("a", json!({}), false);
    let version = w.ws().workers[&a].version;
    w.run(Command::UpdateWorker {
        sid: a.clone(),
        friendly_name: None,
        attributes: Some("{\"x\":1}".into()),
        activity_sid: None,
        reject_pending_reservations: false,
        if_match: Some(version),
    })
    .expect("current version");
    assert!(matches!(
        w.run(Command::UpdateWorker {
            sid: a,
            friendly_name: None,
            attributes: Some("{\"x\":2}".into()),
            activity_sid: None,
            reject_pending_reservations: false,
            if_match: Some(version)
        }),
        Err(TaskRouterError::Precondition { .. })
    ));
}
