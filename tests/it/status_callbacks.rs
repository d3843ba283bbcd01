//! Status callbacks, black box: the real server with its SIP engine answers SIPp callers on
//! numbers whose `StatusCallback` is the test's application, and each call's callbacks
//! arrive there through the outbox: exactly one `completed` per call (a number's callback
//! gets `completed` only), with Twilio's parameters, by POST or GET, every request accepted
//! by the official Python `RequestValidator` (a tampered copy refused); and a callback the
//! application has not taken yet when the server is killed with SIGKILL is delivered after
//! the restart, once. A call placed with `POST /Calls` to a SIPp callee that rings, answers
//! and hangs up, subscribed to all four events, gets `initiated`, `ringing`, `answered` (as
//! `in-progress`) and `completed` with `SequenceNumber` 0..3 in that order.

use crate::signature::validate_with_twilio;
use crate::telephony::{free_sip_port, run_sipp, scenario, spawn_sipp, WAIT};
use crate::{create_account, Api, Creds, DataDir, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchboard::bench::voice_app::{Received, Reply, TwimlApp};

/// The number whose callbacks are POSTed, and the one whose callbacks are GET requests.
const POSTED: &str = "+15550100011";
const GOT: &str = "+15550100012";

/// A server with its SIP engine, an account, and the application (`/voice` waits for the
/// caller; `/status` answers `status`).
struct Fixture {
    dir: DataDir,
    server: Option<Server>,
    sip_addr: String,
    app: TwimlApp,
    account: Creds,
}

impl Fixture {
    fn start(tag: &str, status: Reply) -> Fixture {
        let dir = DataDir::new(tag);
        let account = create_account(dir.path(), "Callbacks");
        let sip_addr = format!("127.0.0.1:{}", free_sip_port());
        let server = Server::start_with(dir.path(), &["--sip-addr", &sip_addr]);
        let app = TwimlApp::start(&[("/voice", Reply::twiml(WAIT)), ("/status", status)])
            .expect("the application starts");
        Fixture {
            dir,
            server: Some(server),
            sip_addr,
            app,
            account,
        }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the server runs")
    }

    /// Buys `number` with the application's `/voice` and `status_callback` (sent with
    /// `method`), and waits until the numbers read model has it (the SIP engine routes by it).
    fn buy(&self, number: &str, status_callback: &str, method: &str) {
        let voice = self.app.url("/voice");
        let account = &self.account.sid;
        let api = Api::new(self.server(), &self.account);
        let path = format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json");
        let form = [
            ("PhoneNumber", number),
            ("VoiceUrl", voice.as_str()),
            ("StatusCallback", status_callback),
            ("StatusCallbackMethod", method),
        ];
        self.app.block_on(async {
            let response = api.post(&path, &form).await;
            assert_eq!(response.status(), 201, "the number is bought");
            let query = format!("{path}?PhoneNumber={}", number.replace('+', "%2B"));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let page = api.get_json(&query).await;
                let listed = &page["incoming_phone_numbers"][0];
                if listed["status_callback"] == status_callback {
                    assert_eq!(listed["status_callback_method"], method, "{listed}");
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the number never appears: {page}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }

    /// One SIPp call to `number`, answered and held for a second, then SIPp's BYE.
    fn call(&self, number: &str) {
        let run = run_sipp(
            &self.sip_addr,
            &["-sn", "uac", "-s", number, "-m", "1", "-d", "1000"],
            Duration::from_secs(30),
        );
        assert_eq!(run.code, Some(0), "the call succeeds\n{}", run.describe());
    }

    /// The call SID the application was asked about for a call to `number`.
    fn call_sid(&self, number: &str) -> String {
        let asked = self.app.received_at("/voice");
        let asked = asked
            .iter()
            .find(|r| r.param("To") == Some(number))
            .unwrap_or_else(|| panic!("the application was asked about the call to {number}"));
        asked.param("CallSid").expect("CallSid").to_string()
    }

    /// The status callbacks for `call_sid` so far.
    fn of_call(&self, call_sid: &str) -> Vec<Received> {
        self.app
            .received_at("/status")
            .into_iter()
            .filter(|r| r.param("CallSid") == Some(call_sid))
            .collect()
    }

    /// Waits until `n` status callbacks for `call_sid` arrived (failing after 20 s).
    fn wait_for(&self, call_sid: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.of_call(call_sid).len() < n {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} callbacks for {call_sid}: {:?}",
                self.of_call(call_sid)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The status callbacks for `call_sid` once `n` arrived, after a quiet moment in which
    /// more could have come.
    fn callbacks(&self, call_sid: &str, n: usize) -> Vec<Received> {
        self.wait_for(call_sid, n);
        std::thread::sleep(Duration::from_millis(1500));
        self.of_call(call_sid)
    }

    /// SIGKILL.
    fn kill9(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill9();
        }
    }

    /// A new server on the same data directory.
    fn restart(&mut self) {
        self.sip_addr = format!("127.0.0.1:{}", free_sip_port());
        self.server = Some(Server::start_with(
            self.dir.path(),
            &["--sip-addr", &self.sip_addr],
        ));
    }
}

/// The `RequestValidator` case for `r` (a POST's form as its parameters; a GET's whole URL
/// with no parameters), signed by `token`.
fn case(app: &TwimlApp, token: &str, r: &Received) -> Value {
    let signature = r
        .headers
        .get("x-twilio-signature")
        .cloned()
        .unwrap_or_default();
    let params: Vec<[&str; 2]> = if r.method == "POST" {
        r.params
            .iter()
            .map(|(k, v)| [k.as_str(), v.as_str()])
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "token": token,
        "url": app.url(&r.uri),
        "params": params,
        "body": null,
        "signature": signature,
    })
}

/// Every request validates with `token`; a copy with one value changed does not.
fn assert_signed(app: &TwimlApp, token: &str, received: &[Received]) {
    let mut cases: Vec<Value> = received.iter().map(|r| case(app, token, r)).collect();
    for r in received {
        let mut tampered = r.clone();
        if r.method == "POST" {
            tampered.params[0].1.push('x');
        } else {
            tampered.uri.push_str("&CallStatus=x");
        }
        cases.push(case(app, token, &tampered));
    }
    let verdicts = validate_with_twilio(&cases);
    let n = received.len();
    assert_eq!(
        verdicts[..n],
        vec![true; n],
        "every callback validates: {cases:?}"
    );
    assert_eq!(
        verdicts[n..],
        vec![false; n],
        "every tampered copy is refused"
    );
}

/// The parameters of a number's `completed` callback for an inbound call to `number` that
/// was answered, held about a second and hung up by the caller.
fn assert_completed(r: &Received, call_sid: &str, account: &str, number: &str) {
    let p = |name: &str| r.param(name).unwrap_or_else(|| panic!("no {name}: {r:?}"));
    assert_eq!(p("CallSid"), call_sid);
    assert_eq!(p("AccountSid"), account);
    assert_eq!(p("To"), number);
    assert_eq!(p("Called"), number);
    assert_eq!(p("CallStatus"), "completed");
    assert_eq!(p("Direction"), "inbound");
    assert_eq!(p("ApiVersion"), "2010-04-01");
    assert_eq!(p("CallbackSource"), "call-progress-events");
    assert_eq!(
        p("SequenceNumber"),
        "0",
        "a number's first and only callback"
    );
    let seconds: u64 = p("CallDuration").parse().expect("CallDuration in seconds");
    assert!((1..=3).contains(&seconds), "held about a second: {seconds}");
    assert_eq!(p("Duration"), "1", "one billable minute");
    assert_eq!(p("SipResponseCode"), "200");
    let at = chrono::DateTime::parse_from_rfc2822(p("Timestamp")).expect("RFC 2822");
    let age = chrono::Utc::now().signed_duration_since(at);
    assert!(
        age < chrono::Duration::seconds(120) && p("Timestamp").ends_with(" +0000"),
        "{}",
        p("Timestamp")
    );
    assert!(r.param("ParentCallSid").is_none(), "not a child leg");
}

#[test]
fn a_numbers_status_callback_gets_one_signed_completed_per_call_by_post_and_by_get() {
    let mut f = Fixture::start("status-callbacks", Reply::status(204));
    let posted = f.app.url("/status?n=1");
    let got = f.app.url("/status");
    f.buy(POSTED, &posted, "POST");
    f.buy(GOT, &got, "GET");
    f.call(POSTED);
    f.call(GOT);
    let account = f.account.sid.clone();

    let post_sid = f.call_sid(POSTED);
    let by_post = f.callbacks(&post_sid, 1);
    assert_eq!(by_post.len(), 1, "exactly one callback: {by_post:?}");
    assert_eq!(by_post[0].method, "POST");
    assert_eq!(
        by_post[0].uri, "/status?n=1",
        "the URL as configured, query kept"
    );
    assert_completed(&by_post[0], &post_sid, &account, POSTED);

    let get_sid = f.call_sid(GOT);
    let by_get = f.callbacks(&get_sid, 1);
    assert_eq!(by_get.len(), 1, "exactly one callback: {by_get:?}");
    assert_eq!(by_get[0].method, "GET");
    assert!(
        by_get[0].uri.starts_with("/status?CallSid="),
        "the parameters in the query: {}",
        by_get[0].uri
    );
    assert_completed(&by_get[0], &get_sid, &account, GOT);

    let all: Vec<Received> = by_post.into_iter().chain(by_get).collect();
    assert_signed(&f.app, &f.account.token, &all);
    assert!(
        f.server.take().expect("server").terminate(),
        "the server stops cleanly"
    );
}

#[test]
fn a_callback_not_taken_before_kill_9_is_delivered_once_after_the_restart() {
    // 503 until the kill; `#rp=5xx&rc=5` keeps the row retrying within its 15 s budget.
    let mut f = Fixture::start("status-callbacks-kill9", Reply::status(503));
    f.buy(POSTED, &f.app.url("/status#rp=5xx&rc=5"), "POST");
    f.call(POSTED);
    let call_sid = f.call_sid(POSTED);
    f.wait_for(&call_sid, 1);
    f.kill9();
    // Whatever the killed server had sent has arrived by now.
    std::thread::sleep(Duration::from_millis(300));
    let refused = f.of_call(&call_sid).len();
    f.app.set("/status", Reply::status(204));
    f.restart();
    let all = f.callbacks(&call_sid, refused + 1);
    assert_eq!(
        all.len(),
        refused + 1,
        "after the restart the row is delivered once, then leaves the outbox"
    );
    let token = |r: &Received| r.headers.get("i-twilio-idempotency-token").cloned();
    assert!(
        all.iter()
            .all(|r| token(r).is_some() && token(r) == token(&all[0]) && r.params == all[0].params),
        "every attempt is the same callback: {all:?}"
    );
    assert_completed(&all[0], &call_sid, &f.account.sid, POSTED);
    assert_signed(&f.app, &f.account.token, &all);
    assert!(
        f.server.take().expect("server").terminate(),
        "the restarted server stops cleanly"
    );
}

#[test]
fn a_placed_call_subscribed_to_all_four_events_gets_them_numbered_0_to_3() {
    let mut f = Fixture::start("status-callbacks-placed", Reply::status(204));
    // The callee rings for half a second, answers, stays half a second and hangs up.
    let ring_answer = scenario("uas_ring_answer.xml");
    let callee = spawn_sipp(
        None,
        &[
            "-sf",
            ring_answer.to_str().expect("utf-8"),
            "-m",
            "1",
            "-d",
            "500",
        ],
    );
    let account = f.account.sid.clone();
    let api = Api::new(f.server(), &f.account);
    let to = callee.uri("callee");
    let voice = f.app.url("/voice");
    let status = f.app.url("/status");
    let form = [
        ("To", to.as_str()),
        ("From", "+15550100099"),
        ("Url", voice.as_str()),
        ("StatusCallback", status.as_str()),
        ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "answered"),
        ("StatusCallbackEvent", "completed"),
    ];
    let path = format!("/2010-04-01/Accounts/{account}/Calls.json");
    let placed: Value = f.app.block_on(async {
        let response = api.post(&path, &form).await;
        assert_eq!(response.status(), 201, "the call is placed");
        response.json().await.expect("the call as JSON")
    });
    let call_sid = placed["sid"].as_str().expect("sid").to_string();
    let run = callee.wait(Duration::from_secs(30));
    assert_eq!(
        run.code,
        Some(0),
        "the callee's call succeeds\n{}",
        run.describe()
    );

    let got = f.callbacks(&call_sid, 4);
    let progress: Vec<(&str, &str)> = got
        .iter()
        .map(|r| {
            (
                r.param("CallStatus").unwrap_or("?"),
                r.param("SequenceNumber").unwrap_or("?"),
            )
        })
        .collect();
    // One call's callbacks go out one at a time, in order: they also arrive in order.
    assert_eq!(
        progress,
        [
            ("initiated", "0"),
            ("ringing", "1"),
            ("in-progress", "2"),
            ("completed", "3")
        ]
    );
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(r.param("Direction"), Some("outbound-api"));
        assert_eq!(r.param("CallbackSource"), Some("call-progress-events"));
        assert_eq!(r.param("AccountSid"), Some(account.as_str()));
    }
    let done = &got[3];
    assert_eq!(done.param("SipResponseCode"), Some("200"));
    assert_eq!(
        done.param("CallDuration"),
        Some("1"),
        "half a second, rounded up"
    );
    assert_eq!(done.param("Duration"), Some("1"));
    assert!(got[..3].iter().all(|r| r.param("CallDuration").is_none()));
    assert_signed(&f.app, &f.account.token, &got);
    assert!(
        f.server.take().expect("server").terminate(),
        "the server stops cleanly"
    );
}
