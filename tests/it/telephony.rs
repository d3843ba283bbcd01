//! The telephony tests' fixture, shared by `sip`, `sip_calls`, `call_router` and `voice`: a
//! server with its SIP engine on a free port and an account owning a number whose TwiML
//! application the test serves ([`Telephony`]), buying numbers through the API
//! ([`own_number`]), reading the call streams back with `switchboard tail`, and running SIPp
//! as a caller or a callee ([`run_sipp`], [`spawn_sipp`]). Every port comes from the OS.
//!
//! A missing `sipp` fails these tests with a message saying how to get it; they never skip.

use crate::{cli, create_account, Api, Creds, DataDir, Server};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use switchboard::bench::voice_app::{Reply, TwimlApp};
/// The SIPp binary: `SWITCHBOARD_TEST_SIPP` (set by `scripts/test.sh`) or `sipp` on PATH.
pub(crate) fn sipp() -> String {
    let bin = std::env::var("SWITCHBOARD_TEST_SIPP").unwrap_or_else(|_| "sipp".to_string());
    let ok = Command::new(&bin)
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "cannot run SIPp ({bin}): run ./scripts/test.sh, which installs Debian's sip-tester, \
         or `apt-get install sip-tester`"
    );
    bin
}

pub(crate) fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A UDP port that was free a moment ago.
pub(crate) fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port()
}

/// A port that was free on both UDP and TCP a moment ago: SIP listens on both (the server
/// always; SIPp with `-t t1`), and a UDP-free port may be some TCP connection's local port.
pub(crate) fn free_sip_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("free port");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free on both UDP and TCP in 100 tries");
}

/// The number the telephony tests call: the fixture's account owns it, and its `VoiceUrl` is
/// the test's application.
pub(crate) const NUMBER: &str = "+15550100001";

/// An application that answers and waits for the caller, recording every key pressed.
pub(crate) const WAIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather timeout="60" finishOnKey=""/></Response>"#;

/// An application that plays `/tone.wav` (relative to its document), then ends the call.
pub(crate) const PLAY_TONE: &str =
    r#"<?xml version="1.0" encoding="UTF-8"?><Response><Play>/tone.wav</Play></Response>"#;

/// A switchboard with its SIP engine on a free port, and a fresh account owning [`NUMBER`],
/// whose voice application (written in the test) answers with `routes` (`/voice` first).
pub(crate) struct Telephony {
    pub(crate) dir: DataDir,
    server: Option<Server>,
    pub(crate) sip_port: u16,
    pub(crate) app: TwimlApp,
    pub(crate) account: Creds,
    /// The `serve` flags it was started with, for a restart on the same data dir and port.
    args: Vec<String>,
}

impl Telephony {
    /// A server whose number answers every call with `twiml` (served at `/voice`).
    pub(crate) fn start(tag: &str, twiml: &str) -> Telephony {
        Telephony::start_app(tag, &[("/voice", Reply::twiml(twiml))], &[])
    }

    /// A server whose number plays the WAV file at `wav` (served as `/tone.wav`), then hangs up.
    pub(crate) fn playing(tag: &str, wav: &Path) -> Telephony {
        let bytes = std::fs::read(wav).expect("read wav");
        Telephony::start_app(
            tag,
            &[
                ("/voice", Reply::twiml(PLAY_TONE)),
                ("/tone.wav", Reply::wav(bytes)),
            ],
            &[],
        )
    }

    /// A server with `extra` flags whose number's application serves `routes`.
    pub(crate) fn start_app(tag: &str, routes: &[(&str, Reply)], extra: &[&str]) -> Telephony {
        let t = Telephony::bare(tag, routes, extra);
        let voice_url = t.app.url("/voice");
        let fallback_url = t.app.url("/fallback");
        own_number(
            t.server(),
            &t.account,
            NUMBER,
            &voice_url,
            Some(&fallback_url),
        );
        t
    }

    /// A server with `extra` flags and an account that owns no number yet; the Rust
    /// application serves `routes` for whichever number the test buys.
    pub(crate) fn bare(tag: &str, routes: &[(&str, Reply)], extra: &[&str]) -> Telephony {
        let dir = DataDir::new(tag);
        let account = create_account(dir.path(), "Telephony");
        let sip_port = free_sip_port();
        let sip_addr = format!("127.0.0.1:{sip_port}");
        let mut args = vec!["--sip-addr", &sip_addr];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let server = serve(dir.path(), &args);
        let app = TwimlApp::start(routes).expect("the test application starts");
        Telephony {
            dir,
            server: Some(server),
            sip_port,
            app,
            account,
            args,
        }
    }

    /// SIGKILL: the server dies with its calls up, nothing flushed.
    pub(crate) fn kill9(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill9();
        }
    }

    /// Starts the server again on the same data dir, SIP port and flags.
    pub(crate) fn restart(&mut self) {
        assert!(
            self.server.is_none(),
            "stop the server before restarting it"
        );
        self.server = Some(serve(self.dir.path(), &self.args));
    }

    /// The running server.
    pub(crate) fn server(&self) -> &Server {
        self.server.as_ref().expect("the server runs")
    }

    /// The server's HTTP base URL.
    pub(crate) fn http_base(&self) -> &str {
        &self.server().base
    }

    pub(crate) fn target(&self) -> String {
        format!("127.0.0.1:{}", self.sip_port)
    }

    /// Stops the server (SIGTERM: calls hang up, events are flushed) and returns the call
    /// events per call stream, in order. `switchboard tail` validates each one against its
    /// schema and fails otherwise.
    pub(crate) fn stop_and_read_calls(&mut self) -> BTreeMap<String, Vec<Value>> {
        if let Some(server) = self.server.take() {
            assert!(server.terminate(), "server exits cleanly on SIGTERM");
        }
        read_calls(self.dir.path())
    }
}

/// `serve` on `dir` with `args`. `SWITCHBOARD_TEST_SERVER_LOG=debug` shows the server's log
/// when a test needs it.
fn serve(dir: &Path, args: &[String]) -> Server {
    let log = std::env::var("SWITCHBOARD_TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_env(dir, &[("RUST_LOG", log.as_str())], &args)
}

/// The call events in the data dir, per call stream, in order. `switchboard tail` validates
/// each one against its schema and fails otherwise.
pub(crate) fn read_calls(dir: &Path) -> BTreeMap<String, Vec<Value>> {
    let out = cli(
        dir,
        &[
            "tail",
            "--topic",
            "switchboard.call",
            "--from-beginning",
            "--exit-at-end",
        ],
    );
    let mut calls: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("one envelope per line");
        let stream = v["stream"].as_str().expect("stream").to_string();
        assert!(
            stream.starts_with("CA"),
            "call streams are CA SIDs: {stream}"
        );
        calls.entry(stream).or_default().push(v);
    }
    calls
}

/// Buys `number` for `account` through the API (`IncomingPhoneNumbers.json`) with its voice
/// URLs, and waits until the numbers read model routes it (the SIP engine consults it).
pub(crate) fn own_number(
    server: &Server,
    account: &Creds,
    number: &str,
    voice_url: &str,
    fallback_url: Option<&str>,
) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let api = Api::new(server, account);
        let path = format!(
            "/2010-04-01/Accounts/{}/IncomingPhoneNumbers.json",
            account.sid
        );
        let mut form = vec![("PhoneNumber", number), ("VoiceUrl", voice_url)];
        if let Some(fallback) = fallback_url {
            form.push(("VoiceFallbackUrl", fallback));
        }
        let response = api.post(&path, &form).await;
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "the number is bought: {body}");
        // Read-your-writes: the list waits for the read model to pass the purchase.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let list = api
                .get_json(&format!(
                    "{path}?PhoneNumber={}",
                    number.replace('+', "%2B")
                ))
                .await;
            if list["incoming_phone_numbers"]
                .as_array()
                .is_some_and(|l| !l.is_empty())
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the number never appears: {list}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        body
    })
}

pub(crate) fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect()
}

/// What a SIPp run did.
pub(crate) struct SippRun {
    pub(crate) code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The last row of the `-trace_stat` CSV, by column name.
    stats: BTreeMap<String, String>,
    /// The `-trace_msg` log, when the run asked for one (`-message_file messages.log`).
    pub(crate) messages: String,
}

impl SippRun {
    pub(crate) fn stat(&self, name: &str) -> u64 {
        self.stats
            .get(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in SIPp's statistics: {:?}", self.stats))
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "sipp exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs SIPp in the foreground against `target` with `args`, killing it after `timeout`.
pub(crate) fn run_sipp(target: &str, args: &[&str], timeout: Duration) -> SippRun {
    spawn_sipp(Some(target), args).wait(timeout)
}

/// A SIPp running in the background (a callee, or a caller started before something else).
pub(crate) struct RunningSipp {
    child: std::process::Child,
    work: tempfile::TempDir,
    stat_file: PathBuf,
    /// Its SIP port on 127.0.0.1.
    pub port: u16,
    /// Its media port (`-mp`): the RTP address in its SDP.
    pub media_port: u16,
}

/// Starts SIPp with `args`, calling `target` when given (a callee passes none).
pub(crate) fn spawn_sipp(target: Option<&str>, args: &[&str]) -> RunningSipp {
    let work = tempfile::tempdir().expect("scratch dir");
    let stat_file = work.path().join("stats.csv");
    // SIPp's built-in uac_pcap plays `pcap/g711a.pcap` and `pcap/dtmf_2833_1.pcap`
    // relative to its working directory; Debian ships them in /usr/share/sip-tester.
    let pcaps = std::env::var("SWITCHBOARD_TEST_SIPP_PCAPS")
        .unwrap_or_else(|_| "/usr/share/sip-tester".to_string());
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(&pcaps, work.path().join("pcap"));
    let port = free_sip_port();
    let media_port = free_udp_port();
    let mut command = Command::new(sipp());
    if let Some(target) = target {
        command.arg(target);
        // The Request-URI's user is the number called: the fixture's, unless the test says.
        if !args.contains(&"-s") {
            command.args(["-s", NUMBER]);
        }
    }
    let child = command
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-mp", &media_port.to_string()])
        .args(["-nostdin", "-trace_stat", "-fd", "1"])
        .arg("-stf")
        .arg(&stat_file)
        .args(args)
        .current_dir(work.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp starts");
    RunningSipp {
        child,
        work,
        stat_file,
        port,
        media_port,
    }
}

impl RunningSipp {
    /// `sip:USER@127.0.0.1:PORT`, to call it.
    pub(crate) fn uri(&self, user: &str) -> String {
        format!("sip:{user}@127.0.0.1:{}", self.port)
    }

    /// Kills SIPp (a caller left waiting for what will never come).
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for SIPp to exit (killing it after `timeout`) and collects what it did.
    pub(crate) fn wait(mut self, timeout: Duration) -> SippRun {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for sipp") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = self.child.wait_with_output().expect("sipp output");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            status.is_some(),
            "SIPp did not finish within {timeout:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        let csv = std::fs::read_to_string(&self.stat_file).unwrap_or_default();
        let mut rows = csv.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = rows.next().unwrap_or_default().split(';').collect();
        let last: Vec<&str> = rows.next_back().unwrap_or_default().split(';').collect();
        let stats = header
            .iter()
            .zip(last.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let messages =
            std::fs::read_to_string(self.work.path().join("messages.log")).unwrap_or_default();
        SippRun {
            code: status.and_then(|s| s.code()),
            stdout,
            stderr,
            stats,
            messages,
        }
    }
}
