//! The embedded event log: SQLite through sqlx, in WAL mode, with group commit through the
//! single writer of [`super::writer`].
//!
//! Only this process writes: a lock file next to the database refuses a second one. Readers
//! are a separate read-only pool (WAL lets them read beside the writer).
//!
//! Why these settings (measured, see the README's benchmark section): a 256 MB page cache,
//! mmap and a large `wal_autocheckpoint` keep index pages in memory; integer stream ids and a
//! unique index led by the seq block (see `migrations/sqlite/log`) keep the pages each commit
//! rewrites few; a large row buffer lets readers take rows without a thread wake-up per row.

use super::reader::{self, unavailable, Readers};
use super::writer::{RowRef, Storage, StreamHead, WriterHandle, WriterObserver};
use super::{AppendError, Appended, Checkpoint, EventLog, LogItem, ReadError};
use async_trait::async_trait;
use futures::stream::BoxStream;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Sqlite};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{ExpectedVersion, NewEvent, RecordedEvent};
use tracing::{instrument, warn};

/// The blocks of 64 seqs a stream occupies, found one index seek at a time (see the unique
/// index in migrations/sqlite/log: it leads with `seq >> 6`). `?1` is the stream id.
const STREAM_BLOCKS: &str =
    "WITH RECURSIVE blocks(b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM blocks \
     WHERE EXISTS (SELECT 1 FROM events WHERE seq >> 6 = b + 1 AND stream_id = ?1))";

/// How durable an acknowledged append is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// `synchronous=FULL`: every commit is fsynced before appenders hear back.
    Full,
    /// `synchronous=NORMAL`: survives a crash of the process, may lose the last commits on a
    /// power loss.
    Normal,
}

/// Tuning for the embedded log.
#[derive(Debug, Clone)]
pub struct SqliteLogOptions {
    /// See [`Durability`].
    pub durability: Durability,
    /// Most events written in one transaction.
    pub max_batch_events: usize,
    /// Appends waiting for the writer before appenders are made to wait.
    pub queue_depth: usize,
    /// Reader connections (stream reads and subscriptions).
    pub readers: u32,
    /// Events per subscription batch.
    pub read_batch: u32,
}

impl Default for SqliteLogOptions {
    fn default() -> Self {
        SqliteLogOptions {
            durability: Durability::Full,
            max_batch_events: 8192,
            queue_depth: 16384,
            readers: 4,
            read_batch: 8192,
        }
    }
}

/// See the module doc.
#[derive(Clone)]
pub struct SqliteLog {
    writer: WriterHandle,
    readers: Readers<Sqlite>,
    read_batch: u32,
    _lock: Arc<std::fs::File>,
}

pub(crate) fn connect_options(path: &Path, durability: Durability) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        })
        .pragma("cache_size", "-262144")
        .pragma("mmap_size", "1073741824")
        .pragma("wal_autocheckpoint", "100000")
        .pragma("temp_store", "memory")
        .busy_timeout(Duration::from_secs(5))
}

/// Brings the log's tables up to date in the file at `path`, tracked apart from the read
/// models' so both may share the file ([`switchboard_projections::migrations`]).
pub(crate) async fn migrate(path: &Path) -> anyhow::Result<()> {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = switchboard_projections::migrations::connect(&url).await?;
    switchboard_projections::migrations::run(
        &mut conn,
        switchboard_projections::migrations::LOG,
        &sqlx::migrate!("./migrations/sqlite/log"),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot migrate the log at {}: {e}", path.display()))?;
    let _ = conn.close().await;
    Ok(())
}

pub(crate) fn lock_file(path: &Path) -> anyhow::Result<std::fs::File> {
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| anyhow::anyhow!("cannot open lock file {}: {e}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(super::WriterHeld(format!(
            "the log {} is in use by another switchboard process (a running server?); stop it first",
            path.display()
        ))
        .into()),
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow::anyhow!(
            "cannot lock {}: {e}",
            lock_path.display()
        )),
    }
}

impl SqliteLog {
    /// Opens (creating if needed) the log at `path`, migrates it and starts the writer task.
    #[instrument(skip(options, observer))]
    pub async fn open(
        path: &Path,
        options: SqliteLogOptions,
        observer: Arc<dyn WriterObserver>,
    ) -> anyhow::Result<SqliteLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let lock = lock_file(path)?;
        migrate(path).await?;
        let opts = connect_options(path, options.durability);
        let conn = SqliteConnection::connect_with(&opts).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            // Rows cross from sqlx's worker thread in a bounded channel; the default (50) makes
            // a replay a ping-pong of thread wake-ups.
            .connect_with(opts.clone().read_only(true).row_buffer_size(8192))
            .await?;
        let writer = WriterHandle::start(
            SqliteStorage { conn },
            observer,
            options.max_batch_events,
            options.queue_depth,
        )
        .await?;
        let names = writer.names().clone();
        Ok(SqliteLog {
            writer,
            readers: Readers {
                pool: readers,
                names: names.clone(),
            },
            read_batch: options.read_batch.max(1),
            _lock: Arc::new(lock),
        })
    }
}

#[async_trait]
impl EventLog for SqliteLog {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        self.writer.append(stream, expected, events).await
    }

    async fn read_stream(&self, stream: &str) -> Result<Vec<RecordedEvent>, ReadError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM streams WHERE name = ?1")
            .bind(stream)
            .fetch_optional(&self.readers.pool)
            .await
            .map_err(unavailable)?;
        let Some(id) = id else { return Ok(Vec::new()) };
        let sql = format!(
            "{STREAM_BLOCKS} SELECT e.position, e.stream_id, e.seq, e.header, e.data FROM blocks \
             JOIN events e ON e.seq >> 6 = blocks.b AND e.stream_id = ?1 ORDER BY e.seq"
        );
        self.readers.stream(&sql, id).await
    }

    fn subscribe(&self, from: Checkpoint) -> BoxStream<'static, Result<Vec<LogItem>, ReadError>> {
        reader::subscribe(
            self.readers.clone(),
            self.writer.head().clone(),
            Some(self.writer.tail()),
            from,
            u64::from(self.read_batch),
            Duration::from_secs(1),
        )
    }

    async fn heads(&self) -> Result<Checkpoint, ReadError> {
        Ok(Checkpoint::from([(0, *self.writer.head().borrow())]))
    }

    async fn shutdown(&self) {
        self.writer.shutdown().await;
        self.readers.pool.close().await;
    }
}

/// The writer's SQL on SQLite.
struct SqliteStorage {
    conn: SqliteConnection,
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn tops(&mut self) -> Result<(i64, i64), sqlx::Error> {
        let (position, stream): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT MAX(position) FROM events), (SELECT MAX(id) FROM streams)",
        )
        .fetch_one(&mut self.conn)
        .await?;
        Ok((position.unwrap_or(0), stream.unwrap_or(0)))
    }

    async fn head(&mut self, stream: &str) -> Result<Option<StreamHead>, sqlx::Error> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM streams WHERE name = ?1")
            .bind(stream)
            .fetch_optional(&mut self.conn)
            .await?;
        let Some(id) = id else { return Ok(None) };
        let sql = format!(
            "{STREAM_BLOCKS} SELECT MAX(seq) FROM events \
             WHERE seq >> 6 = (SELECT MAX(b) FROM blocks) AND stream_id = ?1"
        );
        let version: Option<i64> = sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_one(&mut self.conn)
            .await?;
        Ok(Some(StreamHead {
            id,
            version: version.unwrap_or(0).max(0) as u64,
        }))
    }

    async fn write(
        &mut self,
        new_streams: &[(i64, &str)],
        rows: &[RowRef<'_>],
        _head: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.conn.begin().await?;
        for chunk in chunks(new_streams) {
            let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO streams (id, name) ");
            q.push_values(chunk, |mut b, (id, name)| {
                b.push_bind(*id).push_bind(*name);
            });
            q.build().persistent(true).execute(&mut *tx).await?;
        }
        for chunk in chunks(rows) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (position, stream_id, seq, header, data) ",
            );
            q.push_values(chunk, |mut b, (position, stream_id, seq, row)| {
                b.push_bind(*position)
                    .push_bind(*stream_id)
                    .push_bind(*seq as i64)
                    .push_bind(row.header.as_slice())
                    .push_bind(row.data.as_str());
            });
            q.build().persistent(true).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    async fn finish(&mut self) {
        // Leave an empty WAL: the next open reads the database file directly (a replay
        // through a 400 MB WAL ran ~40% slower).
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut self.conn)
            .await
        {
            warn!(cause = %e, "final checkpoint of the log failed (the WAL is still durable)");
        }
    }
}

/// Splits rows into chunks whose sizes come from a small fixed set, so the multi-row INSERT
/// statements repeat and stay in sqlx's prepared-statement cache.
pub(crate) fn chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    const SIZES: [usize; 6] = [512, 128, 32, 8, 2, 1];
    let mut rest = rows;
    std::iter::from_fn(move || {
        let size = SIZES.into_iter().find(|s| *s <= rest.len())?;
        let (head, tail) = rest.split_at(size);
        rest = tail;
        Some(head)
    })
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_cover_every_row_once_with_few_distinct_sizes() {
        for n in [0usize, 1, 2, 3, 7, 100, 513, 1000, 4097] {
            let rows: Vec<usize> = (0..n).collect();
            let parts: Vec<&[usize]> = chunks(&rows).collect();
            let flat: Vec<usize> = parts.iter().flat_map(|c| c.iter().copied()).collect();
            assert_eq!(flat, rows);
            assert!(parts
                .iter()
                .all(|c| [512, 128, 32, 8, 2, 1].contains(&c.len())));
        }
    }
}
