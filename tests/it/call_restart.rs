//! Restart: `kill -9` of the server with calls up, a restart on the same data dir and SIP
//! port, and what the calls then look like. Every call stream ends with exactly one
//! `call.completed` (read from the log itself): `completed` for the answered calls, `failed`
//! for those still ringing; the peers of the answered calls get a BYE and answer it (SIPp
//! counts a call successful only once its BYE came and was answered); a second restart
//! appends nothing.

use crate::telephony::{own_number, read_calls, scenario, spawn_sipp, types, Telephony, WAIT};
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
        ],
        &[],
    );
    own_number(
        t.server(),
        &t.account,
        RINGING_NUMBER,
        &t.app.url("/ring"),
        None,
    );
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
