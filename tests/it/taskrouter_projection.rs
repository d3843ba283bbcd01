//! The `taskrouter` read model against the workspace state it mirrors: a random workload runs
//! through the real engine (the same actor the API uses); after the projector catches up,
//! queue positions, worker assignments and the all-time counters must equal what the
//! workspace's own state says, and a rebuild from the log — applied event by event instead of
//! in batches — must give the same digest. On SQLite and on PostgreSQL.

use crate::{DataDir, PgDatabase};
use async_trait::async_trait;
use std::sync::Arc;
use switchboard::commands::{new_sid, Commands};
use switchboard::log::memory::MemoryLog;
use switchboard::log::EventLog;
use switchboard::metrics::Metrics;
use switchboard::projector::Projector;
use switchboard::taskrouter::{Engine, Loaded};
use switchboard_events::taskrouter::decide::{Command, Template};
use switchboard_events::taskrouter::events::QueueOrder;
use switchboard_events::taskrouter::state::{ReservationStatus, TaskStatus, Workspace};
use switchboard_events::{Envelope, Sid, SidPrefix};
use switchboard_projections::store::ProjectionStore;
use switchboard_projections::taskrouter::{self as projection, TaskRouter};
use switchboard_projections::workspaces::Workspaces;
use switchboard_projections::{Projection, Table};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The same projection applied one event at a time.
struct OneByOne;

#[async_trait]
impl Projection for OneByOne {
    fn name(&self) -> &'static str {
        TaskRouter::default().name()
    }
    fn version(&self) -> u32 {
        TaskRouter::default().version()
    }
    fn tables(&self) -> &'static [Table] {
        TaskRouter::default().tables()
    }
    async fn apply(&self, tx: &mut sqlx::AnyConnection, e: &Envelope) -> Result<(), sqlx::Error> {
        TaskRouter::default().apply(tx, e).await
    }
    async fn apply_batch(
        &self,
        tx: &mut sqlx::AnyConnection,
        events: &[&Envelope],
    ) -> Result<(), sqlx::Error> {
        for e in events {
            TaskRouter::default().apply(tx, e).await?;
        }
        Ok(())
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

struct Run {
    engine: Engine,
    commands: Commands,
    account: Sid,
    ws: Sid,
}

impl Run {
    async fn exec(&self, command: Command) -> bool {
        let meta = self.commands.metadata(self.account.clone(), Uuid::now_v7());
        self.engine
            .execute(&self.ws, command, meta, |_: &Loaded, _| ())
            .await
            .is_ok()
    }

    async fn state(&self) -> Workspace {
        self.engine
            .read(&self.ws, |l: &Loaded| l.state.clone())
            .await
            .expect("read")
            .expect("workspace exists")
    }
}

/// Builds a workspace (3 queues, one LIFO; 8 workers; a workflow routing by skill) and runs
/// `steps` random commands on it.
async fn workload(log: Arc<dyn EventLog>, seed: u64, steps: usize) -> Run {
    let commands = Commands::new(log.clone(), "test".into());
    let run = Run {
        engine: Engine::new(log),
        commands,
        account: new_sid(SidPrefix::Account),
        ws: new_sid(SidPrefix::Workspace),
    };
    assert!(
        run.exec(Command::CreateWorkspace {
            friendly_name: "projection".into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: Some(true),
            prioritize_queue_order: None,
            template: Template::None,
        })
        .await
    );
    let mut queues = Vec::new();
    for (skill, order) in [
        ("a", QueueOrder::Fifo),
        ("b", QueueOrder::Lifo),
        ("c", QueueOrder::Fifo),
    ] {
        assert!(
            run.exec(Command::CreateTaskQueue {
                friendly_name: format!("queue {skill}"),
                target_workers: Some(format!("skills HAS '{skill}'")),
                task_order: Some(order),
                max_reserved_workers: Some(2),
                reservation_activity_sid: None,
                assignment_activity_sid: None,
            })
            .await
        );
        let s = run.state().await;
        queues.push(
            s.queues
                .values()
                .find(|q| q.friendly_name == format!("queue {skill}"))
                .expect("queue")
                .sid
                .clone(),
        );
    }
    let configuration = serde_json::json!({"task_routing": {
        "filters": [
            {"filter_friendly_name": "a", "expression": "skill == 'a'", "targets": [{"queue": queues[0]}]},
            {"filter_friendly_name": "b", "expression": "skill == 'b'", "targets": [{"queue": queues[1]}]},
        ],
        "default_filter": {"queue": queues[2]},
    }});
    assert!(
        run.exec(Command::CreateWorkflow {
            friendly_name: "by skill".into(),
            configuration: configuration.to_string(),
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
            task_reservation_timeout: Some(600),
        })
        .await
    );
    let s = run.state().await;
    let workflow = s.workflows.keys().next().expect("workflow").clone();
    let available = s
        .activities
        .values()
        .find(|a| a.available)
        .expect("an available activity")
        .sid
        .clone();
    let offline = s
        .activities
        .values()
        .find(|a| !a.available)
        .expect("an unavailable activity")
        .sid
        .clone();
    let mut rng = Rng(seed);
    let skills = ["a", "b", "c"];
    for i in 0..8 {
        let mine: Vec<&str> = skills
            .iter()
            .copied()
            .filter(|_| rng.below(2) == 0)
            .collect();
        assert!(
            run.exec(Command::CreateWorker {
                friendly_name: format!("worker {i}"),
                attributes: Some(serde_json::json!({ "skills": mine }).to_string()),
                activity_sid: Some(available.clone()),
            })
            .await
        );
    }
    for _ in 0..steps {
        let s = run.state().await;
        let pick = |rng: &mut Rng, v: Vec<Sid>| -> Option<Sid> {
            (!v.is_empty()).then(|| v[rng.below(v.len())].clone())
        };
        let pending: Vec<Sid> = s
            .reservations
            .values()
            .filter(|r| r.status == ReservationStatus::Pending)
            .map(|r| r.sid.clone())
            .collect();
        let command = match rng.below(100) {
            0..=39 => Some(Command::CreateTask {
                attributes: Some(
                    serde_json::json!({"skill": skills[rng.below(3)], "n": rng.below(1000)})
                        .to_string(),
                ),
                priority: Some(rng.below(3) as i64),
                timeout: None,
                task_channel: None,
                workflow_sid: Some(workflow.clone()),
                virtual_start_time: None,
            }),
            40..=69 => {
                let accept = rng.below(3) != 0;
                pick(&mut rng, pending).map(|sid| Command::UpdateReservation {
                    via: s.reservations[&sid].task_sid.clone(),
                    sid,
                    status: if accept { "accepted" } else { "rejected" }.into(),
                    activity_sid: None,
                    if_match: None,
                })
            }
            70..=84 => {
                let assigned: Vec<Sid> = s
                    .tasks
                    .values()
                    .filter(|t| matches!(t.status, TaskStatus::Assigned | TaskStatus::Wrapping))
                    .map(|t| t.sid.clone())
                    .collect();
                let wrap = rng.below(4) == 0;
                pick(&mut rng, assigned).map(|sid| Command::UpdateTask {
                    assignment_status: Some(
                        if wrap && s.tasks[&sid].status == TaskStatus::Assigned {
                            "wrapping"
                        } else {
                            "completed"
                        }
                        .into(),
                    ),
                    sid,
                    attributes: None,
                    priority: None,
                    reason: Some("done".into()),
                    if_match: None,
                })
            }
            85..=91 => {
                let open: Vec<Sid> = s
                    .tasks
                    .values()
                    .filter(|t| t.status.routable())
                    .map(|t| t.sid.clone())
                    .collect();
                pick(&mut rng, open).map(|sid| Command::UpdateTask {
                    sid,
                    attributes: None,
                    priority: None,
                    assignment_status: Some("canceled".into()),
                    reason: Some("hung up".into()),
                    if_match: None,
                })
            }
            92..=95 => {
                let open: Vec<Sid> = s
                    .tasks
                    .values()
                    .filter(|t| t.status.routable())
                    .map(|t| t.sid.clone())
                    .collect();
                let priority = rng.below(5) as i64;
                pick(&mut rng, open).map(|sid| Command::UpdateTask {
                    sid,
                    attributes: None,
                    priority: Some(priority),
                    assignment_status: None,
                    reason: None,
                    if_match: None,
                })
            }
            _ => {
                let workers: Vec<Sid> = s.workers.keys().cloned().collect();
                let to = if rng.below(2) == 0 {
                    available.clone()
                } else {
                    offline.clone()
                };
                let capacity = rng.below(3) as u32 + 1;
                let worker = pick(&mut rng, workers);
                if let (Some(w), true) = (&worker, rng.below(2) == 0) {
                    run.exec(Command::UpdateWorkerChannel {
                        worker: w.clone(),
                        channel: "default".into(),
                        capacity: Some(capacity),
                        available: None,
                    })
                    .await;
                }
                worker.map(|sid| Command::UpdateWorker {
                    sid,
                    friendly_name: None,
                    attributes: None,
                    activity_sid: Some(to),
                    reject_pending_reservations: false,
                    if_match: None,
                })
            }
        };
        if let Some(c) = command {
            // Refusals (a conflict, a worker still holding work) are part of the workload.
            run.exec(c).await;
        }
    }
    run
}

async fn caught_up_store(
    log: &Arc<dyn EventLog>,
    url: &str,
    projection: Arc<dyn Projection>,
) -> ProjectionStore {
    let store = ProjectionStore::connect(url).await.expect("store");
    let projector = Projector::new(
        log.clone(),
        store.clone(),
        Arc::new(Metrics::default()),
        vec![Arc::new(Workspaces), projection],
    )
    .await
    .expect("projector");
    let heads = log.heads().await.expect("heads");
    for p in projector.projections() {
        projector
            .run(
                p.clone(),
                Some(heads.clone()),
                CancellationToken::new(),
                |_| {},
            )
            .await;
    }
    store
}

async fn the_read_model_matches_the_workspace_state(url: String, rebuild_url: String) {
    let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
    let run = workload(log.clone(), 0x5eed_cafe, 400).await;
    let s = run.state().await;
    let store = caught_up_store(&log, &url, Arc::new(TaskRouter::default())).await;
    let mut conn = store.pool().acquire().await.expect("conn");
    let ws = run.ws.as_str();

    // Queue positions: the routable tasks of each queue by priority, then age (reversed in
    // the LIFO queue), then SID.
    let mut expected: Vec<(String, String, i64, String)> = Vec::new();
    for q in s.queues.values() {
        let mut tasks: Vec<_> = s
            .tasks
            .values()
            .filter(|t| t.status.routable())
            .filter(|t| t.step.as_ref().is_some_and(|st| st.queue_sid == q.sid))
            .collect();
        tasks.sort_by(|a, b| {
            let age = if q.task_order == QueueOrder::Lifo {
                b.age_from().cmp(&a.age_from())
            } else {
                a.age_from().cmp(&b.age_from())
            };
            b.effective_priority()
                .cmp(&a.effective_priority())
                .then(age)
                .then(a.sid.cmp(&b.sid))
        });
        for (i, t) in tasks.iter().enumerate() {
            expected.push((
                q.sid.to_string(),
                t.sid.to_string(),
                i as i64 + 1,
                t.status.as_str().to_string(),
            ));
        }
    }
    expected.sort();
    let mut got: Vec<(String, String, i64, String)> =
        projection::queue_positions(&mut conn, ws, None)
            .await
            .expect("positions")
            .into_iter()
            .map(|p| (p.task_queue_sid, p.task_sid, p.position, p.status))
            .collect();
    got.sort();
    assert!(expected.len() > 5, "the workload leaves tasks waiting");
    assert_eq!(got, expected, "queue positions");

    // Worker assignments: activity, per-channel capacity and load, held reservations.
    let assignments = projection::worker_assignments(&mut conn, ws, None)
        .await
        .expect("assignments");
    assert_eq!(assignments.len(), s.workers.len());
    let mut busy_seen = 0;
    for a in &assignments {
        let w = &s.workers[&Sid::parse(&a.worker_sid).expect("sid")];
        assert_eq!(a.activity_sid, w.activity_sid.as_str(), "{}", a.worker_sid);
        assert_eq!(a.available, s.worker_available(w));
        for c in &a.channels {
            let mine = &w.channels[&Sid::parse(&c.task_channel_sid).expect("sid")];
            assert_eq!(
                (c.capacity, c.busy, c.available),
                (
                    i64::from(mine.capacity),
                    i64::from(mine.busy),
                    mine.available
                ),
                "worker {} channel {}",
                a.worker_sid,
                c.unique_name
            );
            busy_seen += c.busy;
        }
        let mut held: Vec<(String, String)> = s
            .reservations
            .values()
            .filter(|r| r.worker_sid == w.sid && r.status.holds_capacity())
            .map(|r| (r.sid.to_string(), r.status.as_str().to_string()))
            .collect();
        held.sort();
        let mut got: Vec<(String, String)> = a
            .reservations
            .iter()
            .map(|r| (r.sid.clone(), r.status.clone()))
            .collect();
        got.sort();
        assert_eq!(got, held, "reservations held by {}", a.worker_sid);
    }
    assert!(busy_seen > 0, "the workload leaves workers busy");

    // All-time counters against the state (nothing was deleted, so it still has every task
    // and reservation).
    let n = projection::counters(&mut conn, ws, ws, None, 0, i64::MAX / 120_000)
        .await
        .expect("counters");
    let count = |k: &str| n.get(k).map_or(0, |s| s.n);
    let reservations = |f: &dyn Fn(ReservationStatus) -> bool| {
        s.reservations.values().filter(|r| f(r.status)).count() as i64
    };
    assert_eq!(count("tasks_created"), s.tasks.len() as i64);
    assert_eq!(
        count("tasks_completed"),
        s.tasks
            .values()
            .filter(|t| t.status == TaskStatus::Completed)
            .count() as i64
    );
    assert_eq!(
        count("tasks_canceled"),
        s.tasks
            .values()
            .filter(|t| t.status == TaskStatus::Canceled)
            .count() as i64
    );
    assert_eq!(count("reservations_created"), s.reservations.len() as i64);
    assert_eq!(
        count("reservations_accepted"),
        reservations(&|r| matches!(
            r,
            ReservationStatus::Accepted
                | ReservationStatus::Wrapping
                | ReservationStatus::Completed
        ))
    );
    assert_eq!(
        count("reservations_rejected"),
        reservations(&|r| r == ReservationStatus::Rejected)
    );
    assert_eq!(
        count("reservations_rescinded"),
        reservations(&|r| r == ReservationStatus::Rescinded)
    );
    assert_eq!(
        count("reservations_canceled"),
        reservations(&|r| r == ReservationStatus::Canceled)
    );
    assert!(count("reservations_rejected") > 0 && count("tasks_completed") > 0);
    let accepted = n.get("wait_until_accepted").copied().unwrap_or_default();
    assert_eq!(accepted.n, count("reservations_accepted"));
    // Queue counters add up to the workspace's.
    let mut entered = 0;
    for q in s.queues.keys() {
        let per = projection::counters(&mut conn, ws, q.as_str(), None, 0, i64::MAX / 120_000)
            .await
            .expect("counters");
        entered += per.get("tasks_entered").map_or(0, |s| s.n);
    }
    assert_eq!(
        entered,
        count("tasks_created"),
        "every task entered one queue"
    );
    events_index_matches_the_log(&log, &mut conn, &run.ws).await;
    drop(conn);

    // A rebuild from the log, event by event, gives the same tables.
    let digest = store.digest(&TaskRouter::default()).await.expect("digest");
    let rebuilt = caught_up_store(&log, &rebuild_url, Arc::new(OneByOne)).await;
    assert_eq!(
        rebuilt.digest(&OneByOne).await.expect("digest"),
        digest,
        "rebuild"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_taskrouter_read_model_matches_the_workspace_state() {
    let dir = DataDir::new("tr-projection");
    let url = |n: &str| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join(n).to_str().expect("utf-8")
        )
    };
    the_read_model_matches_the_workspace_state(url("a.db"), url("b.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_taskrouter_read_model_matches_the_workspace_state() {
    let a = PgDatabase::new().await;
    let b = PgDatabase::new().await;
    the_read_model_matches_the_workspace_state(a.url.clone(), b.url.clone()).await;
}

/// `tasks_timed_out_in_workflow` counts `workflow.timeout` facts: a task whose only target
/// times out counts once; a task a caller cancels with the same reason text does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_timeout_is_counted_from_its_own_fact_not_from_a_reason_text() {
    let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
    let run = Run {
        engine: Engine::new(log.clone()),
        commands: Commands::new(log.clone(), "test".into()),
        account: new_sid(SidPrefix::Account),
        ws: new_sid(SidPrefix::Workspace),
    };
    assert!(
        run.exec(Command::CreateWorkspace {
            friendly_name: "timeouts".into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: None,
            prioritize_queue_order: None,
            template: Template::None,
        })
        .await
    );
    assert!(
        run.exec(Command::CreateTaskQueue {
            friendly_name: "nobody".into(),
            target_workers: Some("1==1".into()),
            task_order: None,
            max_reserved_workers: None,
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        })
        .await
    );
    let queue = run
        .state()
        .await
        .queues
        .keys()
        .next()
        .expect("queue")
        .clone();
    let configuration = serde_json::json!({"task_routing": {"filters": [
        {"filter_friendly_name": "short", "expression": "1==1",
         "targets": [{"queue": queue.as_str(), "timeout": 1}]}
    ]}});
    assert!(
        run.exec(Command::CreateWorkflow {
            friendly_name: "one short target".into(),
            configuration: configuration.to_string(),
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
            task_reservation_timeout: None,
        })
        .await
    );
    let workflow = run
        .state()
        .await
        .workflows
        .keys()
        .next()
        .expect("workflow")
        .clone();
    let task = || Command::CreateTask {
        attributes: None,
        priority: None,
        timeout: None,
        task_channel: None,
        workflow_sid: None,
        virtual_start_time: None,
    };
    assert!(run.exec(task()).await);
    assert!(run.exec(task()).await);
    let (timing_out, by_caller) = {
        let s = run.state().await;
        let mut sids: Vec<Sid> = s.tasks.keys().cloned().collect();
        sids.sort();
        (sids[0].clone(), sids[1].clone())
    };
    assert!(
        run.exec(Command::UpdateTask {
            sid: by_caller.clone(),
            attributes: None,
            priority: None,
            assignment_status: Some("canceled".into()),
            reason: Some("Workflow Timeout".into()),
            if_match: None,
        })
        .await
    );
    // The engine's timer cancels the other one a second or two later (no worker exists).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while run.state().await.tasks[&timing_out].status != TaskStatus::Canceled {
        assert!(
            std::time::Instant::now() < deadline,
            "the workflow never timed the task out"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let dir = DataDir::new("tr-workflow-timeout");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("rm.db").to_str().expect("utf-8")
    );
    let store = caught_up_store(&log, &url, Arc::new(TaskRouter::default())).await;
    let mut conn = store.pool().acquire().await.expect("conn");
    let ws = run.ws.as_str();
    for scope in [ws, workflow.as_str()] {
        let n = projection::counters(&mut conn, ws, scope, None, 0, i64::MAX / 120_000)
            .await
            .expect("counters");
        let count = |m: &str| n.get(m).map_or(0, |s| s.n);
        assert_eq!(count("tasks_canceled"), 2, "scope {scope}: {n:?}");
        assert_eq!(
            count("tasks_timed_out_in_workflow"),
            1,
            "scope {scope}: {n:?}"
        );
    }
}

/// The Event index `/Events` reads against the workspace's stream: every event once, newest
/// first, paged by `seq` without gaps or repeats; a task's events are those naming it and its
/// reservations' events, a worker's those naming it and the events of reservations offered to
/// it — computed here from the log alone.
async fn events_index_matches_the_log(
    log: &Arc<dyn EventLog>,
    conn: &mut sqlx::AnyConnection,
    ws: &Sid,
) {
    use std::collections::{BTreeMap, BTreeSet};
    use switchboard_events::taskrouter::refs::refs;
    use switchboard_events::Event;
    let recorded: Vec<Envelope> = log
        .read_stream(ws.as_str())
        .await
        .expect("stream")
        .into_iter()
        .map(|r| r.into_envelope().expect("decodes"))
        .collect();
    let all = |q: projection::EventQuery| projection::EventQuery {
        limit: 1_000_000,
        ..q
    };
    let rows = projection::events(conn, ws.as_str(), &all(Default::default()))
        .await
        .expect("events");
    let newest_first: Vec<(String, i64, &str)> = recorded
        .iter()
        .rev()
        .map(|e| {
            (
                format!("EV{}", e.id.simple()),
                e.seq as i64,
                e.event.type_name(),
            )
        })
        .collect();
    let got: Vec<(String, i64, &str)> = rows
        .iter()
        .map(|r| (r.sid.clone(), r.seq, r.event_type.as_str()))
        .collect();
    assert_eq!(got, newest_first, "one row per event, newest first");
    for t in [
        "reservation.completed",
        "task-queue.entered",
        "workflow.entered",
    ] {
        assert!(
            got.iter().any(|(_, _, ty)| *ty == t),
            "the workload records {t}"
        );
    }

    // Pages of 37 by token cover the list exactly.
    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let q = projection::EventQuery {
            before_seq: before,
            limit: 37,
            ..Default::default()
        };
        let page = projection::events(conn, ws.as_str(), &q)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        paged.extend(page.into_iter().map(|r| r.sid));
    }
    let sids: Vec<String> = rows.iter().map(|r| r.sid.clone()).collect();
    assert_eq!(paged, sids, "paging by token");

    // Who each reservation was for, from the log.
    let mut offered: BTreeMap<Sid, (Sid, Sid)> = BTreeMap::new();
    for e in &recorded {
        if let Event::ReservationCreated(r) = &e.event {
            offered.insert(r.sid.clone(), (r.task_sid.clone(), r.worker_sid.clone()));
        }
    }
    let of = |e: &Envelope| {
        refs(&e.event)
            .reservation
            .and_then(|r| offered.get(r))
            .cloned()
    };
    let tasks: BTreeSet<Sid> = offered.values().map(|(t, _)| t.clone()).collect();
    let workers: BTreeSet<Sid> = offered.values().map(|(_, w)| w.clone()).collect();
    // (filter, the query, whether the log says an event passes it)
    type Case<'a> = (
        String,
        projection::EventQuery,
        Box<dyn Fn(&Envelope) -> bool + 'a>,
    );
    let mut cases: Vec<Case> = Vec::new();
    for task in tasks.iter().take(5) {
        let q = projection::EventQuery {
            task_sid: Some(task.to_string()),
            ..Default::default()
        };
        let keeps = move |e: &Envelope| {
            refs(&e.event).task == Some(task) || of(e).is_some_and(|(t, _)| t == *task)
        };
        cases.push((format!("TaskSid={task}"), q, Box::new(keeps)));
    }
    for worker in workers.iter().take(3) {
        let q = projection::EventQuery {
            worker_sid: Some(worker.to_string()),
            ..Default::default()
        };
        let keeps = move |e: &Envelope| {
            refs(&e.event).worker == Some(worker) || of(e).is_some_and(|(_, w)| w == *worker)
        };
        cases.push((format!("WorkerSid={worker}"), q, Box::new(keeps)));
    }
    for (name, q, keeps) in cases {
        let expected: Vec<String> = recorded
            .iter()
            .rev()
            .filter(|e| keeps(e))
            .map(|e| format!("EV{}", e.id.simple()))
            .collect();
        let got: Vec<String> = projection::events(conn, ws.as_str(), &all(q))
            .await
            .expect("filtered")
            .into_iter()
            .map(|r| r.sid)
            .collect();
        assert_eq!(got, expected, "{name}");
    }
    let types = vec!["reservation.completed".to_string(), "task.completed".into()];
    let q = all(projection::EventQuery {
        types: types.clone(),
        ..Default::default()
    });
    let got = projection::events(conn, ws.as_str(), &q)
        .await
        .expect("by type");
    let expected = recorded
        .iter()
        .filter(|e| types.iter().any(|t| t == e.event.type_name()))
        .count();
    assert_eq!(got.len(), expected, "EventType");
}

/// `/Events` keeps 30 days counted back from the newest event applied: events written 40
/// days before the last one leave the index, the one exactly 30 days before stays, and a
/// rebuild applied event by event keeps the same rows (the cut-off is the log's time, not the
/// wall clock's). A longer retention keeps them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_older_than_the_retention_leave_the_index_and_a_rebuild_keeps_the_same_rows() {
    let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
    let engine = Engine::new(log.clone());
    let (account, ws) = (new_sid(SidPrefix::Account), new_sid(SidPrefix::Workspace));
    let day = 24 * 3600 * 1000;
    let t0 = 1_735_689_600_000; // 2025-01-01
    let at = |ms: i64| switchboard_events::Metadata {
        occurred_at: chrono::DateTime::from_timestamp_millis(ms).expect("a time"),
        account_sid: account.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        region: "test".into(),
    };
    let create = Command::CreateWorkspace {
        friendly_name: "retention".into(),
        event_callback_url: None,
        events_filter: None,
        multi_task_enabled: None,
        prioritize_queue_order: None,
        template: Template::None,
    };
    let activity = |name: &str| Command::CreateActivity {
        friendly_name: name.into(),
        available: Some(true),
    };
    let steps = [
        (create, t0),
        (activity("old"), t0 + day),
        (activity("edge"), t0 + 10 * day),
        (activity("new"), t0 + 40 * day),
    ];
    for (command, ms) in steps {
        engine
            .execute(&ws, command, at(ms), |_: &Loaded, _| ())
            .await
            .expect("executed");
    }
    let dir = DataDir::new("tr-events-retention");
    let url = |name: &str| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join(name).to_str().expect("utf-8")
        )
    };
    /// When each event the index kept happened.
    async fn kept(store: &ProjectionStore, ws: &str) -> Vec<i64> {
        let mut conn = store.pool().acquire().await.expect("conn");
        let q = projection::EventQuery {
            limit: 1_000,
            ..Default::default()
        };
        let rows = projection::events(&mut conn, ws, &q).await.expect("events");
        rows.iter().map(|r| r.occurred_ms).collect()
    }
    let live = caught_up_store(&log, &url("live.db"), Arc::new(TaskRouter::default())).await;
    let all = log.read_stream(ws.as_str()).await.expect("stream").len();
    let rows = kept(&live, ws.as_str()).await;
    assert!(all > rows.len(), "{all} events, {rows:?} kept");
    assert!(
        rows.iter().all(|ms| *ms >= t0 + 10 * day) && rows.contains(&(t0 + 10 * day)),
        "the events 30 days or less before the newest stay, the older ones go: {rows:?}"
    );
    let digest = live.digest(&TaskRouter::default()).await.expect("digest");
    let rebuilt = caught_up_store(&log, &url("rebuilt.db"), Arc::new(OneByOne)).await;
    assert_eq!(
        rebuilt.digest(&OneByOne).await.expect("digest"),
        digest,
        "a rebuild keeps the same rows"
    );
    let longer = TaskRouter::with_events_retention(std::time::Duration::from_secs(60 * 86_400));
    let longer = caught_up_store(&log, &url("longer.db"), Arc::new(longer)).await;
    let kept_all = kept(&longer, ws.as_str()).await;
    assert_eq!(kept_all.len(), all, "a 60-day retention keeps every event");
}
