//! Read model `taskrouter`: what supervisors read about a workspace without asking its actor.
//!
//! - **Queue positions**: every open task with the queue its workflow put it in; a task's
//!   position is its rank among the queue's pending and reserved tasks by priority (the
//!   target's override, else the task's), then age (virtual start time, else creation; oldest
//!   first, newest first in a LIFO queue), then SID — the order the matcher offers them.
//! - **Worker assignments**: each worker's activity (and whether it is available), its channels
//!   with configured capacity, availability and the capacity its reservations hold, and its
//!   current reservations (pending, accepted, wrapping).
//! - **Statistics**: per-minute counters per scope (the workspace, a queue, a workflow, a
//!   worker) and task channel; valued ones (waits, time in an activity) keep count, total, min
//!   and max, and the waits of accepted reservations and canceled tasks are kept by second for
//!   `SplitByWaitTime`. Cumulative statistics over any window are sums of whole minutes.
//!
//! Closed tasks and finished reservations leave the current-state tables; their counters stay.
//! The fold is SQL only (no wall clock): replaying the log rebuilds identical tables.

use crate::{Projection, Table};
use async_trait::async_trait;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};
use switchboard_events::{Envelope, Event};

/// See the module doc.
pub struct TaskRouter;

/// Statistics scope key: (workspace, scope, channel, minute, metric).
type StatKey = (String, String, String, i64, &'static str);
/// Wait histogram key: (workspace, scope, channel, minute, metric, seconds).
type WaitKey = (String, String, String, i64, &'static str, i64);

/// Counters a batch adds, written once per key at the end of the batch.
#[derive(Default)]
struct Tally {
    stats: BTreeMap<StatKey, (i64, i64, i64, i64)>,
    waits: BTreeMap<WaitKey, i64>,
}

impl Tally {
    fn count(
        &mut self,
        ws: &str,
        scopes: &[&str],
        channel: &str,
        minute: i64,
        metric: &'static str,
    ) {
        for scope in scopes.iter().filter(|s| !s.is_empty()) {
            let key = (
                ws.to_string(),
                scope.to_string(),
                channel.to_string(),
                minute,
                metric,
            );
            self.stats
                .entry(key)
                .or_insert((0, 0, i64::MAX, i64::MIN))
                .0 += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn value(
        &mut self,
        ws: &str,
        scopes: &[&str],
        channel: &str,
        minute: i64,
        metric: &'static str,
        v: i64,
        histogram: bool,
    ) {
        for scope in scopes.iter().filter(|s| !s.is_empty()) {
            let key = (
                ws.to_string(),
                scope.to_string(),
                channel.to_string(),
                minute,
                metric,
            );
            let e = self.stats.entry(key).or_insert((0, 0, i64::MAX, i64::MIN));
            e.0 += 1;
            e.1 += v;
            e.2 = e.2.min(v);
            e.3 = e.3.max(v);
            if histogram {
                let key = (
                    ws.to_string(),
                    scope.to_string(),
                    channel.to_string(),
                    minute,
                    metric,
                    v,
                );
                *self.waits.entry(key).or_default() += 1;
            }
        }
    }

    async fn flush(self, tx: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let stats: Vec<Vec<Arg>> = self
            .stats
            .into_iter()
            .map(
                |((ws, scope, channel, minute, metric), (n, total, min, max))| {
                    let (min, max) = if min > max { (0, 0) } else { (min, max) };
                    vec![
                        Arg::S(ws),
                        Arg::S(scope),
                        Arg::S(channel),
                        Arg::I(minute),
                        Arg::S(metric.to_string()),
                        Arg::I(n),
                        Arg::I(total),
                        Arg::I(min),
                        Arg::I(max),
                    ]
                },
            )
            .collect();
        write_rows(
            tx,
            "INSERT INTO tr_stats (workspace_sid, scope_sid, channel_sid, minute, metric, n, total, min_value, max_value) VALUES ",
            &stats,
            " ON CONFLICT (workspace_sid, scope_sid, minute, metric, channel_sid) DO UPDATE SET \
             n = tr_stats.n + excluded.n, total = tr_stats.total + excluded.total, \
             min_value = CASE WHEN excluded.n > 0 AND excluded.min_value < tr_stats.min_value THEN excluded.min_value ELSE tr_stats.min_value END, \
             max_value = CASE WHEN excluded.max_value > tr_stats.max_value THEN excluded.max_value ELSE tr_stats.max_value END",
        )
        .await?;
        let waits: Vec<Vec<Arg>> = self
            .waits
            .into_iter()
            .map(|((ws, scope, channel, minute, metric, wait), n)| {
                vec![
                    Arg::S(ws),
                    Arg::S(scope),
                    Arg::S(channel),
                    Arg::I(minute),
                    Arg::S(metric.to_string()),
                    Arg::I(wait),
                    Arg::I(n),
                ]
            })
            .collect();
        write_rows(
            tx,
            "INSERT INTO tr_waits (workspace_sid, scope_sid, channel_sid, minute, metric, wait_s, n) VALUES ",
            &waits,
            " ON CONFLICT (workspace_sid, scope_sid, minute, metric, channel_sid, wait_s) DO UPDATE SET n = tr_waits.n + excluded.n",
        )
        .await
    }
}

/// A value bound into a multi-row statement.
enum Arg {
    S(String),
    I(i64),
    OS(Option<String>),
    OI(Option<i64>),
}

/// Rows per statement (SQLite allows 32,766 parameters, PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 32;

/// Writes `rows` as multi-row statements `head (…), (…) tail`: one round trip to the database
/// per 256 rows instead of one per row. Keys must be distinct within `rows` (an upsert may
/// not touch one row twice in a statement).
async fn write_rows(
    tx: &mut AnyConnection,
    head: &str,
    rows: &[Vec<Arg>],
    tail: &str,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * 64);
        sql.push_str(head);
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..row.len() {
                n += 1;
                if j > 0 {
                    sql.push_str(", ");
                }
                sql.push('$');
                sql.push_str(&n.to_string());
            }
            sql.push(')');
        }
        sql.push_str(tail);
        let mut q = sqlx::query(&sql);
        for a in chunk.iter().flatten() {
            q = match a {
                Arg::S(v) => q.bind(v.as_str()),
                Arg::I(v) => q.bind(*v),
                Arg::OS(v) => q.bind(v.as_deref()),
                Arg::OI(v) => q.bind(*v),
            };
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Deletes the rows of `table` whose `sid` is listed, 256 at a time.
async fn delete_sids(
    tx: &mut AnyConnection,
    table: &str,
    sids: &[&String],
) -> Result<(), sqlx::Error> {
    for chunk in sids.chunks(ROWS_PER_STATEMENT) {
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("DELETE FROM {table} WHERE sid IN ({})", list.join(", "));
        let mut q = sqlx::query(&sql);
        for sid in chunk {
            q = q.bind(sid.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// A task row as the fold sees it.
#[derive(Debug, Clone)]
struct TaskRow {
    workspace: String,
    workflow: String,
    channel: String,
    queue: Option<String>,
    priority: i64,
    step_priority: Option<i64>,
    age_ms: i64,
    created_ms: i64,
    entered_ms: Option<i64>,
    status: &'static str,
}

/// A reservation row as the fold sees it.
#[derive(Debug, Clone)]
struct ReservationRow {
    workspace: String,
    task: String,
    worker: String,
    queue: String,
    workflow: String,
    channel: String,
    status: &'static str,
    created_ms: i64,
}

fn status(s: &str) -> &'static str {
    match s {
        "reserved" => "reserved",
        "assigned" => "assigned",
        "wrapping" => "wrapping",
        "accepted" => "accepted",
        _ => "pending",
    }
}

/// The batch's view of `tr_tasks` and `tr_reservations`: rows are read at most once per
/// batch, changed in memory, and written once when the batch ends (a task created, matched
/// and reserved in one batch costs two inserts, not six statements). `None` = no such row.
#[derive(Default)]
struct Overlay {
    tasks: BTreeMap<String, Option<TaskRow>>,
    reservations: BTreeMap<String, Option<ReservationRow>>,
    dirty_tasks: BTreeSet<String>,
    dirty_reservations: BTreeSet<String>,
    /// Tasks whose reservations are all in `reservations` (read, or new in this batch).
    complete: BTreeSet<String>,
    by_task: BTreeMap<String, BTreeSet<String>>,
}

impl Overlay {
    async fn task(
        &mut self,
        tx: &mut AnyConnection,
        sid: &str,
    ) -> Result<Option<TaskRow>, sqlx::Error> {
        if let Some(t) = self.tasks.get(sid) {
            return Ok(t.clone());
        }
        let row = sqlx::query(
            "SELECT workspace_sid, workflow_sid, channel_sid, queue_sid, priority, step_priority, age_ms, created_ms, entered_ms, status \
             FROM tr_tasks WHERE sid = $1",
        )
        .bind(sid)
        .fetch_optional(&mut *tx)
        .await?;
        let t = match row {
            None => None,
            Some(r) => Some(TaskRow {
                workspace: r.try_get(0)?,
                workflow: r.try_get(1)?,
                channel: r.try_get(2)?,
                queue: r.try_get(3)?,
                priority: r.try_get(4)?,
                step_priority: r.try_get(5)?,
                age_ms: r.try_get(6)?,
                created_ms: r.try_get(7)?,
                entered_ms: r.try_get(8)?,
                status: status(&r.try_get::<String, _>(9)?),
            }),
        };
        self.tasks.insert(sid.to_string(), t.clone());
        Ok(t)
    }

    fn put_task(&mut self, sid: &str, t: Option<TaskRow>) {
        self.tasks.insert(sid.to_string(), t);
        self.dirty_tasks.insert(sid.to_string());
    }

    fn new_task(&mut self, sid: &str, t: TaskRow) {
        self.put_task(sid, Some(t));
        self.complete.insert(sid.to_string());
    }

    async fn reservation(
        &mut self,
        tx: &mut AnyConnection,
        sid: &str,
    ) -> Result<Option<ReservationRow>, sqlx::Error> {
        if let Some(r) = self.reservations.get(sid) {
            return Ok(r.clone());
        }
        let row = sqlx::query(
            "SELECT workspace_sid, task_sid, worker_sid, queue_sid, workflow_sid, channel_sid, status, created_ms \
             FROM tr_reservations WHERE sid = $1",
        )
        .bind(sid)
        .fetch_optional(&mut *tx)
        .await?;
        let r = row.map(|r| decode_reservation(&r)).transpose()?;
        if let Some(found) = &r {
            self.by_task
                .entry(found.task.clone())
                .or_default()
                .insert(sid.to_string());
        }
        self.reservations.insert(sid.to_string(), r.clone());
        Ok(r)
    }

    fn put_reservation(&mut self, sid: &str, r: Option<ReservationRow>) {
        if let Some(r) = &r {
            self.by_task
                .entry(r.task.clone())
                .or_default()
                .insert(sid.to_string());
        }
        self.reservations.insert(sid.to_string(), r);
        self.dirty_reservations.insert(sid.to_string());
    }

    /// Every reservation of `task` (SID, row), by SID.
    async fn of_task(
        &mut self,
        tx: &mut AnyConnection,
        task: &str,
    ) -> Result<Vec<(String, ReservationRow)>, sqlx::Error> {
        if !self.complete.contains(task) {
            let rows = sqlx::query(
                "SELECT workspace_sid, task_sid, worker_sid, queue_sid, workflow_sid, channel_sid, status, created_ms, sid \
                 FROM tr_reservations WHERE task_sid = $1",
            )
            .bind(task)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let sid: String = row.try_get(8)?;
                if !self.reservations.contains_key(&sid) {
                    let r = decode_reservation(row)?;
                    self.by_task
                        .entry(task.to_string())
                        .or_default()
                        .insert(sid.clone());
                    self.reservations.insert(sid, Some(r));
                }
            }
            self.complete.insert(task.to_string());
        }
        let sids = self.by_task.get(task).cloned().unwrap_or_default();
        Ok(sids
            .into_iter()
            .filter_map(|s| {
                let r = self.reservations.get(&s).cloned().flatten()?;
                Some((s, r))
            })
            .collect())
    }

    /// A routable task is reserved while any of its reservations is pending, else pending.
    async fn settle(&mut self, tx: &mut AnyConnection, task: &str) -> Result<(), sqlx::Error> {
        let Some(mut t) = self.task(tx, task).await? else {
            return Ok(());
        };
        if matches!(t.status, "pending" | "reserved") {
            let pending = self
                .of_task(tx, task)
                .await?
                .iter()
                .any(|(_, r)| r.status == "pending");
            t.status = if pending { "reserved" } else { "pending" };
            self.put_task(task, Some(t));
        }
        Ok(())
    }

    /// Ends a pending reservation, counted as `metric`, and settles its task.
    async fn end_pending(
        &mut self,
        tx: &mut AnyConnection,
        tally: &mut Tally,
        sid: &str,
        minute: i64,
        metric: &'static str,
    ) -> Result<(), sqlx::Error> {
        if let Some(r) = self.reservation(tx, sid).await? {
            let ws = r.workspace.as_str();
            tally.count(
                ws,
                &[ws, &r.queue, &r.workflow, &r.worker],
                &r.channel,
                minute,
                metric,
            );
            self.put_reservation(sid, None);
            self.settle(tx, &r.task).await?;
        }
        Ok(())
    }

    async fn flush(mut self, tx: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let mut gone: Vec<&String> = Vec::new();
        let mut rows: Vec<Vec<Arg>> = Vec::new();
        for sid in &self.dirty_tasks {
            match self.tasks.get_mut(sid).and_then(Option::take) {
                None => gone.push(sid),
                Some(t) => rows.push(vec![
                    Arg::S(sid.clone()),
                    Arg::S(t.workspace),
                    Arg::S(t.workflow),
                    Arg::S(t.channel),
                    Arg::OS(t.queue),
                    Arg::I(t.priority),
                    Arg::OI(t.step_priority),
                    Arg::I(t.age_ms),
                    Arg::I(t.created_ms),
                    Arg::OI(t.entered_ms),
                    Arg::S(t.status.to_string()),
                ]),
            }
        }
        delete_sids(tx, "tr_tasks", &gone).await?;
        write_rows(
            tx,
            "INSERT INTO tr_tasks (sid, workspace_sid, workflow_sid, channel_sid, queue_sid, priority, step_priority, age_ms, created_ms, entered_ms, status) VALUES ",
            &rows,
            " ON CONFLICT (sid) DO UPDATE SET queue_sid = excluded.queue_sid, priority = excluded.priority, \
             step_priority = excluded.step_priority, entered_ms = excluded.entered_ms, status = excluded.status",
        )
        .await?;
        let mut gone: Vec<&String> = Vec::new();
        let mut rows: Vec<Vec<Arg>> = Vec::new();
        for sid in &self.dirty_reservations {
            match self.reservations.get_mut(sid).and_then(Option::take) {
                None => gone.push(sid),
                Some(r) => rows.push(vec![
                    Arg::S(sid.clone()),
                    Arg::S(r.workspace),
                    Arg::S(r.task),
                    Arg::S(r.worker),
                    Arg::S(r.queue),
                    Arg::S(r.workflow),
                    Arg::S(r.channel),
                    Arg::S(r.status.to_string()),
                    Arg::I(r.created_ms),
                ]),
            }
        }
        delete_sids(tx, "tr_reservations", &gone).await?;
        write_rows(
            tx,
            "INSERT INTO tr_reservations (sid, workspace_sid, task_sid, worker_sid, queue_sid, workflow_sid, channel_sid, status, created_ms) VALUES ",
            &rows,
            " ON CONFLICT (sid) DO UPDATE SET status = excluded.status",
        )
        .await
    }
}

fn decode_reservation(r: &sqlx::any::AnyRow) -> Result<ReservationRow, sqlx::Error> {
    Ok(ReservationRow {
        workspace: r.try_get(0)?,
        task: r.try_get(1)?,
        worker: r.try_get(2)?,
        queue: r.try_get(3)?,
        workflow: r.try_get(4)?,
        channel: r.try_get(5)?,
        status: status(&r.try_get::<String, _>(6)?),
        created_ms: r.try_get(7)?,
    })
}

/// Ends a worker's time in its current activity at `at_ms` (counted as `activity:{sid}`).
async fn end_activity(
    tx: &mut AnyConnection,
    tally: &mut Tally,
    ws: &str,
    worker: &str,
    at_ms: i64,
) -> Result<(), sqlx::Error> {
    let row = sqlx::query("SELECT activity_sid, status_changed_ms FROM tr_workers WHERE sid = $1")
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(r) = row {
        let activity: String = r.try_get(0).unwrap_or_default();
        let since: i64 = r.try_get(1).unwrap_or(at_ms);
        let metric: &'static str = intern_activity(&activity);
        tally.value(
            ws,
            &[ws, worker],
            "",
            at_ms.div_euclid(60_000),
            metric,
            (at_ms - since).max(0) / 1000,
            false,
        );
    }
    Ok(())
}

/// Activity metrics are named `activity:{WA…}`; the tally keys on `&'static str`, so the few
/// distinct names a process sees are leaked once each.
fn intern_activity(sid: &str) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<BTreeMap<String, &'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let mut names = names.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(sid) {
        return n;
    }
    let name: &'static str = Box::leak(format!("activity:{sid}").into_boxed_str());
    names.insert(sid.to_string(), name);
    name
}

async fn exec(tx: &mut AnyConnection, sql: &str, args: &[&str]) -> Result<(), sqlx::Error> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = q.bind(*a);
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

async fn apply_one(
    tx: &mut AnyConnection,
    tally: &mut Tally,
    overlay: &mut Overlay,
    e: &Envelope,
) -> Result<(), sqlx::Error> {
    let ws = e.stream.as_str();
    let at = e.occurred_at.timestamp_millis();
    let minute = at.div_euclid(60_000);
    match &e.event {
        Event::WorkspaceDeleted(_) => {
            std::mem::take(overlay).flush(tx).await?;
            for table in [
                "tr_queues",
                "tr_activities",
                "tr_channels",
                "tr_workers",
                "tr_worker_channels",
                "tr_tasks",
                "tr_reservations",
                "tr_stats",
                "tr_waits",
            ] {
                exec(
                    tx,
                    &format!("DELETE FROM {table} WHERE workspace_sid = $1"),
                    &[ws],
                )
                .await?;
            }
        }
        Event::ActivityCreated(a) => {
            sqlx::query(
                "INSERT INTO tr_activities (sid, workspace_sid, friendly_name, available) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (sid) DO NOTHING",
            )
            .bind(a.sid.as_str())
            .bind(ws)
            .bind(a.friendly_name.as_str())
            .bind(i64::from(a.available))
            .execute(&mut *tx)
            .await?;
        }
        Event::ActivityUpdated(a) => {
            exec(
                tx,
                "UPDATE tr_activities SET friendly_name = $2 WHERE sid = $1",
                &[a.sid.as_str(), a.friendly_name.as_str()],
            )
            .await?;
        }
        Event::ActivityDeleted(a) => {
            exec(
                tx,
                "DELETE FROM tr_activities WHERE sid = $1",
                &[a.sid.as_str()],
            )
            .await?;
        }
        Event::TaskChannelCreated(c) => {
            exec(
                tx,
                "INSERT INTO tr_channels (sid, workspace_sid, unique_name) VALUES ($1, $2, $3) ON CONFLICT (sid) DO NOTHING",
                &[c.sid.as_str(), ws, c.unique_name.as_str()],
            )
            .await?;
            exec(
                tx,
                "INSERT INTO tr_worker_channels (worker_sid, channel_sid, workspace_sid, capacity, available) \
                 SELECT sid, $1, workspace_sid, 1, 1 FROM tr_workers WHERE workspace_sid = $2 \
                 ON CONFLICT (worker_sid, channel_sid) DO NOTHING",
                &[c.sid.as_str(), ws],
            )
            .await?;
        }
        Event::TaskChannelDeleted(c) => {
            exec(
                tx,
                "DELETE FROM tr_channels WHERE sid = $1",
                &[c.sid.as_str()],
            )
            .await?;
            exec(
                tx,
                "DELETE FROM tr_worker_channels WHERE channel_sid = $1",
                &[c.sid.as_str()],
            )
            .await?;
        }
        Event::WorkerCreated(w) => {
            sqlx::query(
                "INSERT INTO tr_workers (sid, workspace_sid, friendly_name, activity_sid, status_changed_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sid) DO NOTHING",
            )
            .bind(w.sid.as_str())
            .bind(ws)
            .bind(w.friendly_name.as_str())
            .bind(w.activity_sid.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
            exec(
                tx,
                "INSERT INTO tr_worker_channels (worker_sid, channel_sid, workspace_sid, capacity, available) \
                 SELECT $1, sid, workspace_sid, 1, 1 FROM tr_channels WHERE workspace_sid = $2 \
                 ON CONFLICT (worker_sid, channel_sid) DO NOTHING",
                &[w.sid.as_str(), ws],
            )
            .await?;
        }
        Event::WorkerRenamed(w) => {
            exec(
                tx,
                "UPDATE tr_workers SET friendly_name = $2 WHERE sid = $1",
                &[w.sid.as_str(), w.friendly_name.as_str()],
            )
            .await?;
        }
        Event::WorkerActivityUpdated(w) => {
            end_activity(tx, tally, ws, w.sid.as_str(), at).await?;
            sqlx::query(
                "UPDATE tr_workers SET activity_sid = $2, status_changed_ms = $3 WHERE sid = $1",
            )
            .bind(w.sid.as_str())
            .bind(w.activity_sid.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        Event::WorkerCapacityUpdated(w) => {
            sqlx::query(
                "UPDATE tr_worker_channels SET capacity = $3 WHERE worker_sid = $1 AND channel_sid = $2",
            )
            .bind(w.sid.as_str())
            .bind(w.task_channel_sid.as_str())
            .bind(i64::from(w.capacity))
            .execute(&mut *tx)
            .await?;
        }
        Event::WorkerChannelAvailabilityUpdated(w) => {
            sqlx::query(
                "UPDATE tr_worker_channels SET available = $3 WHERE worker_sid = $1 AND channel_sid = $2",
            )
            .bind(w.sid.as_str())
            .bind(w.task_channel_sid.as_str())
            .bind(i64::from(w.available))
            .execute(&mut *tx)
            .await?;
        }
        Event::WorkerDeleted(w) => {
            end_activity(tx, tally, ws, w.sid.as_str(), at).await?;
            exec(
                tx,
                "DELETE FROM tr_workers WHERE sid = $1",
                &[w.sid.as_str()],
            )
            .await?;
            exec(
                tx,
                "DELETE FROM tr_worker_channels WHERE worker_sid = $1",
                &[w.sid.as_str()],
            )
            .await?;
        }
        Event::TaskQueueCreated(q) => {
            exec(
                tx,
                "INSERT INTO tr_queues (sid, workspace_sid, friendly_name, task_order) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (sid) DO NOTHING",
                &[q.sid.as_str(), ws, q.friendly_name.as_str(), q.task_order.as_str()],
            )
            .await?;
        }
        Event::TaskQueueUpdated(q) => {
            if let Some(v) = &q.friendly_name {
                exec(
                    tx,
                    "UPDATE tr_queues SET friendly_name = $2 WHERE sid = $1",
                    &[q.sid.as_str(), v],
                )
                .await?;
            }
            if let Some(v) = q.task_order {
                exec(
                    tx,
                    "UPDATE tr_queues SET task_order = $2 WHERE sid = $1",
                    &[q.sid.as_str(), v.as_str()],
                )
                .await?;
            }
        }
        Event::TaskQueueDeleted(q) => {
            exec(
                tx,
                "DELETE FROM tr_queues WHERE sid = $1",
                &[q.sid.as_str()],
            )
            .await?;
        }
        Event::TaskCreated(t) => {
            overlay.new_task(
                t.sid.as_str(),
                TaskRow {
                    workspace: ws.to_string(),
                    workflow: t.workflow_sid.to_string(),
                    channel: t.task_channel_sid.to_string(),
                    queue: None,
                    priority: t.priority,
                    step_priority: None,
                    age_ms: t.virtual_start_time.map_or(at, |v| v.timestamp_millis()),
                    created_ms: at,
                    entered_ms: None,
                    status: "pending",
                },
            );
            let channel = t.task_channel_sid.as_str();
            tally.count(ws, &[ws], channel, minute, "tasks_created");
            tally.count(
                ws,
                &[t.workflow_sid.as_str()],
                channel,
                minute,
                "tasks_entered",
            );
        }
        Event::TaskUpdated(u) => {
            if let (Some(p), Some(mut t)) = (u.priority, overlay.task(tx, u.sid.as_str()).await?) {
                t.priority = p;
                overlay.put_task(u.sid.as_str(), Some(t));
            }
        }
        Event::TargetMatched(m) => {
            if let Some(mut t) = overlay.task(tx, m.task_sid.as_str()).await? {
                let to = m.task_queue_sid.as_str();
                if t.queue.as_deref() != Some(to) {
                    if let Some(old) = t.queue.as_deref() {
                        tally.count(ws, &[old], &t.channel, minute, "tasks_moved");
                    }
                    tally.count(ws, &[to], &t.channel, minute, "tasks_entered");
                }
                t.queue = Some(to.to_string());
                t.step_priority = m.priority;
                t.entered_ms = Some(at);
                overlay.put_task(m.task_sid.as_str(), Some(t));
            }
        }
        Event::TaskWrapup(w) => {
            let sid = w.sid.as_str();
            if let Some(mut t) = overlay.task(tx, sid).await? {
                t.status = "wrapping";
                overlay.put_task(sid, Some(t));
            }
            for (r_sid, mut r) in overlay.of_task(tx, sid).await? {
                if r.status == "accepted" {
                    r.status = "wrapping";
                    overlay.put_reservation(&r_sid, Some(r));
                }
            }
        }
        Event::TaskCanceled(_) | Event::TaskCompleted(_) | Event::TaskDeleted(_) => {
            let (sid, metric) = match &e.event {
                Event::TaskCanceled(t) => (t.sid.as_str(), "tasks_canceled"),
                Event::TaskCompleted(t) => (t.sid.as_str(), "tasks_completed"),
                Event::TaskDeleted(t) => (t.sid.as_str(), "tasks_deleted"),
                _ => return Ok(()),
            };
            if let Some(t) = overlay.task(tx, sid).await? {
                let scopes = [ws, t.queue.as_deref().unwrap_or(""), t.workflow.as_str()];
                tally.count(ws, &scopes, &t.channel, minute, metric);
                if let Event::TaskCanceled(c) = &e.event {
                    let wait = (at - t.created_ms).max(0) / 1000;
                    tally.value(
                        ws,
                        &scopes,
                        &t.channel,
                        minute,
                        "wait_until_canceled",
                        wait,
                        true,
                    );
                    if c.reason == "Workflow Timeout" {
                        tally.count(
                            ws,
                            &[ws, t.workflow.as_str()],
                            &t.channel,
                            minute,
                            "tasks_timed_out_in_workflow",
                        );
                    }
                }
                // Whatever was still pending for the task ends with it (a deleted task's
                // reservations just go).
                for (r_sid, r) in overlay.of_task(tx, sid).await? {
                    if r.status == "pending" && !matches!(e.event, Event::TaskDeleted(_)) {
                        overlay
                            .end_pending(tx, tally, &r_sid, minute, "reservations_canceled")
                            .await?;
                    }
                    overlay.put_reservation(&r_sid, None);
                }
                overlay.put_task(sid, None);
            }
        }
        Event::ReservationCreated(r) => {
            if let Some(t) = overlay.task(tx, r.task_sid.as_str()).await? {
                tally.count(
                    ws,
                    &[
                        ws,
                        r.task_queue_sid.as_str(),
                        t.workflow.as_str(),
                        r.worker_sid.as_str(),
                    ],
                    &t.channel,
                    minute,
                    "reservations_created",
                );
                // Load the task's other reservations before adding this one, so "complete"
                // stays true only when it is.
                overlay.of_task(tx, r.task_sid.as_str()).await?;
                overlay.put_reservation(
                    r.sid.as_str(),
                    Some(ReservationRow {
                        workspace: ws.to_string(),
                        task: r.task_sid.to_string(),
                        worker: r.worker_sid.to_string(),
                        queue: r.task_queue_sid.to_string(),
                        workflow: t.workflow.clone(),
                        channel: t.channel.clone(),
                        status: "pending",
                        created_ms: at,
                    }),
                );
                overlay.settle(tx, r.task_sid.as_str()).await?;
            }
        }
        Event::ReservationAccepted(a) => {
            if let Some(mut r) = overlay.reservation(tx, a.sid.as_str()).await? {
                let scopes = [ws, r.queue.as_str(), r.workflow.as_str(), r.worker.as_str()];
                tally.count(ws, &scopes, &r.channel, minute, "reservations_accepted");
                if let Some(mut t) = overlay.task(tx, &r.task).await? {
                    let wait = (at - t.created_ms).max(0) / 1000;
                    tally.value(
                        ws,
                        &scopes[..3],
                        &r.channel,
                        minute,
                        "wait_until_accepted",
                        wait,
                        true,
                    );
                    let in_queue = (at - t.entered_ms.unwrap_or(t.created_ms)).max(0) / 1000;
                    tally.value(
                        ws,
                        &[r.queue.as_str()],
                        &r.channel,
                        minute,
                        "wait_in_queue_until_accepted",
                        in_queue,
                        false,
                    );
                    t.status = "assigned";
                    overlay.put_task(&r.task, Some(t));
                }
                r.status = "accepted";
                overlay.put_reservation(a.sid.as_str(), Some(r));
            }
        }
        Event::ReservationRejected(r) => {
            overlay
                .end_pending(tx, tally, r.sid.as_str(), minute, "reservations_rejected")
                .await?;
        }
        Event::ReservationTimeout(r) => {
            overlay
                .end_pending(tx, tally, r.sid.as_str(), minute, "reservations_timed_out")
                .await?;
        }
        Event::ReservationRescinded(r) => {
            overlay
                .end_pending(tx, tally, r.sid.as_str(), minute, "reservations_rescinded")
                .await?;
        }
        Event::ReservationCanceled(r) => {
            overlay
                .end_pending(tx, tally, r.sid.as_str(), minute, "reservations_canceled")
                .await?;
        }
        Event::ReservationWrapup(w) => {
            if let Some(mut r) = overlay.reservation(tx, w.sid.as_str()).await? {
                r.status = "wrapping";
                overlay.put_reservation(w.sid.as_str(), Some(r));
            }
        }
        Event::ReservationCompleted(c)
            if overlay.reservation(tx, c.sid.as_str()).await?.is_some() =>
        {
            overlay.put_reservation(c.sid.as_str(), None);
        }
        _ => {}
    }
    Ok(())
}

#[async_trait]
impl Projection for TaskRouter {
    fn name(&self) -> &'static str {
        "taskrouter"
    }

    fn version(&self) -> u32 {
        1
    }

    fn wants(&self, e: &Envelope) -> bool {
        e.stream.as_str().starts_with("WS")
    }

    fn coalesce(&self) -> std::time::Duration {
        // Each batch touches several tables and their indexes; at thousands of tasks a second
        // one commit per 20 ms costs far less than one per log append.
        std::time::Duration::from_millis(20)
    }

    fn tables(&self) -> &'static [Table] {
        &[
            Table {
                name: "tr_queues",
                order_by: "sid",
            },
            Table {
                name: "tr_activities",
                order_by: "sid",
            },
            Table {
                name: "tr_channels",
                order_by: "sid",
            },
            Table {
                name: "tr_workers",
                order_by: "sid",
            },
            Table {
                name: "tr_worker_channels",
                order_by: "worker_sid, channel_sid",
            },
            Table {
                name: "tr_tasks",
                order_by: "sid",
            },
            Table {
                name: "tr_reservations",
                order_by: "sid",
            },
            Table {
                name: "tr_stats",
                order_by: "workspace_sid, scope_sid, minute, metric, channel_sid",
            },
            Table {
                name: "tr_waits",
                order_by: "workspace_sid, scope_sid, minute, metric, channel_sid, wait_s",
            },
        ]
    }

    async fn apply(&self, tx: &mut AnyConnection, e: &Envelope) -> Result<(), sqlx::Error> {
        self.apply_batch(tx, &[e]).await
    }

    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[&Envelope],
    ) -> Result<(), sqlx::Error> {
        let mut tally = Tally::default();
        let mut overlay = Overlay::default();
        for e in events {
            if e.stream.as_str().starts_with("WS") {
                apply_one(tx, &mut tally, &mut overlay, e).await?;
            }
        }
        overlay.flush(tx).await?;
        tally.flush(tx).await
    }
}

// ---- queries ---------------------------------------------------------------------------------

/// A task's place in its queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePosition {
    /// The queue.
    pub task_queue_sid: String,
    /// The queue's name.
    pub task_queue_name: String,
    /// The task.
    pub task_sid: String,
    /// 1 for the next task the queue offers.
    pub position: i64,
    /// Effective priority.
    pub priority: i64,
    /// `pending` or `reserved`.
    pub status: String,
    /// Where its age counts from (ms since the epoch).
    pub age_ms: i64,
    /// When it entered the queue (ms since the epoch).
    pub entered_ms: i64,
    /// Its task channel.
    pub task_channel_sid: String,
}

/// Every waiting task's position in its queue (one queue if `queue` is given), queue by queue.
pub async fn queue_positions(
    conn: &mut AnyConnection,
    workspace: &str,
    queue: Option<&str>,
) -> Result<Vec<QueuePosition>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.queue_sid, q.friendly_name, t.sid, \
         ROW_NUMBER() OVER (PARTITION BY t.queue_sid ORDER BY COALESCE(t.step_priority, t.priority) DESC, \
           CASE WHEN q.task_order = 'LIFO' THEN -t.age_ms ELSE t.age_ms END, t.sid) AS position, \
         COALESCE(t.step_priority, t.priority), t.status, t.age_ms, COALESCE(t.entered_ms, t.created_ms), t.channel_sid \
         FROM tr_tasks t JOIN tr_queues q ON q.sid = t.queue_sid \
         WHERE t.workspace_sid = $1 AND t.status IN ('pending', 'reserved') AND ($2 = '' OR t.queue_sid = $2) \
         ORDER BY t.queue_sid, position",
    )
    .bind(workspace)
    .bind(queue.unwrap_or(""))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QueuePosition {
                task_queue_sid: r.try_get(0)?,
                task_queue_name: r.try_get(1)?,
                task_sid: r.try_get(2)?,
                position: r.try_get(3)?,
                priority: r.try_get(4)?,
                status: r.try_get(5)?,
                age_ms: r.try_get(6)?,
                entered_ms: r.try_get(7)?,
                task_channel_sid: r.try_get(8)?,
            })
        })
        .collect()
}

/// A worker's channel as assignments see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelLoad {
    /// The channel.
    pub task_channel_sid: String,
    /// Its unique name.
    pub unique_name: String,
    /// Configured capacity.
    pub capacity: i64,
    /// Capacity held by pending, accepted and wrapping reservations.
    pub busy: i64,
    /// Whether the worker takes work on it.
    pub available: bool,
}

/// A reservation a worker holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldReservation {
    /// The reservation.
    pub sid: String,
    /// Its task.
    pub task_sid: String,
    /// Its queue.
    pub task_queue_sid: String,
    /// `pending`, `accepted` or `wrapping`.
    pub status: String,
    /// Created (ms since the epoch).
    pub created_ms: i64,
}

/// A worker's assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerAssignment {
    /// The worker.
    pub worker_sid: String,
    /// Its name.
    pub friendly_name: String,
    /// Its activity.
    pub activity_sid: String,
    /// The activity's name (None if it is gone).
    pub activity_name: Option<String>,
    /// Whether the activity is an available one.
    pub available: bool,
    /// Since when (ms since the epoch).
    pub status_changed_ms: i64,
    /// Channels, by unique name.
    pub channels: Vec<ChannelLoad>,
    /// Current reservations, oldest first.
    pub reservations: Vec<HeldReservation>,
}

/// Every worker's assignment (one worker if `worker` is given), by SID.
pub async fn worker_assignments(
    conn: &mut AnyConnection,
    workspace: &str,
    worker: Option<&str>,
) -> Result<Vec<WorkerAssignment>, sqlx::Error> {
    let w = worker.unwrap_or("");
    let rows = sqlx::query(
        "SELECT w.sid, w.friendly_name, w.activity_sid, a.friendly_name, COALESCE(a.available, 0), w.status_changed_ms \
         FROM tr_workers w LEFT JOIN tr_activities a ON a.sid = w.activity_sid \
         WHERE w.workspace_sid = $1 AND ($2 = '' OR w.sid = $2) ORDER BY w.sid",
    )
    .bind(workspace)
    .bind(w)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<WorkerAssignment> = Vec::with_capacity(rows.len());
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        let sid: String = r.try_get(0)?;
        index.insert(sid.clone(), out.len());
        out.push(WorkerAssignment {
            worker_sid: sid,
            friendly_name: r.try_get(1)?,
            activity_sid: r.try_get(2)?,
            activity_name: r.try_get::<Option<String>, _>(3)?,
            available: r.try_get::<i64, _>(4)? != 0,
            status_changed_ms: r.try_get(5)?,
            channels: Vec::new(),
            reservations: Vec::new(),
        });
    }
    let channels = sqlx::query(
        "SELECT wc.worker_sid, wc.channel_sid, c.unique_name, wc.capacity, wc.available, \
         (SELECT COUNT(*) FROM tr_reservations r WHERE r.worker_sid = wc.worker_sid AND r.channel_sid = wc.channel_sid) \
         FROM tr_worker_channels wc JOIN tr_channels c ON c.sid = wc.channel_sid \
         WHERE wc.workspace_sid = $1 AND ($2 = '' OR wc.worker_sid = $2) ORDER BY wc.worker_sid, c.unique_name",
    )
    .bind(workspace)
    .bind(w)
    .fetch_all(&mut *conn)
    .await?;
    for r in &channels {
        let sid: String = r.try_get(0)?;
        if let Some(i) = index.get(&sid) {
            out[*i].channels.push(ChannelLoad {
                task_channel_sid: r.try_get(1)?,
                unique_name: r.try_get(2)?,
                capacity: r.try_get(3)?,
                available: r.try_get::<i64, _>(4)? != 0,
                busy: r.try_get(5)?,
            });
        }
    }
    let reservations = sqlx::query(
        "SELECT worker_sid, sid, task_sid, queue_sid, status, created_ms FROM tr_reservations \
         WHERE workspace_sid = $1 AND ($2 = '' OR worker_sid = $2) ORDER BY worker_sid, created_ms, sid",
    )
    .bind(workspace)
    .bind(w)
    .fetch_all(&mut *conn)
    .await?;
    for r in &reservations {
        let sid: String = r.try_get(0)?;
        if let Some(i) = index.get(&sid) {
            out[*i].reservations.push(HeldReservation {
                sid: r.try_get(1)?,
                task_sid: r.try_get(2)?,
                task_queue_sid: r.try_get(3)?,
                status: r.try_get(4)?,
                created_ms: r.try_get(5)?,
            });
        }
    }
    Ok(out)
}

/// A metric summed over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summed {
    /// How many.
    pub n: i64,
    /// Sum of values (seconds).
    pub total: i64,
    /// Smallest value.
    pub min: i64,
    /// Largest value.
    pub max: i64,
}

impl Summed {
    /// Mean value, rounded down (0 when empty).
    pub fn avg(&self) -> i64 {
        if self.n == 0 {
            0
        } else {
            self.total / self.n
        }
    }
}

/// Counters of one scope (a workspace, queue, workflow or worker SID) over the minutes
/// `[from_minute, to_minute]`, optionally for one task channel (activity durations belong to
/// no channel and always count); metric → sum.
pub async fn counters(
    conn: &mut AnyConnection,
    workspace: &str,
    scope: &str,
    channel: Option<&str>,
    from_minute: i64,
    to_minute: i64,
) -> Result<BTreeMap<String, Summed>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT metric, CAST(SUM(n) AS BIGINT), CAST(SUM(total) AS BIGINT), MIN(CASE WHEN n > 0 THEN min_value END), MAX(max_value) FROM tr_stats \
         WHERE workspace_sid = $1 AND scope_sid = $2 AND ($3 = '' OR channel_sid = $3 OR channel_sid = '') \
         AND minute >= $4 AND minute <= $5 GROUP BY metric ORDER BY metric",
    )
    .bind(workspace)
    .bind(scope)
    .bind(channel.unwrap_or(""))
    .bind(from_minute)
    .bind(to_minute)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = BTreeMap::new();
    for r in &rows {
        out.insert(
            r.try_get::<String, _>(0)?,
            Summed {
                n: r.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
                total: r.try_get::<Option<i64>, _>(2)?.unwrap_or(0),
                min: r.try_get::<Option<i64>, _>(3)?.unwrap_or(0),
                max: r.try_get::<Option<i64>, _>(4)?.unwrap_or(0),
            },
        );
    }
    Ok(out)
}

/// For each threshold (seconds): how many of `metric`'s waits were below it and how many at or
/// above it, over the same window as [`counters`].
#[allow(clippy::too_many_arguments)]
pub async fn split_by_wait(
    conn: &mut AnyConnection,
    workspace: &str,
    scope: &str,
    channel: Option<&str>,
    from_minute: i64,
    to_minute: i64,
    metric: &str,
    thresholds: &[i64],
) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT wait_s, CAST(SUM(n) AS BIGINT) FROM tr_waits WHERE workspace_sid = $1 AND scope_sid = $2 AND ($3 = '' OR channel_sid = $3) \
         AND minute >= $4 AND minute <= $5 AND metric = $6 GROUP BY wait_s ORDER BY wait_s",
    )
    .bind(workspace)
    .bind(scope)
    .bind(channel.unwrap_or(""))
    .bind(from_minute)
    .bind(to_minute)
    .bind(metric)
    .fetch_all(&mut *conn)
    .await?;
    let waits: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<i64, _>(0)?,
                r.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(thresholds
        .iter()
        .map(|t| {
            let below: i64 = waits.iter().filter(|(w, _)| w < t).map(|(_, n)| n).sum();
            let above: i64 = waits.iter().filter(|(w, _)| w >= t).map(|(_, n)| n).sum();
            (*t, below, above)
        })
        .collect())
}
