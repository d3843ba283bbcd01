//! The Event index (`tr_events`): one row per workspace event, written by the batch and read
//! by `GET /v1/Workspaces/{WS}/Events` ([`events`]), newest first, filtered by indexed
//! columns and paged by `seq`, so a request never reads the stream.
//!
//! A row holds what the event names ([`refs`]) and what the read model knows about the
//! things it names when the event arrives — a reservation's task, worker, queue, workflow
//! and channel; a task's workflow, channel and current queue — so a reservation's
//! `reservation.accepted` is found by `TaskSid` and `WorkerSid` too. The row is built before
//! the event is folded, while a reservation that the event ends is still known.
//!
//! Invariant: exactly one row per event of a `WS…` stream, keyed by the event's id and
//! unique per (workspace, seq); built only from earlier events of the log, so a replay
//! writes the same rows. A workspace's deletion removes its rows with the rest of its read
//! model.
//!
//! # Retention
//! Twilio keeps TaskRouter events for 30 days (`shared/reference/TWILIO-API-NOTES.md` §1.9,
//! the Event resource: "retention is 30 days", from Twilio's Event page), and so does this
//! index:
//! [`prune`] removes, as each batch ends, the rows older than the *horizon* less the
//! retention. The horizon is the newest `occurred_at` of any event the index has applied
//! (kept in `tr_events_horizon`, migration 0010), never the wall clock, because the read model
//! must be a function of the log alone: a rebuild, or a replica applying the same log in other
//! batches, must keep exactly the rows the live one keeps at the same position (the digest
//! and equivalence tests compare them). Measured from the stored high-water mark rather than
//! from each batch's own newest event, the cut-off only ever moves forward and does not
//! depend on where batches split, even when events from different partitions arrive out of
//! time order: a row removed under an earlier horizon would be removed under every later
//! one. The cost is that a server that stops receiving TaskRouter events keeps its last 30
//! days of them until the next event arrives.

use super::overlay::Overlay;
use super::sql::{write_rows, Arg};
use sqlx::{AnyConnection, Row};
use switchboard_events::taskrouter::refs::refs;
use switchboard_events::Envelope;

/// One indexed event, as `/Events` reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// The workspace (the event's stream).
    pub workspace_sid: String,
    /// `EV` + the envelope id.
    pub sid: String,
    /// Its version in the workspace's stream (the list's order).
    pub seq: i64,
    /// The tenant.
    pub account_sid: String,
    /// The wire name.
    pub event_type: String,
    /// When it happened (ms since the epoch).
    pub occurred_ms: i64,
    /// The node's region.
    pub region: String,
    /// What it is most relevant to (`workspace` for the workspace's own events).
    pub resource_type: String,
    /// That resource's SID.
    pub resource_sid: String,
    /// The task it concerns.
    pub task_sid: Option<String>,
    /// The worker it concerns.
    pub worker_sid: Option<String>,
    /// The reservation it concerns.
    pub reservation_sid: Option<String>,
    /// The queue it concerns.
    pub task_queue_sid: Option<String>,
    /// The workflow it concerns.
    pub workflow_sid: Option<String>,
    /// The task channel it concerns.
    pub task_channel_sid: Option<String>,
    /// The event's data (current schema), JSON text.
    pub data: String,
}

/// The row of `e`, completed from what the batch's overlay (or the tables) know.
pub(super) async fn row(
    tx: &mut AnyConnection,
    overlay: &mut Overlay,
    e: &Envelope,
) -> Result<EventRow, sqlx::Error> {
    let r = refs(&e.event);
    let own = |s: Option<&switchboard_events::Sid>| s.map(|s| s.to_string());
    let (resource_type, resource_sid) = r
        .resource()
        .map_or(("workspace", e.stream.clone()), |(k, s)| (k, s.to_string()));
    let mut row = EventRow {
        workspace_sid: e.stream.clone(),
        sid: format!("EV{}", e.id.simple()),
        seq: e.seq as i64,
        account_sid: e.account_sid.to_string(),
        event_type: e.event.type_name().to_string(),
        occurred_ms: e.occurred_at.timestamp_millis(),
        region: e.region.clone(),
        resource_type: resource_type.to_string(),
        resource_sid,
        task_sid: own(r.task),
        worker_sid: own(r.worker),
        reservation_sid: own(r.reservation),
        task_queue_sid: own(r.task_queue),
        workflow_sid: own(r.workflow),
        task_channel_sid: own(r.task_channel),
        data: e.event.data_json(),
    };
    if let (Some(sid), None) = (&row.reservation_sid, &row.task_sid) {
        if let Some(res) = overlay.reservation(tx, sid).await? {
            row.task_sid = Some(res.task);
            row.worker_sid = Some(res.worker);
            row.task_queue_sid = Some(res.queue);
            row.workflow_sid = Some(res.workflow);
            row.task_channel_sid = Some(res.channel);
        }
    }
    // A new task's event names its workflow and channel itself: nothing to look up.
    let needs_task = row.workflow_sid.is_none() || row.task_channel_sid.is_none();
    if let (Some(sid), true) = (row.task_sid.clone(), needs_task) {
        if let Some(t) = overlay.task(tx, &sid).await? {
            row.workflow_sid.get_or_insert(t.workflow);
            row.task_channel_sid.get_or_insert(t.channel);
            if row.task_queue_sid.is_none() {
                row.task_queue_sid = t.queue;
            }
        }
    }
    Ok(row)
}

/// The batch's event rows, written once when the batch ends.
#[derive(Default)]
pub(super) struct EventRows(Vec<EventRow>);

impl EventRows {
    /// Adds one.
    pub(super) fn push(&mut self, row: EventRow) {
        self.0.push(row);
    }

    /// Drops the rows of workspace `ws` (it was deleted in this batch).
    pub(super) fn forget(&mut self, ws: &str) {
        self.0.retain(|r| r.workspace_sid != ws);
    }

    /// Writes the rows. A row already there (the same event id) is left as it is.
    pub(super) async fn flush(self, tx: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let rows: Vec<Vec<Arg>> = self
            .0
            .into_iter()
            .map(|r| {
                vec![
                    Arg::S(r.workspace_sid),
                    Arg::S(r.sid),
                    Arg::I(r.seq),
                    Arg::S(r.account_sid),
                    Arg::S(r.event_type),
                    Arg::I(r.occurred_ms),
                    Arg::S(r.region),
                    Arg::S(r.resource_type),
                    Arg::S(r.resource_sid),
                    Arg::OS(r.task_sid),
                    Arg::OS(r.worker_sid),
                    Arg::OS(r.reservation_sid),
                    Arg::OS(r.task_queue_sid),
                    Arg::OS(r.workflow_sid),
                    Arg::OS(r.task_channel_sid),
                    Arg::S(r.data),
                ]
            })
            .collect();
        write_rows(
            tx,
            "INSERT INTO tr_events (workspace_sid, sid, seq, account_sid, event_type, occurred_ms, region, \
             resource_type, resource_sid, task_sid, worker_sid, reservation_sid, task_queue_sid, workflow_sid, \
             task_channel_sid, data) VALUES ",
            &rows,
            " ON CONFLICT (sid) DO NOTHING",
        )
        .await
    }
}

/// Moves the horizon to `newest` (ms since the epoch) if that is later, then removes the
/// rows older than the horizon less `retention_ms`. See the module doc.
pub(super) async fn prune(
    tx: &mut AnyConnection,
    newest: i64,
    retention_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tr_events_horizon (id, newest_ms) VALUES (0, $1) ON CONFLICT (id) DO \
         UPDATE SET newest_ms = CASE WHEN excluded.newest_ms > tr_events_horizon.newest_ms \
         THEN excluded.newest_ms ELSE tr_events_horizon.newest_ms END",
    )
    .bind(newest)
    .execute(&mut *tx)
    .await?;
    let horizon: i64 = sqlx::query_scalar("SELECT newest_ms FROM tr_events_horizon WHERE id = 0")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM tr_events WHERE occurred_ms < $1")
        .bind(horizon.saturating_sub(retention_ms))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// What a list of events asks for: every given filter must hold.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Any of these types (all when empty).
    pub types: Vec<String>,
    /// This event only.
    pub sid: Option<String>,
    /// About this task.
    pub task_sid: Option<String>,
    /// About this worker.
    pub worker_sid: Option<String>,
    /// About this reservation.
    pub reservation_sid: Option<String>,
    /// About this queue.
    pub task_queue_sid: Option<String>,
    /// About this workflow.
    pub workflow_sid: Option<String>,
    /// About this task channel (its SID).
    pub task_channel_sid: Option<String>,
    /// At or after (ms since the epoch).
    pub from_ms: Option<i64>,
    /// At or before (ms since the epoch).
    pub to_ms: Option<i64>,
    /// Older than this `seq` (the page token: the last row of the page before).
    pub before_seq: Option<i64>,
    /// Newer than this `seq` (a token back: the first row of the page after). The rows then
    /// come oldest first, the nearest to it first.
    pub after_seq: Option<i64>,
    /// Rows to skip first (pages counted from the newest without a token).
    pub offset: i64,
    /// At most this many rows.
    pub limit: i64,
}

/// The events of workspace `ws` that `q` asks for, newest first (oldest first after
/// [`EventQuery::after_seq`]).
pub async fn events(
    conn: &mut AnyConnection,
    ws: &str,
    q: &EventQuery,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let mut sql = String::from(
        "SELECT workspace_sid, sid, seq, account_sid, event_type, occurred_ms, region, resource_type, \
         resource_sid, task_sid, worker_sid, reservation_sid, task_queue_sid, workflow_sid, \
         task_channel_sid, data FROM tr_events WHERE workspace_sid = $1",
    );
    let mut args: Vec<Arg> = vec![Arg::S(ws.to_string())];
    let mut add = |sql: &mut String, clause: &str, arg: Arg| {
        args.push(arg);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    for (column, value) in [
        ("sid", &q.sid),
        ("task_sid", &q.task_sid),
        ("worker_sid", &q.worker_sid),
        ("reservation_sid", &q.reservation_sid),
        ("task_queue_sid", &q.task_queue_sid),
        ("workflow_sid", &q.workflow_sid),
        ("task_channel_sid", &q.task_channel_sid),
    ] {
        if let Some(v) = value {
            add(&mut sql, &format!(" AND {column} = ?"), Arg::S(v.clone()));
        }
    }
    if let Some(v) = q.from_ms {
        add(&mut sql, " AND occurred_ms >= ?", Arg::I(v));
    }
    if let Some(v) = q.to_ms {
        add(&mut sql, " AND occurred_ms <= ?", Arg::I(v));
    }
    if let Some(v) = q.before_seq {
        add(&mut sql, " AND seq < ?", Arg::I(v));
    }
    if !q.types.is_empty() {
        sql.push_str(" AND event_type IN (");
        for (i, t) in q.types.iter().enumerate() {
            add(
                &mut sql,
                if i == 0 { "?" } else { ", ?" },
                Arg::S(t.clone()),
            );
        }
        sql.push(')');
    }
    if let Some(v) = q.after_seq {
        add(&mut sql, " AND seq > ?", Arg::I(v));
    }
    let order = if q.after_seq.is_some() { "ASC" } else { "DESC" };
    add(
        &mut sql,
        &format!(" ORDER BY seq {order} LIMIT ?"),
        Arg::I(q.limit.max(0)),
    );
    add(&mut sql, " OFFSET ?", Arg::I(q.offset.max(0)));
    let mut query = sqlx::query(&sql);
    for a in &args {
        query = match a {
            Arg::S(v) => query.bind(v.as_str()),
            Arg::I(v) => query.bind(*v),
            Arg::OS(v) => query.bind(v.as_deref()),
            Arg::OI(v) => query.bind(*v),
        };
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                workspace_sid: r.try_get(0)?,
                sid: r.try_get(1)?,
                seq: r.try_get(2)?,
                account_sid: r.try_get(3)?,
                event_type: r.try_get(4)?,
                occurred_ms: r.try_get(5)?,
                region: r.try_get(6)?,
                resource_type: r.try_get(7)?,
                resource_sid: r.try_get(8)?,
                task_sid: r.try_get(9)?,
                worker_sid: r.try_get(10)?,
                reservation_sid: r.try_get(11)?,
                task_queue_sid: r.try_get(12)?,
                workflow_sid: r.try_get(13)?,
                task_channel_sid: r.try_get(14)?,
                data: r.try_get(15)?,
            })
        })
        .collect()
}

/// The SID of the channel named `name` (its unique name or SID) in workspace `ws`.
pub async fn channel_sid(
    conn: &mut AnyConnection,
    ws: &str,
    name: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT sid FROM tr_channels WHERE workspace_sid = $1 AND (unique_name = $2 OR sid = $2)",
    )
    .bind(ws)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get(0)).transpose()
}
