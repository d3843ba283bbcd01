//! Call notifications end to end: raised through a `CallController` (the call stream's only
//! writer, as the call router raises them) into a real server's log, read back over HTTP and
//! with the official Python library (`client.notifications`, `client.calls(CA).notifications`),
//! checked against Twilio's OpenAPI document as the oracle
//! (`tests/openapi/twilio_api_v2010_notifications.json`, the Notification resources of
//! twilio/twilio-oai), and account-scoped: another account's notification is the same 404 as
//! a missing one; a parent reads its subaccount's.

use crate::alerts::conforms;
use crate::sdk::run_sdk_script_with;
use crate::{assert_twilio_error, create_account, Api, Creds, DataDir, Server};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::app::call_controller::CallController;
use switchboard::commands::Commands;
use switchboard::log::sqlite::{SqliteLog, SqliteLogOptions};
use switchboard::log::EventLog;
use switchboard_events::call::{
    CallCommand, CallCompleted, CallDirection, CallEndStatus, CallError, CallStatus, HttpMethod,
    HungUpBy, NotificationLevel, NotificationRaised,
};
use switchboard_events::{Sid, SidPrefix};
use tokio_util::task::TaskTracker;

/// What every raised notification's application answered.
const RESPONSE_BODY: &str = "<Response><Say>unclosed";

/// A notification `code` on a call, at `level`, about `url` (none: inline TwiML).
fn notification(code: u32, level: NotificationLevel, url: Option<&str>) -> NotificationRaised {
    NotificationRaised {
        notification_sid: Sid::from_u128(SidPrefix::Alert, rand_u128()),
        error_code: code,
        log_level: level,
        message_text: format!("error {code} while running the call's TwiML"),
        request_url: url.unwrap_or_default().to_string(),
        request_method: url.map(|_| HttpMethod::Post),
        request_variables: "CallSid=CA0&CallStatus=ringing&Direction=inbound".into(),
        response_headers: url.map(|_| "Content-Type: text/xml".to_string()),
        response_body: url.map(|_| RESPONSE_BODY.to_string()),
    }
}

fn rand_u128() -> u128 {
    uuid::Uuid::new_v4().as_u128()
}

/// One call of `account` raising `raised` in order (a few ms apart, so the newest-first order
/// is the reverse of this one), then ending. Returns the call's SID and the notifications'.
fn call_with(
    commands: &Commands,
    tracker: &TaskTracker,
    account: &str,
    raised: Vec<NotificationRaised>,
) -> (String, Vec<String>) {
    let call_sid = Sid::from_u128(SidPrefix::Call, rand_u128());
    let account = Sid::parse(account).expect("account SID");
    let controller = CallController::start(commands.clone(), tracker, account, call_sid.clone());
    controller
        .execute(CallCommand::Initiate {
            direction: CallDirection::Inbound,
            from: "sip:+15551230000@127.0.0.1".into(),
            to: "sip:+15559870000@switchboard".into(),
            sip_call_id: format!("{call_sid}@test"),
            remote_addr: "127.0.0.1:5060".into(),
            parent_call_sid: None,
        })
        .expect("initiated");
    let mut sids = Vec::new();
    for n in raised {
        sids.push(n.notification_sid.to_string());
        controller
            .execute(CallCommand::RaiseNotification(n))
            .expect("raised");
        std::thread::sleep(Duration::from_millis(5));
    }
    controller
        .execute(CallCommand::Complete(CallCompleted {
            status: CallEndStatus::Failed,
            sip_code: 500,
            hung_up_by: HungUpBy::Local,
            duration_ms: 0,
            reason: "an application error has occurred".into(),
        }))
        .expect("completed");
    // The controller refuses what cannot follow the end, and records nothing for it.
    let late = controller.execute(CallCommand::RaiseNotification(notification(
        11200,
        NotificationLevel::Error,
        None,
    )));
    assert!(
        matches!(
            late,
            Err(CallError::Ended {
                status: CallStatus::Failed,
                ..
            })
        ),
        "{late:?}"
    );
    assert_eq!(
        controller.state().map(|c| c.notifications),
        Some(sids.len() as u32)
    );
    (call_sid.to_string(), sids)
}

/// The calls raised before the server starts: A's two calls (three notifications and one),
/// B's one call. Returns (A's calls with their notifications, B's call and notification).
async fn raise_into(
    dir: &Path,
    a: &Creds,
    b: &Creds,
) -> (Vec<(String, Vec<String>)>, (String, String)) {
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
    let url = Some("https://app.example/voice");
    let first = call_with(
        &commands,
        &tracker,
        &a.sid,
        vec![
            notification(11200, NotificationLevel::Error, url),
            notification(12100, NotificationLevel::Error, url),
            notification(12200, NotificationLevel::Warning, None),
        ],
    );
    let second = call_with(
        &commands,
        &tracker,
        &a.sid,
        vec![notification(11750, NotificationLevel::Error, url)],
    );
    let (b_call, b_sids) = call_with(
        &commands,
        &tracker,
        &b.sid,
        vec![notification(12300, NotificationLevel::Error, url)],
    );
    // Every controller's appender drains before the log closes (the engine's shutdown).
    tracker.close();
    tracker.wait().await;
    let stream = log.read_stream(&first.0).await.expect("read the call");
    let types: Vec<&str> = stream.iter().map(|e| e.event.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "call.initiated",
            "call.notification.raised",
            "call.notification.raised",
            "call.notification.raised",
            "call.completed"
        ]
    );
    log.shutdown().await;
    (vec![first, second], (b_call, b_sids[0].clone()))
}

/// Waits (bounded) until `path` lists `n` notifications: the projector catches up with the
/// log it found at start.
async fn wait_for(api: &Api, path: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = api.get_json(path).await;
        if v["notifications"].as_array().map(Vec::len) == Some(n) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "notifications never appeared: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sids(list: &Value) -> Vec<String> {
    list["notifications"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|n| n["sid"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raised_notifications_are_listed_per_account_and_call_in_twilios_shape() {
    let dir = DataDir::new("notifications");
    let a = create_account(dir.path(), "Notified");
    let b = create_account(dir.path(), "Other");
    let (calls, (b_call, theirs)) = raise_into(dir.path(), &a, &b).await;
    let server = Server::start(dir.path());
    let as_a = Api::new(&server, &a);
    let as_b = Api::new(&server, &b);
    let account_list = format!("/2010-04-01/Accounts/{}/Notifications.json", a.sid);

    // Newest first: the second call's one, then the first call's three in reverse.
    let mut expected: Vec<String> = calls[1].1.clone();
    expected.extend(calls[0].1.iter().rev().cloned());
    let list = wait_for(&as_a, &account_list, 4).await;
    assert_eq!(sids(&list), expected, "newest first, B's not among them");
    let first_call = &calls[0].0;
    let call_list = format!(
        "/2010-04-01/Accounts/{}/Calls/{first_call}/Notifications.json",
        a.sid
    );
    let per_call = as_a.get_json(&call_list).await;
    assert_eq!(sids(&per_call), expected[1..].to_vec(), "only that call's");
    let newest_of_call = &expected[1];
    let call_instance = as_a
        .get_json(&format!(
            "/2010-04-01/Accounts/{}/Calls/{first_call}/Notifications/{newest_of_call}.json",
            a.sid
        ))
        .await;
    let instance = as_a
        .get_json(&format!(
            "/2010-04-01/Accounts/{}/Notifications/{}.json",
            a.sid, expected[2]
        ))
        .await;
    check_against_openapi(
        &list,
        &instance,
        "api.v2010.account.notification",
        "/2010-04-01/Accounts/{AccountSid}/Notifications.json",
    );
    check_against_openapi(
        &per_call,
        &call_instance,
        "api.v2010.account.call.call_notification",
        "/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Notifications.json",
    );
    assert_eq!(instance["error_code"], "12100");
    assert_eq!(instance["log"], "0");
    assert_eq!(instance["response_body"], RESPONSE_BODY);
    assert_eq!(call_instance["log"], "1", "the 12200 is a warning");
    assert_eq!(
        call_instance["request_url"],
        Value::Null,
        "inline TwiML has no URL"
    );

    // Paging by token: pages of three and one, every notification once.
    let page = as_a.get_json(&format!("{account_list}?PageSize=3")).await;
    assert_eq!(sids(&page), expected[..3].to_vec());
    let next = page["next_page_uri"].as_str().expect("a next page");
    let rest = as_a.get_json(next).await;
    assert_eq!(sids(&rest), expected[3..].to_vec());
    assert_eq!(
        (
            rest["page"].clone(),
            rest["start"].clone(),
            rest["end"].clone()
        ),
        (1.into(), 3.into(), 3.into())
    );
    assert_eq!(rest["next_page_uri"], Value::Null);
    // Filters, and Twilio's 400 for bad ones.
    let warnings = as_a.get_json(&format!("{account_list}?Log=1")).await;
    assert_eq!(sids(&warnings), vec![newest_of_call.clone()]);
    let old = as_a
        .get_json(&format!("{account_list}?MessageDate%3C=2001-01-01"))
        .await;
    assert_eq!(sids(&old), Vec::<String>::new());
    for bad in [
        "Log=2",
        "MessageDate=yesterday",
        "PageSize=0",
        "PageToken=PAxyz",
    ] {
        assert_twilio_error(as_a.get(&format!("{account_list}?{bad}")).await, 400, 20001).await;
    }

    // Tenancy: B lists only its own; A's notification, under A's path or B's, is B's 404
    // exactly as a missing one is.
    let b_list = format!("/2010-04-01/Accounts/{}/Notifications.json", b.sid);
    assert_eq!(sids(&as_b.get_json(&b_list).await), vec![theirs.clone()]);
    let missing_sid = format!("NO{}", "0".repeat(32));
    let hidden_paths = [
        format!(
            "/2010-04-01/Accounts/{}/Notifications/{}.json",
            b.sid, expected[0]
        ),
        format!(
            "/2010-04-01/Accounts/{}/Notifications/{}.json",
            a.sid, expected[0]
        ),
    ];
    for hidden in hidden_paths {
        let refused = assert_twilio_error(as_b.get(&hidden).await, 404, 20404).await;
        let missing = assert_twilio_error(
            as_b.get(&hidden.replace(&expected[0], &missing_sid)).await,
            404,
            20404,
        )
        .await;
        assert_eq!(
            refused["message"]
                .as_str()
                .map(|m| m.replace(&expected[0], "X")),
            missing["message"]
                .as_str()
                .map(|m| m.replace(&missing_sid, "X")),
        );
    }
    assert_twilio_error(as_b.get(&account_list).await, 404, 20404).await;
    // A's notification under B's call is not there either.
    assert_twilio_error(
        as_a.get(&format!(
            "/2010-04-01/Accounts/{}/Calls/{b_call}/Notifications/{}.json",
            a.sid, expected[1]
        ))
        .await,
        404,
        20404,
    )
    .await;
    assert_twilio_error(
        Api::with_auth(&server, None).get(&account_list).await,
        401,
        20003,
    )
    .await;

    run_sdk(&server, &a, &b, first_call, &expected, &theirs);
    assert!(server.terminate(), "SIGTERM gives a clean exit");
}

/// The official Python library, `tests/sdk/notifications.py`.
fn run_sdk(server: &Server, a: &Creds, b: &Creds, call: &str, sids: &[String], theirs: &str) {
    let sids = sids.join(",");
    let extra = [
        ("SWITCHBOARD_CALL", call),
        ("SWITCHBOARD_NOTIFICATIONS", sids.as_str()),
        ("SWITCHBOARD_OTHER_SID", b.sid.as_str()),
        ("SWITCHBOARD_OTHER_TOKEN", b.token.as_str()),
        ("SWITCHBOARD_OTHER_NOTIFICATION", theirs),
    ];
    run_sdk_script_with("notifications.py", server, &a.sid, &a.token, &extra);
}

/// Every property the OpenAPI document lists for the list item and the instance is present
/// with its JSON type (null only where nullable), enum, pattern and length, dates are RFC
/// 2822; the instance-only properties are absent from the list item; the envelope has every
/// property of the list response with its type.
fn check_against_openapi(list: &Value, instance: &Value, item: &str, list_path: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/openapi/twilio_api_v2010_notifications.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("OpenAPI document"))
            .expect("OpenAPI JSON");
    let schemas = &doc["components"]["schemas"];
    let item_schema = &schemas[item];
    let instance_schema = &schemas[format!("{item}-instance")];
    let list_schema = &doc["paths"][list_path]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    let items = list["notifications"].as_array().expect("notifications");
    assert!(!items.is_empty());
    for (value, schema, what) in items.iter().map(|i| (i, item_schema, "list item")).chain([(
        instance,
        instance_schema,
        "instance",
    )]) {
        conforms(value, schema, what);
        for (name, p) in schema["properties"].as_object().into_iter().flatten() {
            if p["format"] == "date-time-rfc-2822" {
                let s = value[name].as_str().unwrap_or_default();
                assert!(
                    chrono::DateTime::parse_from_rfc2822(s).is_ok(),
                    "{what}.{name} = {s} is not RFC 2822"
                );
            }
        }
        for key in value.as_object().map(|o| o.keys()).into_iter().flatten() {
            assert!(
                schema["properties"].get(key).is_some(),
                "the {what} has {key}, which the document does not list"
            );
        }
    }
    for only in ["request_variables", "response_body", "response_headers"] {
        assert!(instance_schema["properties"].get(only).is_some());
        assert!(
            items[0].get(only).is_none(),
            "{only} is only in the instance"
        );
    }
    // The envelope: URIs are relative in the 2010-04-01 API, so types only (and the paths).
    for (name, p) in list_schema["properties"].as_object().expect("properties") {
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
}
