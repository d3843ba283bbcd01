//! The outbox's SQL (table `outbox`, migration `0005_outbox.sql`) and the runners'
//! checkpoints (`process_checkpoints`), on the read-model store's pool, in SQL both SQLite and
//! PostgreSQL accept.
//!
//! The invariant: [`write`] inserts a batch of rows and moves the runner's checkpoint in ONE
//! transaction, so after any crash either both are there or neither is; a row is keyed by its
//! deterministic id, so a replay of events past a stale checkpoint inserts nothing twice.
//! Rows leave only through [`finish`], which the sender calls once a delivery is done.

use sqlx::Row as _;
use switchboard_events::call::HttpMethod;
use switchboard_events::process::policy::WebhookKind;
use switchboard_events::process::{ActsOn, Delivery};
use switchboard_events::{Checkpoint, Position, Sid};
use switchboard_projections::store::ProjectionStore;
use uuid::Uuid;

/// One outbox row: a delivery, where its source event sits, and how far its sending got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What to send.
    pub delivery: Delivery,
    /// The source event's position (orders rows of one key).
    pub position: Position,
    /// The row's index among its event's deliveries.
    pub index: u32,
    /// The source event's id.
    pub causation_id: Uuid,
    /// The URL being tried (an index into `delivery.urls`).
    pub url_index: u32,
    /// Attempts made on that URL.
    pub attempt: u32,
    /// When it is due, ms since the epoch.
    pub next_attempt_at: i64,
    /// Every URL failed with this Twilio code; only the alert remains to be recorded.
    pub failed_code: Option<u32>,
    /// What the last attempt came to, for the alert.
    pub last_error: Option<String>,
    /// When the first attempt at this URL began, ms since the epoch (`None` until then): the
    /// start of its `tt` budget (migration `0009_outbox_first_attempt.sql`).
    pub first_attempt_at: Option<i64>,
}

impl Row {
    /// Nothing was tried yet: its `next_attempt_at` is still its source event's time.
    pub fn first_attempt(&self) -> bool {
        self.attempt == 0 && self.url_index == 0 && self.failed_code.is_none()
    }
}

/// How a finished attempt changes its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Delivered, or its failure recorded: the row leaves the outbox.
    Done,
    /// Try again later.
    Again {
        /// The URL to try next.
        url_index: u32,
        /// Attempts made on it so far.
        attempt: u32,
        /// When, ms since the epoch.
        next_attempt_at: i64,
        /// Set once every URL has failed (the order key is then released, so later
        /// deliveries of the workspace no longer wait behind this one).
        failed_code: Option<u32>,
        /// What the attempt came to.
        last_error: Option<String>,
        /// When the first attempt at `url_index` began (`None`: not tried yet).
        first_attempt_at: Option<i64>,
    },
}

/// The `kind` column: the kind's name, with `:get` after it for a GET delivery (the method
/// has no column of its own; a row without the suffix is a POST, as every row written before
/// GET deliveries existed).
fn stored_kind(d: &Delivery) -> String {
    match d.method {
        HttpMethod::Post => d.kind.as_str().to_string(),
        HttpMethod::Get => format!("{}:get", d.kind.as_str()),
    }
}

/// [`stored_kind`] read back.
fn parse_stored_kind(stored: &str) -> Option<(WebhookKind, HttpMethod)> {
    match stored.split_once(':') {
        Some((kind, "get")) => Some((WebhookKind::parse(kind)?, HttpMethod::Get)),
        Some(_) => None,
        None => Some((WebhookKind::parse(stored)?, HttpMethod::Post)),
    }
}

fn acts_on_json(a: &ActsOn) -> String {
    serde_json::json!({
        "workspace": a.workspace, "reservation": a.reservation, "task": a.task,
    })
    .to_string()
}

fn parse_acts_on(text: &str) -> Option<ActsOn> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let sid = |k: &str| v[k].as_str().and_then(|s| Sid::parse(s).ok());
    Some(ActsOn {
        workspace: sid("workspace")?,
        reservation: sid("reservation")?,
        task: sid("task")?,
    })
}

/// The runner's checkpoint, or `None` if it never committed one.
pub async fn checkpoint_if_any(
    store: &ProjectionStore,
    runner: &str,
) -> Result<Option<Checkpoint>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT partition, log_offset FROM process_checkpoints WHERE runner = $1")
            .bind(runner)
            .fetch_all(store.pool())
            .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    rows.iter()
        .map(|r| {
            let p: i64 = r.try_get(0)?;
            let o: i64 = r.try_get(1)?;
            Ok((p as u32, o.max(0) as u64))
        })
        .collect::<Result<Checkpoint, sqlx::Error>>()
        .map(Some)
}

/// Inserts `rows` as they are (a row already there stays as it is) and moves `runner`'s
/// checkpoint to `checkpoint`, in one transaction. An empty checkpoint is stored as
/// partition 0 at offset 0 (nothing read), so that the runner has committed one.
pub async fn write(
    store: &ProjectionStore,
    runner: &str,
    checkpoint: &Checkpoint,
    rows: &[Row],
) -> Result<(), sqlx::Error> {
    let mut tx = store.begin_write().await?;
    {
        for row in rows {
            let d = &row.delivery;
            sqlx::query(
                "INSERT INTO outbox (id, kind, account_sid, order_key, log_partition, log_offset, \
                 idx, causation_id, urls, form, acts_on, url_index, attempt, next_attempt_at, \
                 failed_code, last_error, first_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(d.id.as_str())
            .bind(stored_kind(d))
            .bind(d.account_sid.as_str())
            .bind(d.order_key.as_ref().map(|k| k.to_string()))
            .bind(i64::from(row.position.partition))
            .bind(row.position.offset as i64)
            .bind(i64::from(row.index))
            .bind(row.causation_id.to_string())
            .bind(serde_json::to_string(&d.urls).unwrap_or_default())
            .bind(serde_json::to_string(&d.form).unwrap_or_default())
            .bind(d.acts_on.as_ref().map(acts_on_json))
            .bind(i64::from(row.url_index))
            .bind(i64::from(row.attempt))
            .bind(row.next_attempt_at)
            .bind(row.failed_code.map(i64::from))
            .bind(row.last_error.clone())
            .bind(row.first_attempt_at)
            .execute(&mut *tx)
            .await?;
        }
        let nothing: Checkpoint = [(0, 0)].into_iter().collect();
        let checkpoint = if checkpoint.is_empty() {
            &nothing
        } else {
            checkpoint
        };
        for (partition, offset) in checkpoint {
            sqlx::query(
                "INSERT INTO process_checkpoints (runner, partition, log_offset) VALUES ($1, $2, $3) \
                 ON CONFLICT (runner, partition) DO UPDATE SET log_offset = excluded.log_offset",
            )
            .bind(runner)
            .bind(i64::from(*partition))
            .bind(*offset as i64)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
}

const COLUMNS: &str = "id, kind, account_sid, order_key, log_partition, log_offset, idx, \
    causation_id, urls, form, acts_on, url_index, attempt, next_attempt_at, failed_code, last_error, \
    first_attempt_at";

fn decode(r: &sqlx::any::AnyRow) -> Result<Option<Row>, sqlx::Error> {
    let kind: String = r.try_get(1)?;
    let account: String = r.try_get(2)?;
    let order_key: Option<String> = r.try_get(3)?;
    let (Some((kind, method)), Ok(account_sid)) = (parse_stored_kind(&kind), Sid::parse(&account))
    else {
        return Ok(None);
    };
    let urls: String = r.try_get(8)?;
    let form: String = r.try_get(9)?;
    let acts_on: Option<String> = r.try_get(10)?;
    let causation: String = r.try_get(7)?;
    let failed: Option<i64> = r.try_get(14)?;
    Ok(Some(Row {
        delivery: Delivery {
            id: r.try_get(0)?,
            kind,
            account_sid,
            order_key: order_key.and_then(|k| Sid::parse(&k).ok()),
            method,
            urls: serde_json::from_str(&urls).unwrap_or_default(),
            form: serde_json::from_str(&form).unwrap_or_default(),
            acts_on: acts_on.as_deref().and_then(parse_acts_on),
        },
        position: Position {
            partition: r.try_get::<i64, _>(4)? as u32,
            offset: r.try_get::<i64, _>(5)?.max(0) as u64,
        },
        index: r.try_get::<i64, _>(6)? as u32,
        causation_id: Uuid::parse_str(&causation).unwrap_or_default(),
        url_index: r.try_get::<i64, _>(11)? as u32,
        attempt: r.try_get::<i64, _>(12)? as u32,
        next_attempt_at: r.try_get(13)?,
        failed_code: failed.map(|c| c as u32),
        last_error: r.try_get(15)?,
        first_attempt_at: r.try_get(16)?,
    }))
}

/// Moves what an older build left in `from` (the outbox and the runner's checkpoint lived in
/// the read-model store before they had a store of their own) into `into`: the rows as they
/// stand, and the later of the two checkpoints per partition. Idempotent: a crash between the
/// two transactions moves the same rows again (kept once by id), then empties `from`.
/// Returns how many rows were moved.
pub async fn adopt(
    from: &ProjectionStore,
    into: &ProjectionStore,
    runner: &str,
) -> Result<usize, sqlx::Error> {
    let Some(old) = checkpoint_if_any(from, runner).await? else {
        return Ok(0);
    };
    let sql = format!("SELECT {COLUMNS} FROM outbox");
    let mut moved = Vec::new();
    for r in &sqlx::query(&sql).fetch_all(from.pool()).await? {
        if let Some(row) = decode(r)? {
            moved.push(row);
        }
    }
    let mut merged = checkpoint_if_any(into, runner).await?.unwrap_or_default();
    for (partition, offset) in old {
        let at = merged.entry(partition).or_insert(offset);
        *at = (*at).max(offset);
    }
    write(into, runner, &merged, &moved).await?;
    let mut tx = from.begin_write().await?;
    sqlx::query("DELETE FROM outbox").execute(&mut *tx).await?;
    sqlx::query("DELETE FROM process_checkpoints WHERE runner = $1")
        .bind(runner)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(moved.len())
}

/// Up to `limit` rows due at `now`, earliest first, each the first of its order key (a row
/// waits while an earlier row of its key is in the outbox).
pub async fn due(store: &ProjectionStore, now: i64, limit: usize) -> Result<Vec<Row>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox o WHERE o.next_attempt_at <= $1 AND (o.order_key IS NULL \
         OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.order_key = o.order_key AND \
         (p.log_partition < o.log_partition OR (p.log_partition = o.log_partition AND \
         (p.log_offset < o.log_offset OR (p.log_offset = o.log_offset AND p.idx < o.idx)))))) \
         ORDER BY o.next_attempt_at, o.log_partition, o.log_offset, o.idx LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(store.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(row) = decode(r)? {
            out.push(row);
        }
    }
    Ok(out)
}

/// The earliest `next_attempt_at` after `now`, if any row waits for a later time.
pub async fn next_due_after(store: &ProjectionStore, now: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE next_attempt_at > $1")
        .bind(now)
        .fetch_one(store.pool())
        .await
}

/// How many rows are in the outbox.
pub async fn len(store: &ProjectionStore) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(store.pool())
        .await
}

/// Applies finished attempts, in one transaction.
pub async fn finish(store: &ProjectionStore, done: &[(String, Finish)]) -> Result<(), sqlx::Error> {
    let mut tx = store.begin_write().await?;
    {
        for (id, f) in done {
            match f {
                Finish::Done => {
                    sqlx::query("DELETE FROM outbox WHERE id = $1")
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                Finish::Again {
                    url_index,
                    attempt,
                    next_attempt_at,
                    failed_code,
                    last_error,
                    first_attempt_at,
                } => {
                    let sql = if failed_code.is_some() {
                        "UPDATE outbox SET url_index = $2, attempt = $3, next_attempt_at = $4, \
                         failed_code = $5, last_error = $6, first_attempt_at = $7, order_key = NULL \
                         WHERE id = $1"
                    } else {
                        "UPDATE outbox SET url_index = $2, attempt = $3, next_attempt_at = $4, \
                         failed_code = $5, last_error = $6, first_attempt_at = $7 WHERE id = $1"
                    };
                    sqlx::query(sql)
                        .bind(id.as_str())
                        .bind(i64::from(*url_index))
                        .bind(i64::from(*attempt))
                        .bind(*next_attempt_at)
                        .bind(failed_code.map(i64::from))
                        .bind(last_error.clone())
                        .bind(*first_attempt_at)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::SidPrefix;

    async fn store() -> (tempfile::TempDir, ProjectionStore) {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let store = ProjectionStore::connect(&url).await.expect("store");
        (dir, store)
    }

    fn row(n: u64, key: Option<u128>, at: i64) -> Row {
        let kind = if key.is_some() {
            WebhookKind::EventCallback
        } else {
            WebhookKind::AssignmentCallback
        };
        let source = Uuid::from_u128(u128::from(n));
        Row {
            delivery: Delivery {
                id: Delivery::id_for(source, kind, 0),
                kind,
                account_sid: Sid::from_u128(SidPrefix::Account, 1),
                order_key: key.map(|k| Sid::from_u128(SidPrefix::Workspace, k)),
                urls: vec!["http://a/x#rc=2".into()],
                method: HttpMethod::Post,
                form: vec![("A".into(), format!("{n}"))],
                acts_on: None,
            },
            position: Position::embedded(n),
            index: 0,
            causation_id: source,
            url_index: 0,
            attempt: 0,
            next_attempt_at: at,
            failed_code: None,
            last_error: None,
            first_attempt_at: None,
        }
    }

    #[tokio::test]
    async fn rows_and_the_checkpoint_commit_together_and_a_replay_inserts_nothing_twice() {
        let (_dir, store) = store().await;
        let cp: Checkpoint = [(0, 3)].into_iter().collect();
        let rows = vec![row(1, Some(1), 0), row(2, None, 0), row(3, Some(1), 0)];
        write(&store, "t", &cp, &rows).await.expect("write");
        write(&store, "t", &cp, &rows).await.expect("replay");
        assert_eq!(len(&store).await.expect("len"), 3);
        assert_eq!(checkpoint_if_any(&store, "t").await.expect("cp"), Some(cp));
        let first = due(&store, 10, 10).await.expect("due");
        assert_eq!(first[0], rows[0], "a row reads back as written");
    }

    #[tokio::test]
    async fn a_row_waits_behind_the_earlier_rows_of_its_key_only() {
        let (_dir, store) = store().await;
        let rows = vec![
            row(1, Some(1), 50),
            row(2, Some(1), 0),
            row(3, Some(2), 0),
            row(4, None, 0),
        ];
        write(&store, "t", &Checkpoint::new(), &rows)
            .await
            .expect("write");
        let ids = |v: Vec<Row>| v.into_iter().map(|r| r.position.offset).collect::<Vec<_>>();
        // Row 1 is not due yet, and row 2 waits behind it.
        assert_eq!(ids(due(&store, 10, 10).await.expect("due")), vec![3, 4]);
        assert_eq!(next_due_after(&store, 10).await.expect("next"), Some(50));
        assert_eq!(ids(due(&store, 60, 10).await.expect("due")), vec![3, 4, 1]);
        let again = Finish::Again {
            url_index: 0,
            attempt: 1,
            next_attempt_at: 100,
            failed_code: Some(11200),
            last_error: Some("timeout".into()),
            first_attempt_at: Some(7),
        };
        let id1 = rows[0].delivery.id.clone();
        finish(
            &store,
            &[(id1, again), (rows[2].delivery.id.clone(), Finish::Done)],
        )
        .await
        .expect("finish");
        // A row that failed for good releases its key while its alert waits.
        assert_eq!(ids(due(&store, 60, 10).await.expect("due")), vec![2, 4]);
        let failed = due(&store, 100, 10).await.expect("due");
        let f = failed
            .iter()
            .find(|r| r.position.offset == 1)
            .expect("still there");
        assert_eq!(
            (f.failed_code, f.attempt, f.delivery.order_key.clone()),
            (Some(11200), 1, None)
        );
        assert_eq!(f.first_attempt_at, Some(7), "the budget's start is kept");
    }

    #[tokio::test]
    async fn an_older_builds_outbox_moves_over_once_as_it_stood() {
        let (_a, old) = store().await;
        let (_b, new) = store().await;
        let mut tried = row(2, None, 500);
        tried.attempt = 3;
        tried.first_attempt_at = Some(100);
        tried.last_error = Some("HTTP 500".into());
        let rows = vec![row(1, Some(1), 0), tried.clone()];
        let old_cp: Checkpoint = [(0, 9)].into_iter().collect();
        write(&old, "t", &old_cp, &rows).await.expect("old");
        write(&new, "t", &[(0, 4), (1, 2)].into_iter().collect(), &[])
            .await
            .expect("new");
        assert_eq!(adopt(&old, &new, "t").await.expect("adopt"), 2);
        assert_eq!(len(&old).await.expect("len"), 0);
        assert_eq!(checkpoint_if_any(&old, "t").await.expect("cp"), None);
        assert_eq!(
            checkpoint_if_any(&new, "t").await.expect("cp"),
            Some([(0, 9), (1, 2)].into_iter().collect::<Checkpoint>())
        );
        let moved = due(&new, 1000, 10).await.expect("due");
        assert!(
            moved.contains(&tried),
            "attempts and errors move as they stood: {moved:?}"
        );
        assert_eq!(adopt(&old, &new, "t").await.expect("again"), 0);
        assert_eq!(len(&new).await.expect("len"), 2);
    }
}
