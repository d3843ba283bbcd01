//! Webhooks survive `kill -9`: the real `switchboard serve` sends assignment and workspace
//! event callbacks for two workspaces to a slow receiver (150 ms a request, so a backlog
//! builds up), is killed with SIGKILL in the middle of them, and is restarted on the same data
//! directory. Then every callback is delivered at least once; per workspace, the first
//! appearances of the event callbacks follow the log's order (the oracle: `/Events`, read
//! newest first and reversed); and (once accounts keep signable tokens) every request's
//! `X-Twilio-Signature` is accepted by the official `RequestValidator`.

use crate::{create_account_env, Api, Creds, DataDir, Env, PgDatabase, Server};
use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the receiver takes to answer each request.
const SLOW: Duration = Duration::from_millis(150);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    form: Vec<(String, String)>,
    signature: Option<String>,
}

impl Received {
    fn get(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

async fn receive(
    State(log): State<Log>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let form = form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let signature = headers
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let path = uri.path().to_string();
    log.lock().expect("lock").push(Received {
        path: path.clone(),
        form,
        signature,
    });
    tokio::time::sleep(SLOW).await;
    if path == "/assignment" {
        axum::Json(json!({"instruction": "accept"})).into_response()
    } else {
        axum::http::StatusCode::NO_CONTENT.into_response()
    }
}

/// The receiver on a port of its own; its base URL.
async fn receiver(log: Log) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(log);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

pub(crate) async fn created(api: &Api, path: &str, form: &[(&str, &str)]) -> String {
    let r = api.post(path, form).await;
    assert_eq!(r.status(), 201, "POST {path}");
    let v: Value = r.json().await.expect("JSON");
    v["sid"].as_str().expect("sid").to_string()
}

/// In the workspace at `root`: a "Ready" (available) activity and the configuration of a
/// workflow routing everything to one catch-all queue. Returns (activity SID, queue SID,
/// configuration).
pub(crate) async fn ready_and_catch_all(api: &Api, root: &str) -> (String, String, String) {
    let ready = created(
        api,
        &format!("{root}/Activities"),
        &[("FriendlyName", "Ready"), ("Available", "true")],
    )
    .await;
    let queue = created(
        api,
        &format!("{root}/TaskQueues"),
        &[("FriendlyName", "All"), ("TargetWorkers", "1==1")],
    )
    .await;
    let config = json!({"task_routing": {"filters": [
        {"filter_friendly_name": "all", "expression": "1==1", "targets": [{"queue": queue}]}
    ]}})
    .to_string();
    (ready, queue, config)
}

/// `n` workers `w0`, `w1`, … in `activity`.
pub(crate) async fn add_workers(api: &Api, root: &str, activity: &str, n: usize) {
    for i in 0..n {
        let name = format!("w{i}");
        created(
            api,
            &format!("{root}/Workers"),
            &[("FriendlyName", &name), ("ActivitySid", activity)],
        )
        .await;
    }
}

/// A workspace whose events and assignments go to `base`, with `workers` available workers
/// and as many tasks (each reserved at once); its SID.
async fn workspace(api: &Api, base: &str, name: &str, workers: usize) -> String {
    let events = format!("{base}/events");
    let ws = created(
        api,
        "/v1/Workspaces",
        &[("FriendlyName", name), ("EventCallbackUrl", &events)],
    )
    .await;
    let root = format!("/v1/Workspaces/{ws}");
    let (ready, _, config) = ready_and_catch_all(api, &root).await;
    let assignment = format!("{base}/assignment");
    let workflow = created(
        api,
        &format!("{root}/Workflows"),
        &[
            ("FriendlyName", "Route"),
            ("Configuration", &config),
            ("AssignmentCallbackUrl", &assignment),
        ],
    )
    .await;
    add_workers(api, &root, &ready, workers).await;
    for i in 0..workers {
        let attributes = json!({"n": i}).to_string();
        created(
            api,
            &format!("{root}/Tasks"),
            &[("Attributes", &attributes), ("WorkflowSid", &workflow)],
        )
        .await;
    }
    ws
}

/// The workspace's events in the log's order (oldest first): (EV… SID, type, resource SID).
async fn history(api: &Api, ws: &str) -> Vec<(String, String, String)> {
    let page = api
        .get_json(&format!("/v1/Workspaces/{ws}/Events?PageSize=1000"))
        .await;
    let mut out: Vec<(String, String, String)> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("sid"), s("event_type"), s("resource_sid"))
        })
        .collect();
    out.reverse();
    out
}

/// What a run saw: every request, the workspaces' histories, the account, the receiver.
struct Run {
    received: Vec<Received>,
    histories: HashMap<String, Vec<(String, String, String)>>,
    account: Creds,
    base: String,
}

/// Whether `received` holds an event callback for every event of every history and an
/// assignment callback for every reservation created.
fn complete(
    received: &[Received],
    histories: &HashMap<String, Vec<(String, String, String)>>,
) -> bool {
    let events: HashSet<&str> = received
        .iter()
        .filter(|r| r.path == "/events")
        .filter_map(|r| r.get("Sid"))
        .collect();
    let assigned: HashSet<&str> = received
        .iter()
        .filter(|r| r.path == "/assignment")
        .filter_map(|r| r.get("ReservationSid"))
        .collect();
    histories.values().flatten().all(|(sid, kind, resource)| {
        events.contains(sid.as_str())
            && (kind != "reservation.created" || assigned.contains(resource.as_str()))
    })
}

async fn run_through_kill_9(tag: &str, env: Env<'_>) -> Run {
    let dir = DataDir::new(tag);
    let account = create_account_env(dir.path(), env, "Acme");
    let log: Log = Arc::default();
    let base = receiver(log.clone()).await;
    let server = Server::start_env(dir.path(), env, &[]);
    let api = Api::new(&server, &account);
    let a = workspace(&api, &base, "A", 4).await;
    let b = workspace(&api, &base, "B", 4).await;
    // Kill once a few callbacks arrived and well before the backlog drains (each workspace's
    // event callbacks go one at a time at 150 ms each).
    let deadline = Instant::now() + Duration::from_secs(20);
    while log.lock().expect("lock").len() < 6 {
        assert!(Instant::now() < deadline, "no callbacks arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill9();
    let at_kill = log.lock().expect("lock").len();

    let server = Server::start_env(dir.path(), env, &[]);
    let api = Api::new(&server, &account);
    let mut histories = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        // The histories grow while accepts carried out after the restart add events.
        histories.insert(a.clone(), history(&api, &a).await);
        histories.insert(b.clone(), history(&api, &b).await);
        let received = log.lock().expect("lock").clone();
        // Done when every callback arrived and every accept was carried out (nothing more
        // happens in these workspaces afterwards).
        let count = |kind: &str| {
            histories
                .values()
                .flatten()
                .filter(|(_, k, _)| k == kind)
                .count()
        };
        // `/Events` is a read model: right after the restart it may not have caught up yet
        // (an empty history would make "every callback arrived" vacuously true), so wait
        // until it holds every task's reservation.
        let settled = count("reservation.created") >= 8
            && count("reservation.created") == count("reservation.accepted");
        if settled && complete(&received, &histories) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every callback was delivered after the restart ({} received)",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events: usize = histories.values().map(Vec::len).sum();
    assert!(
        at_kill < events,
        "the kill came in the middle of the callbacks ({at_kill} of {events} events delivered)"
    );
    // Quiet for a moment: nothing more is on its way.
    tokio::time::sleep(SLOW * 3).await;
    assert!(server.terminate(), "the restarted server stops cleanly");
    let received = log.lock().expect("lock").clone();
    Run {
        received,
        histories,
        account,
        base,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_survive_kill_9_at_least_once_and_in_each_workspaces_order() {
    let run = run_through_kill_9("outbox-kill9", &[]).await;
    assert_delivered_in_order(&run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_survive_kill_9_with_the_outbox_on_postgresql() {
    let log = PgDatabase::new().await;
    let db = PgDatabase::new().await;
    let env = [
        ("SWITCHBOARD_LOG", log.url.as_str()),
        ("SWITCHBOARD_DB", db.url.as_str()),
    ];
    let run = run_through_kill_9("outbox-kill9-pg", &env).await;
    assert_delivered_in_order(&run);
}

/// Per workspace, the event callbacks' first appearances follow the log; every task was
/// reserved and every accept carried out.
fn assert_delivered_in_order(run: &Run) {
    for (ws, history) in &run.histories {
        let mut seen = HashSet::new();
        let first: Vec<&str> = run
            .received
            .iter()
            .filter(|r| r.path == "/events" && r.get("WorkspaceSid") == Some(ws.as_str()))
            .filter_map(|r| r.get("Sid"))
            .filter(|sid| seen.insert(*sid))
            .collect();
        let expected: Vec<&str> = history.iter().map(|(sid, _, _)| sid.as_str()).collect();
        assert_eq!(
            first, expected,
            "workspace {ws}: first appearances of its event callbacks follow the log's order"
        );
    }
    let reservations: usize = run
        .histories
        .values()
        .flatten()
        .filter(|(_, kind, _)| kind == "reservation.created")
        .count();
    assert!(
        reservations >= 8,
        "every task was reserved ({reservations})"
    );
    // Answered `accept`: the instruction was carried out (after the restart, for those the
    // kill interrupted).
    let accepted: usize = run
        .histories
        .values()
        .flatten()
        .filter(|(_, kind, _)| kind == "reservation.accepted")
        .count();
    assert_eq!(
        accepted, reservations,
        "every assignment's accept was carried out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_callback_after_kill_9_is_accepted_by_request_validator() {
    let run = run_through_kill_9("outbox-signed", &[]).await;
    let cases: Vec<Value> = run
        .received
        .iter()
        .map(|r| {
            let params: Vec<[&str; 2]> = r
                .form
                .iter()
                .map(|(k, v)| [k.as_str(), v.as_str()])
                .collect();
            json!({
                "token": run.account.token,
                "url": format!("{}{}", run.base, r.path),
                "params": params,
                "body": null,
                "signature": r.signature.clone().unwrap_or_default(),
            })
        })
        .collect();
    let answers = crate::signature::validate_with_twilio(&cases);
    assert_eq!(answers.len(), cases.len());
    for (case, ok) in cases.iter().zip(&answers) {
        assert!(ok, "RequestValidator refused {case}");
    }
}
