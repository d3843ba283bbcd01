//! The matcher: which pending tasks are offered to which workers now. Pure and
//! deterministic — the same views in give the same offers out — so a replay makes the same
//! reservations, and every offer carries the reason it was made.
//!
//! Rules (Twilio's):
//! - tasks are taken by priority (highest first), then by age: oldest first in a FIFO queue,
//!   newest first in a LIFO one; the SID breaks remaining ties;
//! - a worker is eligible for a task when its activity is available, the task's channel is
//!   available on it with spare capacity, the queue's `target_workers` matches the worker's
//!   attributes, the target's `expression` matches (`task.` and `worker.`), it has not
//!   rejected the task, and it holds no reservation for it already; a `known_worker_sid`
//!   target names the only eligible worker;
//! - eligible workers are ordered by the target's `order_by` (workers missing an attribute
//!   last), then longest idle first, then SID;
//! - a task is offered to as many workers as its queue's `max_reserved_workers` allows, minus
//!   the reservations it already has; every offer takes one unit of the worker's channel
//!   capacity, so no worker is ever offered past its capacity.

use super::expression::{Context, Expression};
use super::workflow::{Direction, OrderBy, Target};
use crate::sid::Sid;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A task queue's order of tasks within a priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOrder {
    /// Oldest first.
    Fifo,
    /// Newest first.
    Lifo,
}

/// What the matcher needs of a task queue.
#[derive(Debug, Clone)]
pub struct QueueView<'a> {
    /// The queue.
    pub sid: &'a Sid,
    /// Condition over worker attributes (unprefixed).
    pub target_workers: &'a Expression,
    /// FIFO or LIFO.
    pub task_order: TaskOrder,
    /// Most reservations one task may have at once.
    pub max_reserved_workers: usize,
    /// The workers `target_workers` matches, when known without evaluating it (the state
    /// keeps them for clock-free expressions).
    pub members: Option<&'a std::collections::BTreeSet<Sid>>,
}

/// One channel of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelLoad {
    /// Tasks it can hold at once.
    pub capacity: u32,
    /// Tasks reserved or assigned on it now.
    pub busy: u32,
    /// Whether the worker takes work on this channel.
    pub available: bool,
}

/// What the matcher needs of a worker.
#[derive(Debug, Clone)]
pub struct WorkerView<'a> {
    /// The worker.
    pub sid: &'a Sid,
    /// Its attributes, with `sid`, `friendly_name`, `activity_sid` and `activity_name` merged
    /// in for target expressions.
    pub attributes: &'a Value,
    /// Whether its activity is an available one.
    pub available: bool,
    /// Since when it has had nothing to do (longest idle is offered first).
    pub idle_since: DateTime<Utc>,
    /// Its channels by unique name.
    pub channels: BTreeMap<&'a str, ChannelLoad>,
}

/// What the matcher needs of a pending task.
#[derive(Debug, Clone)]
pub struct TaskView<'a> {
    /// The task.
    pub sid: &'a Sid,
    /// The queue its current workflow step names.
    pub queue: &'a Sid,
    /// Effective priority (the target's override, else the task's).
    pub priority: i64,
    /// Its age counts from here (creation, or the virtual start time).
    pub age_from: DateTime<Utc>,
    /// Its task channel's unique name.
    pub channel: &'a str,
    /// Its attributes.
    pub attributes: &'a Value,
    /// Its current workflow target, if any (expression, ordering, known worker).
    pub target: Option<&'a Target>,
    /// Workers holding a pending reservation for it.
    pub reserved_by: &'a [Sid],
    /// Workers who rejected it (not offered again).
    pub rejected_by: &'a [Sid],
}

/// A reservation to make, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The task.
    pub task: Sid,
    /// The worker.
    pub worker: Sid,
    /// The queue it came through.
    pub queue: Sid,
    /// How the worker was chosen: `order_by` clauses or `longest idle`, and its rank among
    /// the eligible workers.
    pub ordering: String,
    /// How many workers were eligible.
    pub eligible: usize,
}

/// The order tasks are considered in: each queue's own order (priority, then age — oldest
/// first, newest first in a LIFO queue — then SID), merged across queues by taking, at each
/// step, the queue head with the highest priority, then the oldest, then the lowest SID.
///
/// One comparator over all tasks cannot do this: "newest first" inside a LIFO queue and
/// "oldest first" across queues are not transitive together (and a sort given such a
/// comparator may panic). Merging sorted per-queue lists is a total, deterministic order.
fn task_order<'t>(tasks: &'t [TaskView<'t>], queues: &[QueueView<'_>]) -> Vec<&'t TaskView<'t>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut per_queue: BTreeMap<&Sid, Vec<&TaskView<'_>>> = BTreeMap::new();
    for t in tasks {
        per_queue.entry(t.queue).or_default().push(t);
    }
    let mut lists: Vec<Vec<&TaskView<'_>>> = Vec::with_capacity(per_queue.len());
    for (queue, mut list) in per_queue {
        let lifo = queues
            .iter()
            .find(|q| q.sid == queue)
            .is_some_and(|q| q.task_order == TaskOrder::Lifo);
        list.sort_by(|a, b| {
            let age = if lifo {
                b.age_from.cmp(&a.age_from)
            } else {
                a.age_from.cmp(&b.age_from)
            };
            b.priority
                .cmp(&a.priority)
                .then(age)
                .then_with(|| a.sid.cmp(b.sid))
        });
        lists.push(list);
    }
    // Heads in a min-heap keyed (higher priority, older, lower SID, list, index).
    let mut heads = BinaryHeap::new();
    for (i, list) in lists.iter().enumerate() {
        if let Some(t) = list.first() {
            heads.push(Reverse((Reverse(t.priority), t.age_from, t.sid, i, 0usize)));
        }
    }
    let mut out = Vec::with_capacity(tasks.len());
    while let Some(Reverse((_, _, _, i, at))) = heads.pop() {
        out.push(lists[i][at]);
        if let Some(t) = lists[i].get(at + 1) {
            heads.push(Reverse((Reverse(t.priority), t.age_from, t.sid, i, at + 1)));
        }
    }
    out
}

fn attribute<'v>(worker: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(worker, |at, key| at.get(key))
}

fn compare_by(order_by: &[OrderBy], a: &WorkerView<'_>, b: &WorkerView<'_>) -> Ordering {
    for clause in order_by {
        let x = attribute(a.attributes, &clause.attribute).and_then(Value::as_f64);
        let y = attribute(b.attributes, &clause.attribute).and_then(Value::as_f64);
        let o = match (x, y) {
            (Some(x), Some(y)) => {
                let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                match clause.direction {
                    Direction::Asc => o,
                    Direction::Desc => o.reverse(),
                }
            }
            // Workers missing the attribute sort last, whatever the direction.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.idle_since
        .cmp(&b.idle_since)
        .then_with(|| a.sid.cmp(b.sid))
}

/// The offers to make now. `workers` is read-only: the capacity each offer takes is
/// tracked here, so the result never puts a worker past a channel's capacity.
pub fn offers(
    queues: &[QueueView<'_>],
    tasks: &[TaskView<'_>],
    workers: &[WorkerView<'_>],
    now: DateTime<Utc>,
) -> Vec<Offer> {
    let order = task_order(tasks, queues);
    let mut busy: BTreeMap<(&Sid, &str), u32> = BTreeMap::new();
    let mut out = Vec::new();
    // Only workers with spare capacity somewhere can be offered anything: checking that once
    // keeps a long queue of waiting tasks cheap when everyone is busy.
    let mut candidates: Vec<&WorkerView<'_>> = workers
        .iter()
        .filter(|w| {
            w.available
                && w.channels
                    .values()
                    .any(|c| c.available && c.busy < c.capacity)
        })
        .collect();
    candidates.sort_by(|a, b| a.sid.cmp(b.sid));
    if candidates.is_empty() {
        return out;
    }
    // A queue's `target_workers` is evaluated once per worker per call, not once per task.
    let mut members: BTreeMap<&Sid, Vec<&WorkerView<'_>>> = BTreeMap::new();
    for task in order {
        let Some(queue) = queues.iter().find(|q| q.sid == task.queue) else {
            continue;
        };
        let in_queue = members
            .entry(queue.sid)
            .or_insert_with(|| queue_members(queue, &candidates, now));
        let wanted = queue
            .max_reserved_workers
            .saturating_sub(task.reserved_by.len());
        if wanted == 0 {
            continue;
        }
        let mut eligible = eligible(task, in_queue, &busy, now);
        let order_by: &[OrderBy] = task.target.map(|t| t.order_by.as_slice()).unwrap_or(&[]);
        eligible.sort_by(|a, b| compare_by(order_by, a, b));
        let ordering = ordering(order_by);
        let count = eligible.len();
        for (rank, worker) in eligible.into_iter().take(wanted).enumerate() {
            *busy.entry((worker.sid, task.channel)).or_insert(0) += 1;
            out.push(Offer {
                task: task.sid.clone(),
                worker: worker.sid.clone(),
                queue: queue.sid.clone(),
                ordering: format!("{ordering} (rank {} of {count})", rank + 1),
                eligible: count,
            });
        }
    }
    out
}

/// The candidates in `queue`: its known members, looked up among the candidates (sorted by
/// SID), or else every candidate its `target_workers` matches at `now`.
fn queue_members<'w, 'a>(
    queue: &QueueView<'_>,
    candidates: &[&'w WorkerView<'a>],
    now: DateTime<Utc>,
) -> Vec<&'w WorkerView<'a>> {
    match queue.members {
        Some(known) => known
            .iter()
            .filter_map(|sid| {
                candidates
                    .binary_search_by(|w| w.sid.cmp(sid))
                    .ok()
                    .map(|i| candidates[i])
            })
            .collect(),
        None => candidates
            .iter()
            .copied()
            .filter(|w| {
                queue
                    .target_workers
                    .matches(&Context::document(w.attributes).at(now))
            })
            .collect(),
    }
}

/// The queue's workers who may take `task` now: the target's known worker if it names one,
/// with room on the task's channel counting the offers made in this call (`busy`), who have
/// not rejected it and hold no offer of it yet, and whom the target's expression admits.
fn eligible<'w, 'a>(
    task: &TaskView<'_>,
    in_queue: &[&'w WorkerView<'a>],
    busy: &BTreeMap<(&Sid, &str), u32>,
    now: DateTime<Utc>,
) -> Vec<&'w WorkerView<'a>> {
    let target = task.target;
    in_queue
        .iter()
        .copied()
        .filter(|w| {
            target
                .and_then(|t| t.known_worker_sid.as_ref())
                .is_none_or(|k| k == w.sid)
        })
        .filter(|w| {
            w.channels.get(task.channel).is_some_and(|c| {
                let taken = busy.get(&(w.sid, task.channel)).copied().unwrap_or(0);
                c.available && c.busy + taken < c.capacity
            })
        })
        .filter(|w| !task.rejected_by.contains(w.sid) && !task.reserved_by.contains(w.sid))
        .filter(|w| {
            target.and_then(|t| t.expression.as_ref()).is_none_or(|e| {
                e.matches(
                    &Context::default()
                        .with_root("task", task.attributes)
                        .with_root("worker", w.attributes)
                        .at(now),
                )
            })
        })
        .collect()
}

/// How workers are ranked, as recorded on the reservation: the `order_by` clauses, then
/// longest idle.
fn ordering(order_by: &[OrderBy]) -> String {
    if order_by.is_empty() {
        "longest idle".to_string()
    } else {
        order_by
            .iter()
            .map(|c| {
                format!(
                    "worker.{} {}",
                    c.attribute.join("."),
                    if c.direction == Direction::Desc {
                        "DESC"
                    } else {
                        "ASC"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
            + ", then longest idle"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sid::SidPrefix;
    use crate::taskrouter::workflow::{parse_order_by, Target};
    use proptest::prelude::*;
    use serde_json::json;

    fn sid(p: SidPrefix, n: u128) -> Sid {
        Sid::from_u128(p, n)
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap_or_default()
    }

    fn voice(capacity: u32, busy: u32) -> BTreeMap<&'static str, ChannelLoad> {
        BTreeMap::from([(
            "voice",
            ChannelLoad {
                capacity,
                busy,
                available: true,
            },
        )])
    }

    struct World {
        queue: Sid,
        any: Expression,
        tasks: Vec<(Sid, i64, DateTime<Utc>, Value)>,
        workers: Vec<(Sid, Value, DateTime<Utc>, u32, u32)>,
    }

    impl World {
        fn run(&self, order: TaskOrder, max: usize, target: Option<&Target>) -> Vec<Offer> {
            let queues = [QueueView {
                sid: &self.queue,
                target_workers: &self.any,
                task_order: order,
                max_reserved_workers: max,
                members: None,
            }];
            let tasks: Vec<TaskView<'_>> = self
                .tasks
                .iter()
                .map(|(s, p, t, a)| TaskView {
                    sid: s,
                    queue: &self.queue,
                    priority: *p,
                    age_from: *t,
                    channel: "voice",
                    attributes: a,
                    target,
                    reserved_by: &[],
                    rejected_by: &[],
                })
                .collect();
            let workers: Vec<WorkerView<'_>> = self
                .workers
                .iter()
                .map(|(s, a, idle, cap, busy)| WorkerView {
                    sid: s,
                    attributes: a,
                    available: true,
                    idle_since: *idle,
                    channels: voice(*cap, *busy),
                })
                .collect();
            let evaluated = offers(&queues, &tasks, &workers, at(10_000));
            // The same with the queue's members given (as the state keeps them): identical.
            let members: std::collections::BTreeSet<Sid> = workers
                .iter()
                .filter(|w| self.any.matches(&Context::document(w.attributes)))
                .map(|w| w.sid.clone())
                .collect();
            let known = [QueueView {
                members: Some(&members),
                ..queues[0].clone()
            }];
            assert_eq!(offers(&known, &tasks, &workers, at(10_000)), evaluated);
            evaluated
        }
    }

    fn world(tasks: &[(u128, i64, i64)], workers: &[(u128, i64, u32)]) -> World {
        World {
            queue: sid(SidPrefix::TaskQueue, 1),
            any: Expression::parse("1==1").unwrap_or_else(|e| panic!("{e}")),
            tasks: tasks
                .iter()
                .map(|(n, p, t)| (sid(SidPrefix::Task, *n), *p, at(*t), json!({})))
                .collect(),
            workers: workers
                .iter()
                .map(|(n, idle, cap)| {
                    (
                        sid(SidPrefix::Worker, *n),
                        json!({"level": *n}),
                        at(*idle),
                        *cap,
                        0,
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn higher_priority_first_then_oldest_then_longest_idle_worker() {
        let w = world(
            &[(1, 0, 10), (2, 5, 20), (3, 0, 5)],
            &[(1, 300, 1), (2, 100, 1)],
        );
        let offers = w.run(TaskOrder::Fifo, 1, None);
        let pairs: Vec<(Sid, Sid)> = offers
            .iter()
            .map(|o| (o.task.clone(), o.worker.clone()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (sid(SidPrefix::Task, 2), sid(SidPrefix::Worker, 2)),
                (sid(SidPrefix::Task, 3), sid(SidPrefix::Worker, 1)),
            ]
        );
        assert_eq!(offers[0].ordering, "longest idle (rank 1 of 2)");
    }

    #[test]
    fn lifo_queues_take_the_newest_task_of_a_priority_first() {
        let w = world(&[(1, 0, 10), (2, 0, 20)], &[(1, 0, 1)]);
        assert_eq!(
            w.run(TaskOrder::Lifo, 1, None)[0].task,
            sid(SidPrefix::Task, 2)
        );
        assert_eq!(
            w.run(TaskOrder::Fifo, 1, None)[0].task,
            sid(SidPrefix::Task, 1)
        );
    }

    #[test]
    fn multitasking_capacity_and_max_reserved_workers() {
        // One worker with capacity 2 takes two tasks; max_reserved_workers 2 offers one task
        // to two workers.
        let w = world(&[(1, 0, 1), (2, 0, 2)], &[(1, 0, 2)]);
        assert_eq!(w.run(TaskOrder::Fifo, 1, None).len(), 2);
        let w = world(&[(1, 0, 1)], &[(1, 0, 1), (2, 5, 1), (3, 9, 1)]);
        let offers = w.run(TaskOrder::Fifo, 2, None);
        let workers: Vec<Sid> = offers.iter().map(|o| o.worker.clone()).collect();
        assert_eq!(
            workers,
            vec![sid(SidPrefix::Worker, 1), sid(SidPrefix::Worker, 2)]
        );
    }

    #[test]
    fn target_expressions_order_by_and_known_workers_narrow_and_rank() {
        let mut w = world(&[(1, 0, 1)], &[(1, 0, 1), (2, 0, 1), (3, 0, 1)]);
        w.tasks[0].3 = json!({"min_level": 2});
        let mut target = Target {
            queue: w.queue.clone(),
            priority: None,
            timeout: None,
            expression: Expression::parse("worker.level >= task.min_level").ok(),
            order_by: parse_order_by("worker.level DESC").unwrap_or_default(),
            skip_if: None,
            known_worker_sid: None,
        };
        let offers = w.run(TaskOrder::Fifo, 1, Some(&target));
        assert_eq!(offers[0].worker, sid(SidPrefix::Worker, 3));
        assert_eq!(offers[0].eligible, 2);
        assert_eq!(
            offers[0].ordering,
            "worker.level DESC, then longest idle (rank 1 of 2)"
        );
        target.known_worker_sid = Some(sid(SidPrefix::Worker, 2));
        let offers = w.run(TaskOrder::Fifo, 1, Some(&target));
        assert_eq!(offers[0].worker, sid(SidPrefix::Worker, 2));
    }

    #[test]
    fn unavailable_workers_full_channels_and_rejections_get_nothing() {
        let queue = sid(SidPrefix::TaskQueue, 1);
        let any = Expression::parse("1==1").unwrap_or_else(|e| panic!("{e}"));
        let (t, a) = (sid(SidPrefix::Task, 1), json!({}));
        let workers_sids: Vec<Sid> = (1..=3).map(|n| sid(SidPrefix::Worker, n)).collect();
        let attrs = json!({});
        let rejected = [workers_sids[2].clone()];
        let workers = vec![
            WorkerView {
                sid: &workers_sids[0],
                attributes: &attrs,
                available: false,
                idle_since: at(0),
                channels: voice(1, 0),
            },
            WorkerView {
                sid: &workers_sids[1],
                attributes: &attrs,
                available: true,
                idle_since: at(0),
                channels: voice(1, 1),
            },
            WorkerView {
                sid: &workers_sids[2],
                attributes: &attrs,
                available: true,
                idle_since: at(0),
                channels: voice(1, 0),
            },
        ];
        let queues = [QueueView {
            sid: &queue,
            target_workers: &any,
            task_order: TaskOrder::Fifo,
            max_reserved_workers: 1,
            members: None,
        }];
        let tasks = [TaskView {
            sid: &t,
            queue: &queue,
            priority: 0,
            age_from: at(0),
            channel: "voice",
            attributes: &a,
            target: None,
            reserved_by: &[],
            rejected_by: &rejected,
        }];
        assert!(offers(&queues, &tasks, &workers, at(1)).is_empty());
    }

    proptest! {
        #[test]
        fn no_worker_is_offered_past_capacity_and_no_task_past_max_reserved(
            tasks in proptest::collection::vec((0i64..3, 0i64..100), 0..30),
            workers in proptest::collection::vec((0i64..100, 0u32..4, 0u32..4), 0..12),
            max in 1usize..4,
        ) {
            let t: Vec<(u128, i64, i64)> = tasks.iter().enumerate().map(|(i, (p, a))| (i as u128 + 1, *p, *a)).collect();
            let wk: Vec<(u128, i64, u32)> = workers.iter().enumerate().map(|(i, (idle, cap, _))| (i as u128 + 1, *idle, *cap)).collect();
            let mut w = world(&t, &wk);
            for (i, (_, cap, busy)) in workers.iter().enumerate() {
                w.workers[i].4 = (*busy).min(*cap);
            }
            let offers = w.run(TaskOrder::Fifo, max, None);
            for (s, _, _, cap, busy) in &w.workers {
                let taken = offers.iter().filter(|o| &o.worker == s).count() as u32;
                prop_assert!(busy + taken <= *cap, "worker over capacity");
            }
            for (s, ..) in &w.tasks {
                let n = offers.iter().filter(|o| &o.task == s).count();
                prop_assert!(n <= max, "task past max_reserved_workers");
                let distinct: std::collections::BTreeSet<_> = offers.iter().filter(|o| &o.task == s).map(|o| &o.worker).collect();
                prop_assert_eq!(distinct.len(), n, "one task offered twice to a worker");
            }
        }

        #[test]
        fn with_one_slot_each_the_offered_tasks_are_the_top_by_priority_then_age(
            tasks in proptest::collection::vec((0i64..3, 0i64..50), 1..20),
            slots in 0usize..10,
        ) {
            let t: Vec<(u128, i64, i64)> = tasks.iter().enumerate().map(|(i, (p, a))| (i as u128 + 1, *p, *a)).collect();
            let wk: Vec<(u128, i64, u32)> = (0..slots).map(|i| (i as u128 + 1, i as i64, 1)).collect();
            let w = world(&t, &wk);
            let offered: std::collections::BTreeSet<Sid> = w.run(TaskOrder::Fifo, 1, None).into_iter().map(|o| o.task).collect();
            let mut expected = t.clone();
            expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
            let top: std::collections::BTreeSet<Sid> = expected.iter().take(slots).map(|(n, ..)| sid(SidPrefix::Task, *n)).collect();
            prop_assert_eq!(offered, top);
        }

        #[test]
        fn lifo_and_fifo_queues_together_give_a_total_order_that_keeps_each_queues_own(
            tasks in proptest::collection::vec((0u8..3, 0i64..3, 0i64..20), 0..40),
        ) {
            // Queue 1 is LIFO, queues 2 and 3 FIFO: "newest first" inside one queue and
            // "oldest first" across queues once made the comparator intransitive.
            let queues: Vec<Sid> = (1..=3).map(|n| sid(SidPrefix::TaskQueue, n)).collect();
            let any = Expression::parse("1==1").unwrap_or_else(|e| panic!("{e}"));
            let views: Vec<QueueView<'_>> = queues.iter().enumerate().map(|(i, q)| QueueView {
                sid: q,
                target_workers: &any,
                task_order: if i == 0 { TaskOrder::Lifo } else { TaskOrder::Fifo },
                max_reserved_workers: 1,
                members: None,
            }).collect();
            let sids: Vec<Sid> = (0..tasks.len()).map(|i| sid(SidPrefix::Task, i as u128 + 1)).collect();
            let attrs = json!({});
            let list: Vec<TaskView<'_>> = tasks.iter().zip(&sids).map(|((q, p, a), s)| TaskView {
                sid: s,
                queue: &queues[*q as usize],
                priority: *p,
                age_from: at(*a),
                channel: "voice",
                attributes: &attrs,
                target: None,
                reserved_by: &[],
                rejected_by: &[],
            }).collect();
            let order = task_order(&list, &views);
            prop_assert_eq!(order.len(), list.len());
            let mut seen: Vec<&Sid> = order.iter().map(|t| t.sid).collect();
            seen.sort();
            seen.dedup();
            prop_assert_eq!(seen.len(), list.len(), "a permutation");
            for (i, q) in queues.iter().enumerate() {
                let mine: Vec<&&TaskView<'_>> = order.iter().filter(|t| t.queue == q).collect();
                for pair in mine.windows(2) {
                    let (a, b) = (pair[0], pair[1]);
                    let age_ok = if i == 0 { a.age_from >= b.age_from } else { a.age_from <= b.age_from };
                    prop_assert!(a.priority > b.priority || (a.priority == b.priority && age_ok),
                        "queue {} out of order", i);
                }
            }
        }
    }
}
