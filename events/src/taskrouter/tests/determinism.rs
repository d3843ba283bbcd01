//! Determinism: the same commands, with the same seeded SIDs and times, give byte-identical
//! events. A random workload runs twice the way the shell runs it (commands decided in
//! batches with `decide_mut`, one `route_mut` per batch, timers as `Tick`s), each run on a
//! fresh state; the two runs' events must match type for type, version for version and byte
//! for byte in their JSON data. Anything that lets the process leak into a decision (a
//! `HashMap`'s iteration order, a clock read, a random SID) makes the runs differ: each
//! `HashMap` gets its own random keys, so two runs in one process iterate differently.

use super::*;
use crate::taskrouter::decide::{decide_mut, route_mut};
use proptest::prelude::*;

/// One step of the workload; indexes pick among what exists when the step runs, so the
/// same steps make the same commands in every run.
#[derive(Debug, Clone)]
enum Step {
    /// A task in language `0..3` (en, es, none) with a priority.
    Task(u8, i64),
    /// A worker speaking languages (bit 0 en, bit 1 es), available or not.
    Worker(u8, bool),
    /// A worker's default-channel capacity.
    Capacity(usize, u32),
    /// A worker to Available (true) or Offline.
    Activity(usize, bool),
    /// A reservation answered: accepted, rejected, wrapping, completed.
    Answer(usize, u8),
    /// A task canceled, completed or reprioritised.
    TaskChange(usize, u8),
    /// A worker deleted.
    DeleteWorker(usize),
    /// Time passes and the timers run.
    Tick(i64),
    /// The batch so far is committed (routing runs once over it).
    Commit,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..3, 0i64..4).prop_map(|(l, p)| Step::Task(l, p)),
        2 => (0u8..4, any::<bool>()).prop_map(|(l, a)| Step::Worker(l, a)),
        1 => (0usize..20, 0u32..4).prop_map(|(w, c)| Step::Capacity(w, c)),
        1 => (0usize..20, any::<bool>()).prop_map(|(w, a)| Step::Activity(w, a)),
        3 => (0usize..50, 0u8..4).prop_map(|(r, s)| Step::Answer(r, s)),
        1 => (0usize..50, 0u8..3).prop_map(|(t, s)| Step::TaskChange(t, s)),
        1 => (0usize..20).prop_map(Step::DeleteWorker),
        2 => (1i64..40).prop_map(Step::Tick),
        3 => Just(Step::Commit),
    ]
}

/// A run's events as the log would hold them: type, schema version, JSON data.
type Recorded = Vec<(&'static str, u32, String)>;

/// The shell's way of running commands, over a state of its own: a batch is decided command
/// by command, then routed once; SIDs from a counter, time from the steps.
struct Shell {
    state: Option<Workspace>,
    next: u128,
    clock: i64,
    batch: Vec<Event>,
    recorded: Recorded,
}

impl Shell {
    fn new() -> Shell {
        Shell {
            state: None,
            next: 1_000,
            clock: 0,
            batch: Vec::new(),
            recorded: Vec::new(),
        }
    }

    fn decide(&mut self, command: Command) -> Vec<Event> {
        let mut next = self.next;
        let mut new_sid = |p: SidPrefix| {
            next += 1;
            Sid::from_u128(p, next)
        };
        let mut ctx = Ctx {
            now: t(self.clock),
            new_sid: &mut new_sid,
        };
        let events = decide_mut(&mut self.state, &ws_sid(), &command, &mut ctx).unwrap_or_default();
        self.next = next;
        self.batch.extend(events.iter().cloned());
        events
    }

    fn commit(&mut self) {
        let mut next = self.next;
        let mut new_sid = |p: SidPrefix| {
            next += 1;
            Sid::from_u128(p, next)
        };
        let mut ctx = Ctx {
            now: t(self.clock),
            new_sid: &mut new_sid,
        };
        let decided = std::mem::take(&mut self.batch);
        let routed = route_mut(&mut self.state, &ws_sid(), decided.iter(), &mut ctx);
        self.next = next;
        for e in decided.iter().chain(routed.iter()) {
            self.recorded
                .push((e.type_name(), e.schema_version(), e.data_json()));
        }
    }

    fn ws(&self) -> &Workspace {
        self.state.as_ref().expect("workspace")
    }

    /// The `i`-th of `sids` (by the state's own order), if there is any.
    fn pick(sids: Vec<Sid>, i: usize) -> Option<Sid> {
        (!sids.is_empty()).then(|| sids[i % sids.len()].clone())
    }

    fn activity(&self, name: &str) -> Option<Sid> {
        self.ws()
            .activities
            .values()
            .find(|a| a.friendly_name == name)
            .map(|a| a.sid.clone())
    }

    fn created(events: &[Event]) -> Option<Sid> {
        events.iter().find_map(|e| match e {
            Event::TaskQueueCreated(x) => Some(x.sid.clone()),
            Event::WorkflowCreated(x) => Some(x.sid.clone()),
            _ => None,
        })
    }

    /// A workspace with an English and a Spanish queue, and a workflow that sends Spanish
    /// tasks to Spanish speakers for 5 s, then to anyone, and the rest to English speakers.
    fn setup(&mut self) -> Option<Sid> {
        self.decide(Command::CreateWorkspace {
            friendly_name: "Determinism".into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: Some(true),
            prioritize_queue_order: None,
            template: Template::None,
        });
        let queue = |shell: &mut Shell, name: &str, target: &str| {
            let events = shell.decide(Command::CreateTaskQueue {
                friendly_name: name.into(),
                target_workers: Some(target.into()),
                task_order: Some(QueueOrder::Fifo),
                max_reserved_workers: Some(2),
                reservation_activity_sid: None,
                assignment_activity_sid: None,
            });
            Shell::created(&events)
        };
        let en = queue(self, "en", "languages HAS 'en'")?;
        let es = queue(self, "es", "languages HAS 'es'")?;
        let any = queue(self, "any", "1 == 1")?;
        let config = json!({"task_routing": {"filters": [
            {"expression": "language == 'es'", "targets": [
                {"queue": es.as_str(), "timeout": 5}, {"queue": any.as_str(), "priority": 2}]},
            {"expression": "language == 'en'", "targets": [{"queue": en.as_str()}]}
        ], "default_filter": {"queue": any.as_str()}}});
        let events = self.decide(Command::CreateWorkflow {
            friendly_name: "Languages".into(),
            configuration: config.to_string(),
            assignment_callback_url: None,
            fallback_assignment_callback_url: None,
            task_reservation_timeout: Some(10),
        });
        self.commit();
        Shell::created(&events)
    }

    fn apply(&mut self, step: &Step, workflow: &Sid) {
        let ws = self.ws();
        let workers: Vec<Sid> = ws.workers.keys().cloned().collect();
        let tasks: Vec<Sid> = ws.tasks.keys().cloned().collect();
        let reservations: Vec<(Sid, Sid)> = ws
            .reservations
            .values()
            .map(|r| (r.sid.clone(), r.task_sid.clone()))
            .collect();
        let command = match step {
            Step::Task(lang, priority) => Command::CreateTask {
                attributes: Some(format!(
                    r#"{{"language": "{}"}}"#,
                    ["en", "es", "fr"][*lang as usize % 3]
                )),
                priority: Some(*priority),
                timeout: Some(200),
                task_channel: None,
                workflow_sid: Some(workflow.clone()),
                virtual_start_time: None,
            },
            Step::Worker(langs, available) => {
                let spoken: Vec<&str> = [(1, "en"), (2, "es")]
                    .iter()
                    .filter(|(bit, _)| langs & bit != 0)
                    .map(|(_, l)| *l)
                    .collect();
                Command::CreateWorker {
                    friendly_name: format!("w{}", self.next),
                    attributes: Some(json!({"languages": spoken}).to_string()),
                    activity_sid: self.activity(if *available { "Available" } else { "Offline" }),
                }
            }
            Step::Capacity(i, capacity) => match Shell::pick(workers, *i) {
                Some(worker) => Command::UpdateWorkerChannel {
                    worker,
                    channel: "default".into(),
                    capacity: Some(*capacity),
                    available: None,
                },
                None => return,
            },
            Step::Activity(i, available) => match Shell::pick(workers, *i) {
                Some(sid) => Command::UpdateWorker {
                    sid,
                    friendly_name: None,
                    attributes: None,
                    activity_sid: self.activity(if *available { "Available" } else { "Offline" }),
                    reject_pending_reservations: false,
                    if_match: None,
                },
                None => return,
            },
            Step::Answer(i, status) => {
                if reservations.is_empty() {
                    return;
                }
                let (sid, via) = reservations[i % reservations.len()].clone();
                Command::UpdateReservation {
                    sid,
                    via,
                    status: ["accepted", "rejected", "wrapping", "completed"][*status as usize % 4]
                        .into(),
                    activity_sid: None,
                    if_match: None,
                }
            }
            Step::TaskChange(i, change) => match Shell::pick(tasks, *i) {
                Some(sid) => Command::UpdateTask {
                    sid,
                    attributes: None,
                    priority: (*change == 2).then_some(9),
                    assignment_status: match change {
                        0 => Some("canceled".into()),
                        1 => Some("completed".into()),
                        _ => None,
                    },
                    reason: Some("determinism".into()),
                    if_match: None,
                },
                None => return,
            },
            Step::DeleteWorker(i) => match Shell::pick(workers, *i) {
                Some(sid) => Command::DeleteWorker {
                    sid,
                    if_match: None,
                },
                None => return,
            },
            Step::Tick(d) => {
                self.clock += d;
                Command::Tick
            }
            Step::Commit => {
                self.commit();
                return;
            }
        };
        self.decide(command);
    }
}

/// Runs the workload on a fresh state and returns every event it recorded.
fn run(steps: &[Step]) -> Recorded {
    let mut shell = Shell::new();
    let Some(workflow) = shell.setup() else {
        return shell.recorded;
    };
    for s in steps {
        shell.clock += 1;
        shell.apply(s, &workflow);
    }
    shell.commit();
    shell.recorded
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn the_same_commands_with_the_same_sids_and_times_give_byte_identical_events(steps in proptest::collection::vec(step(), 1..120)) {
        let first = run(&steps);
        let second = run(&steps);
        prop_assert!(first.len() > 5, "the workload recorded too little: {first:?}");
        prop_assert_eq!(first.len(), second.len());
        for (i, (a, b)) in first.iter().zip(&second).enumerate() {
            prop_assert_eq!(a, b, "event {} differs between two runs of the same workload", i);
        }
    }
}

/// The workload exercises what determinism is about: offers among several eligible workers
/// and several waiting tasks, timeouts and escalation (checked on one fixed workload).
#[test]
fn the_workload_offers_times_out_and_escalates() {
    let mut steps = vec![
        Step::Worker(3, true),
        Step::Worker(1, true),
        Step::Worker(2, true),
    ];
    steps.extend([
        Step::Task(1, 0),
        Step::Task(0, 1),
        Step::Task(1, 3),
        Step::Commit,
    ]);
    steps.extend([
        Step::Tick(6),
        Step::Commit,
        Step::Answer(0, 0),
        Step::Tick(12),
        Step::Commit,
    ]);
    let recorded = run(&steps);
    let types: Vec<&str> = recorded.iter().map(|(t, _, _)| *t).collect();
    for wanted in [
        "task.created",
        "reservation.created",
        "reservation.accepted",
        "reservation.timeout",
    ] {
        assert!(types.contains(&wanted), "{wanted} missing from {types:?}");
    }
    assert_eq!(recorded, run(&steps));
}
