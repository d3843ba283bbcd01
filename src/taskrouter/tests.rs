//! The workspace actor's memory against its log: after a random workload through the real
//! [`Engine`] over a real SQLite log (concurrent commands, so the actor decides them in
//! batches and routes once per batch; its timer ticking fast, so timeouts interleave), the
//! state the actor holds equals, as a whole (`Workspace: PartialEq`, with the owner, version
//! and head beside it), a fresh fold of the stream, and what a new engine loads from it.

use super::{load, Engine, Loaded, TaskRouterLimits};
use crate::log::sqlite::{SqliteLog, SqliteLogOptions};
use crate::log::EventLog;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::taskrouter::decide::{Command, Template};
use switchboard_events::taskrouter::events::QueueOrder;
use switchboard_events::taskrouter::state::Workspace;
use switchboard_events::{Event, Metadata, Position, Sid, SidPrefix};
use uuid::Uuid;

/// What a load is compared by: the whole state, its owner, the stream's version and head.
type Snapshot = (Option<Workspace>, Option<Sid>, u64, Position);

fn snapshot(l: &Loaded) -> Snapshot {
    (l.state.clone(), l.account_sid.clone(), l.version, l.head)
}

/// A seeded generator (splitmix64): the workload is the same for a seed on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn meta(account: &Sid) -> Metadata {
    Metadata {
        occurred_at: crate::commands::now_ms(),
        account_sid: account.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        region: "test".into(),
    }
}

/// Runs `command` and returns the SID it created, if any.
async fn run(engine: &Engine, ws: &Sid, account: &Sid, command: Command) -> Option<Sid> {
    engine
        .execute(ws, command, meta(account), |_, events: &[Event]| {
            events.iter().find_map(|e| match e {
                Event::TaskQueueCreated(x) => Some(x.sid.clone()),
                Event::WorkflowCreated(x) => Some(x.sid.clone()),
                _ => None,
            })
        })
        .await
        .ok()
        .and_then(|done| done.body)
}

/// One random command against what the workspace holds now.
fn random_command(rng: &mut Rng, ws: &Workspace, workflow: &Sid) -> Command {
    let workers: Vec<Sid> = ws.workers.keys().cloned().collect();
    let tasks: Vec<Sid> = ws.tasks.keys().cloned().collect();
    let reservations: Vec<(Sid, Sid)> = ws
        .reservations
        .values()
        .map(|r| (r.sid.clone(), r.task_sid.clone()))
        .collect();
    let activity = |name: &str| {
        ws.activities
            .values()
            .find(|a| a.friendly_name == name)
            .map(|a| a.sid.clone())
    };
    let pick = |rng: &mut Rng, v: &[Sid]| (!v.is_empty()).then(|| v[rng.below(v.len())].clone());
    match rng.below(10) {
        0..=2 => Command::CreateTask {
            attributes: Some(format!(
                r#"{{"language": "{}"}}"#,
                ["en", "es"][rng.below(2)]
            )),
            priority: Some(rng.below(4) as i64),
            timeout: Some(1 + rng.below(5) as u32),
            task_channel: None,
            workflow_sid: Some(workflow.clone()),
            virtual_start_time: None,
        },
        3 => Command::CreateWorker {
            friendly_name: format!("w{}", rng.next()),
            attributes: Some(
                [
                    r#"{"languages": ["en"]}"#,
                    r#"{"languages": ["es"]}"#,
                    r#"{"languages": ["en", "es"]}"#,
                ][rng.below(3)]
                .to_string(),
            ),
            activity_sid: activity(["Available", "Offline"][rng.below(2)]),
        },
        4 if !workers.is_empty() => Command::UpdateWorkerChannel {
            worker: pick(rng, &workers).unwrap_or_else(|| workflow.clone()),
            channel: "default".into(),
            capacity: Some(rng.below(3) as u32),
            available: None,
        },
        5 if !workers.is_empty() => Command::UpdateWorker {
            sid: pick(rng, &workers).unwrap_or_else(|| workflow.clone()),
            friendly_name: None,
            attributes: None,
            activity_sid: activity(["Available", "Offline"][rng.below(2)]),
            reject_pending_reservations: rng.below(2) == 0,
            if_match: None,
        },
        6..=8 if !reservations.is_empty() => {
            let (sid, via) = reservations[rng.below(reservations.len())].clone();
            Command::UpdateReservation {
                sid,
                via,
                status: ["accepted", "rejected", "completed"][rng.below(3)].into(),
                activity_sid: None,
                if_match: None,
            }
        }
        _ if !tasks.is_empty() => Command::UpdateTask {
            sid: pick(rng, &tasks).unwrap_or_else(|| workflow.clone()),
            attributes: None,
            priority: None,
            assignment_status: Some(["canceled", "completed"][rng.below(2)].into()),
            reason: Some("test".into()),
            if_match: None,
        },
        _ => Command::Tick,
    }
}

/// A workspace with two language queues and a workflow that moves Spanish tasks on after a
/// second; returns its workflow.
async fn setup(engine: &Engine, ws: &Sid, account: &Sid) -> Sid {
    let create = Command::CreateWorkspace {
        friendly_name: "Fold".into(),
        event_callback_url: None,
        events_filter: None,
        multi_task_enabled: Some(true),
        prioritize_queue_order: Some(QueueOrder::Fifo),
        template: Template::None,
    };
    assert!(engine
        .execute(ws, create, meta(account), |_, _| ())
        .await
        .is_ok());
    let mut queues = Vec::new();
    for (name, target) in [("en", "languages HAS 'en'"), ("es", "languages HAS 'es'")] {
        let queue = Command::CreateTaskQueue {
            friendly_name: name.into(),
            target_workers: Some(target.into()),
            task_order: None,
            max_reserved_workers: Some(2),
            reservation_activity_sid: None,
            assignment_activity_sid: None,
        };
        queues.push(run(engine, ws, account, queue).await.expect("queue"));
    }
    let config = json!({"task_routing": {"filters": [
        {"expression": "language == 'es'", "targets": [
            {"queue": queues[1].as_str(), "timeout": 1}, {"queue": queues[0].as_str()}]}
    ], "default_filter": {"queue": queues[0].as_str()}}});
    let workflow = Command::CreateWorkflow {
        friendly_name: "Languages".into(),
        configuration: config.to_string(),
        assignment_callback_url: None,
        fallback_assignment_callback_url: None,
        task_reservation_timeout: Some(1),
    };
    run(engine, ws, account, workflow).await.expect("workflow")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_random_workload_the_actors_state_equals_a_fresh_fold_of_its_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log: Arc<dyn EventLog> = Arc::new(
        SqliteLog::open(
            &dir.path().join("log.sqlite"),
            SqliteLogOptions::default(),
            Arc::new(()),
        )
        .await
        .expect("open"),
    );
    let limits = TaskRouterLimits {
        tick: Duration::from_millis(20),
        ..TaskRouterLimits::DEFAULT
    };
    let engine = Engine::with_limits(log.clone(), limits);
    let account = Sid::from_u128(SidPrefix::Account, 7);
    for seed in 0..4u64 {
        let ws = crate::commands::new_sid(SidPrefix::Workspace);
        let workflow = setup(&engine, &ws, &account).await;
        let mut rng = Rng(seed);
        for _round in 0..25 {
            let state = engine
                .read(&ws, |l| l.state.clone())
                .await
                .expect("read")
                .expect("workspace");
            // Several commands at once: the actor takes them as one batch.
            let burst: Vec<Command> = (0..1 + rng.below(8))
                .map(|_| random_command(&mut rng, &state, &workflow))
                .collect();
            let sent = burst.into_iter().map(|c| {
                let engine = engine.clone();
                let (ws, account) = (ws.clone(), account.clone());
                tokio::spawn(async move { run(&engine, &ws, &account, c).await })
            });
            for handle in sent.collect::<Vec<_>>() {
                let _ = handle.await;
            }
            if rng.below(4) == 0 {
                // Long enough for timeouts (1 s) to fire now and then.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        // A read is answered between batches, so nothing decided is unwritten; a tick may
        // commit a timeout between the read and the load, so the two are taken until they
        // are of one version (timeouts stop once every task's short TTL has passed).
        let (in_memory, folded) = loop {
            let in_memory = engine.read(&ws, snapshot).await.expect("read");
            let folded = snapshot(&load(log.as_ref(), &ws).await.expect("load"));
            if in_memory.2 == folded.2 {
                break (in_memory, folded);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let version = in_memory.2;
        assert!(
            version > 20,
            "seed {seed}: the workload wrote too little ({version} events)"
        );
        let ws_state = in_memory.0.as_ref().expect("workspace");
        assert!(
            !ws_state.reservations.is_empty(),
            "seed {seed}: no reservation was made"
        );
        assert_eq!(
            in_memory, folded,
            "seed {seed}: the actor's state is not the log's fold"
        );
        let fresh = Engine::new(log.clone());
        let reloaded = fresh.read(&ws, snapshot).await.expect("reload");
        assert_eq!(
            reloaded.0, folded.0,
            "seed {seed}: a new engine loads another state"
        );
    }
}
