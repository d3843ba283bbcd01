//! The batch's view of `tr_tasks` and `tr_reservations`: each row is read at most once per
//! batch, changed in memory, and written once when the batch ends.
//!
//! Invariant: within a batch the overlay, not the table, is the truth for every row it holds
//! (an event sees what the batch's earlier events did to a task or reservation), and a task's
//! status follows its reservations (reserved while any is pending, else pending) — so a
//! batch leaves the same rows as its events applied one by one.

use super::counter::Counter;
use super::sql::{delete_sids, write_rows, Arg};
use super::tally::Tally;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};

/// A task row as the fold sees it.
#[derive(Debug, Clone)]
pub(super) struct TaskRow {
    pub(super) workspace: String,
    pub(super) workflow: String,
    pub(super) channel: String,
    pub(super) queue: Option<String>,
    pub(super) priority: i64,
    pub(super) step_priority: Option<i64>,
    pub(super) age_ms: i64,
    pub(super) created_ms: i64,
    pub(super) entered_ms: Option<i64>,
    pub(super) status: &'static str,
}

/// A reservation row as the fold sees it.
#[derive(Debug, Clone)]
pub(super) struct ReservationRow {
    pub(super) workspace: String,
    pub(super) task: String,
    pub(super) worker: String,
    pub(super) queue: String,
    pub(super) workflow: String,
    pub(super) channel: String,
    pub(super) status: &'static str,
    pub(super) created_ms: i64,
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
pub(super) struct Overlay {
    tasks: BTreeMap<String, Option<TaskRow>>,
    reservations: BTreeMap<String, Option<ReservationRow>>,
    dirty_tasks: BTreeSet<String>,
    dirty_reservations: BTreeSet<String>,
    /// Tasks whose reservations are all in `reservations` (read, or new in this batch).
    complete: BTreeSet<String>,
    by_task: BTreeMap<String, BTreeSet<String>>,
}

impl Overlay {
    pub(super) async fn task(
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

    pub(super) fn put_task(&mut self, sid: &str, t: Option<TaskRow>) {
        self.tasks.insert(sid.to_string(), t);
        self.dirty_tasks.insert(sid.to_string());
    }

    pub(super) fn new_task(&mut self, sid: &str, t: TaskRow) {
        self.put_task(sid, Some(t));
        self.complete.insert(sid.to_string());
    }

    pub(super) async fn reservation(
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

    pub(super) fn put_reservation(&mut self, sid: &str, r: Option<ReservationRow>) {
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
    pub(super) async fn of_task(
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
    pub(super) async fn settle(
        &mut self,
        tx: &mut AnyConnection,
        task: &str,
    ) -> Result<(), sqlx::Error> {
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

    /// Ends a pending reservation, counted as `counter`, and settles its task.
    pub(super) async fn end_pending(
        &mut self,
        tx: &mut AnyConnection,
        tally: &mut Tally,
        sid: &str,
        minute: i64,
        counter: Counter,
    ) -> Result<(), sqlx::Error> {
        if let Some(r) = self.reservation(tx, sid).await? {
            let ws = r.workspace.as_str();
            tally.count(
                ws,
                &[ws, &r.queue, &r.workflow, &r.worker],
                &r.channel,
                minute,
                counter,
            );
            self.put_reservation(sid, None);
            self.settle(tx, &r.task).await?;
        }
        Ok(())
    }

    /// Writes every row the batch changed (deleting the ones that went).
    pub(super) async fn flush(mut self, tx: &mut AnyConnection) -> Result<(), sqlx::Error> {
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
