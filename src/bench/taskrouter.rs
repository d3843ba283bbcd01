//! `switchboard bench taskrouter`: the real server in this process on embedded defaults
//! (SQLite log and read models, durability full), a workspace with `--workers` workers spread
//! over `--queues` queues (each worker takes up to 50 tasks on the default channel) and a
//! workflow with one filter per queue; then `--clients` HTTP clients create tasks on a steady
//! schedule of `--rate` per second. A task is routed in the same commit that creates it, so
//! the create call's latency is the create→reservation latency, and its answer says whether
//! it was reserved. Baseline: the raw append rate of the same log code (one event per append,
//! 64 appenders) on a fresh file, in the same run.

use super::fixtures::Scratch;
use super::measure::{appenders, concurrently, ms, Latencies};
use crate::commands::{new_auth_token, new_sid, Commands};
use crate::config::{Cli, Command as CliCommand, ServeArgs};
use crate::log::sqlite::{SqliteLog, SqliteLogOptions};
use crate::log::EventLog;
use clap::Parser;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::account::CreateAccount;
use switchboard_events::SidPrefix;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

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
}

fn sid_of(v: &Value) -> anyhow::Result<String> {
    v["sid"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no sid in {v}"))
}

/// What `bench taskrouter` runs (each count at least 1).
#[derive(Debug, Clone)]
pub struct TaskRouterBenchOptions {
    /// How long the load lasts.
    pub window: Duration,
    /// Tasks created per second (the schedule the clients keep to).
    pub rate: u32,
    /// Workers.
    pub workers: u32,
    /// Task queues (workers and tasks spread evenly over them).
    pub queues: u32,
    /// Concurrent HTTP clients.
    pub clients: u32,
    /// Read models the server projects meanwhile (`None`: all).
    pub projections: Option<String>,
}

/// Runs the benchmark and prints its figures.
pub async fn run(options: TaskRouterBenchOptions) -> anyhow::Result<()> {
    let scratch = Scratch::new("taskrouter")?;
    let raw = raw_appends(&scratch, options.window).await?;
    let args = serve_args(&scratch, options.projections.as_deref())?;
    let (sid, token) = create_account(&args).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let stop = CancellationToken::new();
    let server = crate::server::run(args, listener, stop.clone());
    let load = async {
        let result = load(base, sid, token, &options, raw).await;
        stop.cancel();
        result
    };
    // The server runs in this task (its future is not `Send`), beside the load.
    let (served, loaded) = tokio::join!(server, load);
    served?;
    loaded
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

/// `switchboard serve` on the embedded defaults in the scratch directory, on a free port,
/// without SIP, projecting `projections` (all when `None`).
fn serve_args(scratch: &Scratch, projections: Option<&str>) -> anyhow::Result<ServeArgs> {
    let data_str = scratch.join("server").display().to_string();
    let mut argv = vec![
        "switchboard",
        "serve",
        "--data-dir",
        &data_str,
        "--http-addr",
        "127.0.0.1:0",
        "--sip-addr",
        "off",
    ];
    if let Some(p) = projections {
        argv.extend(["--projections", p]);
    }
    let cli = Cli::try_parse_from(argv)?;
    let CliCommand::Serve(args) = cli.command else {
        anyhow::bail!("serve arguments did not parse");
    };
    Ok(args)
}

/// The account, created directly on the log before the server opens it: its SID and token.
async fn create_account(args: &ServeArgs) -> anyhow::Result<(String, String)> {
    let opened = crate::server::open(&args.store, true).await?;
    let sid = new_sid(SidPrefix::Account);
    let (token, hash) = new_auth_token();
    let commands = Commands::new(opened.log.clone(), "bench".into());
    let meta = commands.metadata(sid.clone(), Uuid::now_v7());
    let create = CreateAccount {
        sid: sid.clone(),
        friendly_name: "bench".into(),
        owner: None,
        auth_token_hash: hash,
    };
    commands
        .account(&sid, &meta, |s| create.decide(s))
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the account: {e}"))?;
    opened.close().await;
    Ok((sid.to_string(), token))
}

/// The workspace the load runs in: its path and its workflow's SID.
struct Setup {
    wsp: String,
    workflow: String,
}

/// One task creation: its latency, whether it was reserved at creation, when it was sent.
type Created = (Duration, bool, Instant);

async fn load(
    base: String,
    sid: String,
    token: String,
    options: &TaskRouterBenchOptions,
    raw: f64,
) -> anyhow::Result<()> {
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(options.clients as usize)
            .build()?,
        base,
        sid,
        token,
    });
    // Wait for the server (and the account's read model).
    let ready = Instant::now();
    while api
        .http
        .get(format!("{}/healthz", api.base))
        .send()
        .await
        .is_err()
    {
        anyhow::ensure!(
            ready.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let setup = set_up(&api, options.workers, options.queues).await?;
    let set_up_in = started.elapsed();
    let (all, start) = create_tasks(&api, &setup, options).await?;
    report(options, set_up_in, &all, start, raw);
    Ok(())
}

/// A workspace with `queues` queues, a workflow with one filter per queue, and `workers`
/// workers spread over the queues, each taking up to 50 tasks on the default channel.
async fn set_up(api: &Api, workers: u32, queues: u32) -> anyhow::Result<Setup> {
    let ws = sid_of(
        &api.post("/v1/Workspaces", &[("FriendlyName", "bench".into())])
            .await?,
    )?;
    let wsp = format!("/v1/Workspaces/{ws}");
    let available = {
        let r = api
            .http
            .get(format!(
                "{}{wsp}/Activities?FriendlyName=Available",
                api.base
            ))
            .basic_auth(&api.sid, Some(&api.token))
            .send()
            .await?
            .json::<Value>()
            .await?;
        r["activities"][0]["sid"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("no Available activity"))?
    };
    let mut queue_sids = Vec::new();
    for q in 0..queues {
        let v = api
            .post(
                &format!("{wsp}/TaskQueues"),
                &[
                    ("FriendlyName", format!("queue {q}")),
                    ("TargetWorkers", format!("queue == {q}")),
                ],
            )
            .await?;
        queue_sids.push(sid_of(&v)?);
    }
    let filters: Vec<Value> = queue_sids
        .iter()
        .enumerate()
        .map(|(q, sid)| {
            json!({"filter_friendly_name": format!("queue {q}"), "expression": format!("queue == {q}"),
                   "targets": [{"queue": sid}]})
        })
        .collect();
    let workflow = sid_of(
        &api.post(
            &format!("{wsp}/Workflows"),
            &[
                ("FriendlyName", "bench".into()),
                (
                    "Configuration",
                    json!({"task_routing": {"filters": filters}}).to_string(),
                ),
            ],
        )
        .await?,
    )?;
    for w in 0..workers {
        let worker = sid_of(
            &api.post(
                &format!("{wsp}/Workers"),
                &[
                    ("FriendlyName", format!("agent {w}")),
                    ("ActivitySid", available.clone()),
                    ("Attributes", json!({"queue": w % queues}).to_string()),
                ],
            )
            .await?,
        )?;
        api.post(
            &format!("{wsp}/Workers/{worker}/Channels/default"),
            &[("Capacity", "50".into())],
        )
        .await?;
    }
    Ok(Setup { wsp, workflow })
}

/// The load: ticket i is due at start + i / rate, taken by whichever client is free. Every
/// creation, and when the schedule started.
async fn create_tasks(
    api: &Arc<Api>,
    setup: &Setup,
    options: &TaskRouterBenchOptions,
) -> anyhow::Result<(Vec<Created>, Instant)> {
    let (rate, queues) = (options.rate, options.queues);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(100);
    let total = (f64::from(rate) * options.window.as_secs_f64()) as u64;
    let all = concurrently(options.clients as usize, || {
        let (api, next) = (api.clone(), next.clone());
        let (wsp, workflow) = (setup.wsp.clone(), setup.workflow.clone());
        async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
                let sent = Instant::now();
                let v = api
                    .post(
                        &format!("{wsp}/Tasks"),
                        &[
                            ("WorkflowSid", workflow.clone()),
                            (
                                "Attributes",
                                json!({"queue": i % u64::from(queues)}).to_string(),
                            ),
                        ],
                    )
                    .await?;
                out.push((sent.elapsed(), v["assignment_status"] == "reserved", sent));
            }
            anyhow::Ok(out)
        }
    })
    .await?;
    Ok((all, start))
}

/// Prints the figures: rates over the span from the schedule's start to the last answer.
fn report(
    options: &TaskRouterBenchOptions,
    set_up_in: Duration,
    all: &[Created],
    start: Instant,
    raw: f64,
) {
    let TaskRouterBenchOptions {
        window,
        rate,
        workers,
        queues,
        clients,
        ..
    } = *options;
    let projections = options.projections.as_deref().unwrap_or("all");
    let last = all.iter().map(|(l, _, s)| *s + *l).max().unwrap_or(start);
    let elapsed = last
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-9);
    let routed = all.iter().filter(|(_, r, _)| *r).count();
    let latencies: Latencies = all.iter().map(|(l, _, _)| *l).collect();
    println!(
        "switchboard bench taskrouter: embedded defaults (SQLite, durability full), {workers} workers in {queues} queues, \
         {clients} HTTP clients in this process, read models projected: {}, {:.1} s at {rate} tasks/s scheduled (set-up {:.1} s)",
        projections,
        window.as_secs_f64(),
        set_up_in.as_secs_f64()
    );
    println!(
        "tasks created {} ({:.0}/s), routed to a reservation at creation {} ({:.0}/s); create→reservation p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        all.len(),
        all.len() as f64 / elapsed,
        routed,
        routed as f64 / elapsed,
        ms(latencies.percentile(0.5)),
        ms(latencies.percentile(0.99)),
        ms(latencies.max()),
    );
    println!(
        "baseline: raw log appends (one event each, 64 appenders, same log code, fresh file): {raw:.0} events/s; routed tasks / raw appends = {:.2}",
        routed as f64 / elapsed / raw
    );
}
