//! The cross-tenant matrix, over every route of `switchboard::http::routes::ROUTES` (the
//! table a unit test holds equal to the routers), against the real server.
//!
//! Accounts: A with subaccounts A1 and A2, and an unrelated B. A, A1 and A2 each get a world:
//! a workspace with one of every kind of resource (activity, task channel, worker and its
//! channels, queue, workflow, task, reservation, event), a spare of each deletable kind, and
//! a spare workspace. For every `(method, path)`:
//!
//! - B on A's SIDs, A1 on A's, A1 on A2's: the answer is exactly (status, Twilio code and
//!   message, with the SIDs swapped) what the same caller gets for SIDs that do not exist,
//!   and the log's head does not move.
//! - A on A1's SIDs: the request reaches them (2xx, rendered with A1's `account_sid`).
//! - Every method a path's route does not list answers 405.
//!
//! A route with no line in [`FIXTURES`] fails the test: adding a route (to a router and to
//! `ROUTES`) means adding its one line here.

use crate::{create_account, Api, Creds, DataDir, Server};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use switchboard::http::routes;

/// What the world's owner (and its parent) get from a route.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Reaches the resource: a 2xx.
    Reaches,
    /// The route names nothing for anyone (an unknown sub-resource, a method the resource
    /// answers 404): its owner gets the 404 too.
    NothingThere,
    /// No tenant SID in the path: the caller's own list or a create in its own account. A
    /// foreign caller's answer must not mention the victim's SIDs.
    Own,
    /// Reaches the account, whose answer is a 400 on the form (a create whose required
    /// parameters the fixture leaves out: placing a call needs a SIP engine this server lacks).
    Checked,
    /// Unauthenticated operations (`/healthz`, `/metrics`).
    Public,
    /// Changes the caller's own credentials (`/v1/AuthTokens/…`): no SID in the path, nothing
    /// of another tenant's to name, and sending it here would rotate the matrix callers'
    /// tokens away; tests/it/auth_tokens.rs covers each with the official library.
    OwnCredentials,
    /// The operator API (`/operator/v1/…`): the operator token reaches it; every account's
    /// credentials (and none) answer 401 20003 and write nothing. tests/it/operator.rs
    /// covers it end to end.
    Operator,
}
use Expect::*;

/// A route's fixture: method, path, form, what the owner gets.
type Fixture = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    Expect,
);

/// Every route's fixture: method, path exactly as in `ROUTES`, form (values may name the
/// world's SIDs as `{capture}`), and what the owner gets. ADD ONE LINE HERE FOR A NEW ROUTE.
/// Captures a path may use: see [`World`] (`workspace_sid`, `ws`, `activity_sid`,
/// `task_channel_sid`, `task_channel`, `worker_sid`, `task_queue_sid`, `workflow_sid`,
/// `task_sid`, `reservation_sid`, `event_sid`, `file`, `phone_number_file`,
/// `application_file`, `account_sid` (the world's account, `file` without `.json`),
/// `resource`, `sid`, `sub`, `sub_sid`, `call_sid`, `notification_file`). A DELETE acts on the
/// spare of its last capture when the world has one.
#[rustfmt::skip]
const FIXTURES: &[Fixture] = &[
    ("GET", "/healthz", &[], Public),
    ("GET", "/metrics", &[], Public),
    ("GET", "/2010-04-01/Accounts.json", &[], Own),
    ("POST", "/2010-04-01/Accounts.json", &[("FriendlyName", "Matrix")], Own),
    ("GET", "/2010-04-01/Accounts/{file}", &[], Reaches),
    ("POST", "/2010-04-01/Accounts/{file}", &[("FriendlyName", "Renamed")], Reaches),
    // Voice: the path names the account; its numbers and applications are its own.
    ("GET", "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json", &[], Reaches),
    ("POST", "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json", &[("PhoneNumber", "+15558880999"), ("VoiceUrl", "https://app.example/voice")], Reaches),
    ("GET", "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{phone_number_file}", &[], Reaches),
    ("POST", "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{phone_number_file}", &[("FriendlyName", "Renamed")], Reaches),
    ("DELETE", "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{phone_number_file}", &[], Reaches),
    ("GET", "/2010-04-01/Accounts/{account_sid}/Applications.json", &[], Reaches),
    ("POST", "/2010-04-01/Accounts/{account_sid}/Applications.json", &[("FriendlyName", "Matrix")], Reaches),
    ("GET", "/2010-04-01/Accounts/{account_sid}/Applications/{application_file}", &[], Reaches),
    ("POST", "/2010-04-01/Accounts/{account_sid}/Applications/{application_file}", &[("FriendlyName", "Renamed")], Reaches),
    ("DELETE", "/2010-04-01/Accounts/{account_sid}/Applications/{application_file}", &[], Reaches),
    // The caller's own token (Accounts v1): never another tenant's, whatever it names.
    ("POST", "/v1/AuthTokens/Secondary", &[], OwnCredentials),
    ("DELETE", "/v1/AuthTokens/Secondary", &[], OwnCredentials),
    ("POST", "/v1/AuthTokens/Promote", &[], OwnCredentials),
    // The caller's own alerts; the world raises none (an alert needs a delivery that failed
    // for good), so an instance is nothing for anyone here: tests/it/alerts.rs shows that
    // another account's real alert answers exactly what a missing one does.
    ("GET", "/v1/Alerts", &[], Own),
    ("GET", "/v1/Alerts/{sid}", &[], NothingThere),
    // Call notifications: the account's list and a call's (the world's call has none, so
    // the lists are empty and an instance is nothing for anyone; tests/it/notifications.rs
    // shows another account's real notification answers exactly what a missing one does).
    ("GET", "/2010-04-01/Accounts/{account_sid}/Notifications.json", &[], Reaches),
    ("GET", "/2010-04-01/Accounts/{account_sid}/Notifications/{notification_file}", &[], NothingThere),
    ("GET", "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}/Notifications.json", &[], Reaches),
    ("GET", "/2010-04-01/Accounts/{account_sid}/Calls.json", &[], Reaches),
    ("POST", "/2010-04-01/Accounts/{account_sid}/Calls.json", &[("From", "+15558880000")], Checked),
    ("GET", "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}", &[], NothingThere),
    ("POST", "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}", &[("Status", "completed")], NothingThere),
    ("DELETE", "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}", &[], NothingThere),
    ("GET", "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}/Notifications/{notification_file}", &[], NothingThere),
    // The operator's, with the operator token; no account's credentials reach them.
    ("GET", "/operator/v1/Accounts", &[], Operator),
    ("POST", "/operator/v1/Accounts", &[("FriendlyName", "Matrix")], Operator),
    ("GET", "/operator/v1/Accounts/{account_sid}", &[], Operator),
    ("GET", "/supervisor/v1/Workspaces/{ws}/QueuePositions", &[], Reaches),
    ("GET", "/supervisor/v1/Workspaces/{ws}/WorkerAssignments", &[], Reaches),
    ("GET", "/v1/Workspaces", &[], Own),
    ("POST", "/v1/Workspaces", &[("FriendlyName", "Matrix")], Own),
    ("GET", "/v1/Workspaces/{workspace_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}", &[("FriendlyName", "Renamed")], Reaches),
    ("DELETE", "/v1/Workspaces/{workspace_sid}", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Activities", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Activities", &[("FriendlyName", "Matrix")], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Activities/{activity_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Activities/{activity_sid}", &[("FriendlyName", "Renamed")], Reaches),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/Activities/{activity_sid}", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/TaskChannels", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/TaskChannels", &[("FriendlyName", "Matrix"), ("UniqueName", "matrix")], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/TaskChannels/{task_channel_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/TaskChannels/{task_channel_sid}", &[("FriendlyName", "Renamed")], Reaches),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/TaskChannels/{task_channel_sid}", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Workers", &[("FriendlyName", "matrix"), ("ActivitySid", "{activity_sid}")], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}", &[("FriendlyName", "renamed")], Reaches),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Channels", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Channels/{task_channel}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Channels/{task_channel}", &[("Capacity", "2")], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Reservations", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Reservations/{reservation_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Reservations/{reservation_sid}", &[("ReservationStatus", "accepted")], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers/{worker_sid}/Statistics", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers/Statistics", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Workers/Statistics", &[], NothingThere),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/Workers/Statistics", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers/RealTimeStatistics", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Workers/RealTimeStatistics", &[], NothingThere),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/Workers/RealTimeStatistics", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workers/CumulativeStatistics", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Workers/CumulativeStatistics", &[], NothingThere),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/Workers/CumulativeStatistics", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/TaskQueues", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/TaskQueues", &[("FriendlyName", "Matrix"), ("TargetWorkers", "1 == 1")], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}", &[("FriendlyName", "Renamed")], Reaches),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/TaskQueues/Statistics", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/TaskQueues/Statistics", &[], NothingThere),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/TaskQueues/Statistics", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/TaskQueues/RealTimeStatistics", &[], NothingThere),
    ("POST", "/v1/Workspaces/{workspace_sid}/TaskQueues/RealTimeStatistics", &[("TaskQueueSids", "{task_queue_sid}")], Reaches),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/TaskQueues/RealTimeStatistics", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/Statistics", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/RealTimeStatistics", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}/CumulativeStatistics", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workflows", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Workflows", &[("FriendlyName", "Matrix"), ("Configuration", r#"{"task_routing": {"filters": [], "default_filter": {"queue": "{task_queue_sid}"}}}"#)], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}", &[("FriendlyName", "Renamed")], Reaches),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/Statistics", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/RealTimeStatistics", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}/CumulativeStatistics", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Tasks", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Tasks", &[("WorkflowSid", "{workflow_sid}"), ("Attributes", "{}")], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}", &[("Priority", "5")], Reaches),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}/Reservations", &[], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}/Reservations/{reservation_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Tasks/{task_sid}/Reservations/{reservation_sid}", &[("ReservationStatus", "accepted")], Reaches),
    ("GET", "/v1/Workspaces/{workspace_sid}/Events", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Events", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/Events/{event_sid}", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Events/{event_sid}", &[], NothingThere),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/Events/{event_sid}", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/Statistics", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/Statistics", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/RealTimeStatistics", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/RealTimeStatistics", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/CumulativeStatistics", &[], Reaches),
    ("POST", "/v1/Workspaces/{workspace_sid}/CumulativeStatistics", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/{resource}", &[], NothingThere),
    ("POST", "/v1/Workspaces/{workspace_sid}/{resource}", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/{resource}/{sid}", &[], NothingThere),
    ("POST", "/v1/Workspaces/{workspace_sid}/{resource}/{sid}", &[], NothingThere),
    ("DELETE", "/v1/Workspaces/{workspace_sid}/{resource}/{sid}", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/{resource}/{sid}/{sub}", &[], NothingThere),
    ("GET", "/v1/Workspaces/{workspace_sid}/{resource}/{sid}/{sub}/{sub_sid}", &[], NothingThere),
    ("POST", "/v1/Workspaces/{workspace_sid}/{resource}/{sid}/{sub}/{sub_sid}", &[], NothingThere),
];

/// One `(method, path)` with its fixture.
struct Case {
    method: Method,
    path: &'static str,
    form: &'static [(&'static str, &'static str)],
    expect: Expect,
}

/// Every route of the table with its fixture; panics naming each route that has none.
fn cases() -> Vec<Case> {
    let mut missing = Vec::new();
    let mut cases = Vec::new();
    for (method, path) in routes::all() {
        match FIXTURES
            .iter()
            .find(|(m, p, _, _)| *m == method.as_str() && *p == path)
        {
            Some((_, _, form, expect)) => cases.push(Case {
                method: Method::from_bytes(method.as_str().as_bytes()).expect("method"),
                path,
                form,
                expect: *expect,
            }),
            None => missing.push(format!("{method} {path}")),
        }
    }
    assert!(
        missing.is_empty(),
        "routes without a fixture in tests/it/tenancy.rs FIXTURES (add one line each): {missing:#?}"
    );
    let stale: Vec<_> = FIXTURES
        .iter()
        .filter(|(m, p, _, _)| !routes::all().any(|(rm, rp)| rm.as_str() == *m && rp == *p))
        .collect();
    assert!(
        stale.is_empty(),
        "fixtures for routes that are gone: {stale:?}"
    );
    // DELETEs last, so a parent's deletions of spares never take a fixture from a later case;
    // the workspace's own DELETE (of the spare workspace) is as harmless as the others.
    cases.sort_by_key(|c| c.method == Method::DELETE);
    cases
}

/// An account's world: each capture's value, and the spare of each deletable kind.
#[derive(Debug, Clone)]
struct World {
    values: BTreeMap<&'static str, String>,
    spares: BTreeMap<&'static str, String>,
}

impl World {
    /// The path and form of `case` in this world.
    fn request(&self, case: &Case) -> (String, Vec<(String, String)>) {
        let mut path = case.path.to_string();
        let last = case
            .path
            .rsplit('{')
            .next()
            .and_then(|c| c.split('}').next());
        for (name, value) in &self.values {
            let value = match (case.method == Method::DELETE, last, self.spares.get(name)) {
                (true, Some(l), Some(spare)) if l == *name => spare,
                _ => value,
            };
            path = path.replace(&format!("{{{name}}}"), value);
        }
        path = path.replace("{account_sid}", self.account_sid());
        assert!(!path.contains('{'), "no value for a capture of {path}");
        let form = case
            .form
            .iter()
            .map(|(k, v)| {
                let mut v = v.to_string();
                for (name, value) in &self.values {
                    v = v.replace(&format!("{{{name}}}"), value);
                }
                (k.to_string(), v)
            })
            .collect();
        (path, form)
    }

    /// The world's account (the `{account_sid}` capture): `file` without `.json`, so it is
    /// swapped with `file` in [`World::missing`] and counts as no SID of its own.
    fn account_sid(&self) -> &str {
        self.values["file"].trim_end_matches(".json")
    }

    /// The same world with every SID (spares too) replaced by one of its kind that exists
    /// nowhere, one absent SID per SID whichever captures name it; and those pairs.
    fn missing(&self) -> (World, Vec<(String, String)>) {
        let mut absent: BTreeMap<&str, String> = BTreeMap::new();
        for v in self.values.values().chain(self.spares.values()) {
            let fresh = match v.get(..2) {
                Some(p) if v.len() == 34 && p.chars().all(|c| c.is_ascii_uppercase()) => {
                    format!("{p}{}", uuid::Uuid::now_v7().simple())
                }
                // `{SID}.json` (an account's, a number's, an application's): same kind.
                _ if v.ends_with(".json") => format!(
                    "{}{}.json",
                    v.get(..2).unwrap_or("AC"),
                    uuid::Uuid::now_v7().simple()
                ),
                _ => continue,
            };
            absent.entry(v.as_str()).or_insert(fresh);
        }
        let swap = |m: &BTreeMap<&'static str, String>| {
            m.iter()
                .map(|(k, v)| (*k, absent.get(v.as_str()).unwrap_or(v).clone()))
                .collect()
        };
        let world = World {
            values: swap(&self.values),
            spares: swap(&self.spares),
        };
        let pairs = absent
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        (world, pairs)
    }
}

async fn created(api: &Api, path: &str, form: &[(&str, &str)]) -> Value {
    let r = api.post(path, form).await;
    let status = r.status();
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(status, 201, "POST {path} {form:?}: {body}");
    body
}

fn sid(v: &Value) -> String {
    v["sid"].as_str().expect("sid").to_string()
}

/// The workflow configuration every world's workflows use: everything to `queue`.
fn configuration(queue: &str) -> String {
    serde_json::json!({"task_routing": {"filters": [], "default_filter": {"queue": queue}}})
        .to_string()
}

/// Builds `account`'s world over the API.
async fn world(api: &Api, account: &str) -> World {
    let ws = sid(&created(api, "/v1/Workspaces", &[("FriendlyName", "Matrix")]).await);
    let spare_ws = sid(&created(api, "/v1/Workspaces", &[("FriendlyName", "Spare")]).await);
    let at = format!("/v1/Workspaces/{ws}");
    let activities = api
        .get_json(&format!("{at}/Activities?FriendlyName=Available"))
        .await;
    let available = sid(&activities["activities"][0]);
    let spare_activity = sid(&created(
        api,
        &format!("{at}/Activities"),
        &[("FriendlyName", "Spare"), ("Available", "false")],
    )
    .await);
    let channel = created(
        api,
        &format!("{at}/TaskChannels"),
        &[("FriendlyName", "Main"), ("UniqueName", "main")],
    )
    .await;
    let spare_channel = created(
        api,
        &format!("{at}/TaskChannels"),
        &[("FriendlyName", "Spare"), ("UniqueName", "spare")],
    )
    .await;
    let queues = format!("{at}/TaskQueues");
    let queue = sid(&created(
        api,
        &queues,
        &[("FriendlyName", "Q"), ("TargetWorkers", "1 == 1")],
    )
    .await);
    let spare_queue = sid(&created(
        api,
        &queues,
        &[("FriendlyName", "Spare"), ("TargetWorkers", "1 == 2")],
    )
    .await);
    let config = configuration(&queue);
    let workflows = format!("{at}/Workflows");
    let workflow = sid(&created(
        api,
        &workflows,
        &[("FriendlyName", "WF"), ("Configuration", &config)],
    )
    .await);
    let spare_workflow = sid(&created(
        api,
        &workflows,
        &[("FriendlyName", "Spare"), ("Configuration", &config)],
    )
    .await);
    let workers = format!("{at}/Workers");
    let worker = sid(&created(
        api,
        &workers,
        &[("FriendlyName", "main"), ("ActivitySid", &available)],
    )
    .await);
    // Offline (the default activity): never reserved, so deleting it is always allowed.
    let spare_worker = sid(&created(api, &workers, &[("FriendlyName", "spare")]).await);
    let tasks = format!("{at}/Tasks");
    let task_form = [("WorkflowSid", workflow.as_str()), ("Attributes", "{}")];
    let task = sid(&created(api, &tasks, &task_form).await);
    let reservations = api
        .get_json(&format!("{at}/Tasks/{task}/Reservations"))
        .await;
    let reservation = sid(&reservations["reservations"][0]);
    let spare_task = sid(&created(api, &tasks, &task_form).await);
    let events = api.get_json(&format!("{at}/Events")).await;
    let event = sid(&events["events"][0]);
    // Numbers and applications: one of each and a spare, each world its own numbers.
    static NEXT_NUMBER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let voice = format!("/2010-04-01/Accounts/{account}");
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let n = NEXT_NUMBER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let phone = format!("+1555888{n:04}");
        let form = [("PhoneNumber", phone.as_str())];
        numbers.push(sid(&created(
            api,
            &format!("{voice}/IncomingPhoneNumbers.json"),
            &form,
        )
        .await));
    }
    let app_form = [("FriendlyName", "Matrix")];
    let application = sid(&created(api, &format!("{voice}/Applications.json"), &app_form).await);
    let spare_application =
        sid(&created(api, &format!("{voice}/Applications.json"), &app_form).await);
    let values = BTreeMap::from([
        ("workspace_sid", ws.clone()),
        ("ws", ws),
        ("activity_sid", available),
        ("task_channel_sid", sid(&channel)),
        ("task_channel", "default".to_string()),
        ("worker_sid", worker),
        ("task_queue_sid", queue.clone()),
        ("workflow_sid", workflow),
        ("task_sid", task),
        ("reservation_sid", reservation.clone()),
        ("event_sid", event),
        ("file", format!("{account}.json")),
        ("phone_number_file", format!("{}.json", numbers[0])),
        ("application_file", format!("{application}.json")),
        ("resource", "Bogus".to_string()),
        ("sid", spare_task.clone()),
        ("sub", "Bogus".to_string()),
        ("sub_sid", reservation),
        // No call is placed here: a call SID of the world's own, and a notification of none.
        ("call_sid", format!("CA{}", uuid::Uuid::now_v7().simple())),
        (
            "notification_file",
            format!("NO{}.json", uuid::Uuid::now_v7().simple()),
        ),
    ]);
    let spares = BTreeMap::from([
        ("workspace_sid", spare_ws),
        ("activity_sid", spare_activity),
        ("task_channel_sid", sid(&spare_channel)),
        ("worker_sid", spare_worker),
        ("task_queue_sid", spare_queue),
        ("workflow_sid", spare_workflow),
        ("task_sid", spare_task),
        ("phone_number_file", format!("{}.json", numbers[1])),
        ("application_file", format!("{spare_application}.json")),
    ]);
    World { values, spares }
}

/// Sends one request: status and body (JSON, or the text when it is not JSON).
async fn send(api: &Api, method: &Method, path: &str, form: &[(String, String)]) -> (u16, Value) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = match *method {
        Method::GET => api.get(path).await,
        Method::POST => api.post(path, &pairs).await,
        Method::DELETE => api.delete(path).await,
        _ => api.request_raw(method.clone(), path).await,
    };
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The log's head, as `/healthz` reports it.
async fn head(anonymous: &Api) -> Value {
    anonymous.get_json("/healthz").await["log_head"].clone()
}

/// `who` on `victim`'s world answers as on SIDs that exist nowhere, and writes nothing.
async fn as_missing(who: (&str, &Api), victim: (&str, &World), anonymous: &Api, cases: &[Case]) {
    let (caller, api) = who;
    let (owner, world) = victim;
    let (missing, pairs) = world.missing();
    for case in cases {
        let (path, form) = world.request(case);
        let what = format!("{caller} on {owner}'s {} {path}", case.method);
        match case.expect {
            Public | OwnCredentials | Operator => continue,
            Own => {
                let (_, body) = send(api, &case.method, &path, &form).await;
                let text = body.to_string();
                for (sid, _) in &pairs {
                    assert!(
                        !text.contains(sid),
                        "{what}: the answer names {sid}: {text}"
                    );
                }
                continue;
            }
            Reaches | NothingThere | Checked => {}
        }
        let before = head(anonymous).await;
        let (status, body) = send(api, &case.method, &path, &form).await;
        let after = head(anonymous).await;
        assert_eq!(
            before, after,
            "{what} wrote to the log (answer {status} {body})"
        );
        let (missing_path, missing_form) = missing.request(case);
        let (expected_status, expected) =
            send(api, &case.method, &missing_path, &missing_form).await;
        let mut text = body.to_string();
        for (sid, absent) in &pairs {
            text = text.replace(sid, absent);
            // A `{SID}.json` is named bare too (`{account_sid}`): swap that spelling as well.
            if let (Some(sid), Some(absent)) =
                (sid.strip_suffix(".json"), absent.strip_suffix(".json"))
            {
                text = text.replace(sid, absent);
            }
        }
        assert_eq!(
            (status, text),
            (expected_status, expected.to_string()),
            "{what}: answered differently from SIDs that do not exist"
        );
        assert_eq!(status, 404, "{what}: {body}");
    }
}

/// The parent on its subaccount's world: every route reaches it.
async fn parent_reaches(api: &Api, sub: &str, world: &World, cases: &[Case]) {
    for case in cases {
        let (path, form) = world.request(case);
        let what = format!("the parent on {sub}'s {} {path}", case.method);
        match case.expect {
            Public | Own | OwnCredentials | Operator => continue,
            NothingThere => {
                let (status, body) = send(api, &case.method, &path, &form).await;
                assert_eq!(status, 404, "{what}: {body}");
            }
            Checked => {
                let (status, body) = send(api, &case.method, &path, &form).await;
                assert_eq!(status, 400, "{what}: {body}");
            }
            Reaches => {
                let (status, body) = send(api, &case.method, &path, &form).await;
                assert!((200..300).contains(&status), "{what}: {status} {body}");
                if let Some(account) = body.get("account_sid") {
                    assert_eq!(account, sub, "{what}: rendered as another account: {body}");
                }
            }
        }
    }
}

/// Asserts 401 with Twilio's 20003 and that the log did not move.
async fn refused(what: &str, api: &Api, anonymous: &Api, case: &Case, world: &World) {
    let (path, form) = world.request(case);
    let before = head(anonymous).await;
    let (status, body) = send(api, &case.method, &path, &form).await;
    assert_eq!(
        (status, &body["code"], &body["status"]),
        (401, &Value::from(20003), &Value::from(401)),
        "{what} on {} {path}: {body}",
        case.method
    );
    assert_eq!(before, head(anonymous).await, "{what} on {path} wrote");
}

/// The operator routes take the operator token and nothing else; the operator token is no
/// account's credential on any other route.
async fn operator_routes_are_the_operators_only(
    accounts: &[(&str, &Api)],
    operator: (&str, &Api),
    anonymous: &Api,
    world: &World,
    cases: &[Case],
) {
    let (token, as_operator) = operator;
    for case in cases {
        match case.expect {
            Public => continue,
            Operator => {
                for (who, api) in accounts.iter().chain([&("nobody", anonymous)]) {
                    refused(who, api, anonymous, case, world).await;
                }
                let (path, form) = world.request(case);
                let (status, body) = send(as_operator, &case.method, &path, &form).await;
                assert!(
                    (200..300).contains(&status),
                    "the operator on {path}: {body}"
                );
            }
            _ => {
                // The operator's token as an account's password, and the operator's user.
                let owner = world.account_sid();
                let base = anonymous.base();
                let as_owner = Api::with_base(base, Some((owner, token)));
                refused(
                    "A's SID with the operator token",
                    &as_owner,
                    anonymous,
                    case,
                    world,
                )
                .await;
                refused("the operator", as_operator, anonymous, case, world).await;
            }
        }
    }
}

/// Every method a path's route does not take answers 405, so `ROUTES` names all it serves
/// (asked with credentials the route takes: authentication answers before routing does).
async fn unlisted_methods_are_refused(api: &Api, operator: &Api, world: &World) {
    for (path, methods) in routes::ROUTES {
        for method in ["GET", "POST", "DELETE", "PUT", "PATCH"] {
            if methods.iter().any(|m| m.as_str() == method) {
                continue;
            }
            let case = Case {
                method: Method::from_bytes(method.as_bytes()).expect("method"),
                path,
                form: &[],
                expect: Reaches,
            };
            let (concrete, _) = world.request(&case);
            let api = if path.starts_with("/operator/") {
                operator
            } else {
                api
            };
            let (status, body) = send(api, &case.method, &concrete, &[]).await;
            assert_eq!(
                status, 405,
                "{method} {concrete} is served but not in ROUTES: {body}"
            );
        }
    }
}

async fn subaccount(api: &Api, name: &str) -> Creds {
    let v = created(api, "/2010-04-01/Accounts.json", &[("FriendlyName", name)]).await;
    Creds {
        sid: sid(&v),
        token: v["auth_token"].as_str().expect("auth_token").to_string(),
    }
}

#[tokio::test]
async fn every_route_answers_another_tenants_sid_as_a_missing_one_and_a_parent_reaches_its_subaccounts(
) {
    let cases = cases();
    let dir = DataDir::new("tenancy");
    let a = create_account(dir.path(), "A");
    let b = create_account(dir.path(), "B");
    let server = Server::start(dir.path());
    let anonymous = Api::with_auth(&server, None);
    let as_a = Api::new(&server, &a);
    let as_b = Api::new(&server, &b);
    let a1 = subaccount(&as_a, "A1").await;
    let a2 = subaccount(&as_a, "A2").await;
    let as_a1 = Api::new(&server, &a1);
    let as_a2 = Api::new(&server, &a2);
    let world_a = world(&as_a, &a.sid).await;
    let world_a1 = world(&as_a1, &a1.sid).await;
    let world_a2 = world(&as_a2, &a2.sid).await;

    let token = switchboard::operator::token::current(&dir.path().join("operator.token"))
        .expect("serve created the operator token file");
    let as_operator = Api::with_auth(&server, Some(("operator", &token)));
    unlisted_methods_are_refused(&as_a, &as_operator, &world_a).await;
    as_missing(("B", &as_b), ("A", &world_a), &anonymous, &cases).await;
    as_missing(("A1", &as_a1), ("A", &world_a), &anonymous, &cases).await;
    as_missing(("A1", &as_a1), ("A2", &world_a2), &anonymous, &cases).await;
    as_missing(("B", &as_b), ("A1", &world_a1), &anonymous, &cases).await;
    parent_reaches(&as_a, &a1.sid, &world_a1, &cases).await;
    operator_routes_are_the_operators_only(
        &[("A", &as_a), ("A1", &as_a1), ("B", &as_b)],
        (&token, &as_operator),
        &anonymous,
        &world_a,
        &cases,
    )
    .await;
}
