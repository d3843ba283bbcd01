//! Monitor alerts end to end: failed deliveries raised through `app::alerts::raise` into a
//! real server's log, read back over HTTP and with the official Python library
//! (`client.monitor.v1.alerts`), checked against Twilio's OpenAPI document (the oracle, not
//! our encoder: `tests/openapi/twilio_monitor_v1_alerts.json`, from twilio/twilio-oai), and
//! account-scoped. The Kafka log takes alerts on their own topic.

use crate::{assert_twilio_error, create_account, Api, Creds, DataDir, PgDatabase, Server};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::app::alerts::{raise, FailedDelivery};
use switchboard::log::sqlite::{SqliteLog, SqliteLogOptions};
use switchboard::log::EventLog;
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::store::ProjectionStore;
use uuid::Uuid;

/// The headers of the failed deliveries' last requests, as the sender records them.
const REQUEST_HEADERS: &str = "user-agent: TwilioProxy/1.1\ni-twilio-idempotency-token: d-0\n\
    content-type: application/x-www-form-urlencoded\nx-twilio-signature: c2lnbmVk";

/// A failed event-callback delivery of `account`, generated at `ms`.
fn failed(account: &str, delivery_id: &str, code: u32, ms: i64) -> FailedDelivery {
    FailedDelivery {
        account_sid: Sid::parse(account).expect("account sid"),
        error_code: code,
        alert_text: format!("the event callback failed with {code}"),
        request_url: "https://app.example/events".into(),
        request_method: "POST".into(),
        request_variables: "EventType=task.created&TaskSid=WT0".into(),
        request_headers: Some(REQUEST_HEADERS.into()),
        response_body: Some("<h1>Service Unavailable</h1>".into()),
        response_headers: Some("Content-Type: text/html".into()),
        resource_sid: Some(Sid::from_u128(SidPrefix::Task, 1)),
        service_sid: Some(Sid::from_u128(SidPrefix::Workspace, 1)),
        occurred_at: chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default(),
        causation_id: Uuid::now_v7(),
        delivery_id: delivery_id.into(),
    }
}

/// Raises alerts into the log of the (stopped) server in `dir`: three of `a`'s, newest last
/// (one raised twice), one of `b`'s. Returns `a`'s SIDs newest first and `b`'s.
async fn raise_into(dir: &Path, a: &Creds, b: &Creds) -> (Vec<String>, String) {
    let log = SqliteLog::open(
        &dir.join("log.sqlite"),
        SqliteLogOptions::default(),
        Arc::new(()),
    )
    .await
    .expect("open the server's log");
    let base = 1_764_000_000_000;
    let mut sids = Vec::new();
    for (i, code) in [11205, 11200, 11217].into_iter().enumerate() {
        let f = failed(&a.sid, &format!("a-{i}"), code, base + i as i64 * 1_000);
        sids.push(raise(&log, f.clone()).await.expect("raised").to_string());
        let again = raise(&log, f).await.expect("raised again");
        assert_eq!(
            again.as_str(),
            sids[i],
            "the same delivery is the same alert"
        );
    }
    let theirs = raise(&log, failed(&b.sid, "b-0", 11750, base))
        .await
        .expect("raised");
    let streams = log.read_stream(&sids[0]).await.expect("read");
    assert_eq!(streams.len(), 1, "raised twice, recorded once");
    log.shutdown().await;
    sids.reverse();
    (sids, theirs.to_string())
}

/// Waits (bounded) until `api`'s alert list has `n` alerts: the server's projector catches up
/// with the log it found at start.
async fn wait_for_alerts(api: &Api, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = api.get_json("/v1/Alerts").await;
        if v["alerts"].as_array().map(Vec::len) == Some(n) {
            return v;
        }
        assert!(Instant::now() < deadline, "alerts never appeared: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raised_alerts_are_listed_and_fetched_in_twilios_shape_by_their_own_account_only() {
    let dir = DataDir::new("alerts");
    let a = create_account(dir.path(), "Alerted");
    let b = create_account(dir.path(), "Other");
    let (sids, theirs) = raise_into(dir.path(), &a, &b).await;
    let server = Server::start(dir.path());
    let as_a = Api::new(&server, &a);
    let as_b = Api::new(&server, &b);

    let list = wait_for_alerts(&as_a, 3).await;
    let listed: Vec<&str> = list["alerts"]
        .as_array()
        .map(|v| v.iter().filter_map(|a| a["sid"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(listed, sids, "newest first, B's not among them");
    let instance = as_a.get_json(&format!("/v1/Alerts/{}", sids[0])).await;
    check_against_openapi(&list, &instance);
    assert_eq!(
        instance["request_headers"], REQUEST_HEADERS,
        "the instance shows the request's headers"
    );

    // Paging by token: two pages of two and one, every alert once.
    let first = as_a.get_json("/v1/Alerts?PageSize=2").await;
    let next = first["meta"]["next_page_url"]
        .as_str()
        .expect("a next page");
    let path = next.strip_prefix(&server.base).expect("absolute URL");
    let second = as_a.get_json(path).await;
    assert_eq!(second["alerts"][0]["sid"], sids[2]);
    assert_eq!(second["meta"]["next_page_url"], Value::Null);
    assert_eq!(second["meta"]["page"], 1);
    // Filters, and Twilio's 400 for bad ones.
    let errors = as_a
        .get_json("/v1/Alerts?LogLevel=error&StartDate=2025-11-24")
        .await;
    assert_eq!(errors["alerts"].as_array().map(Vec::len), Some(3));
    let old = as_a.get_json("/v1/Alerts?EndDate=2025-11-23").await;
    assert_eq!(old["alerts"].as_array().map(Vec::len), Some(0));
    for bad in [
        "LogLevel=fatal",
        "StartDate=yesterday",
        "PageSize=0",
        "PageToken=PAxyz",
    ] {
        assert_twilio_error(as_a.get(&format!("/v1/Alerts?{bad}")).await, 400, 20001).await;
    }

    // Tenancy: B lists only its own, and A's alert is B's 404 exactly as a missing one is.
    let bs = as_b.get_json("/v1/Alerts").await;
    assert_eq!(bs["alerts"].as_array().map(Vec::len), Some(1));
    assert_eq!(bs["alerts"][0]["sid"], theirs.as_str());
    let hidden = assert_twilio_error(
        as_b.get(&format!("/v1/Alerts/{}", sids[0])).await,
        404,
        20404,
    )
    .await;
    let missing_sid = format!("NO{}", "0".repeat(32));
    let missing = assert_twilio_error(
        as_b.get(&format!("/v1/Alerts/{missing_sid}")).await,
        404,
        20404,
    )
    .await;
    assert_eq!(
        hidden["message"].as_str().map(|m| m.replace(&sids[0], "X")),
        missing["message"]
            .as_str()
            .map(|m| m.replace(&missing_sid, "X"))
    );
    assert_twilio_error(
        Api::with_auth(&server, None).get("/v1/Alerts").await,
        401,
        20003,
    )
    .await;

    run_sdk(&server, &a, &b, &sids, &theirs);
    assert!(server.terminate(), "SIGTERM gives a clean exit");
}

/// The official Python library, `tests/sdk/alerts.py`.
fn run_sdk(server: &Server, a: &Creds, b: &Creds, sids: &[String], theirs: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let python = std::env::var("SWITCHBOARD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(dir.join("alerts.py"))
        .current_dir(&dir)
        .env("SWITCHBOARD_URL", &server.base)
        .env("SWITCHBOARD_SID", &a.sid)
        .env("SWITCHBOARD_TOKEN", &a.token)
        .env("SWITCHBOARD_ALERTS", sids.join(","))
        .env("SWITCHBOARD_OTHER_SID", &b.sid)
        .env("SWITCHBOARD_OTHER_TOKEN", &b.token)
        .env("SWITCHBOARD_OTHER_ALERT", theirs)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "alerts.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every property the OpenAPI document lists for the list item, the instance and `meta` is
/// present with its JSON type (null only where the document says nullable), its enum, its
/// pattern and its length; the instance-only properties are absent from the list item.
fn check_against_openapi(list: &Value, instance: &Value) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/twilio_monitor_v1_alerts.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("OpenAPI document"))
            .expect("OpenAPI JSON");
    let schemas = &doc["components"]["schemas"];
    let item_schema = &schemas["monitor.v1.alert"];
    let instance_schema = &schemas["monitor.v1.alert-instance"];
    let list_schema = &doc["paths"]["/v1/Alerts"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    conforms(&list["meta"], &list_schema["properties"]["meta"], "meta");
    let items = list["alerts"].as_array().expect("alerts");
    assert!(!items.is_empty());
    for item in items {
        conforms(item, item_schema, "list item");
        let listed: Vec<&String> = item_schema["properties"]
            .as_object()
            .map(|p| p.keys().collect())
            .unwrap_or_default();
        for key in item.as_object().map(|o| o.keys()).into_iter().flatten() {
            assert!(
                listed.contains(&key),
                "the list item has {key}, which the document does not list"
            );
        }
    }
    conforms(instance, instance_schema, "instance");
    for only in [
        "request_variables",
        "response_body",
        "response_headers",
        "request_headers",
    ] {
        assert!(
            instance_schema["properties"].get(only).is_some(),
            "{only} is an instance property"
        );
        assert!(
            items[0].get(only).is_none(),
            "{only} is only in the instance, as Twilio does"
        );
    }
}

pub(crate) fn conforms(value: &Value, schema: &Value, what: &str) {
    let props = schema["properties"].as_object().expect("properties");
    assert!(!props.is_empty());
    for (name, p) in props {
        let v = value
            .get(name)
            .unwrap_or_else(|| panic!("{what} lacks {name}: {value}"));
        if v.is_null() {
            assert_eq!(
                p["nullable"], true,
                "{what}.{name} is null but not nullable"
            );
            continue;
        }
        let ty = p["type"].as_str().expect("a type");
        let ok = match ty {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            other => panic!("unexpected type {other}"),
        };
        assert!(ok, "{what}.{name} should be a {ty}: {v}");
        let Some(s) = v.as_str() else { continue };
        let len = s.chars().count() as u64;
        if let Some(min) = p["minLength"].as_u64() {
            assert!(len >= min, "{what}.{name} is shorter than {min}: {s}");
        }
        if let Some(max) = p["maxLength"].as_u64() {
            assert!(len <= max, "{what}.{name} is longer than {max}: {s}");
        }
        if let Some(values) = p["enum"].as_array() {
            assert!(
                values.contains(v),
                "{what}.{name} = {s} is not in {values:?}"
            );
        }
        if let Some(pattern) = p["pattern"].as_str() {
            assert!(
                matches_sid_pattern(pattern, s),
                "{what}.{name} = {s} does not match {pattern}"
            );
        }
        match p["format"].as_str() {
            Some("date-time") => assert!(
                chrono::DateTime::parse_from_rfc3339(s).is_ok(),
                "{what}.{name} = {s} is not a date-time"
            ),
            Some("uri") => assert!(s.starts_with("http"), "{what}.{name} = {s} is not a URI"),
            _ => {}
        }
    }
}

/// The document's SID patterns, `^XX[0-9a-fA-F]{32}$` or `^[a-zA-Z]{2}[0-9a-fA-F]{32}$`, checked
/// without a regex engine.
fn matches_sid_pattern(pattern: &str, s: &str) -> bool {
    let hex = s.len() == 34
        && s.get(2..)
            .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
    let prefix = s.get(..2).unwrap_or_default();
    match pattern
        .strip_prefix('^')
        .and_then(|p| p.strip_suffix("[0-9a-fA-F]{32}$"))
    {
        Some("[a-zA-Z]{2}") => hex && prefix.chars().all(|c| c.is_ascii_alphabetic()),
        Some(letters) if letters.len() == 2 => hex && prefix == letters,
        _ => panic!("a pattern this check does not know: {pattern}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_kafka_alerts_go_to_their_own_topic_and_are_raised_once() {
    let db = PgDatabase::new().await;
    let store = ProjectionStore::connect(&db.url).await.expect("store");
    let prefix = crate::log_suite::test_prefix();
    let log =
        crate::log_suite::open_kafka_log(&crate::log_suite::tansu_brokers(), &prefix, &store).await;
    assert!(
        log.topics()
            .iter()
            .any(|(t, _)| *t == format!("{prefix}.alert")),
        "the alert topic is created at open: {:?}",
        log.topics()
    );
    let account = Sid::from_u128(SidPrefix::Account, 1).to_string();
    let f = failed(&account, "k-1", 11210, 1_764_000_000_000);
    let sid = raise(&log, f.clone()).await.expect("raised on Kafka");
    assert_eq!(raise(&log, f).await.expect("again"), sid);
    let stream = log.read_stream(sid.as_str()).await.expect("read");
    assert_eq!(stream.len(), 1);
    let category = switchboard::log::kafka::CATEGORIES
        .iter()
        .position(|c| *c == "alert")
        .expect("an alert category");
    assert_eq!(
        stream[0].position.partition >> 16,
        category as u32,
        "on the alert topic"
    );
    log.shutdown().await;
}
