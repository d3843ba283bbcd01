//! Closed tasks leave the server after `--taskrouter-closed-task-retention`: a canceled task
//! is readable (200, `canceled`) until its retention runs out, then GET answers what Twilio
//! answers for a missing task (404, code 20404) and the task list no longer holds it, while an
//! open task stays.

use super::*;

/// POSTs `form` to `path` and returns the created resource's SID.
async fn created(api: &Api, path: &str, form: &[(&str, &str)]) -> String {
    let r = api.post(path, form).await;
    assert_eq!(r.status(), 201, "POST {path}");
    let v: Value = r.json().await.expect("json");
    v["sid"].as_str().expect("sid").to_string()
}

#[tokio::test]
async fn a_closed_task_is_readable_until_its_retention_then_answers_404() {
    let dir = DataDir::new("retention");
    let acme = create_account(dir.path(), "Acme");
    let server = Server::start_with(dir.path(), &["--taskrouter-closed-task-retention", "2"]);
    let api = Api::new(&server, &acme);
    let ws = created(
        &api,
        "/v1/Workspaces",
        &[("FriendlyName", "Retention"), ("Template", "FIFO")],
    )
    .await;
    let tasks = format!("/v1/Workspaces/{ws}/Tasks");
    let closed = created(&api, &tasks, &[("Attributes", "{}")]).await;
    let open = created(&api, &tasks, &[("Attributes", "{}")]).await;
    let r = api
        .post(
            &format!("{tasks}/{closed}"),
            &[("AssignmentStatus", "canceled"), ("Reason", "done")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let canceled_at = Instant::now();
    let v = api.get_json(&format!("{tasks}/{closed}")).await;
    assert_eq!(v["assignment_status"], "canceled", "{v}");
    // Removed within the retention plus the timers' resolution (1 s) and some slack.
    let deadline = canceled_at + Duration::from_secs(10);
    loop {
        let r = api.get(&format!("{tasks}/{closed}")).await;
        if r.status() == 404 {
            assert!(
                canceled_at.elapsed() >= Duration::from_millis(1_900),
                "removed before its retention ran out"
            );
            assert_twilio_error(r, 404, 20404).await;
            break;
        }
        assert_eq!(r.status(), 200);
        assert!(
            Instant::now() < deadline,
            "the closed task was never removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let list = api.get_json(&tasks).await;
    let sids: Vec<&str> = list["tasks"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["sid"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(sids, vec![open.as_str()], "{list}");
    assert!(server.terminate(), "SIGTERM gives a clean exit");
}
