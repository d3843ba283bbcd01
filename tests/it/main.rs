//! Black-box and adapter tests, in one test binary (one link, one set of helpers).
//!
//! - `log_suite`: the `EventLog` contract, run over every backend (memory, SQLite,
//!   PostgreSQL, Kafka on librdkafka's mock cluster and on tansu).
//! - `cluster`: a writer and two API/projector processes on PostgreSQL (log and read models in
//!   one database) and on Kafka: TaskRouter writes through either node, read back there.
//! - `one_database`: the log and the read models in one PostgreSQL database or SQLite file,
//!   also one laid out by the previous build.
//! - `kafka`: the Kafka log with PostgreSQL read models on a real broker (tansu): the broker
//!   killed and restarted under load, a second writer refused, a standby taking over.
//! - `kafka_fencing`: the Kafka log's record headers on the mock cluster: causation positions
//!   survive a reload; stale (superseded writer epoch) and duplicate records are dropped.
//! - `kafka_zombie`: a SIGSTOPped writer, a standby taking over, SIGCONT: every stream's
//!   applied seqs are 1..n and the raw partitions show the stale records fenced (tansu).
//! - `server`: the real `switchboard` binary on port 0, driven over HTTP: authentication,
//!   accounts, tenancy, paging, read-your-writes, errors, health, metrics, shutdown.
//! - `crash`: appends under load, `kill -9`, restart; nothing acknowledged is lost and the
//!   read models equal a full rebuild.
//! - `operator`: `accounts create` while a server holds the log (SQLite, PostgreSQL, Kafka on
//!   tansu) goes through the operator API; the new account works with the Python library;
//!   anything but the operator token gets 401 20003; no secret reaches the log.
//! - `outbox`: assignment and event callbacks through the outbox, `kill -9` in the middle of
//!   them, restart: each delivered at least once, per workspace in the log's order, signed.
//! - `outbox_retries`: a receiver that always answers 500: retries end when `#tt` is spent,
//!   and the alert follows (with the request headers the receiver saw).
//! - `hostile`: huge, deep and long expressions, documents and form bodies against the real
//!   server: each refused in Twilio's shape, and the server keeps serving.
//! - `alerts`: failed deliveries raised into a real server's log, read as Monitor alerts over
//!   HTTP and with the Python library, checked against Twilio's OpenAPI document; on Kafka.
//! - `auth_tokens`: sealed auth tokens: the signer's token is the creation's, the log never
//!   holds one in the clear, an account from before sealing rotates through `/v1/AuthTokens`.
//! - `exactly_once`: TaskRouter counters through `kill -9` and a broker kill equal a rebuild,
//!   the actor's state, the workload's own count and kafka-python's raw count (all logs).
//! - `bad_records`: unknown event types and damaged rows in the log.
//! - `call_restart`: `kill -9` with calls up, restart: each call stream ends exactly once,
//!   the answered calls' peers get a BYE, a second restart appends nothing.
//! - `retention`: closed tasks answer 404 once `--taskrouter-closed-task-retention` has
//!   passed.
//! - `projections`: exactly-once effects and rebuilds on a version bump (SQLite, PostgreSQL,
//!   Kafka).
//! - `sdk`: the official Twilio Python library against the real server (accounts and the
//!   TaskRouter scenario in `tests/sdk/`).
//! - `signature`: `X-Twilio-Signature` checked by the official Python `RequestValidator`;
//!   the server key file `serve` creates and refuses.
//! - `sip`: the telephony engine driven by SIPp (Debian's `sip-tester`): steady-rate calls
//!   over UDP and TCP, CANCEL, BYE from the server, garbage on the SIP port.
//! - `dial`: `<Dial>` from a test application to SIPp callees: the action's parameters,
//!   parallel nouns (first answer wins, the rest CANCELed), `<Number>` through `--sip-trunk`,
//!   hangupOnStar, answerOnBridge, audio both ways captured by tshark and decoded by sox.
//! - `sip_calls`: calls switchboard places (`switchboard call`), bridges and re-INVITEs,
//!   against SIPp callees.
//! - `tenancy`: the cross-tenant matrix over every route of `switchboard::http::routes`:
//!   another tenant's SID answers as a missing one and writes nothing; a parent reaches its
//!   subaccounts' resources, a subaccount never its parent's or a sibling's.
//! - `voice_fetch`: a call's requests for instructions (POST, GET with a query, each hop of
//!   a redirect) accepted by the official Python `RequestValidator`, tampered copies refused.
//! - `taskrouter_projection`: the TaskRouter read model against the workspace state, and
//!   workflow timeouts counted from their own fact.
//! - `voice`: the harness the call router's tests run on (a twilio-library application,
//!   SIPp callers sending RFC 4733 digits, tshark captures decoded by sox and compared with
//!   espeak-ng's own speech), proved against `--inbound play:`.

mod alerts;
mod auth_tokens;
mod bad_records;
mod call_restart;
mod call_router;
mod calls_api;
mod cluster;
mod crash;
mod dial;
mod exactly_once;
mod hostile;
mod kafka;
mod kafka_fencing;
mod kafka_zombie;
mod log_suite;
mod notifications;
mod numbers;
mod one_database;
mod operator;
mod outbox;
mod outbox_retries;
mod projections;
mod retention;
mod sdk;
mod server;
mod signature;
mod sip;
mod sip_calls;
mod taskrouter_projection;
mod telephony;
mod tenancy;
mod voice;
mod voice_fetch;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

/// A fresh data directory, removed when dropped.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new(tag: &str) -> DataDir {
        let dir =
            std::env::temp_dir().join(format!("switchboard-test-{tag}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        DataDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Environment for the binary: which log and store (`SWITCHBOARD_LOG`, `SWITCHBOARD_DB`);
/// empty for the embedded defaults.
pub type Env<'a> = &'a [(&'a str, &'a str)];

/// Runs a CLI subcommand on `dir`, returning its stdout (panics with stderr on failure).
pub fn cli(dir: &Path, args: &[&str]) -> String {
    cli_env(dir, &[], args)
}

/// [`cli`] with an environment.
pub fn cli_env(dir: &Path, env: Env, args: &[&str]) -> String {
    let out = cli_output_env(dir, env, args);
    assert!(
        out.status.success(),
        "switchboard {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a CLI subcommand on `dir` and returns everything it did.
pub fn cli_output(dir: &Path, args: &[&str]) -> std::process::Output {
    cli_output_env(dir, &[], args)
}

/// [`cli_output`] with an environment.
pub fn cli_output_env(dir: &Path, env: Env, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    let dir_str = dir.to_str().expect("utf-8 path");
    all.extend(["--data-dir", dir_str]);
    Command::new(bin())
        .args(&all)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("run switchboard")
}

/// A database of its own on the test PostgreSQL server (`SWITCHBOARD_TEST_POSTGRES`, set by
/// `scripts/test.sh`), dropped afterwards. A missing server fails the test: it never skips.
pub struct PgDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl PgDatabase {
    pub async fn new() -> PgDatabase {
        use sqlx::Connection;
        let admin = std::env::var("SWITCHBOARD_TEST_POSTGRES").expect(
            "SWITCHBOARD_TEST_POSTGRES is not set: run ./scripts/test.sh, which installs and starts PostgreSQL",
        );
        let name = format!("sb_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        PgDatabase {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs outside any runtime: use one of its own on a plain thread.
        let _ = std::thread::spawn(move || {
            use sqlx::Connection;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .map_err(std::io::Error::other)?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map_err(std::io::Error::other)?;
                Ok::<(), std::io::Error>(())
            })
        })
        .join();
    }
}

/// An account made with `switchboard accounts create`.
#[derive(Clone, Debug)]
pub struct Creds {
    pub sid: String,
    pub token: String,
}

pub fn create_account(dir: &Path, name: &str) -> Creds {
    create_account_env(dir, &[], name)
}

/// [`create_account`] with an environment.
pub fn create_account_env(dir: &Path, env: Env, name: &str) -> Creds {
    let out = cli_env(dir, env, &["accounts", "create", "--friendly-name", name]);
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    Creds {
        sid: v["sid"].as_str().expect("sid").to_string(),
        token: v["auth_token"].as_str().expect("auth_token").to_string(),
    }
}

/// A real Kafka-protocol broker: tansu (`SWITCHBOARD_TEST_TANSU`, installed by
/// `scripts/test.sh`) with its SQLite storage engine, on a port of its own, for tests that
/// kill and restart the broker. A missing binary fails the test.
pub struct Tansu {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Tansu {
    pub fn start(dir: &Path) -> Tansu {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut t = Tansu {
            port,
            dir: dir.to_path_buf(),
            child: None,
        };
        t.restart();
        t
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker (again, on the same port and storage) and waits until it listens.
    pub fn restart(&mut self) {
        let bin = std::env::var("SWITCHBOARD_TEST_TANSU").expect(
            "SWITCHBOARD_TEST_TANSU is not set: run ./scripts/test.sh, which installs tansu",
        );
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("tansu.log"))
            .expect("tansu log file");
        let child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(&self.dir)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tansu ({bin}): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The real server, started on port 0.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Self::start_with(dir, &[])
    }

    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        Self::start_env(dir, &[], extra)
    }

    pub fn start_env(dir: &Path, env: Env, extra: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--http-addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            // Many servers run at once: no SIP engine unless a test asks for one
            // (`--sip-addr` on the command line wins over this).
            .env("SWITCHBOARD_SIP_ADDR", "off")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let base = loop {
            assert!(Instant::now() < deadline, "server did not start");
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("switchboard listening on ") {
                        break url.trim().to_string();
                    }
                }
                _ => panic!("server exited before listening"),
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGTERM, then wait; returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of one server, acting as one account (or as nobody).
pub struct Api {
    client: reqwest::Client,
    base: String,
    auth: Option<(String, String)>,
}

impl Api {
    pub fn new(server: &Server, creds: &Creds) -> Api {
        Api::with_auth(server, Some((creds.sid.as_str(), creds.token.as_str())))
    }

    pub fn with_auth(server: &Server, auth: Option<(&str, &str)>) -> Api {
        Api::with_base(&server.base, auth)
    }

    /// A client of the server at `base`.
    pub fn with_base(base: &str, auth: Option<(&str, &str)>) -> Api {
        Api {
            client: http(),
            base: base.to_string(),
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{path}", self.base));
        match &self.auth {
            Some((user, password)) => r.basic_auth(user, Some(password)),
            None => r,
        }
    }

    /// A request with any method and no body.
    pub async fn request_raw(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.request(method, path).send().await.expect("sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("sent")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("JSON")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, path)
            .send()
            .await
            .expect("sent")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.request(reqwest::Method::POST, path)
            .form(form)
            .send()
            .await
            .expect("sent")
    }

    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: String,
    ) -> reqwest::Response {
        self.request(reqwest::Method::POST, path)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("sent")
    }
}

/// The path of an account resource.
pub fn account_path(sid: &str) -> String {
    format!("/2010-04-01/Accounts/{sid}.json")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Asserts a Twilio error body with this status and code.
pub async fn assert_twilio_error(resp: reqwest::Response, status: u16, code: u64) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["more_info"]
            .as_str()
            .is_some_and(|m| m.contains(&code.to_string())),
        "{body}"
    );
    body
}
