//! Reading the SQL logs, shared by SQLite and PostgreSQL: turning rows into events (or into
//! reports of damage), the stream-name cache, and subscriptions that keep reading ahead.

use super::writer::{Names, Tail};
use super::{record, Checkpoint, Damaged, LogItem, ReadError};
use async_trait::async_trait;
use futures::stream::BoxStream;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{Position, RecordedEvent};
use tokio::sync::{broadcast, mpsc, watch};

/// The columns every read selects, in this order.
pub(crate) const SELECT_EVENTS: &str = "SELECT position, stream_id, seq, header, data FROM events";

/// A backend's range read.
#[async_trait]
pub(crate) trait RangeReader: Clone + Send + Sync + 'static {
    /// The events at positions in `(after, upto]`.
    async fn read_range(&self, after: u64, upto: u64) -> Result<Vec<LogItem>, ReadError>;
}

/// A backend's reader pool and the stream-name cache its rows are decoded with. The same
/// code reads SQLite and PostgreSQL: only the pool's database differs.
pub(crate) struct Readers<DB: Database> {
    pub pool: Pool<DB>,
    pub names: Names,
}

impl<DB: Database> Clone for Readers<DB> {
    fn clone(&self) -> Self {
        Readers {
            pool: self.pool.clone(),
            names: self.names.clone(),
        }
    }
}

impl<DB> Readers<DB>
where
    DB: Database,
    usize: ColumnIndex<DB::Row>,
    for<'r> i64: Decode<'r, DB> + Encode<'r, DB> + Type<DB>,
    for<'r> &'r [u8]: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> &'r str: Encode<'r, DB> + Type<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    /// Decodes rows, loading any stream names not yet known.
    pub async fn decode(&self, rows: &[DB::Row]) -> Result<Vec<LogItem>, ReadError> {
        decode_rows(&self.names, rows, || {
            sqlx::query_as::<DB, (i64, String)>(SELECT_NAMES).fetch_all(&self.pool)
        })
        .await
    }

    /// Reads one stream with `sql`, which selects `SELECT_EVENTS` columns in `seq` order
    /// given one parameter (the stream's name or id). A damaged record fails the read.
    pub async fn stream<T>(&self, sql: &str, param: T) -> Result<Vec<RecordedEvent>, ReadError>
    where
        T: for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        let rows = sqlx::query::<DB>(sql)
            .bind(param)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        self.decode(&rows)
            .await?
            .into_iter()
            .map(|item| item.map_err(ReadError::Damaged))
            .collect()
    }
}

#[async_trait]
impl<DB> RangeReader for Readers<DB>
where
    DB: Database,
    usize: ColumnIndex<DB::Row>,
    for<'r> i64: Decode<'r, DB> + Encode<'r, DB> + Type<DB>,
    for<'r> &'r [u8]: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> &'r str: Encode<'r, DB> + Type<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    async fn read_range(&self, after: u64, upto: u64) -> Result<Vec<LogItem>, ReadError> {
        let sql =
            format!("{SELECT_EVENTS} WHERE position > $1 AND position <= $2 ORDER BY position");
        let rows = sqlx::query::<DB>(&sql)
            .bind(after as i64)
            .bind(upto as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        self.decode(&rows).await
    }
}

pub(crate) fn unavailable(e: sqlx::Error) -> ReadError {
    ReadError::Unavailable(e.to_string())
}

/// Turns a row (`SELECT_EVENTS` columns) into an event, or into a report of why it cannot be
/// one. Never panics: a row with a wrong type or a damaged header is a [`Damaged`] item.
pub(crate) fn decode_row<'r, R>(row: &'r R, names: &HashMap<i64, Arc<str>>) -> LogItem
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    &'r [u8]: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let position = Position::embedded(row.try_get::<i64, _>(0).unwrap_or(0).max(0) as u64);
    let stream = row
        .try_get::<i64, _>(1)
        .ok()
        .and_then(|id| names.get(&id))
        .map(|n| n.to_string());
    let decode = || -> Result<RecordedEvent, String> {
        let seq: i64 = row.try_get(2).map_err(|e| e.to_string())?;
        let header: &[u8] = row.try_get(3).map_err(|e| format!("header: {e}"))?;
        let data: String = row.try_get(4).map_err(|e| format!("data: {e}"))?;
        Ok(RecordedEvent {
            position,
            stream: stream.clone().ok_or("stream id has no name")?,
            seq: u64::try_from(seq).map_err(|_| format!("negative seq {seq}"))?,
            event: record::decode(header, data)?,
        })
    };
    decode().map_err(|reason| Damaged {
        position,
        stream: stream.clone(),
        reason,
    })
}

/// The query that loads the stream-name cache.
pub(crate) const SELECT_NAMES: &str = "SELECT id, name FROM streams";

/// Decodes rows, first loading the stream names (with `load`) when some are not cached.
pub(crate) async fn decode_rows<'r, R, F, Fut>(
    names: &Names,
    rows: &'r [R],
    load: F,
) -> Result<Vec<LogItem>, ReadError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    &'r [u8]: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<(i64, String)>, sqlx::Error>>,
{
    let poisoned = || ReadError::Unavailable("stream name cache poisoned".into());
    let missing = {
        let known = names.read().map_err(|_| poisoned())?;
        rows.iter()
            .filter_map(|r| r.try_get::<i64, _>(1).ok())
            .any(|id| !known.contains_key(&id))
    };
    if missing {
        let loaded = load().await.map_err(unavailable)?;
        let mut known = names.write().map_err(|_| poisoned())?;
        for (id, name) in loaded {
            known.entry(id).or_insert_with(|| Arc::from(name));
        }
    }
    let known = names.read().map_err(|_| poisoned())?;
    Ok(rows.iter().map(|r| decode_row(r, &known)).collect())
}

/// Every event after `from`, then live. A reader task keeps up to two batches in flight
/// (ranges of positions, which the single writer assigns densely), so fetching, decoding and
/// the subscriber's own work overlap on the machine's cores.
///
/// In the writer's own process, `tail` hands over each committed batch as written: a batch
/// that continues exactly where the subscriber stands is passed on without a query (five
/// subscribers — the read models and the process-manager runner — otherwise read every
/// commit back, each on its own, through the readers' pool). Anything else (a subscriber
/// catching up, a batch it missed because it fell more than the tail's capacity behind) is
/// read from the database, so what a subscriber gets never depends on which path it took.
pub(crate) fn subscribe<R: RangeReader>(
    reader: R,
    mut head: watch::Receiver<u64>,
    mut tail: Option<broadcast::Receiver<Arc<Tail>>>,
    from: Checkpoint,
    batch: u64,
    poll: Duration,
) -> BoxStream<'static, Result<Vec<LogItem>, ReadError>> {
    let (tx, rx) = mpsc::channel(2);
    let mut offset = from.get(&0).copied().unwrap_or(0);
    let batch = batch.max(1);
    tokio::spawn(async move {
        loop {
            while let Some(items) = tail.as_mut().and_then(|t| from_tail(t, &mut offset)) {
                if tx.send(Ok(items)).await.is_err() {
                    return;
                }
            }
            let committed = *head.borrow_and_update();
            if committed <= offset {
                // Caught up: wait for the writer's next commit (polling, for commits by
                // another process or once the writer has stopped), or for the subscriber to
                // go away.
                tokio::select! {
                    _ = tx.closed() => return,
                    changed = head.changed() => if changed.is_err() {
                        tokio::time::sleep(poll).await;
                    },
                    _ = tokio::time::sleep(poll) => {}
                }
                continue;
            }
            let first = (offset, (offset + batch).min(committed));
            let second = (first.1, (first.1 + batch).min(committed));
            let (a, b) = tokio::join!(reader.read_range(first.0, first.1), async {
                if second.1 > second.0 {
                    reader.read_range(second.0, second.1).await
                } else {
                    Ok(Vec::new())
                }
            });
            for result in [a, b] {
                match result {
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                    Ok(items) if !items.is_empty() => {
                        if tx.send(Ok(items)).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                }
            }
            offset = second.1.max(first.1);
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// The next batch the tail holds that continues at `offset` (moving `offset` past it);
/// batches wholly before it are dropped, and `None` once the tail has none that fits (a gap:
/// the database fills it).
fn from_tail(tail: &mut broadcast::Receiver<Arc<Tail>>, offset: &mut u64) -> Option<Vec<LogItem>> {
    loop {
        let t = match tail.try_recv() {
            Ok(t) => t,
            // Missed some: the oldest kept ones follow; a gap they leave is read instead.
            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => return None,
        };
        let last = t.first + t.items.len() as u64;
        let Some(last) = last.checked_sub(1).filter(|l| *l > *offset) else {
            continue;
        };
        if t.first > *offset + 1 {
            return None;
        }
        let skip = (*offset + 1 - t.first) as usize;
        *offset = last;
        return Some(t.items[skip..].to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tail batch of positions `first..first + n` (damaged items carry their position too).
    fn batch(first: u64, n: u64) -> Arc<Tail> {
        let items = (first..first + n)
            .map(|p| {
                Err(Damaged {
                    position: Position::embedded(p),
                    stream: None,
                    reason: "test".into(),
                })
            })
            .collect();
        Arc::new(Tail { first, items })
    }

    fn positions(items: &[LogItem]) -> Vec<u64> {
        items
            .iter()
            .map(|i| match i {
                Ok(r) => r.position.offset,
                Err(d) => d.position.offset,
            })
            .collect()
    }

    #[test]
    fn the_tail_is_used_only_where_it_continues_the_subscriber_exactly() {
        let (tx, mut rx) = broadcast::channel(8);
        let mut offset = 4;
        tx.send(batch(1, 3)).ok(); // wholly before: dropped
        tx.send(batch(3, 4)).ok(); // overlaps: only 5 and 6
        tx.send(batch(7, 2)).ok(); // continues: 7, 8
        tx.send(batch(11, 1)).ok(); // a gap (9, 10 missing): the database reads
        let a = from_tail(&mut rx, &mut offset).expect("overlap");
        assert_eq!((positions(&a), offset), (vec![5, 6], 6));
        let b = from_tail(&mut rx, &mut offset).expect("continues");
        assert_eq!((positions(&b), offset), (vec![7, 8], 8));
        assert!(
            from_tail(&mut rx, &mut offset).is_none(),
            "a gap is not bridged"
        );
        assert_eq!(offset, 8);
    }

    #[test]
    fn a_subscriber_that_fell_behind_the_tail_takes_what_is_left_only_if_it_fits() {
        let (tx, mut rx) = broadcast::channel(2);
        for first in [1, 2, 3, 4] {
            tx.send(batch(first, 1)).ok();
        }
        // Batches 1 and 2 are gone: position 1 (after offset 0) is not in the tail.
        let mut offset = 0;
        assert!(from_tail(&mut rx, &mut offset).is_none());
        assert_eq!(offset, 0);
        // Once the database brought it to 2, the rest continues from the tail.
        let (tx, mut rx) = broadcast::channel(2);
        for first in [1, 2, 3, 4] {
            tx.send(batch(first, 1)).ok();
        }
        let mut offset = 2;
        let got = from_tail(&mut rx, &mut offset).expect("3");
        assert_eq!((positions(&got), offset), (vec![3], 3));
    }
}
