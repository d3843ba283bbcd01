//! Twilio's total time `tt` bounds a delivery's retries: the real `switchboard serve` sends a
//! workspace's event callbacks to a receiver that answers every request with 500, under
//! `#tt=1500&rc=5&rp=5xx`. Five retries are allowed, but the back-off (250, 500, 1000 ms, …)
//! runs out of the 1.5 s budget after the third attempt: the delivery is tried three times,
//! every attempt starts within the budget, and its alert (Twilio's 11217) is listed soon after
//! it. Without the budget the same URL is tried six times over about eight seconds. The
//! alert shows the headers of the last request as the receiver got them.

use crate::{create_account, Api, DataDir, Server};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The budget the callback URL sets, ms.
const TT_MS: u64 = 1_500;

/// One request the receiver got: when, and its headers.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    headers: HeaderMap,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

async fn refuse(State(log): State<Log>, headers: HeaderMap) -> StatusCode {
    log.lock().expect("lock").push(Received {
        at: Instant::now(),
        headers,
    });
    StatusCode::INTERNAL_SERVER_ERROR
}

/// A receiver answering 500 to everything, on a port of its own; its base URL.
async fn refusing(log: Log) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new()
        .fallback(axum::routing::post(refuse))
        .with_state(log);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// The requests of one delivery (its idempotency token), in the order they came.
fn of_delivery(log: &Log, token: &str) -> Vec<Received> {
    log.lock()
        .expect("lock")
        .iter()
        .filter(|r| r.header("I-Twilio-Idempotency-Token") == Some(token))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_when_the_total_time_is_spent_and_the_alert_follows() {
    let dir = DataDir::new("outbox-tt");
    let account = create_account(dir.path(), "Budget");
    let log: Log = Arc::default();
    let base = refusing(log.clone()).await;
    let server = Server::start(dir.path());
    let api = Api::new(&server, &account);
    let events = format!("{base}/events#tt={TT_MS}&rc=5&rp=5xx");
    let r = api
        .post(
            "/v1/Workspaces",
            &[("FriendlyName", "Budget"), ("EventCallbackUrl", &events)],
        )
        .await;
    assert_eq!(r.status(), 201);
    let ws: Value = r.json().await.expect("JSON");
    let ws = ws["sid"].as_str().expect("sid").to_string();
    for name in ["Ready", "Away"] {
        let r = api
            .post(
                &format!("/v1/Workspaces/{ws}/Activities"),
                &[("FriendlyName", name), ("Available", "true")],
            )
            .await;
        assert_eq!(r.status(), 201);
    }

    // The workspace's first event callback.
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        if let Some(r) = log.lock().expect("lock").first().cloned() {
            break r;
        }
        assert!(Instant::now() < deadline, "no event callback arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let token = first
        .header("I-Twilio-Idempotency-Token")
        .expect("an idempotency token")
        .to_string();
    // Its alert: the SID is derived from the delivery, which the token names.
    let alert = switchboard::app::alerts::alert_sid(&token);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (instance, seen) = loop {
        let r = api.get(&format!("/v1/Alerts/{alert}")).await;
        if r.status() == 200 {
            break (r.json::<Value>().await.expect("JSON"), Instant::now());
        }
        assert!(Instant::now() < deadline, "the alert never appeared");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    // Nothing more of this delivery is on its way.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let attempts = of_delivery(&log, &token);
    let starts: Vec<u128> = attempts
        .iter()
        .map(|r| r.at.duration_since(first.at).as_millis())
        .collect();
    assert!(
        (2..=3).contains(&attempts.len()),
        "rc=5, but 250 + 500 ms of back-off fit in tt={TT_MS} ms and 1000 more do not: \
         tried at {starts:?} ms"
    );
    assert!(
        starts.iter().all(|s| *s < u128::from(TT_MS)),
        "every attempt starts within tt: {starts:?} ms"
    );
    let after = seen.duration_since(first.at);
    assert!(
        after < Duration::from_millis(TT_MS + 1_000),
        "the alert is listed right after the budget ends, not after every retry: {after:?}"
    );
    assert_eq!(instance["error_code"], "11217", "{instance}");
    let text = instance["alert_text"].as_str().unwrap_or_default();
    assert!(
        text.contains("HTTP 500") && text.contains("tt=1500"),
        "{text}"
    );
    assert_headers_as_received(&instance, &attempts, &account.token);
    assert!(server.terminate(), "SIGTERM gives a clean exit");
}

/// The alert's `request_headers` are the last attempt's, each as the receiver saw it, the
/// signature among them and never the token that made it.
fn assert_headers_as_received(instance: &Value, attempts: &[Received], token: &str) {
    let recorded = instance["request_headers"]
        .as_str()
        .unwrap_or_else(|| panic!("the alert has its request headers: {instance}"));
    let last = attempts.last().expect("an attempt");
    let mut names = Vec::new();
    for line in recorded.lines() {
        let (name, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("a `name: value` line: {line:?}"));
        assert_eq!(
            last.header(name),
            Some(value),
            "{name} as the receiver saw it"
        );
        names.push(name.to_ascii_lowercase());
    }
    for name in [
        "x-twilio-signature",
        "i-twilio-idempotency-token",
        "user-agent",
        "content-type",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {recorded:?}");
    }
    assert!(!recorded.contains(token), "never the auth token");
}
