//! `X-Twilio-Signature` against an oracle we did not write: requests signed by
//! `switchboard::http::twilio::signature` are checked by the official Python library's
//! `twilio.request_validator.RequestValidator(token).validate(url, params, signature)`
//! (`$SWITCHBOARD_TEST_PYTHON`, the venv `scripts/test.sh` installs `twilio` into), which must
//! accept every one and refuse tampered ones. Also: `switchboard serve` creates the server key
//! file on first start and refuses a bad one.

use crate::{bin, DataDir, Server};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use switchboard::http::twilio::signature::{json_signature, json_url, signature};

/// Reads `[{token, url, params: [[name, value], …] | null, body: str | null, signature}]` on
/// stdin and prints one `validate` answer per case. Repeated names go in a multi-dict with
/// `getall` (what Flask/aiohttp hand the validator); unique names in a plain dict, the
/// common case.
const VALIDATE: &str = r#"
import json, sys
from twilio.request_validator import RequestValidator

class Form(dict):
    def __init__(self, pairs):
        super().__init__(pairs)
        self.pairs = pairs
    def getall(self, name):
        return [v for k, v in self.pairs if k == name]

out = []
for case in json.load(sys.stdin):
    if case["body"] is not None:
        params = case["body"]
    else:
        pairs = [tuple(p) for p in case["params"]]
        names = [k for k, _ in pairs]
        params = Form(pairs) if len(set(names)) < len(names) else dict(pairs)
    out.append(RequestValidator(case["token"]).validate(case["url"], params, case["signature"]))
print(json.dumps(out))
"#;

pub(crate) fn validate_with_twilio(cases: &[Value]) -> Vec<bool> {
    let python = std::env::var("SWITCHBOARD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .args(["-c", VALIDATE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {python} (scripts/test.sh installs Python and the twilio package): {e}"
            )
        });
    let input = serde_json::to_vec(cases).expect("cases as JSON");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write cases");
    let out = child.wait_with_output().expect("python ran");
    assert!(
        out.status.success(),
        "the validator script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list of booleans")
}

fn form_case(token: &str, url: &str, params: &[(&str, &str)], sig: &str) -> Value {
    json!({"token": token, "url": url, "params": params, "body": null, "signature": sig})
}

/// One request to sign: the auth token, the URL as configured, the form parameters.
type Request = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// Requests as callbacks send them, with the edge cases of VOICE-NOTES §3.
fn requests() -> Vec<Request> {
    let callback = vec![
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("WorkspaceSid", "WS0123456789abcdef0123456789abcdef"),
        ("TaskAttributes", r#"{"type":"support","language":"en"}"#),
        ("ReservationSid", "WR0123456789abcdef0123456789abcdef"),
    ];
    vec![
        // Twilio's own base case.
        (
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            vec![
                ("CallSid", "CA1234567890ABCDE"),
                ("Digits", "1234"),
                ("From", "+14158675309"),
                ("To", "+18005551212"),
                ("Caller", "+14158675309"),
            ],
        ),
        // A query string with escapes, and a non-standard port, which must match exactly.
        (
            "0123456789abcdef0123456789abcdef",
            "https://app.example.com:8443/hooks/assign?workspace=WS1&note=a%20b&empty=",
            callback.clone(),
        ),
        // The default port written out, over http.
        (
            "0123456789abcdef0123456789abcdef",
            "http://127.0.0.1:80/events",
            callback.clone(),
        ),
        // Plain http on a test port, no query.
        ("token", "http://127.0.0.1:38211/callback", callback),
        // Repeated names: values sorted, a repeated value counted once; and a name that is a
        // prefix of another.
        (
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            vec![
                ("Sid", "CA123"),
                ("SidAccount", "AC123"),
                ("Digits", "5678"),
                ("Digits", "1234"),
                ("Digits", "5678"),
            ],
        ),
        // Unicode names and values, where code-point order is not alphabetical order.
        (
            "tökén ☎",
            "https://example.com/ünïcode?q=日本",
            vec![
                ("a", "lower"),
                ("Z", "upper"),
                ("é", "accent"),
                ("B", "Zoë ☎ 日本語 😀"),
                ("FriendlyName", "Ünïcödé"),
            ],
        ),
        // Empty values, and a name whose only value is empty.
        (
            "12345",
            "https://example.com/empty",
            vec![("Empty", ""), ("Attributes", "{}"), ("Digits", "")],
        ),
        // No parameters at all (a GET, or a POST with an empty body).
        (
            "12345",
            "https://example.com/status?CallSid=CA1&x=1",
            vec![],
        ),
    ]
}

#[test]
fn the_official_validator_accepts_what_we_sign_and_refuses_tampering() {
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (token, url, params) in requests() {
        let sig = signature(token, url, &params);
        cases.push(form_case(token, url, &params, &sig));
        expected.push(true);
        // Another token.
        cases.push(form_case("another token", url, &params, &sig));
        expected.push(false);
        // Another URL: a path and a query are signed.
        let moved = format!("{url}x");
        cases.push(form_case(token, &moved, &params, &sig));
        expected.push(false);
        // A value changed, a parameter added.
        let mut tampered = params.clone();
        match tampered.first_mut() {
            Some(first) => first.1 = "tampered",
            None => tampered.push(("Injected", "1")),
        }
        cases.push(form_case(token, url, &tampered, &sig));
        expected.push(false);
    }
    // A JSON body: its SHA-256 in the URL, the URL alone signed.
    let body = r#"{"event_type":"task.created","attrs":{"name":"Zoë ☎"},"n":1}"#;
    let url = json_url("https://example.com/json?x=1", body.as_bytes());
    let sig = json_signature("12345", "https://example.com/json?x=1", body.as_bytes());
    let json_case = |body: &str, sig: &str| json!({"token": "12345", "url": url, "params": null, "body": body, "signature": sig});
    cases.push(json_case(body, &sig));
    expected.push(true);
    cases.push(json_case(&body.replace("1}", "2}"), &sig));
    expected.push(false);

    let answers = validate_with_twilio(&cases);
    assert_eq!(answers.len(), cases.len());
    for ((case, want), got) in cases.iter().zip(&expected).zip(&answers) {
        assert_eq!(got, want, "RequestValidator.validate on {case}");
    }
}

/// Waits for `child` to exit (at most 30 s) and returns its output.
fn exited(mut child: std::process::Child) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("switchboard serve did not exit on a bad key file");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn serve_with_key_file(dir: &DataDir, key_file: &std::path::Path) -> std::process::Output {
    let child = Command::new(bin())
        .args(["serve", "--http-addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .arg("--secret-key-file")
        .arg(key_file)
        .env("RUST_LOG", "warn")
        .env("SWITCHBOARD_SIP_ADDR", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    exited(child)
}

#[test]
fn serve_creates_the_secret_key_file_once_and_refuses_a_bad_one() {
    let dir = DataDir::new("secret-key");
    let path = dir.path().join("secret.key");
    let server = Server::start(dir.path());
    let first = std::fs::read(&path).expect("serve created DATA_DIR/secret.key");
    assert_eq!(first.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    assert!(server.terminate());
    // A restart keeps the key: what it sealed must still open.
    let server = Server::start(dir.path());
    assert_eq!(std::fs::read(&path).expect("key file"), first);
    assert!(server.terminate());

    // The wrong size: refused, named, and left as it was.
    let short = dir.path().join("short.key");
    std::fs::write(&short, b"not a key\n").expect("write");
    let out = serve_with_key_file(&dir, &short);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "started with a 10-byte key: {stderr}"
    );
    assert!(
        stderr.contains("short.key") && stderr.contains("not 32"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&short).expect("still there"), b"not a key\n");

    // Unreadable (here: a directory where the file should be).
    let not_a_file = dir.path().join("a-directory.key");
    std::fs::create_dir_all(&not_a_file).expect("mkdir");
    let out = serve_with_key_file(&dir, &not_a_file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "started with a directory as key: {stderr}"
    );
    assert!(
        stderr.contains("cannot read the secret key file") && stderr.contains("a-directory.key"),
        "{stderr}"
    );
}
