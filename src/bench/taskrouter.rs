//! `switchboard bench taskrouter`: the highest task rate TaskRouter routes with p99 < 20 ms.
//!
//! The server is a child process (`switchboard serve` on embedded defaults: SQLite log and
//! read models, durability full, every read model unless `--projections` says otherwise), so
//! the load generator and the workers simulated here never share its runtime. For each rate of
//! the ladder (`--rates`), a fresh workspace: `--workers` workers of capacity 1 over
//! `--queues` queues, a workflow with one filter per queue whose `AssignmentCallbackUrl` is this
//! process. Task *i* of the level is due at `start + i / rate`, created over HTTP by whichever of
//! `--clients` clients is free. When the assignment callback for a task arrives here (the moment
//! a worker learns of its reservation), the worker accepts it and completes the task at once
//! over REST, which frees it for the next one.
//!
//! What is measured (no coordinated omission): each task's latency runs from its *scheduled*
//! time to its reservation's arrival here, so a server (or a client pool) that falls behind is
//! charged for every task it delays, not only for the ones it answers slowly. A task that is
//! never reserved before the level's grace period ends counts as infinitely late. A level
//! passes when every task was created and p99 < 20 ms; the ladder stops at the first level
//! that fails. After each level, where a callback's time went inside the server, stage by
//! stage ([`super::stages`]). Baseline: the raw append rate of the same log code (one event per append, 64
//! appenders) on a fresh file, in the same run.

use super::fixtures::{create_account, spawn_serve, Scratch};
use super::measure::{appenders, concurrently, ms, percentile};
use super::stages::Snapshot;
use crate::log::sqlite::{SqliteLog, SqliteLogOptions};
use crate::log::EventLog;
use anyhow::Context;
use axum::extract::{Form, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The p99 a level must stay under, from each task's scheduled time to its reservation.
const P99_TARGET: Duration = Duration::from_millis(20);

/// How long after a level's last scheduled task its reservations may still arrive.
const GRACE: Duration = Duration::from_secs(5);

/// What `bench taskrouter` runs (each count at least 1).
#[derive(Debug, Clone)]
pub struct TaskRouterBenchOptions {
    /// How long each level's load lasts.
    pub window: Duration,
    /// The ladder of rates (tasks per second), tried in order until one fails.
    pub rates: Vec<u32>,
    /// Workers (capacity 1 each).
    pub workers: u32,
    /// Task queues (workers and tasks spread evenly over them).
    pub queues: u32,
    /// Concurrent HTTP clients creating tasks.
    pub clients: u32,
    /// Read models the server projects meanwhile (`None`: all).
    pub projections: Option<String>,
}

/// Runs the benchmark and prints its figures.
pub async fn run(options: TaskRouterBenchOptions) -> anyhow::Result<()> {
    let scratch = Scratch::new("taskrouter")?;
    let raw = raw_appends(&scratch, options.window.min(Duration::from_secs(3))).await?;
    let server = Server::start(&scratch, options.projections.as_deref())?;
    let result = ladder(&server, &options, raw).await;
    server.stop();
    result
}

async fn ladder(server: &Server, options: &TaskRouterBenchOptions, raw: f64) -> anyhow::Result<()> {
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(options.clients as usize * 2)
            .build()?,
        base: server.base.clone(),
        sid: server.account.clone(),
        token: server.token.clone(),
    });
    let workers = Workers::start(api.clone()).await?;
    println!(
        "switchboard bench taskrouter: `serve` in a child process on embedded defaults (SQLite, durability full), \
         read models projected: {}; this process: {} HTTP clients creating tasks, {} workers of capacity 1 over {} queues \
         accepting and completing each reservation at once; {:.1} s per rate; latency from each task's scheduled time to \
         its reservation reaching the worker",
        options.projections.as_deref().unwrap_or("all"),
        options.clients,
        options.workers,
        options.queues,
        options.window.as_secs_f64(),
    );
    println!(
        "{:>7} {:>9} {:>10} {:>9} {:>10} {:>10} {:>10} {:>12} {:>6}",
        "rate/s",
        "tasks",
        "created/s",
        "reserved",
        "p50 ms",
        "p99 ms",
        "max ms",
        "ack p99 ms",
        "pass"
    );
    let mut best = None;
    for &rate in &options.rates {
        let setup = set_up(&api, &workers.url, options.workers, options.queues).await?;
        let before = api.stages().await?;
        let level = level(&api, &workers, &setup, rate, options).await?;
        level.print(rate);
        println!("{}", api.stages().await?.since(&before).line());
        if !level.passes() {
            break;
        }
        best = Some(rate);
    }
    match best {
        Some(rate) => println!(
            "highest rate with every task created and p99 < {} ms: {rate} tasks/s ({:.4} of the raw append rate)",
            P99_TARGET.as_millis(),
            f64::from(rate) / raw
        ),
        None => println!(
            "no rate of the ladder kept p99 < {} ms",
            P99_TARGET.as_millis()
        ),
    }
    println!(
        "baseline: raw log appends (one event each, 64 appenders, same log code, fresh file): {raw:.0} events/s; \
         workers: {} reservations accepted and completed, {} refused",
        workers.done.load(Ordering::Relaxed),
        workers.failed.load(Ordering::Relaxed),
    );
    Ok(())
}

/// The baseline, on its own file: raw appends/s, one event per append, 64 appenders.
async fn raw_appends(scratch: &Scratch, window: Duration) -> anyhow::Result<f64> {
    let log: Arc<dyn EventLog> = Arc::new(
        SqliteLog::open(
            &scratch.join("raw.sqlite"),
            SqliteLogOptions::default(),
            Arc::new(()),
        )
        .await?,
    );
    let run = appenders(&log, 64, window).await?;
    log.shutdown().await;
    Ok(run.rate)
}

/// `switchboard serve` as a child process, and the account the load runs as.
struct Server {
    child: Child,
    base: String,
    account: String,
    token: String,
}

impl Server {
    fn start(scratch: &Scratch, projections: Option<&str>) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("own executable")?;
        let data = scratch.join("server").display().to_string();
        let account = create_account(&exe, &data)?;
        let field = |k: &str| {
            account[k]
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("no {k} in {account}"))
        };
        let (sid, token) = (field("sid")?, field("auth_token")?);
        let log = std::fs::File::create(scratch.join("server.log"))?;
        let mut args = vec!["--data-dir", &data, "--http-addr", "127.0.0.1:0"];
        args.extend(["--sip-addr", "off"]);
        if let Some(p) = projections {
            args.extend(["--projections", p]);
        }
        let (child, base) = spawn_serve(&exe, &args, log, "switchboard listening on ")?;
        Ok(Server {
            child,
            base,
            account: sid,
            token,
        })
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The REST API as the bench's account.
struct Api {
    http: reqwest::Client,
    base: String,
    sid: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, form: &[(&str, String)]) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.sid, Some(&self.token))
            .form(form)
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {body}");
        Ok(body)
    }

    /// The server's webhook stage histograms (`GET /metrics`).
    async fn stages(&self) -> anyhow::Result<Snapshot> {
        let r = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await?;
        Ok(Snapshot::parse(&r.error_for_status()?.text().await?))
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(&self.sid, Some(&self.token))
            .send()
            .await?;
        Ok(r.error_for_status()?.json().await?)
    }
}

fn sid_of(v: &Value) -> anyhow::Result<String> {
    v["sid"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no sid in {v}"))
}

/// The simulated workers: an assignment-callback receiver in this process. Each callback is
/// timestamped on arrival, answered at once with no instruction, and the reservation is then
/// accepted and its task completed over REST.
struct Workers {
    url: String,
    reserved: Arc<Mutex<HashMap<String, Instant>>>,
    done: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

#[derive(Clone)]
struct WorkerState {
    api: Arc<Api>,
    reserved: Arc<Mutex<HashMap<String, Instant>>>,
    done: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl Workers {
    async fn start(api: Arc<Api>) -> anyhow::Result<Workers> {
        let state = WorkerState {
            api,
            reserved: Arc::default(),
            done: Arc::default(),
            failed: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/assignment", listener.local_addr()?);
        let workers = Workers {
            url,
            reserved: state.reserved.clone(),
            done: state.done.clone(),
            failed: state.failed.clone(),
        };
        let app = Router::new()
            .route("/assignment", post(assignment))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(workers)
    }

    /// When the task's reservation reached a worker, if it has.
    fn reserved_at(&self, task: &str) -> Option<Instant> {
        self.reserved.lock().map_or(None, |m| m.get(task).copied())
    }
}

async fn assignment(
    State(s): State<WorkerState>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    let arrived = Instant::now();
    let (Some(ws), Some(task), Some(reservation)) = (
        form.get("WorkspaceSid").cloned(),
        form.get("TaskSid").cloned(),
        form.get("ReservationSid").cloned(),
    ) else {
        s.failed.fetch_add(1, Ordering::Relaxed);
        return Json(json!({}));
    };
    if let Ok(mut m) = s.reserved.lock() {
        m.entry(task.clone()).or_insert(arrived);
    }
    tokio::spawn(async move {
        let wsp = format!("/v1/Workspaces/{ws}/Tasks/{task}");
        let accepted = s
            .api
            .post(
                &format!("{wsp}/Reservations/{reservation}"),
                &[("ReservationStatus", "accepted".into())],
            )
            .await;
        let completed = match accepted {
            Ok(_) => {
                s.api
                    .post(
                        &wsp,
                        &[
                            ("AssignmentStatus", "completed".into()),
                            ("Reason", "done".into()),
                        ],
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        let counter = if completed.is_ok() {
            &s.done
        } else {
            &s.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    });
    // No instruction: the worker answers over REST, as an agent's application would.
    Json(json!({}))
}

/// A level's workspace: its path and its workflow.
struct Setup {
    wsp: String,
    workflow: String,
}

/// A workspace with `queues` queues, a workflow with one filter per queue calling the
/// workers back, and `workers` available workers of capacity 1 spread over the queues.
async fn set_up(api: &Api, callback: &str, workers: u32, queues: u32) -> anyhow::Result<Setup> {
    let ws = sid_of(
        &api.post("/v1/Workspaces", &[("FriendlyName", "bench".into())])
            .await?,
    )?;
    let wsp = format!("/v1/Workspaces/{ws}");
    let activities = api
        .get(&format!("{wsp}/Activities?FriendlyName=Available"))
        .await?;
    let available = activities["activities"][0]["sid"]
        .as_str()
        .map(str::to_string)
        .context("no Available activity")?;
    let mut filters = Vec::new();
    for q in 0..queues {
        let queue = sid_of(
            &api.post(
                &format!("{wsp}/TaskQueues"),
                &[
                    ("FriendlyName", format!("queue {q}")),
                    ("TargetWorkers", format!("queue == {q}")),
                ],
            )
            .await?,
        )?;
        filters.push(json!({"filter_friendly_name": format!("queue {q}"),
            "expression": format!("queue == {q}"), "targets": [{"queue": queue}]}));
    }
    let workflow = sid_of(
        &api.post(
            &format!("{wsp}/Workflows"),
            &[
                ("FriendlyName", "bench".into()),
                ("AssignmentCallbackUrl", callback.to_string()),
                (
                    "Configuration",
                    json!({"task_routing": {"filters": filters}}).to_string(),
                ),
            ],
        )
        .await?,
    )?;
    for w in 0..workers {
        api.post(
            &format!("{wsp}/Workers"),
            &[
                ("FriendlyName", format!("agent {w}")),
                ("ActivitySid", available.clone()),
                ("Attributes", json!({"queue": w % queues}).to_string()),
            ],
        )
        .await?;
    }
    Ok(Setup { wsp, workflow })
}

/// One task of a level: when it was due, when its creation was acknowledged, its SID (None
/// when the creation failed).
struct Created {
    due: Instant,
    acked: Instant,
    sid: Option<String>,
}

/// One level's figures.
struct Level {
    scheduled: usize,
    failed: usize,
    created_per_sec: f64,
    reserved: usize,
    /// Scheduled time → reservation at the worker, ns; never reserved is `u64::MAX`.
    latency: Vec<u64>,
    /// Scheduled time → creation acknowledged, ns.
    ack: Vec<u64>,
}

impl Level {
    fn passes(&self) -> bool {
        self.failed == 0
            && self.scheduled > 0
            && Duration::from_nanos(percentile(&self.latency, 0.99)) < P99_TARGET
    }

    fn print(&self, rate: u32) {
        let show = |ns: u64| {
            if ns == u64::MAX {
                "never".to_string()
            } else {
                format!("{:.2}", ms(Duration::from_nanos(ns)))
            }
        };
        println!(
            "{:>7} {:>9} {:>10.0} {:>9} {:>10} {:>10} {:>10} {:>12} {:>6}",
            rate,
            self.scheduled,
            self.created_per_sec,
            self.reserved,
            show(percentile(&self.latency, 0.5)),
            show(percentile(&self.latency, 0.99)),
            show(self.latency.last().copied().unwrap_or(0)),
            show(percentile(&self.ack, 0.99)),
            if self.passes() { "yes" } else { "no" },
        );
        if self.failed > 0 {
            println!("        ({} creations refused or failed)", self.failed);
        }
    }
}

/// Runs one level: ticket i is due at start + i / rate, taken by whichever client is free;
/// then waits (at most [`GRACE`] past the last due time) for every reservation.
async fn level(
    api: &Arc<Api>,
    workers: &Workers,
    setup: &Setup,
    rate: u32,
    options: &TaskRouterBenchOptions,
) -> anyhow::Result<Level> {
    let queues = u64::from(options.queues);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(100);
    let total = ((f64::from(rate) * options.window.as_secs_f64()) as u64).max(1);
    let all = concurrently(options.clients as usize, || {
        let (api, next) = (api.clone(), next.clone());
        let path = format!("{}/Tasks", setup.wsp);
        let workflow = setup.workflow.clone();
        async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
                let form = [
                    ("WorkflowSid", workflow.clone()),
                    ("Attributes", json!({"queue": i % queues}).to_string()),
                ];
                let sid = api
                    .post(&path, &form)
                    .await
                    .ok()
                    .and_then(|v| sid_of(&v).ok());
                out.push(Created {
                    due,
                    acked: Instant::now(),
                    sid,
                });
            }
            anyhow::Ok(out)
        }
    })
    .await?;
    let last_due = start + Duration::from_secs_f64(total as f64 / f64::from(rate));
    let deadline = last_due.max(Instant::now()) + GRACE;
    while Instant::now() < deadline
        && all
            .iter()
            .filter_map(|c| c.sid.as_deref())
            .any(|t| workers.reserved_at(t).is_none())
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(summarise(workers, &all, start))
}

fn summarise(workers: &Workers, all: &[Created], start: Instant) -> Level {
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let mut latency: Vec<u64> = all
        .iter()
        .map(|c| {
            c.sid
                .as_deref()
                .and_then(|t| workers.reserved_at(t))
                .map_or(u64::MAX, |r| nanos(r.saturating_duration_since(c.due)))
        })
        .collect();
    latency.sort_unstable();
    let mut ack: Vec<u64> = all
        .iter()
        .map(|c| nanos(c.acked.saturating_duration_since(c.due)))
        .collect();
    ack.sort_unstable();
    let last = all.iter().map(|c| c.acked).max().unwrap_or(start);
    let span = last
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-9);
    let created = all.iter().filter(|c| c.sid.is_some()).count();
    Level {
        scheduled: all.len(),
        failed: all.len() - created,
        created_per_sec: created as f64 / span,
        reserved: latency.iter().filter(|&&l| l != u64::MAX).count(),
        latency,
        ack,
    }
}
