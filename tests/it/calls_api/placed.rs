//! MUST-SHOW: a call placed, steered and hung up with the official twilio library
//! (`tests/sdk/calls_placed.py`) against a server with its SIP engine, answered by a SIPp
//! `uas`: `calls.create(to="sip:…", from_, url, status_callback, status_callback_event=[all
//! four])`; `calls(sid).update(twiml=…)` changes what the live call hears (the new TwiML
//! `<Play>`s a tone the callee did not hear before, found by sox in tshark's capture of the
//! RTP to SIPp, then `<Redirect>`s, which the application gets); `update(status="completed")` hangs it
//! up (SIPp gets our BYE); `calls.list(status=…)` and `fetch()` return the documented fields
//! (checked against the OpenAPI document too); the status callbacks' `SequenceNumber`s run
//! 0..3 (`initiated`, `ringing`, `in-progress`, `completed`) and every one validates with the
//! library's `RequestValidator`.

use super::{assert_call_shape, assert_list_shape, openapi};
use crate::sdk::run_sdk_script_with;
use crate::telephony::{spawn_sipp, types, Telephony};
use crate::voice::audio::{beeps, heard, locate, samples};
use crate::voice::capture::Capture;
use crate::Api;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchboard::bench::voice_app::{Received, Reply};

/// What the call runs first: it waits for the caller.
const WAIT: &str = r#"<Response><Pause length="60"/></Response>"#;

/// Waits (bounded) until the application received `n` requests at `path`.
fn wait_requests(t: &Telephony, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
    let deadline = Instant::now() + timeout;
    loop {
        let got = t.app.received_at(path);
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{path} got {} request(s), not {n}: {:?}",
            got.len(),
            t.app.received()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn stage(t: &Telephony, stage: &str, extra: &[(&str, &str)]) -> String {
    let voice = t.app.url("/voice");
    let after = t.app.url("/after");
    let status = t.app.url("/status");
    let play = t.app.url("/steered.wav");
    let mut env = vec![
        ("SWITCHBOARD_PLAY_URL", play.as_str()),
        ("SWITCHBOARD_STAGE", stage),
        ("SWITCHBOARD_VOICE_URL", voice.as_str()),
        ("SWITCHBOARD_AFTER_URL", after.as_str()),
        ("SWITCHBOARD_STATUS_URL", status.as_str()),
    ];
    env.extend_from_slice(extra);
    run_sdk_script_with(
        "calls_placed.py",
        t.server(),
        &t.account.sid,
        &t.account.token,
        &env,
    )
}

fn printed(out: &str, name: &str) -> String {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("calls_placed.py printed no {name}: {out}"))
        .to_string()
}

#[test]
fn the_twilio_library_places_steers_and_hangs_up_a_call_answered_by_sipp() {
    let scratch = tempfile::tempdir().expect("dir");
    let d = scratch.path();
    // What the steered call plays: beeps of three pitches, a shape silence cannot match.
    let tone = beeps(
        d,
        "steered",
        &[(440, 250), (0, 150), (880, 400), (0, 150), (660, 300)],
    );
    let callee = spawn_sipp(None, &["-sn", "uas", "-m", "1"]);
    let to_callee = Capture::start(d, callee.media_port);
    let mut t = Telephony::bare(
        "calls-placed",
        &[
            (
                "/steered.wav",
                Reply::wav(std::fs::read(&tone).expect("tone")),
            ),
            ("/voice", Reply::twiml(WAIT)),
            ("/after", Reply::twiml(WAIT)),
            ("/status", Reply::twiml("<Response/>")),
        ],
        &[],
    );
    let to = callee.uri("uas");
    let out = stage(&t, "place", &[("SWITCHBOARD_TO", to.as_str())]);
    let sid = printed(&out, "call");
    // The first TwiML was fetched once answered; the update's `<Redirect>` reached /after.
    let voice = wait_requests(&t, "/voice", 1, Duration::from_secs(10));
    assert_eq!(voice[0].param("CallSid"), Some(sid.as_str()));
    assert_eq!(voice[0].param("CallStatus"), Some("in-progress"));
    assert_eq!(voice[0].param("Direction"), Some("outbound-api"));
    let after = wait_requests(&t, "/after", 1, Duration::from_secs(10));
    assert_eq!(after[0].param("CallSid"), Some(sid.as_str()));
    // What the callee heard: the first TwiML's silence, then the update's tone (µ-law, the
    // codec SIPp's uas answers with), decoded by sox from tshark's capture.
    let pcap = to_callee.stop();
    let reference = samples(&tone);
    locate(&heard(&pcap, d, "at-callee"), &reference)
        .assert_matches("the updated TwiML's <Play> at the callee");

    stage(&t, "hangup", &[("SWITCHBOARD_CALL", sid.as_str())]);
    let run = callee.wait(Duration::from_secs(15));
    assert_eq!(run.stat("SuccessfulCall(C)"), 1, "{}", run.describe());

    // The documented fields, against the OpenAPI document.
    let doc = openapi();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let api = Api::new(t.server(), &t.account);
    let base = format!("/2010-04-01/Accounts/{}", t.account.sid);
    let (call, list) = runtime.block_on(async {
        let call = api.get_json(&format!("{base}/Calls/{sid}.json")).await;
        let list = api
            .get_json(&format!("{base}/Calls.json?Status=completed"))
            .await;
        (call, list)
    });
    assert_call_shape(&doc, &call, "placed call");
    assert_list_shape(&doc, &list);
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["to"], to.as_str());
    assert!(
        call["duration"]
            .as_str()
            .is_some_and(|d| d.parse::<u64>().is_ok()),
        "{call}"
    );
    assert_eq!(list["calls"][0]["sid"], sid.as_str());

    // Status callbacks: the four asked for, numbered 0..3, each signed.
    let callbacks = wait_requests(&t, "/status", 4, Duration::from_secs(20));
    let seen: Vec<(Option<&str>, Option<&str>)> = callbacks
        .iter()
        .map(|r| (r.param("SequenceNumber"), r.param("CallStatus")))
        .collect();
    let mut ordered = seen.clone();
    ordered.sort_by_key(|(n, _)| n.and_then(|n| n.parse::<u32>().ok()));
    assert_eq!(
        ordered,
        [
            (Some("0"), Some("initiated")),
            (Some("1"), Some("ringing")),
            (Some("2"), Some("in-progress")),
            (Some("3"), Some("completed")),
        ],
        "{callbacks:?}"
    );
    for r in &callbacks {
        assert_eq!(r.param("CallSid"), Some(sid.as_str()));
        assert_eq!(r.param("CallbackSource"), Some("call-progress-events"));
    }
    let signed: Vec<Value> = callbacks
        .iter()
        .map(|r| {
            json!({
                "url": t.app.url(&r.uri),
                "params": r.params.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "signature": r.headers.get("x-twilio-signature"),
            })
        })
        .collect();
    let signed = Value::Array(signed).to_string();
    stage(&t, "validate", &[("SWITCHBOARD_SIGNED", signed.as_str())]);

    // The call's stream: placed, rang, answered, ended once.
    let streams = t.stop_and_read_calls();
    let events = streams.get(&sid).expect("the call's stream");
    let kinds = types(events);
    assert_eq!(kinds.first(), Some(&"call.initiated"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "call.completed").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"call.completed"), "{kinds:?}");
    assert!(kinds.contains(&"call.answered"), "{kinds:?}");
}
