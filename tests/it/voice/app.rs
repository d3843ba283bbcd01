//! The voice application of the tests: `tests/voice/app.py`, run with the official twilio
//! library, started on port 0 with an account's auth token and killed on drop.
//!
//! The invariant it protects: every webhook the server sends is checked by Twilio's own
//! `RequestValidator` against the exact URL requested, and a test can see each verdict
//! ([`VoiceApp::assert_every_webhook_signed`]), so one bad signature fails the test.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What `/voice` says before its Gather.
pub(crate) const WELCOME: &str = "welcome to switchboard";
/// The Gather's nested Say on `/voice`.
pub(crate) const PROMPT: &str = "please press a key";
/// What `/fallback` says before it hangs up.
pub(crate) const FALLBACK_SAY: &str = "the fallback answered";
/// What `/silent-gather` says when its Gather got no input.
pub(crate) const NO_INPUT: &str = "no input";

/// The Python with the twilio library: `SWITCHBOARD_TEST_PYTHON` (set by `scripts/test.sh`),
/// else the venv that script builds under target/.
pub(crate) fn python() -> String {
    if let Ok(p) = std::env::var("SWITCHBOARD_TEST_PYTHON") {
        return p;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python");
    assert!(
        venv.exists(),
        "SWITCHBOARD_TEST_PYTHON is not set and {} does not exist: run ./scripts/test.sh, \
         which builds a venv with the twilio library",
        venv.display()
    );
    venv.display().to_string()
}

/// How to start the application.
#[derive(Clone, Debug)]
pub(crate) struct AppOptions {
    /// The account's auth token: what `RequestValidator` checks signatures with.
    pub auth_token: String,
    /// `numDigits` of `/voice`'s Gather.
    pub num_digits: u32,
    /// Files served by name (`tone.wav`, `speech.wav`) as plain unsigned GETs.
    pub files: Vec<(String, PathBuf)>,
}

impl AppOptions {
    /// One digit, serving `tone` as `/tone.wav` and `speech` as `/speech.wav`.
    pub(crate) fn new(auth_token: &str, tone: &Path, speech: &Path) -> AppOptions {
        AppOptions {
            auth_token: auth_token.to_string(),
            num_digits: 1,
            files: vec![
                ("tone.wav".to_string(), tone.to_path_buf()),
                ("speech.wav".to_string(), speech.to_path_buf()),
            ],
        }
    }
}

/// One request the application received, as `/__log` reports it.
#[derive(Clone, Debug)]
pub(crate) struct AppRequest {
    pub path: String,
    pub method: String,
    /// The URL the signature was checked against: `http://Host` + the request target.
    pub url: String,
    pub query: String,
    /// Form parameters of a POST, query parameters of a GET (the last value of a repeat).
    pub params: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    /// `X-Twilio-Signature`, when sent.
    pub signature: Option<String>,
    /// `RequestValidator(auth_token).validate(url, params, signature)`.
    pub signature_valid: bool,
    /// False for the media files (`<Play>` fetches are not signed).
    pub webhook: bool,
}

impl AppRequest {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    fn from_json(v: &Value) -> AppRequest {
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let map = |k: &str| -> BTreeMap<String, String> {
            v[k].as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default()
        };
        AppRequest {
            path: text("path"),
            method: text("method"),
            url: text("url"),
            query: text("query"),
            params: map("params"),
            headers: map("headers"),
            signature: v["signature"].as_str().map(str::to_string),
            signature_valid: v["signature_valid"].as_bool().unwrap_or(false),
            webhook: v["webhook"].as_bool().unwrap_or(true),
        }
    }
}

/// The running application; killed on drop.
pub(crate) struct VoiceApp {
    child: Option<Child>,
    pub port: u16,
}

impl VoiceApp {
    /// Starts `tests/voice/app.py` on a port of its own and waits until it serves.
    pub(crate) fn start(options: &AppOptions) -> VoiceApp {
        let mut command = Command::new(python());
        command
            .arg(super::asset("app.py"))
            .args(["--auth-token", &options.auth_token, "--port", "0"])
            .args(["--num-digits", &options.num_digits.to_string()])
            .args(["--welcome", WELCOME, "--prompt", PROMPT])
            .args(["--fallback-say", FALLBACK_SAY, "--no-input-say", NO_INPUT]);
        for (name, path) in &options.files {
            command
                .arg("--file")
                .arg(format!("{name}={}", path.display()));
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tests/voice/app.py: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = match lines.next() {
            Some(Ok(line)) => line
                .strip_prefix("listening on ")
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or_else(|| panic!("app.py printed {line:?}, not `listening on PORT`")),
            _ => {
                let _ = child.kill();
                panic!(
                    "app.py exited before listening (is twilio installed in {}?)",
                    python()
                )
            }
        };
        std::thread::spawn(move || for _ in lines {});
        VoiceApp {
            child: Some(child),
            port,
        }
    }

    /// `http://127.0.0.1:PORT/PATH` (`path` starts with `/`): a URL to configure as a
    /// number's or application's VoiceUrl.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far, in arrival order (`GET /__log`).
    pub(crate) fn log(&self) -> Vec<AppRequest> {
        let body = get(self.port, "/__log");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("/__log is not JSON ({e}): {body}"));
        v.as_array()
            .map(|a| a.iter().map(AppRequest::from_json).collect())
            .unwrap_or_default()
    }

    /// The requests to `path`, in arrival order.
    pub(crate) fn requests_to(&self, path: &str) -> Vec<AppRequest> {
        self.log().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits until `path` was requested `count` times (or panics after `timeout`); returns
    /// the requests to it.
    pub(crate) fn wait_for(&self, path: &str, count: usize, timeout: Duration) -> Vec<AppRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.requests_to(path);
            if seen.len() >= count {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{path} was requested {} times within {timeout:?}, not {count}: {:#?}",
                seen.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asserts that every webhook request carried a signature the validator accepted; returns
    /// the whole log.
    pub(crate) fn assert_every_webhook_signed(&self) -> Vec<AppRequest> {
        let log = self.log();
        let bad: Vec<&AppRequest> = log
            .iter()
            .filter(|r| r.webhook && !r.signature_valid)
            .collect();
        assert!(
            bad.is_empty(),
            "RequestValidator refused {} webhook(s): {bad:#?}",
            bad.len()
        );
        log
    }

    /// Kills the application (SIGKILL): "the application is down" from now on.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for VoiceApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain HTTP/1.0 GET on loopback: usable from sync and async tests alike (no runtime).
fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("app.py on port {port} does not answer: {e}"));
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").expect("request sent");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("response read");
    match response.split_once("\r\n\r\n") {
        Some((_, body)) => body.to_string(),
        None => panic!("no HTTP response from app.py: {response:?}"),
    }
}
