//! Exactly once with a read model that is not idempotent: a TaskRouter workload (a workspace,
//! workers, a queue, a workflow; tasks reserved, accepted, some rejected once, some canceled,
//! the rest completed) runs over HTTP against the real `switchboard serve`, which is killed
//! with `kill -9` in the middle of task creations and restarted on the same configuration;
//! on Kafka (tansu) the broker is also SIGKILLed and restarted on its data dir while the server
//! keeps running. The TaskRouter counters are then compared, equal and not at least, with
//! (a) a rebuild into a fresh read-model database, (b) the workspace actor's state as the list
//! endpoints answer it and (c) what the workload itself did; on Kafka also with (d) the raw
//! records of the workspace topic, read by kafka-python and fenced by the rule written here.
//! Applying a record twice would count a task twice: the counters are the proof.
//! (On the broker kill it also pins that a workspace actor whose reload fails after a failed
//! batch stops instead of keeping the batch's unpersisted tasks: those were served, then
//! reserved and completed in the log without their `task.created`.)

use crate::log_suite::test_prefix;
use crate::outbox::{add_workers, created, ready_and_catch_all};
use crate::{cli_env, create_account_env, Api, Creds, DataDir, PgDatabase, Server, Tansu};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_projections::store::ProjectionStore;
use switchboard_projections::taskrouter as projection;

/// Every counter the statistics API serves, at workspace scope, that the workload moves.
const COUNTERS: [&str; 8] = [
    "tasks_created",
    "tasks_completed",
    "tasks_canceled",
    "reservations_created",
    "reservations_accepted",
    "reservations_rejected",
    "reservations_canceled",
    "reservations_rescinded",
];

/// Workers in the workspace (each of capacity 1).
const WORKERS: usize = 4;

/// The workspace the workload runs in.
struct Ws {
    sid: String,
    workflow: String,
    queue: String,
}

/// What the workload did, counted from the answers it got.
#[derive(Default, Debug)]
struct Did {
    /// Task number (its `n` attribute) → SID, for every task that exists.
    tasks: BTreeMap<u64, String>,
    accepted: i64,
    rejected: i64,
    completed: i64,
    canceled: i64,
    rejected_tasks: HashSet<String>,
}

async fn setup(api: &Api) -> Ws {
    let sid = created(api, "/v1/Workspaces", &[("FriendlyName", "exactly once")]).await;
    let root = format!("/v1/Workspaces/{sid}");
    let (ready, queue, config) = ready_and_catch_all(api, &root).await;
    let workflow = created(
        api,
        &format!("{root}/Workflows"),
        &[("FriendlyName", "Route"), ("Configuration", &config)],
    )
    .await;
    add_workers(api, &root, &ready, WORKERS).await;
    Ws {
        sid,
        workflow,
        queue,
    }
}

/// Creates tasks `range` from 8 concurrent clients, each pausing `pace` between requests and
/// counting its 201s in `acks`; returns the task numbers acknowledged and those whose outcome
/// is unknown (no answer, 503: resolved later from the state).
fn create_tasks(
    base: String,
    creds: Creds,
    ws: &Ws,
    range: std::ops::Range<u64>,
    pace: Duration,
    acks: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<(Vec<u64>, Vec<u64>)> {
    let (ws, workflow) = (ws.sid.clone(), ws.workflow.clone());
    tokio::spawn(async move {
        let numbers: Vec<u64> = range.collect();
        let clients: Vec<_> = numbers
            .chunks(numbers.len().div_ceil(8).max(1))
            .map(|chunk| {
                let (base, creds, ws, workflow, chunk, acks) = (
                    base.clone(),
                    creds.clone(),
                    ws.clone(),
                    workflow.clone(),
                    chunk.to_vec(),
                    acks.clone(),
                );
                tokio::spawn(async move {
                    let client = reqwest::Client::builder()
                        .timeout(Duration::from_secs(5))
                        .build()
                        .expect("client");
                    let (mut acked, mut unknown) = (Vec::new(), Vec::new());
                    for n in chunk {
                        let attributes = json!({ "n": n }).to_string();
                        let r = client
                            .post(format!("{base}/v1/Workspaces/{ws}/Tasks"))
                            .basic_auth(&creds.sid, Some(&creds.token))
                            .form(&[("Attributes", &attributes), ("WorkflowSid", &workflow)])
                            .send()
                            .await;
                        match r.map(|r| r.status().as_u16()) {
                            Ok(201) => {
                                acked.push(n);
                                acks.fetch_add(1, Ordering::SeqCst);
                            }
                            _ => unknown.push(n),
                        }
                        tokio::time::sleep(pace).await;
                    }
                    (acked, unknown)
                })
            })
            .collect();
        let (mut acked, mut unknown) = (Vec::new(), Vec::new());
        for c in clients {
            let (a, u) = c.await.expect("client");
            acked.extend(a);
            unknown.extend(u);
        }
        (acked, unknown)
    })
}

/// Every task of the workspace, as the actor answers (SID, `n`, status).
async fn tasks(api: &Api, ws: &str) -> Vec<(String, u64, String)> {
    let page = api
        .get_json(&format!("/v1/Workspaces/{ws}/Tasks?PageSize=1000"))
        .await;
    page["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            let attributes: Value =
                serde_json::from_str(t["attributes"].as_str().unwrap_or("{}")).expect("attrs");
            (
                t["sid"].as_str().expect("sid").to_string(),
                attributes["n"].as_u64().expect("n"),
                t["assignment_status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

/// Records which attempted task numbers exist (an acknowledged one must).
async fn resolve(api: &Api, ws: &str, did: &mut Did, acked: &[u64], unknown: &[u64]) -> usize {
    let all = tasks(api, ws).await;
    let by_n: HashMap<u64, String> = all.into_iter().map(|(s, n, _)| (n, s)).collect();
    for n in acked {
        let sid = by_n
            .get(n)
            .unwrap_or_else(|| panic!("acknowledged task {n} lost"));
        did.tasks.insert(*n, sid.clone());
    }
    let mut landed = 0;
    for n in unknown {
        if let Some(sid) = by_n.get(n) {
            did.tasks.insert(*n, sid.clone());
            landed += 1;
        }
    }
    assert_eq!(
        by_n.len(),
        did.tasks.len(),
        "no task the workload did not ask for"
    );
    landed
}

/// Drives every task to its end: every 5th pending one canceled, the first reservation of
/// every 7th rejected, the others accepted, assigned ones completed.
async fn drive(api: &Api, ws: &str, did: &mut Did) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let all = tasks(api, ws).await;
        if all
            .iter()
            .all(|(_, _, s)| s == "completed" || s == "canceled")
        {
            return;
        }
        assert!(Instant::now() < deadline, "the workload did not finish");
        for (sid, n, status) in all {
            let path = format!("/v1/Workspaces/{ws}/Tasks/{sid}");
            match status.as_str() {
                "pending" if n % 5 == 0 => {
                    let r = api
                        .post(&path, &[("AssignmentStatus", "canceled"), ("Reason", "x")])
                        .await;
                    if r.status() == 200 {
                        did.canceled += 1;
                    }
                }
                "reserved" => {
                    let page = api
                        .get_json(&format!("{path}/Reservations?ReservationStatus=pending"))
                        .await;
                    for r in page["reservations"].as_array().expect("reservations") {
                        let rid = r["sid"].as_str().expect("sid");
                        let reject = n % 7 == 0 && !did.rejected_tasks.contains(&sid);
                        let to = if reject { "rejected" } else { "accepted" };
                        let answer = api
                            .post(
                                &format!("{path}/Reservations/{rid}"),
                                &[("ReservationStatus", to)],
                            )
                            .await;
                        if answer.status() == 200 {
                            if reject {
                                did.rejected += 1;
                                did.rejected_tasks.insert(sid.clone());
                            } else {
                                did.accepted += 1;
                            }
                        }
                    }
                }
                "assigned" => {
                    let r = api.post(&path, &[("AssignmentStatus", "completed")]).await;
                    if r.status() == 200 {
                        did.completed += 1;
                    }
                }
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The counters the statistics API serves (workspace scope, all of the test's minutes).
async fn served(api: &Api, ws: &Ws) -> (BTreeMap<String, i64>, i64) {
    let v = api
        .get_json(&format!(
            "/v1/Workspaces/{}/CumulativeStatistics?Minutes=600",
            ws.sid
        ))
        .await;
    let q = api
        .get_json(&format!(
            "/v1/Workspaces/{}/TaskQueues/{}/CumulativeStatistics?Minutes=600",
            ws.sid, ws.queue
        ))
        .await;
    let counters = COUNTERS
        .iter()
        .map(|k| (k.to_string(), v[*k].as_i64().unwrap_or(-1)))
        .collect();
    (counters, q["tasks_entered"].as_i64().unwrap_or(-1))
}

/// The same counters read from a read-model database (the rebuild).
async fn stored(url: &str, ws: &Ws) -> (BTreeMap<String, i64>, i64) {
    let store = ProjectionStore::connect(url).await.expect("store");
    let mut conn = store.pool().acquire().await.expect("conn");
    let n = projection::counters(&mut conn, &ws.sid, &ws.sid, None, 0, i64::MAX / 120_000)
        .await
        .expect("counters");
    let q = projection::counters(&mut conn, &ws.sid, &ws.queue, None, 0, i64::MAX / 120_000)
        .await
        .expect("counters");
    let counters = COUNTERS
        .iter()
        .map(|k| (k.to_string(), n.get(*k).map_or(0, |s| s.n)))
        .collect();
    (counters, q.get("tasks_entered").map_or(0, |s| s.n))
}

/// The counters as the actor's state implies them, counted from the list endpoints.
async fn actor(api: &Api, ws: &Ws) -> BTreeMap<String, i64> {
    let all = tasks(api, &ws.sid).await;
    let status = |s: &str| all.iter().filter(|t| t.2 == s).count() as i64;
    let mut reservations: BTreeMap<String, i64> = BTreeMap::new();
    for (sid, _, _) in &all {
        let page = api
            .get_json(&format!(
                "/v1/Workspaces/{}/Tasks/{sid}/Reservations?PageSize=1000",
                ws.sid
            ))
            .await;
        for r in page["reservations"].as_array().expect("reservations") {
            let s = r["reservation_status"]
                .as_str()
                .expect("status")
                .to_string();
            *reservations.entry(s).or_default() += 1;
        }
    }
    let r = |s: &str| reservations.get(s).copied().unwrap_or(0);
    BTreeMap::from([
        ("tasks_created".into(), all.len() as i64),
        ("tasks_completed".into(), status("completed")),
        ("tasks_canceled".into(), status("canceled")),
        (
            "reservations_created".into(),
            reservations.values().sum::<i64>(),
        ),
        (
            "reservations_accepted".into(),
            r("accepted") + r("wrapping") + r("completed"),
        ),
        ("reservations_rejected".into(), r("rejected")),
        ("reservations_canceled".into(), r("canceled")),
        ("reservations_rescinded".into(), r("rescinded")),
    ])
}

/// The workload's own count (reservations created: one per acceptance and rejection, plus
/// whatever the actor says was canceled or rescinded, which the workload did not ask for).
fn own(did: &Did, actor: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    let side = actor["reservations_canceled"] + actor["reservations_rescinded"];
    BTreeMap::from([
        ("tasks_created".into(), did.tasks.len() as i64),
        ("tasks_completed".into(), did.completed),
        ("tasks_canceled".into(), did.canceled),
        (
            "reservations_created".into(),
            did.accepted + did.rejected + side,
        ),
        ("reservations_accepted".into(), did.accepted),
        ("reservations_rejected".into(), did.rejected),
        (
            "reservations_canceled".into(),
            actor["reservations_canceled"],
        ),
        (
            "reservations_rescinded".into(),
            actor["reservations_rescinded"],
        ),
    ])
}

/// Waits until `acks` reached `n` (the fault then lands in the middle of the creations).
async fn until(acks: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "creations did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls a write the counters do not see (renaming the workspace) until it is taken again.
async fn writable(api: &Api, ws: &str, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        let r = api
            .post(
                &format!("/v1/Workspaces/{ws}"),
                &[("FriendlyName", "exactly once")],
            )
            .await;
        if r.status() == 200 {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// The workspace topic read raw by kafka-python: (records, stale, duplicates, applied per
/// event type) for the workspace's stream, fenced by the rule as the README states it.
fn kafka_python_count(brokers: &str, topic: &str, stream: &str) -> Value {
    let script = r#"
import json, sys
from kafka import KafkaConsumer, TopicPartition
brokers, topic, stream = sys.argv[1:4]
c = KafkaConsumer(bootstrap_servers=brokers, enable_auto_commit=False, consumer_timeout_ms=10000)
parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
c.assign(parts)
c.seek_to_beginning(*parts)
ends = c.end_offsets(parts)
out = {"records": 0, "stale": 0, "duplicates": 0, "applied": {}}
epoch, seen, left = {}, set(), {p: ends[p] for p in parts if ends[p] > 0}
while left:
    polled = c.poll(timeout_ms=2000)
    if not polled:
        raise SystemExit("no records before the end offsets: %r" % left)
    for tp, records in polled.items():
        for m in records:
            if m.offset + 1 >= ends[tp]:
                left.pop(tp, None)
            if (m.key or b"").decode() != stream:
                continue
            e = int(dict(m.headers or []).get("switchboard-epoch", b"0") or 0)
            v = json.loads(m.value)
            out["records"] += 1
            if e < epoch.get(tp.partition, 0):
                out["stale"] += 1
                continue
            epoch[tp.partition] = e
            if (v["stream"], v["seq"]) in seen:
                out["duplicates"] += 1
                continue
            seen.add((v["stream"], v["seq"]))
            out["applied"][v["type"]] = out["applied"].get(v["type"], 0) + 1
print(json.dumps(out))
"#;
    serde_json::from_slice(&python_script(script, &[brokers, topic, stream])).expect("JSON")
}

/// A producer retry, as kafka-python makes one: the workspace stream's last `task.created`
/// record (of the current writer's epoch) produced again, byte for byte with its headers, to its partition.
fn kafka_python_retry(brokers: &str, topic: &str, stream: &str) {
    let script = r#"
import json, sys
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
brokers, topic, stream = sys.argv[1:4]
c = KafkaConsumer(bootstrap_servers=brokers, enable_auto_commit=False, consumer_timeout_ms=10000)
parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
c.assign(parts)
c.seek_to_beginning(*parts)
ends = c.end_offsets(parts)
last, left = None, {p for p in parts if ends[p] > 0}
for m in c:
    tp = TopicPartition(m.topic, m.partition)
    if m.offset + 1 >= ends[tp]:
        left.discard(tp)
    if (m.key or b"").decode() == stream and json.loads(m.value)["type"] == "task.created":
        last = m
    if not left:
        break
if last is None:
    raise SystemExit("no task.created record")
p = KafkaProducer(bootstrap_servers=brokers)
p.send(topic, value=last.value, key=last.key, headers=list(last.headers or []), partition=last.partition).get(timeout=10)
p.flush()
print(json.loads(last.value)["seq"])
"#;
    python_script(script, &[brokers, topic, stream]);
}

/// Runs a Python script with SWITCHBOARD_TEST_PYTHON; its stdout.
fn python_script(script: &str, args: &[&str]) -> Vec<u8> {
    let python = std::env::var("SWITCHBOARD_TEST_PYTHON").expect(
        "SWITCHBOARD_TEST_PYTHON is not set: run ./scripts/test.sh, which installs kafka-python",
    );
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run kafka-python");
    assert!(
        out.status.success(),
        "kafka-python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A place for a log: the server's environment, how to point a rebuild at a fresh read-model
/// database, the broker when there is one.
struct Backend {
    tag: &'static str,
    env: Vec<(String, String)>,
    tansu: Option<Tansu>,
    /// The fresh read-model database for the rebuild (`SWITCHBOARD_DB`).
    rebuild_db: String,
    _keep: Vec<PgDatabase>,
}

async fn run(dir: DataDir, mut b: Backend) {
    let env: Vec<(&str, &str)> = b
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let acme = create_account_env(dir.path(), &env, "Acme");
    let server = Server::start_env(dir.path(), &env, &[]);
    let api = Api::new(&server, &acme);
    let ws = setup(&api).await;
    let mut did = Did::default();

    // Phase 1: tasks created and driven to their end.
    let acks = Arc::new(AtomicUsize::new(0));
    let fast = Duration::from_millis(10);
    let (acked, unknown) = create_tasks(server.base.clone(), acme.clone(), &ws, 0..16, fast, acks)
        .await
        .expect("creations");
    assert!(unknown.is_empty(), "nothing failed before any fault");
    resolve(&api, &ws.sid, &mut did, &acked, &unknown).await;
    drive(&api, &ws.sid, &mut did).await;

    // Phase 2: `kill -9` in the middle of task creations; restart on the same configuration.
    let acks = Arc::new(AtomicUsize::new(0));
    let pace = Duration::from_millis(60);
    let creating = create_tasks(
        server.base.clone(),
        acme.clone(),
        &ws,
        16..64,
        pace,
        acks.clone(),
    );
    until(&acks, 12).await;
    server.kill9();
    let (acked, unknown) = creating.await.expect("creations");
    let server = Server::start_env(dir.path(), &env, &[]);
    let api = Api::new(&server, &acme);
    let landed = resolve(&api, &ws.sid, &mut did, &acked, &unknown).await;
    eprintln!(
        "[{}] kill -9: {} creations acknowledged, {} unanswered ({landed} of them in the log)",
        b.tag,
        acked.len(),
        unknown.len()
    );
    drive(&api, &ws.sid, &mut did).await;

    // Phase 3 (Kafka): the broker SIGKILLed in the middle of creations and restarted on its
    // data dir; the server keeps running and must take writes again by itself.
    if let Some(tansu) = b.tansu.as_mut() {
        let acks = Arc::new(AtomicUsize::new(0));
        let pace = Duration::from_millis(150);
        let creating = create_tasks(
            server.base.clone(),
            acme.clone(),
            &ws,
            64..128,
            pace,
            acks.clone(),
        );
        until(&acks, 12).await;
        tansu.kill9();
        tokio::time::sleep(Duration::from_secs(3)).await;
        tansu.restart();
        let (acked, unknown) = creating.await.expect("creations");
        let back = writable(&api, &ws.sid, Duration::from_secs(90)).await;
        let Some(back) = back else {
            panic!("the server never took writes again after the broker restarted (90 s)")
        };
        let landed = resolve(&api, &ws.sid, &mut did, &acked, &unknown).await;
        eprintln!(
            "[{}] broker kill: {} creations acknowledged, {} unanswered ({landed} of them in the log); writes taken again {back:?} after the restart",
            b.tag,
            acked.len(),
            unknown.len()
        );
        drive(&api, &ws.sid, &mut did).await;
    }

    // On Kafka, a producer retry's duplicate lands in the topic: every reader must drop it.
    if let Some(t) = &b.tansu {
        let topic = format!("{}.workspace", b.env[2].1);
        kafka_python_retry(&t.brokers(), &topic, &ws.sid);
        // A write after it, so the served read model has read past the duplicate.
        assert!(writable(&api, &ws.sid, Duration::from_secs(10))
            .await
            .is_some());
    }

    // Then the comparison, exactly.
    let (served, served_entered) = served(&api, &ws).await;
    let actor = actor(&api, &ws).await;
    let own = own(&did, &actor);
    let raw = b.tansu.as_ref().map(|t| {
        let prefix = &b.env[2].1;
        kafka_python_count(&t.brokers(), &format!("{prefix}.workspace"), &ws.sid)
    });
    assert!(server.terminate(), "the server stops cleanly");
    let caught_up = cli_env(dir.path(), &env, &["projections", "digest", "taskrouter"]);
    let rebuild_env: Vec<(&str, &str)> = env
        .iter()
        .copied()
        .filter(|(k, _)| *k != "SWITCHBOARD_DB")
        .chain([("SWITCHBOARD_DB", b.rebuild_db.as_str())])
        .collect();
    cli_env(dir.path(), &rebuild_env, &["projections", "rebuild"]);
    let rebuilt_digest = cli_env(
        dir.path(),
        &rebuild_env,
        &["projections", "digest", "taskrouter"],
    );
    let (rebuilt, rebuilt_entered) = stored(&b.rebuild_db, &ws).await;
    eprintln!(
        "[{}] {} tasks; served {served:?} (entered {served_entered}); rebuilt {rebuilt:?} (entered {rebuilt_entered}); actor {actor:?}; workload {own:?}",
        b.tag,
        did.tasks.len()
    );
    if let Some(raw) = &raw {
        eprintln!("[{}] kafka-python, workspace stream: {raw}", b.tag);
    }
    assert!(did.tasks.len() >= 30 && did.completed > 0 && did.canceled > 0 && did.rejected > 0);
    assert_eq!(served, rebuilt, "served counters vs a rebuild");
    assert_eq!(served_entered, rebuilt_entered, "queue tasks_entered");
    assert_eq!(
        served_entered, served["tasks_created"],
        "every task entered"
    );
    assert_eq!(served, actor, "served counters vs the actor's state");
    assert_eq!(served, own, "served counters vs the workload's own count");
    assert_eq!(caught_up, rebuilt_digest, "the read model equals a rebuild");
    if let Some(raw) = raw {
        assert_eq!(raw["duplicates"], 1, "the retried record is in the topic");
        let applied = |t: &str| raw["applied"][t].as_i64().unwrap_or(0);
        for (counter, event) in [
            ("tasks_created", "task.created"),
            ("tasks_completed", "task.completed"),
            ("tasks_canceled", "task.canceled"),
            ("reservations_created", "reservation.created"),
            ("reservations_accepted", "reservation.accepted"),
            ("reservations_rejected", "reservation.rejected"),
        ] {
            assert_eq!(served[counter], applied(event), "{counter} vs raw {event}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_kafka_tansu_taskrouter_counters_through_kill_9_and_a_broker_kill() {
    let dir = DataDir::new("exactly-once-kafka");
    let tansu = Tansu::start(dir.path());
    let (db, fresh) = (PgDatabase::new().await, PgDatabase::new().await);
    let env = vec![
        (
            "SWITCHBOARD_LOG".into(),
            format!("kafka://{}", tansu.brokers()),
        ),
        ("SWITCHBOARD_DB".into(), db.url.clone()),
        ("SWITCHBOARD_KAFKA_TOPIC_PREFIX".into(), test_prefix()),
        // The restarted server waits out the killed one's lease.
        ("SWITCHBOARD_KAFKA_LEASE_MS".into(), "3000".into()),
        ("SWITCHBOARD_KAFKA_LEASE_WAIT_MS".into(), "30000".into()),
    ];
    let rebuild_db = fresh.url.clone();
    let backend = Backend {
        tag: "kafka",
        env,
        tansu: Some(tansu),
        rebuild_db,
        _keep: vec![db, fresh],
    };
    run(dir, backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_sqlite_taskrouter_counters_through_kill_9() {
    let dir = DataDir::new("exactly-once-sqlite");
    let rebuild_db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("rebuilt.sqlite").to_str().expect("utf-8")
    );
    let backend = Backend {
        tag: "sqlite",
        env: Vec::new(),
        tansu: None,
        rebuild_db,
        _keep: Vec::new(),
    };
    run(dir, backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_postgres_taskrouter_counters_through_kill_9() {
    let dir = DataDir::new("exactly-once-postgres");
    let (log, db, fresh) = (
        PgDatabase::new().await,
        PgDatabase::new().await,
        PgDatabase::new().await,
    );
    let env = vec![
        ("SWITCHBOARD_LOG".into(), log.url.clone()),
        ("SWITCHBOARD_DB".into(), db.url.clone()),
    ];
    let rebuild_db = fresh.url.clone();
    let backend = Backend {
        tag: "postgres",
        env,
        tansu: None,
        rebuild_db,
        _keep: vec![log, db, fresh],
    };
    run(dir, backend).await;
}
