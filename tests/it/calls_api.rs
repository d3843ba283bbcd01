//! The Calls API (2010-04-01) over the `calls` read model, end to end: calls recorded through
//! `CallController`s (the call stream's only writer, as the call router records them) into a
//! real server's log, then listed (newest first, every filter, paging), fetched, steered and
//! deleted over HTTP and with the official Python library (`tests/sdk/calls.py`), every
//! answer checked against Twilio's OpenAPI document (`tests/openapi/twilio_api_v2010_calls.json`,
//! the Call resource of twilio/twilio-oai) as the oracle; another account's call is the same
//! 404 as a missing one; a create's checks answer before anything is placed (this server runs
//! no SIP engine: a valid create is the 503 of a node that places no calls); the read model
//! rebuilds from the log to the same digest.
//!
//! Placing real calls (the call router's `CallService` and a SIPp `uas`) is [`placed`].

mod placed;

use crate::numbers::{conforms, resolve};
use crate::sdk::run_sdk_script_with;
use crate::{assert_twilio_error, cli, create_account, Api, Creds, DataDir, Server};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::app::call_controller::CallController;
use switchboard::commands::Commands;
use switchboard::log::sqlite::{SqliteLog, SqliteLogOptions};
use switchboard::log::EventLog;
use switchboard_events::call::{
    CallAnswered, CallCommand, CallCompleted, CallDirection, CallEndStatus, HungUpBy,
};
use switchboard_events::{Sid, SidPrefix};
use tokio_util::task::TaskTracker;

/// One call of `account`: initiated (`direction`, `from`, `to`, `parent`), answered when
/// `answered_ms` is given (and ended after that long), ended `end` unless `None` (left live).
struct Recorded {
    direction: CallDirection,
    from: &'static str,
    to: &'static str,
    parent: Option<String>,
    answered_ms: Option<u64>,
    end: Option<CallEndStatus>,
}

fn record(commands: &Commands, tracker: &TaskTracker, account: &str, call: Recorded) -> String {
    let sid = Sid::from_u128(SidPrefix::Call, uuid::Uuid::new_v4().as_u128());
    let account = Sid::parse(account).expect("account SID");
    let c = CallController::start(commands.clone(), tracker, account, sid.clone());
    let ok = |r: Result<(), switchboard_events::call::CallError>| r.expect("accepted");
    ok(c.execute(CallCommand::Initiate {
        direction: call.direction,
        from: call.from.into(),
        to: call.to.into(),
        sip_call_id: format!("{sid}@test"),
        remote_addr: "127.0.0.1:5060".into(),
        parent_call_sid: call.parent,
    }));
    if call.answered_ms.is_some() {
        ok(c.execute(CallCommand::Answer(CallAnswered {
            codec: "PCMU".into(),
            telephone_event: Some(101),
            local_rtp: "127.0.0.1:20000".into(),
            remote_rtp: "127.0.0.1:30000".into(),
        })));
    }
    if let Some(status) = call.end {
        let answered = call.answered_ms.is_some();
        ok(c.execute(CallCommand::Complete(CallCompleted {
            status,
            sip_code: if answered { 200 } else { 486 },
            hung_up_by: HungUpBy::Remote,
            duration_ms: call.answered_ms.unwrap_or(0),
            reason: "test".into(),
        })));
    }
    // Distinct `date_created`s: the list's order is the reverse of this one.
    std::thread::sleep(Duration::from_millis(5));
    sid.to_string()
}

/// A's calls, oldest first: an answered API call, a busy inbound one, a `<Dial>` leg of the
/// first, a placed call canceled before the answer; and B's one call. (None is left live: the
/// server's start would end it, as a call a dead node left behind.)
struct Calls {
    api: String,
    busy: String,
    leg: String,
    canceled: String,
    theirs: String,
}

async fn record_into(dir: &Path, a: &Creds, b: &Creds) -> Calls {
    let log = SqliteLog::open(
        &dir.join("log.sqlite"),
        SqliteLogOptions::default(),
        Arc::new(()),
    )
    .await
    .expect("open the server's log");
    let log: Arc<dyn EventLog> = Arc::new(log);
    let commands = Commands::new(log.clone(), "us1".into());
    let tracker = TaskTracker::new();
    let api = record(
        &commands,
        &tracker,
        &a.sid,
        Recorded {
            direction: CallDirection::OutboundApi,
            from: "+15551230000",
            to: "sip:alice@example.com",
            parent: None,
            answered_ms: Some(2_500),
            end: Some(CallEndStatus::Completed),
        },
    );
    let busy = record(
        &commands,
        &tracker,
        &a.sid,
        Recorded {
            direction: CallDirection::Inbound,
            from: "sip:+15557770001@127.0.0.1",
            to: "sip:+15559870000@switchboard;user=phone",
            parent: None,
            answered_ms: None,
            end: Some(CallEndStatus::Busy),
        },
    );
    let leg = record(
        &commands,
        &tracker,
        &a.sid,
        Recorded {
            direction: CallDirection::OutboundDial,
            from: "+15551230000",
            to: "sip:bob@example.com",
            parent: Some(api.clone()),
            answered_ms: Some(1_000),
            end: Some(CallEndStatus::Completed),
        },
    );
    let canceled = record(
        &commands,
        &tracker,
        &a.sid,
        Recorded {
            direction: CallDirection::OutboundApi,
            from: "sip:+15557770002@127.0.0.1",
            to: "sip:+15559870001@switchboard",
            parent: None,
            answered_ms: None,
            end: Some(CallEndStatus::Canceled),
        },
    );
    let theirs = record(
        &commands,
        &tracker,
        &b.sid,
        Recorded {
            direction: CallDirection::Inbound,
            from: "+15557770003",
            to: "+15559870002",
            parent: None,
            answered_ms: Some(1_000),
            end: Some(CallEndStatus::Completed),
        },
    );
    tracker.close();
    tracker.wait().await;
    log.shutdown().await;
    Calls {
        api,
        busy,
        leg,
        canceled,
        theirs,
    }
}

pub(crate) fn openapi() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/twilio_api_v2010_calls.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("OpenAPI document"))
        .expect("OpenAPI JSON")
}

/// A call conforms to `api.v2010.account.call`, and its dates are RFC 2822.
pub(crate) fn assert_call_shape(doc: &Value, call: &Value, what: &str) {
    let schema = &doc["components"]["schemas"]["api.v2010.account.call"];
    conforms(doc, call, schema, what);
    for (name, p) in schema["properties"].as_object().into_iter().flatten() {
        let p = resolve(doc, p);
        if p["format"] == "date-time-rfc-2822" {
            if let Some(s) = call[name].as_str() {
                assert!(
                    chrono::DateTime::parse_from_rfc2822(s).is_ok(),
                    "{what}.{name} = {s} is not RFC 2822"
                );
            }
        }
    }
}

/// The list envelope conforms to `ListCallResponse`, and each item to the call.
pub(crate) fn assert_list_shape(doc: &Value, list: &Value) {
    let schema = &doc["paths"]["/2010-04-01/Accounts/{AccountSid}/Calls.json"]["get"]["responses"]
        ["200"]["content"]["application/json"]["schema"];
    for (name, p) in schema["properties"].as_object().expect("properties") {
        let v = list
            .get(name)
            .unwrap_or_else(|| panic!("the list lacks {name}"));
        let ok = match p["type"].as_str() {
            _ if v.is_null() => p["nullable"] == true,
            Some("string") => v.as_str().is_some_and(|s| s.starts_with("/2010-04-01/")),
            Some("integer") => v.is_i64(),
            Some("array") => v.is_array(),
            other => panic!("unexpected type {other:?}"),
        };
        assert!(ok, "the list's {name} should be a {}: {v}", p["type"]);
    }
    for item in list["calls"].as_array().into_iter().flatten() {
        assert_call_shape(doc, item, "list item");
    }
}

fn sids(list: &Value) -> Vec<String> {
    list["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["sid"].as_str().map(str::to_string))
        .collect()
}

async fn wait_listed(api: &Api, path: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = api.get_json(path).await;
        if v["calls"].as_array().map(Vec::len) == Some(n) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path} never listed {n}: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calls_api_lists_fetches_filters_pages_and_deletes_in_twilios_shape() {
    let dir = DataDir::new("calls-api");
    let a = create_account(dir.path(), "Calls");
    let b = create_account(dir.path(), "Other");
    let calls = record_into(dir.path(), &a, &b).await;
    let server = Server::start(dir.path());
    let as_a = Api::new(&server, &a);
    let as_b = Api::new(&server, &b);
    let base = format!("/2010-04-01/Accounts/{}", a.sid);
    let doc = openapi();

    // The list: newest first, every field in Twilio's shape.
    let list = wait_listed(&as_a, &format!("{base}/Calls.json"), 4).await;
    assert_eq!(
        sids(&list),
        [
            calls.canceled.as_str(),
            calls.leg.as_str(),
            calls.busy.as_str(),
            calls.api.as_str()
        ]
    );
    assert_list_shape(&doc, &list);
    let api_call = as_a
        .get_json(&format!("{base}/Calls/{}.json", calls.api))
        .await;
    assert_call_shape(&doc, &api_call, "instance");
    assert_eq!(api_call["status"], "completed");
    assert_eq!(api_call["direction"], "outbound-api");
    assert_eq!(api_call["to"], "sip:alice@example.com");
    assert_eq!(api_call["to_formatted"], "sip:alice@example.com");
    assert_eq!(api_call["from"], "+15551230000");
    assert_eq!(api_call["from_formatted"], "(555) 123-0000");
    assert_eq!(api_call["duration"], "3");
    assert_eq!(api_call["price"], Value::Null);
    assert_eq!(api_call["price_unit"], "USD");
    assert_eq!(api_call["queue_time"], "0");
    assert_eq!(api_call["api_version"], "2010-04-01");
    assert_eq!(api_call["answered_by"], Value::Null);
    assert_eq!(
        api_call["uri"],
        format!("{base}/Calls/{}.json", calls.api).as_str()
    );
    assert_eq!(
        api_call["subresource_uris"]["notifications"],
        format!("{base}/Calls/{}/Notifications.json", calls.api).as_str()
    );
    assert!(api_call["end_time"].is_string() && api_call["start_time"].is_string());
    let live = as_a
        .get_json(&format!("{base}/Calls/{}.json", calls.canceled))
        .await;
    assert_eq!(live["status"], "canceled");
    assert_eq!(live["duration"], "0");
    assert!(live["end_time"].is_string());
    assert_eq!(live["to"], "+15559870001");
    let busy = as_a.get_json(&format!("{base}/Calls/{}", calls.busy)).await;
    assert_eq!(
        (busy["status"].as_str(), busy["duration"].as_str()),
        (Some("busy"), Some("0"))
    );
    assert_eq!(busy["direction"], "inbound");
    let leg = as_a
        .get_json(&format!("{base}/Calls/{}.json", calls.leg))
        .await;
    assert_eq!(leg["parent_call_sid"], calls.api.as_str());
    assert_eq!(leg["direction"], "outbound-dial");

    filters_and_paging(&as_a, &base, &calls).await;
    tenancy(&as_a, &as_b, &a, &b, &calls).await;
    creates_are_checked(&as_a, &base).await;
    updates_and_deletes(&as_a, &base, &calls).await;

    let extra = [
        (
            "SWITCHBOARD_CALLS",
            format!("{},{},{}", calls.canceled, calls.leg, calls.api),
        ),
        ("SWITCHBOARD_OTHER_CALL", calls.theirs.clone()),
    ];
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_sdk_script_with("calls.py", &server, &a.sid, &a.token, &extra);
    assert!(server.terminate(), "SIGTERM gives a clean exit");

    // The read model is the log's: a rebuild gives the same digest.
    let caught_up: Value =
        serde_json::from_str(cli(dir.path(), &["projections", "digest"]).trim()).expect("json");
    cli(dir.path(), &["projections", "rebuild"]);
    let rebuilt: Value =
        serde_json::from_str(cli(dir.path(), &["projections", "digest"]).trim()).expect("json");
    assert!(
        caught_up["calls"].as_str().is_some_and(|d| d.len() == 64),
        "{caught_up}"
    );
    assert_eq!(caught_up["calls"], rebuilt["calls"]);
}

async fn filters_and_paging(api: &Api, base: &str, calls: &Calls) {
    let list =
        |q: String| async move { sids(&api.get_json(&format!("{base}/Calls.json?{q}")).await) };
    assert_eq!(list("Status=busy".into()).await, [calls.busy.as_str()]);
    assert_eq!(
        list("Status=canceled".into()).await,
        [calls.canceled.as_str()]
    );
    assert!(list("Status=in-progress".into()).await.is_empty());
    assert_eq!(
        list("Status=completed".into()).await,
        [calls.leg.as_str(), calls.api.as_str()]
    );
    assert_eq!(
        list("From=%2B15551230000".into()).await,
        [calls.leg.as_str(), calls.api.as_str()]
    );
    assert_eq!(
        list("To=%2B15559870000".into()).await,
        [calls.busy.as_str()]
    );
    assert_eq!(
        list("To=sip%3Aalice%40example.com".into()).await,
        [calls.api.as_str()]
    );
    assert_eq!(
        list(format!("ParentCallSid={}", calls.api)).await,
        [calls.leg.as_str()]
    );
    let today = chrono::Utc::now().date_naive();
    assert_eq!(list(format!("StartTime%3E={today}")).await.len(), 4);
    assert_eq!(list(format!("StartTime={today}")).await.len(), 4);
    assert!(list("StartTime%3C=2001-01-01".into()).await.is_empty());
    assert_eq!(list(format!("EndTime%3E={today}")).await.len(), 4);
    assert!(list("EndTime%3C=2001-01-01".into()).await.is_empty());
    assert_twilio_error(
        api.get(&format!("{base}/Calls.json?Status=initiated"))
            .await,
        400,
        20001,
    )
    .await;
    assert_twilio_error(
        api.get(&format!("{base}/Calls.json?StartTime=soon")).await,
        400,
        20001,
    )
    .await;
    assert_twilio_error(
        api.get(&format!("{base}/Calls.json?PageToken=PA1-CA00"))
            .await,
        400,
        20001,
    )
    .await;

    // Paging: two by two, the next page after the token, the filters kept in every URI.
    let first = api.get_json(&format!("{base}/Calls.json?PageSize=2")).await;
    assert_eq!(sids(&first), [calls.canceled.as_str(), calls.leg.as_str()]);
    assert_eq!(
        (first["page"].as_i64(), first["page_size"].as_i64()),
        (Some(0), Some(2))
    );
    assert_eq!(
        (first["start"].as_i64(), first["end"].as_i64()),
        (Some(0), Some(1))
    );
    let next = first["next_page_uri"]
        .as_str()
        .expect("a next page")
        .to_string();
    assert!(
        next.contains("PageToken=PA") && next.contains("Page=1"),
        "{next}"
    );
    let second = api.get_json(&next).await;
    assert_eq!(sids(&second), [calls.busy.as_str(), calls.api.as_str()]);
    assert_eq!(second["next_page_uri"], Value::Null);
    assert_eq!(second["uri"], next.as_str());
    let filtered = api
        .get_json(&format!("{base}/Calls.json?PageSize=1&Status=completed"))
        .await;
    let next = filtered["next_page_uri"].as_str().expect("a next page");
    assert!(next.contains("&Status=completed"), "{next}");
    assert_eq!(sids(&api.get_json(next).await), [calls.api.as_str()]);
}

async fn tenancy(as_a: &Api, as_b: &Api, a: &Creds, b: &Creds, calls: &Calls) {
    let missing = format!("CA{}", "0".repeat(32));
    for account in [&a.sid, &b.sid] {
        let path = format!("/2010-04-01/Accounts/{account}/Calls/{{}}.json");
        let hidden = assert_twilio_error(
            as_b.get(&path.replace("{}", calls.api.as_str())).await,
            404,
            20404,
        )
        .await;
        let absent =
            assert_twilio_error(as_b.get(&path.replace("{}", &missing)).await, 404, 20404).await;
        assert_eq!(
            hidden["message"]
                .as_str()
                .map(|m| m.replace(calls.api.as_str(), "X")),
            absent["message"].as_str().map(|m| m.replace(&missing, "X"))
        );
        let theirs = path.replace("{}", calls.api.as_str());
        let post = as_b.post(&theirs, &[("Status", "completed")]);
        assert_twilio_error(post.await, 404, 20404).await;
        assert_twilio_error(
            as_b.delete(&path.replace("{}", calls.api.as_str())).await,
            404,
            20404,
        )
        .await;
    }
    let theirs = format!("/2010-04-01/Accounts/{}/Calls.json", b.sid);
    assert_eq!(
        sids(&wait_listed(as_b, &theirs, 1).await),
        [calls.theirs.as_str()]
    );
    assert_twilio_error(
        as_b.get(&format!("/2010-04-01/Accounts/{}/Calls.json", a.sid))
            .await,
        404,
        20404,
    )
    .await;
    // A's own path with B's call: the 404 of a missing one.
    let b_call = format!("/2010-04-01/Accounts/{}/Calls/{}.json", a.sid, calls.theirs);
    assert_twilio_error(as_a.get(&b_call).await, 404, 20404).await;
}

/// A form's fields, in order.
type Form<'a> = Vec<(&'a str, &'a str)>;

async fn creates_are_checked(api: &Api, base: &str) {
    let path = format!("{base}/Calls.json");
    let to = ("To", "sip:alice@example.com");
    let from = ("From", "+15551230000");
    let url = ("Url", "https://app.example/voice");
    let long = "x".repeat(4_001);
    let cases: Vec<(Form, u16, u64)> = vec![
        (vec![from, url], 400, 21201),
        (vec![to, url], 400, 21213),
        (vec![to, from], 400, 20001),
        (
            vec![
                to,
                from,
                url,
                ("ApplicationSid", "AP0123456789abcdef0123456789abcdef"),
            ],
            400,
            20001,
        ),
        (vec![to, from, ("Twiml", long.as_str())], 400, 20001),
        (
            vec![to, from, ("Url", "ftp://app.example/voice")],
            400,
            21205,
        ),
        (vec![to, from, url, ("Method", "PUT")], 400, 20001),
        (vec![to, from, url, ("Timeout", "601")], 400, 20001),
        (vec![to, from, url, ("TimeLimit", "0")], 400, 20001),
        (vec![to, from, url, ("SendDigits", "12x")], 400, 20001),
        (
            vec![to, from, url, ("StatusCallbackEvent", "initiated bogus")],
            400,
            20001,
        ),
        (
            vec![
                to,
                from,
                ("ApplicationSid", "AP0123456789abcdef0123456789abcdef"),
            ],
            400,
            21218,
        ),
        // Everything valid: this server has no SIP engine to place it.
        (
            vec![
                to,
                from,
                url,
                ("StatusCallbackEvent", "initiated"),
                ("StatusCallbackEvent", "completed"),
            ],
            503,
            20003,
        ),
    ];
    for (form, status, code) in cases {
        let r = api.post(&path, &form).await;
        if status == 503 {
            assert_eq!(r.status().as_u16(), 503, "{form:?}");
            continue;
        }
        assert_twilio_error(r, status, code).await;
    }
}

async fn updates_and_deletes(api: &Api, base: &str, calls: &Calls) {
    let at = |sid: &str| format!("{base}/Calls/{sid}.json");
    // Not in progress: a redirect is Twilio's 21220 (a live call's refusals are in
    // `placed`, which has one).
    for form in [
        vec![("Url", "https://app.example/next")],
        vec![("Twiml", "<Response><Hangup/></Response>")],
    ] {
        assert_twilio_error(
            api.post(&at(calls.canceled.as_str()), &form).await,
            400,
            21220,
        )
        .await;
    }
    assert_twilio_error(
        api.post(
            &at(calls.canceled.as_str()),
            &[
                ("Url", "https://app.example/next"),
                ("Twiml", "<Response/>"),
            ],
        )
        .await,
        400,
        20001,
    )
    .await;
    assert_twilio_error(
        api.post(&at(calls.canceled.as_str()), &[("Status", "ringing")])
            .await,
        400,
        20001,
    )
    .await;
    // A finished call: hanging up or canceling changes nothing; a redirect is refused.
    for (sid, status) in [
        (&calls.api, "completed"),
        (&calls.api, "canceled"),
        (&calls.canceled, "completed"),
    ] {
        let r = api.post(&at(sid), &[("Status", status)]).await;
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["sid"], sid.as_str());
        assert!(
            v["status"] == "completed" || v["status"] == "canceled",
            "{v}"
        );
    }
    assert_twilio_error(
        api.post(
            &at(calls.api.as_str()),
            &[("Url", "https://app.example/next")],
        )
        .await,
        400,
        21220,
    )
    .await;

    // Delete: a finished call is gone (204), once.
    assert_eq!(
        api.delete(&at(calls.busy.as_str())).await.status().as_u16(),
        204
    );
    assert_twilio_error(api.get(&at(calls.busy.as_str())).await, 404, 20404).await;
    assert_twilio_error(api.delete(&at(calls.busy.as_str())).await, 404, 20404).await;
    let list = api.get_json(&format!("{base}/Calls.json")).await;
    assert_eq!(
        sids(&list),
        [
            calls.canceled.as_str(),
            calls.leg.as_str(),
            calls.api.as_str()
        ]
    );
}
