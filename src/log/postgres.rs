//! The event log on PostgreSQL, for deployments past one machine: the same single writer
//! with group commit as the embedded log ([`super::writer`]), on a PostgreSQL server.
//!
//! One writer per log: the writer's connection holds a session advisory lock for as long as
//! it lives, and a second writer is refused at open. Because that one writer assigns
//! positions densely in commit order, readers never meet the commit-order gap of a shared
//! sequence (EVENTLOG-NOTES 2.5). If the writer's connection is lost, so is its lock: the
//! appends in flight fail (503 at the API, nothing acknowledged), and the next append
//! reconnects and takes the lock again — or keeps failing if another writer took it. It never
//! writes without the lock.
//!
//! A node without the writer role opens the log read-only ([`PostgresLog::open_read_only`]):
//! no lock, no writer task, every append refused. It learns the head by polling the highest
//! committed position (every [`HEAD_POLL`]); because the one writer commits positions densely
//! in order, every position up to the highest one it sees is committed and visible too.
//!
//! Rows go in with one `INSERT … SELECT FROM UNNEST(…)` per table per commit: five array
//! parameters whatever the batch size.

use super::reader::{self, Readers, SELECT_EVENTS};
use super::writer::{Names, RowRef, Storage, StreamHead, WriterHandle, WriterObserver};
use super::{AppendError, Appended, Checkpoint, EventLog, LogItem, ReadError};
use async_trait::async_trait;
use futures::stream::BoxStream;
use sqlx::postgres::{PgConnection, PgPoolOptions, Postgres};
use sqlx::Connection;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{ExpectedVersion, NewEvent, RecordedEvent};
use tokio::sync::watch;
use tracing::instrument;

/// The advisory lock key that makes a process the log's writer ("SWBDLOG" in ASCII).
const WRITER_LOCK: i64 = 0x0053_5742_444C_4F47;

/// How long `open` waits for a writer lock another connection holds.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How often a read-only log asks for the head: a read waiting for a write another node
/// committed waits at most this much longer for the projector to see it.
const HEAD_POLL: Duration = Duration::from_millis(25);

/// What a read-only log answers every append.
const READ_ONLY: &str = "this node opened the PostgreSQL log read-only (it has no writer role): commands go to the writer node (--writer-url)";

/// Tuning for the PostgreSQL log.
#[derive(Debug, Clone)]
pub struct PostgresLogOptions {
    /// Most events written in one transaction.
    pub max_batch_events: usize,
    /// Appends waiting for the writer before appenders are made to wait.
    pub queue_depth: usize,
    /// Reader connections.
    pub readers: u32,
    /// Events per subscription batch.
    pub read_batch: u32,
}

impl Default for PostgresLogOptions {
    fn default() -> Self {
        PostgresLogOptions {
            max_batch_events: 8192,
            queue_depth: 16384,
            readers: 4,
            read_batch: 8192,
        }
    }
}

/// See the module doc.
#[derive(Clone)]
pub struct PostgresLog {
    /// None: opened read-only.
    writer: Option<WriterHandle>,
    /// The last committed position (the writer's, or the poller's when read-only).
    head: watch::Receiver<u64>,
    readers: Readers<Postgres>,
    read_batch: u32,
}

impl PostgresLog {
    /// Connects, migrates, takes the writer lock (or fails: another writer runs) and starts
    /// the writer task.
    #[instrument(skip(url, options, observer))]
    pub async fn open(
        url: &str,
        options: PostgresLogOptions,
        observer: Arc<dyn WriterObserver>,
    ) -> anyhow::Result<PostgresLog> {
        migrate(url).await?;
        let mut conn = PgConnection::connect(url).await?;
        // A writer killed a moment ago may still hold the lock until PostgreSQL notices its
        // connection is gone: wait a little before calling the log taken.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match take_writer_lock(&mut conn).await {
                Ok(()) => break,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
        let readers = PgPoolOptions::new()
            .max_connections(options.readers.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let writer = WriterHandle::start(
            PgStorage {
                conn: Some(conn),
                url: url.to_string(),
            },
            observer,
            options.max_batch_events,
            options.queue_depth,
        )
        .await?;
        let names = writer.names().clone();
        Ok(PostgresLog {
            head: writer.head().clone(),
            writer: Some(writer),
            readers: Readers {
                pool: readers,
                names: names.clone(),
            },
            read_batch: options.read_batch.max(1),
        })
    }

    /// Connects and migrates, without the writer lock and without a writer (module doc):
    /// for nodes that only read the log while another node writes it.
    #[instrument(skip(url, options))]
    pub async fn open_read_only(
        url: &str,
        options: PostgresLogOptions,
    ) -> anyhow::Result<PostgresLog> {
        migrate(url).await?;
        let pool = PgPoolOptions::new()
            .max_connections(options.readers.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let (tx, head) = watch::channel(committed_head(&pool).await?);
        tokio::spawn(poll_head(pool.clone(), tx));
        Ok(PostgresLog {
            writer: None,
            head,
            readers: Readers {
                pool,
                names: Names::default(),
            },
            read_batch: options.read_batch.max(1),
        })
    }
}

/// The highest committed position.
async fn committed_head(pool: &sqlx::PgPool) -> Result<u64, sqlx::Error> {
    let head: Option<i64> = sqlx::query_scalar("SELECT MAX(position) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(head.unwrap_or(0).max(0) as u64)
}

/// A read-only log's head, polled until the log is shut down or dropped.
async fn poll_head(pool: sqlx::PgPool, tx: watch::Sender<u64>) {
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(HEAD_POLL) => {}
        }
        if pool.is_closed() {
            return;
        }
        match committed_head(&pool).await {
            // Never backwards: a position seen committed stays committed.
            Ok(head) => {
                tx.send_if_modified(|h| {
                    let moved = head > *h;
                    *h = (*h).max(head);
                    moved
                });
            }
            Err(e) => tracing::debug!(cause = %e, "cannot read the PostgreSQL log's head"),
        }
    }
}

#[async_trait]
impl EventLog for PostgresLog {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        match &self.writer {
            Some(writer) => writer.append(stream, expected, events).await,
            None => Err(AppendError::Unavailable(READ_ONLY.into())),
        }
    }

    async fn read_stream(&self, stream: &str) -> Result<Vec<RecordedEvent>, ReadError> {
        let sql = format!(
            "{SELECT_EVENTS} WHERE stream_id = (SELECT id FROM streams WHERE name = $1) ORDER BY seq"
        );
        self.readers.stream(&sql, stream.to_string()).await
    }

    fn subscribe(&self, from: Checkpoint) -> BoxStream<'static, Result<Vec<LogItem>, ReadError>> {
        reader::subscribe(
            self.readers.clone(),
            self.head.clone(),
            self.writer.as_ref().map(|w| w.tail()),
            from,
            u64::from(self.read_batch),
            Duration::from_secs(1),
        )
    }

    async fn heads(&self) -> Result<Checkpoint, ReadError> {
        let head = match &self.writer {
            Some(writer) => *writer.head().borrow(),
            // Asked now rather than polled: a read that waits for this head then includes
            // every write committed before it asked.
            None => committed_head(&self.readers.pool)
                .await
                .map_err(reader::unavailable)?,
        };
        Ok(Checkpoint::from([(0, head)]))
    }

    async fn shutdown(&self) {
        if let Some(writer) = &self.writer {
            writer.shutdown().await;
        }
        self.readers.pool.close().await;
    }
}

/// Brings the log's tables up to date at `url`, tracked apart from the read models' so
/// both may share the database ([`switchboard_projections::migrations`]).
pub(crate) async fn migrate(url: &str) -> anyhow::Result<()> {
    let mut conn = switchboard_projections::migrations::connect(url).await?;
    switchboard_projections::migrations::run(
        &mut conn,
        switchboard_projections::migrations::LOG,
        &sqlx::migrate!("./migrations/postgres/log"),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot migrate the PostgreSQL log: {e}"))?;
    let _ = conn.close().await;
    Ok(())
}

/// Takes the writer lock on `conn`, or says who has it.
async fn take_writer_lock(conn: &mut PgConnection) -> anyhow::Result<()> {
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(WRITER_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    if !locked {
        return Err(super::WriterHeld(format!(
            "the PostgreSQL log is in use by another switchboard writer (advisory lock {WRITER_LOCK:#x} is held); stop it first"
        ))
        .into());
    }
    Ok(())
}

/// The writer's SQL on PostgreSQL. Its connection holds the writer lock; after any failure
/// the connection is dropped (and the lock with it), and the next use reconnects and takes
/// the lock again — or fails, if another writer took it meanwhile, so this one never writes
/// without it.
struct PgStorage {
    conn: Option<PgConnection>,
    url: String,
}

impl PgStorage {
    async fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.conn.is_none() {
            let mut conn = PgConnection::connect(&self.url).await?;
            take_writer_lock(&mut conn)
                .await
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            tracing::info!("log writer reconnected to PostgreSQL and holds the writer lock again");
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| sqlx::Error::Protocol("no writer connection".into()))
    }

    /// Drops the connection after a failure (see the type's doc).
    fn forget<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        if result.is_err() {
            self.conn = None;
        }
        result
    }
}

#[async_trait]
impl Storage for PgStorage {
    async fn tops(&mut self) -> Result<(i64, i64), sqlx::Error> {
        let conn = self.conn().await?;
        let result: Result<(Option<i64>, Option<i64>), sqlx::Error> = sqlx::query_as(
            "SELECT (SELECT MAX(position) FROM events), (SELECT MAX(id) FROM streams)",
        )
        .fetch_one(conn)
        .await;
        let (position, stream) = self.forget(result)?;
        Ok((position.unwrap_or(0), stream.unwrap_or(0)))
    }

    async fn head(&mut self, stream: &str) -> Result<Option<StreamHead>, sqlx::Error> {
        let conn = self.conn().await?;
        let result: Result<Option<(i64, Option<i64>)>, sqlx::Error> = sqlx::query_as(
            "SELECT s.id, (SELECT MAX(seq) FROM events e WHERE e.stream_id = s.id) \
             FROM streams s WHERE s.name = $1",
        )
        .bind(stream)
        .fetch_optional(conn)
        .await;
        let row = self.forget(result)?;
        Ok(row.map(|(id, version)| StreamHead {
            id,
            version: version.unwrap_or(0).max(0) as u64,
        }))
    }

    async fn write(
        &mut self,
        new_streams: &[(i64, &str)],
        rows: &[RowRef<'_>],
        head: i64,
    ) -> Result<(), sqlx::Error> {
        let result = write_batch(self.conn().await?, new_streams, rows, head).await;
        self.forget(result)
    }

    async fn finish(&mut self) {}
}

async fn write_batch(
    conn: &mut PgConnection,
    new_streams: &[(i64, &str)],
    rows: &[RowRef<'_>],
    _head: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    if !new_streams.is_empty() {
        let ids: Vec<i64> = new_streams.iter().map(|s| s.0).collect();
        let names: Vec<&str> = new_streams.iter().map(|s| s.1).collect();
        sqlx::query(
            "INSERT INTO streams (id, name) SELECT * FROM UNNEST($1::bigint[], $2::text[])",
        )
        .bind(&ids)
        .bind(&names)
        .execute(&mut *tx)
        .await?;
    }
    let positions: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let stream_ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let seqs: Vec<i64> = rows.iter().map(|r| r.2 as i64).collect();
    let headers: Vec<&[u8]> = rows.iter().map(|r| r.3.header.as_slice()).collect();
    let data: Vec<&str> = rows.iter().map(|r| r.3.data.as_str()).collect();
    sqlx::query(
            "INSERT INTO events (position, stream_id, seq, header, data) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[], $5::text[])",
        )
        .bind(&positions)
        .bind(&stream_ids)
        .bind(&seqs)
        .bind(&headers)
        .bind(&data)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
