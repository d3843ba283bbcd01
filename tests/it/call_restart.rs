//! Restart: `kill -9` of the server with calls up, a restart on the same data dir and SIP
//! port, and what the calls then look like. Every call stream ends with exactly one
//! `call.completed` (read from the log itself): `completed` for the answered calls, `failed`
//! for those still ringing; the peers of the answered calls get a BYE and answer it (SIPp
//! counts a call successful only once its BYE came and was answered); every `completed`
//! status callback is delivered by the restarted server; a second restart appends nothing.

use crate::telephony::{own_number, read_calls, scenario, spawn_sipp, types, Telephony, WAIT};
use crate::Api;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use switchboard::bench::voice_app::Reply;

/// A second number, whose application waits a minute before answering: its calls ring.
const RINGING_NUMBER: &str = "+15550100002";
const RING: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="60"/><Say>too late</Say></Response>"#;

/// Waits until `count` requests reached the application at `path`.
fn wait_for_requests(t: &Telephony, path: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.app.received_at(path).len() < count {
        assert!(
            Instant::now() < deadline,
            "{count} calls never reached {path}: {}",
            t.app.received_at(path).len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the running server's `/metrics` says `switchboard_recoveries_total` is at
/// least `runs`: its recovery has ended the calls and its BYEs are answered or given up.
fn wait_for_recovery(t: &Telephony, runs: u64) {
    let url = format!("{}/metrics", t.http_base());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = t.app.block_on(async {
            match reqwest::get(&url).await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        });
        let done = text
            .lines()
            .find_map(|l| l.strip_prefix("switchboard_recoveries_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if done >= runs as f64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "recovery never finished:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Points `number`'s `StatusCallback` at the application's `/status` (a number's callback
/// gets `completed` only), and waits until the numbers read model, which routes calls, has it.
fn watch_status(t: &Telephony, number: &Value) {
    let sid = number["sid"].as_str().expect("number sid");
    let path = format!(
        "/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{sid}.json",
        t.account.sid
    );
    let callback = t.app.url("/status");
    t.app.block_on(async {
        let api = Api::new(t.server(), &t.account);
        let response = api
            .post(&path, &[("StatusCallback", callback.as_str())])
            .await;
        assert_eq!(response.status(), 200, "the number is updated");
        let deadline = Instant::now() + Duration::from_secs(10);
        while api.get_json(&path).await["status_callback"] != callback.as_str() {
            assert!(
                Instant::now() < deadline,
                "the number's StatusCallback never shows"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

/// Waits until every call in `expected` (SID → final `CallStatus`) had its `completed`
/// status callback delivered, and checks each says how the call ended.
fn wait_for_callbacks(t: &Telephony, expected: &BTreeMap<String, &str>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delivered: BTreeMap<String, String> = t
            .app
            .received_at("/status")
            .iter()
            .filter_map(|r| {
                Some((
                    r.param("CallSid")?.to_string(),
                    r.param("CallStatus")?.to_string(),
                ))
            })
            .collect();
        if expected.keys().all(|sid| delivered.contains_key(sid)) {
            for (sid, status) in expected {
                assert_eq!(delivered[sid], *status, "{sid}'s completed callback");
            }
            return;
        }
        assert!(
            Instant::now() < deadline,
            "completed callbacks missing: delivered {delivered:?}, expected {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `call.completed` events of a call stream.
fn ends(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "call.completed")
        .map(|e| &e["data"])
        .collect()
}

/// Stops the server (SIGTERM) and reads every call stream.
fn stop_and_read(t: &mut Telephony) -> BTreeMap<String, Vec<Value>> {
    t.stop_and_read_calls()
}

#[test]
fn calls_live_when_the_server_is_killed_end_once_after_restart_and_their_peers_get_a_bye() {
    let mut t = Telephony::start_app(
        "restart-calls",
        &[
            ("/voice", Reply::twiml(WAIT)),
            ("/ring", Reply::twiml(RING)),
            ("/status", Reply::status(204)),
        ],
        &[],
    );
    let ringing_number = own_number(
        t.server(),
        &t.account,
        RINGING_NUMBER,
        &t.app.url("/ring"),
        None,
    );
    watch_status(&t, &ringing_number);
    let number = t.app.block_on(async {
        let api = Api::new(t.server(), &t.account);
        let list = api
            .get_json(&format!(
                "/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json?PhoneNumber=%2B15550100001",
                t.account.sid
            ))
            .await;
        list["incoming_phone_numbers"][0].clone()
    });
    watch_status(&t, &number);
    // Three callers answered and waiting (each SIPp call succeeds only when our BYE comes
    // and SIPp answers it 200), two still ringing.
    let wait_bye = scenario("uac_wait_bye.xml");
    let wait_bye = wait_bye.to_str().expect("path");
    let target = t.target();
    let answered = spawn_sipp(
        Some(&target),
        &["-sf", wait_bye, "-m", "3", "-l", "3", "-r", "10"],
    );
    let ringing = spawn_sipp(
        Some(&target),
        &[
            "-sf",
            wait_bye,
            "-s",
            RINGING_NUMBER,
            "-m",
            "2",
            "-l",
            "2",
            "-r",
            "10",
        ],
    );
    wait_for_requests(&t, "/voice", 3);
    wait_for_requests(&t, "/ring", 2);
    // The answer, the ACK and the dialog's record follow the fetch within milliseconds.
    std::thread::sleep(Duration::from_millis(1500));
    t.kill9();

    // Before the restart: five calls, none ended, the answered ones with their dialog.
    let before = read_calls(t.dir.path());
    assert_eq!(before.len(), 5, "five calls: {:?}", before.keys());
    let answered_sids: Vec<&String> = before
        .iter()
        .filter(|(_, events)| types(events).contains(&"call.answered"))
        .map(|(sid, _)| sid)
        .collect();
    assert_eq!(answered_sids.len(), 3, "three answered before the kill");
    for (sid, events) in &before {
        assert!(
            ends(events).is_empty(),
            "{sid} ended before the kill: {:?}",
            types(events)
        );
        if answered_sids.contains(&sid) {
            assert!(
                types(events).contains(&"call.dialog.recorded"),
                "{sid}'s dialog is recorded once it is confirmed: {:?}",
                types(events)
            );
        }
    }

    t.restart();
    let run = answered.wait(Duration::from_secs(60));
    assert_eq!(
        run.stat("SuccessfulCall(C)"),
        3,
        "each answered caller got a BYE and answered it: {}",
        run.describe()
    );
    wait_for_recovery(&t, 1);
    ringing.kill();
    // The restarted server's runner delivers each recovered end's `completed` callback.
    let expected: BTreeMap<String, &str> = before
        .keys()
        .map(|sid| {
            let status = if answered_sids.contains(&sid) {
                "completed"
            } else {
                "failed"
            };
            (sid.clone(), status)
        })
        .collect();
    wait_for_callbacks(&t, &expected);
    let after = stop_and_read(&mut t);
    assert_eq!(after.len(), 5, "no call appeared or vanished");
    for (sid, events) in &after {
        let end = ends(events);
        assert_eq!(end.len(), 1, "{sid} ends exactly once: {:?}", types(events));
        assert_eq!(
            events.last().map(|e| &e["type"]),
            Some(&Value::from("call.completed")),
            "{sid}: nothing after the end"
        );
        let end = end[0];
        assert_eq!(end["reason"], "the node carrying the call stopped", "{end}");
        assert_eq!(end["hung_up_by"], "local", "{end}");
        if answered_sids.contains(&sid) {
            assert_eq!(end["status"], "completed", "{sid}: {end}");
            assert_eq!(end["sip_code"], 200, "{end}");
        } else {
            assert_eq!(end["status"], "failed", "{sid}: {end}");
            assert_eq!(end["sip_code"], 500, "{end}");
            assert_eq!(end["duration_ms"], 0, "{end}");
        }
    }

    // A second restart finds nothing live and appends nothing.
    t.restart();
    wait_for_recovery(&t, 1);
    let again = stop_and_read(&mut t);
    let count = |calls: &BTreeMap<String, Vec<Value>>| calls.values().map(Vec::len).sum::<usize>();
    assert_eq!(
        count(&again),
        count(&after),
        "the second restart appended nothing"
    );
}

#[test]
fn a_bridged_call_killed_mid_call_gets_a_bye_on_both_legs_after_restart() {
    // The far end answers and waits for a BYE (SIPp's built-in uas); the caller too.
    let callee = spawn_sipp(None, &["-sn", "uas", "-m", "1"]);
    let dial = format!(
        "<Response><Dial><Sip>{}</Sip></Dial></Response>",
        callee.uri("agent")
    );
    let mut t = Telephony::start_app("restart-bridge", &[("/voice", Reply::twiml(&dial))], &[]);
    let wait_bye = scenario("uac_wait_bye.xml");
    let caller = spawn_sipp(
        Some(&t.target()),
        &["-sf", wait_bye.to_str().expect("path"), "-m", "1"],
    );
    wait_for_requests(&t, "/voice", 1);
    // Until both legs are answered and their dialogs recorded (loopback: milliseconds).
    std::thread::sleep(Duration::from_millis(1500));
    t.kill9();
    let before = read_calls(t.dir.path());
    assert_eq!(before.len(), 2, "the caller's call and the <Dial> leg");
    for (sid, events) in &before {
        assert!(
            types(events).contains(&"call.dialog.recorded"),
            "{sid} (as UAS and as UAC) recorded its dialog: {:?}",
            types(events)
        );
        assert!(ends(events).is_empty(), "{sid} ended before the kill");
    }
    let roles: Vec<&Value> = before
        .values()
        .flat_map(|events| events.iter())
        .filter(|e| e["type"] == "call.dialog.recorded")
        .map(|e| &e["data"]["role"])
        .collect();
    assert!(
        roles.contains(&&Value::from("uas")) && roles.contains(&&Value::from("uac")),
        "{roles:?}"
    );

    t.restart();
    let caller = caller.wait(Duration::from_secs(60));
    assert_eq!(caller.stat("SuccessfulCall(C)"), 1, "{}", caller.describe());
    let callee = callee.wait(Duration::from_secs(60));
    assert_eq!(callee.stat("SuccessfulCall(C)"), 1, "{}", callee.describe());
    wait_for_recovery(&t, 1);
    let after = stop_and_read(&mut t);
    for (sid, events) in &after {
        let end = ends(events);
        assert_eq!(end.len(), 1, "{sid}: {:?}", types(events));
        assert_eq!(end[0]["status"], "completed", "{sid}: {}", end[0]);
    }
}
