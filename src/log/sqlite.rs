//! The embedded event log: SQLite through sqlx, in WAL mode, with group commit.
//!
//! One writer task owns the only write connection. Appenders send their request down a
//! bounded channel and wait; the writer drains whatever has queued (up to a batch limit),
//! checks every expected version against the stream heads it keeps in memory, writes all the
//! accepted events in one transaction with multi-row INSERTs, commits, and only then answers
//! each appender. So an acknowledged append is durable (`--durability full`: fsync at every
//! commit; `normal`: durable across a process crash, may lose the last commits on power loss),
//! and many appends share one commit.
//!
//! Invariants:
//! - positions and stream ids are assigned by the writer in commit order; nothing else writes
//!   (a lock file next to the database refuses a second process);
//! - `UNIQUE(stream_id, seq)` backs the in-memory version check: if they ever disagree the
//!   batch fails, the writer reloads its state from the database, and no fork is written.
//!
//! Why these settings (measured, see the README's benchmark section): a 256 MB page cache,
//! mmap and a large `wal_autocheckpoint` keep index pages in memory; integer stream ids keep
//! the unique index small.

use super::record;
use super::{AppendError, Appended, Checkpoint, Damaged, EventLog, LogItem, ReadError};
use async_trait::async_trait;
use futures::stream::BoxStream;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row, Sqlite};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use switchboard_events::{ExpectedVersion, NewEvent, Position, RecordedEvent};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, instrument, warn};

const SELECT_EVENTS: &str = "SELECT position, stream_id, seq, header, data FROM events";

/// The blocks of 64 seqs a stream occupies, found one index seek at a time (see the unique
/// index in migrations/sqlite/log: it leads with `seq >> 6`). `?1` is the stream id.
const STREAM_BLOCKS: &str =
    "WITH RECURSIVE blocks(b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM blocks \
     WHERE EXISTS (SELECT 1 FROM events WHERE seq >> 6 = b + 1 AND stream_id = ?1))";

/// Stream names by id, shared by the writer (which adds every stream it creates) and the
/// readers (which load what they miss), so rows carry a small integer instead of the name.
type Names = Arc<RwLock<HashMap<i64, Arc<str>>>>;

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

/// Observes the writer (counters live in the shell's metrics registry).
pub trait WriterObserver: Send + Sync + 'static {
    /// One transaction committed `events` events for `appends` appends in `elapsed`.
    fn committed(&self, appends: usize, events: usize, elapsed: Duration);
}

impl WriterObserver for () {
    fn committed(&self, _: usize, _: usize, _: Duration) {}
}

/// An event in its stored form, encoded by the appender (not the writer) to keep the one
/// writer thread's work to SQL.
struct StoredRow {
    header: Vec<u8>,
    data: String,
}

struct AppendRequest {
    stream: String,
    expected: ExpectedVersion,
    events: Vec<StoredRow>,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// See the module doc.
#[derive(Clone)]
pub struct SqliteLog {
    tx: mpsc::Sender<AppendRequest>,
    readers: SqlitePool,
    head: watch::Receiver<u64>,
    names: Names,
    read_batch: u32,
    stop: CancellationToken,
    writer: Arc<tokio::sync::Mutex<Option<JoinHandle<()>>>>,
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

/// Takes the exclusive lock that makes this process the log's only writer.
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
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "the log {} is in use by another switchboard process (a running server?); stop it first",
            path.display()
        )),
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
        let opts = connect_options(path, options.durability);
        let mut conn = SqliteConnection::connect_with(&opts).await?;
        sqlx::migrate!("./migrations/sqlite/log")
            .run(&mut conn)
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate the log at {}: {e}", path.display()))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            // Rows cross from sqlx's worker thread in a bounded channel; the default (50) makes
            // a replay a ping-pong of thread wake-ups.
            .connect_with(opts.clone().read_only(true).row_buffer_size(8192))
            .await?;
        let names = Names::default();
        let mut writer = Writer {
            conn,
            names: names.clone(),
            streams: HashMap::new(),
            next_position: 0,
            next_stream_id: 0,
            head: watch::channel(0).0,
            observer,
        };
        writer.reload().await?;
        let head = writer.head.subscribe();
        let (tx, rx) = mpsc::channel(options.queue_depth.max(1));
        let stop = CancellationToken::new();
        let task = tokio::spawn(writer.run(rx, options.max_batch_events.max(1), stop.clone()));

        Ok(SqliteLog {
            tx,
            readers,
            head,
            names,
            read_batch: options.read_batch.max(1),
            stop,
            writer: Arc::new(tokio::sync::Mutex::new(Some(task))),
            _lock: Arc::new(lock),
        })
    }

    /// The events at positions in `(after, upto]`.
    async fn read_range(&self, after: u64, upto: u64) -> Result<Vec<LogItem>, ReadError> {
        let sql =
            format!("{SELECT_EVENTS} WHERE position > ?1 AND position <= ?2 ORDER BY position");
        let rows = sqlx::query(&sql)
            .bind(after as i64)
            .bind(upto as i64)
            .fetch_all(&self.readers)
            .await
            .map_err(unavailable)?;
        self.decode_rows(&rows).await
    }

    /// Decodes rows, loading any stream names not yet known.
    async fn decode_rows(&self, rows: &[SqliteRow]) -> Result<Vec<LogItem>, ReadError> {
        let known = |id: i64| {
            self.names
                .read()
                .map(|n| n.contains_key(&id))
                .unwrap_or(false)
        };
        if rows
            .iter()
            .any(|r| r.try_get::<i64, _>(1).is_ok_and(|id| !known(id)))
        {
            self.load_names().await?;
        }
        let names = self
            .names
            .read()
            .map_err(|_| ReadError::Unavailable("stream name cache poisoned".into()))?;
        Ok(rows.iter().map(|r| decode_row(r, &names)).collect())
    }

    async fn load_names(&self) -> Result<(), ReadError> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM streams")
            .fetch_all(&self.readers)
            .await
            .map_err(unavailable)?;
        let mut names = self
            .names
            .write()
            .map_err(|_| ReadError::Unavailable("stream name cache poisoned".into()))?;
        for (id, name) in rows {
            names.entry(id).or_insert_with(|| Arc::from(name));
        }
        Ok(())
    }

    /// Stops accepting appends, commits and answers every append already queued, and waits
    /// for the writer to finish. Appends after this fail with `Unavailable`.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        if let Some(task) = self.writer.lock().await.take() {
            if let Err(e) = task.await {
                error!(cause = %e, "log writer task failed");
            }
        }
        self.readers.close().await;
    }
}

fn unavailable(e: sqlx::Error) -> ReadError {
    ReadError::Unavailable(e.to_string())
}

/// Turns a row into an event, or into a report of why it cannot be one. Never panics.
fn decode_row(row: &SqliteRow, names: &HashMap<i64, Arc<str>>) -> LogItem {
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

#[async_trait]
impl EventLog for SqliteLog {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        if stream.is_empty() {
            return Err(AppendError::Invalid("empty stream name".into()));
        }
        let rows = events
            .into_iter()
            .map(|e| {
                let header =
                    record::encode_header(&e).map_err(|e| AppendError::Invalid(e.to_string()))?;
                Ok(StoredRow {
                    header,
                    data: e.data,
                })
            })
            .collect::<Result<Vec<StoredRow>, AppendError>>()?;
        let (reply, answer) = oneshot::channel();
        let request = AppendRequest {
            stream: stream.to_string(),
            expected,
            events: rows,
            reply,
        };
        self.tx
            .send(request)
            .await
            .map_err(|_| AppendError::Unavailable("the log writer has stopped".into()))?;
        answer.await.map_err(|_| {
            AppendError::Unavailable("the log writer stopped before answering".into())
        })?
    }

    async fn read_stream(&self, stream: &str) -> Result<Vec<RecordedEvent>, ReadError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM streams WHERE name = ?1")
            .bind(stream)
            .fetch_optional(&self.readers)
            .await
            .map_err(unavailable)?;
        let Some(id) = id else { return Ok(Vec::new()) };
        let sql = format!(
            "{STREAM_BLOCKS} SELECT e.position, e.stream_id, e.seq, e.header, e.data FROM blocks \
             JOIN events e ON e.seq >> 6 = blocks.b AND e.stream_id = ?1 ORDER BY e.seq"
        );
        let rows = sqlx::query(&sql)
            .bind(id)
            .fetch_all(&self.readers)
            .await
            .map_err(unavailable)?;
        self.decode_rows(&rows)
            .await?
            .into_iter()
            .map(|item| item.map_err(ReadError::Damaged))
            .collect()
    }

    fn subscribe(&self, from: Checkpoint) -> BoxStream<'static, Result<Vec<LogItem>, ReadError>> {
        // A reader task keeps up to two batches in flight on two reader connections (ranges
        // of positions, which the single writer assigns densely), so fetching, decoding and
        // the subscriber's own work overlap on the machine's cores.
        let (tx, rx) = mpsc::channel(2);
        let log = self.clone();
        let mut offset = from.get(&0).copied().unwrap_or(0);
        let mut head = self.head.clone();
        tokio::spawn(async move {
            let batch = u64::from(log.read_batch);
            loop {
                let committed = *head.borrow_and_update();
                if committed <= offset {
                    // Caught up: wait for the writer's next commit (polling as a fallback once
                    // the writer has stopped), or for the subscriber to go away.
                    tokio::select! {
                        _ = tx.closed() => return,
                        changed = head.changed() => if changed.is_err() {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        },
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
                let first = (offset, (offset + batch).min(committed));
                let second = (first.1, (first.1 + batch).min(committed));
                let (a, b) = tokio::join!(log.read_range(first.0, first.1), async {
                    if second.1 > second.0 {
                        log.read_range(second.0, second.1).await
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

    async fn heads(&self) -> Result<Checkpoint, ReadError> {
        Ok(Checkpoint::from([(0, *self.head.borrow())]))
    }
}

#[derive(Clone, Copy)]
struct StreamHead {
    id: i64,
    version: u64,
}

struct Writer {
    conn: SqliteConnection,
    names: Names,
    streams: HashMap<String, StreamHead>,
    next_position: i64,
    next_stream_id: i64,
    head: watch::Sender<u64>,
    observer: Arc<dyn WriterObserver>,
}

/// One accepted append, placed: its stream id and first seq.
struct Placed {
    request: usize,
    stream_id: i64,
    new_stream: bool,
    first_seq: u64,
    first_position: i64,
}

impl Writer {
    /// Rereads what the writer keeps in memory from the database (at start, and after a
    /// failed transaction, when memory may be ahead of what was committed).
    async fn reload(&mut self) -> Result<(), sqlx::Error> {
        self.streams.clear();
        let max_position: Option<i64> = sqlx::query_scalar("SELECT MAX(position) FROM events")
            .fetch_one(&mut self.conn)
            .await?;
        let max_stream: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM streams")
            .fetch_one(&mut self.conn)
            .await?;
        self.next_position = max_position.unwrap_or(0) + 1;
        self.next_stream_id = max_stream.unwrap_or(0) + 1;
        self.head
            .send_replace(max_position.unwrap_or(0).max(0) as u64);
        Ok(())
    }

    async fn lookup(&mut self, stream: &str) -> Result<Option<StreamHead>, sqlx::Error> {
        if let Some(head) = self.streams.get(stream) {
            return Ok(Some(*head));
        }
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
        let head = StreamHead {
            id,
            version: version.unwrap_or(0).max(0) as u64,
        };
        self.streams.insert(stream.to_string(), head);
        Ok(Some(head))
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<AppendRequest>,
        max_batch: usize,
        stop: CancellationToken,
    ) {
        let mut batch: Vec<AppendRequest> = Vec::new();
        let mut last_appends = 1;
        loop {
            let first = tokio::select! {
                next = rx.recv() => next,
                _ = stop.cancelled() => {
                    // Refuse new appends, then drain what is already queued.
                    rx.close();
                    rx.recv().await
                }
            };
            let Some(first) = first else { break };
            let mut events = first.events.len();
            batch.push(first);
            // Group commit: take everything queued. When fewer appends are here than the last
            // commit carried, the appenders that commit just answered are probably still
            // preparing their next append: yield to let them run rather than commit a
            // fragment (each commit costs the same whatever it carries). Two idle rounds end
            // the wait, so a lone appender never waits at all.
            let mut idle_rounds = 0;
            while events < max_batch && idle_rounds < 2 {
                match rx.try_recv() {
                    Ok(next) => {
                        events += next.events.len();
                        batch.push(next);
                        idle_rounds = 0;
                    }
                    Err(_) if batch.len() >= last_appends => break,
                    Err(_) => {
                        idle_rounds += 1;
                        tokio::task::yield_now().await;
                    }
                }
            }
            last_appends = batch.len();
            self.commit(&mut batch).await;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut self.conn)
            .await
        {
            warn!(cause = %e, "final checkpoint of the log failed (the WAL is still durable)");
        }
    }

    /// Decides, writes and answers one batch of appends.
    async fn commit(&mut self, batch: &mut Vec<AppendRequest>) {
        let started = Instant::now();
        let mut outcomes: Vec<Option<Result<Appended, AppendError>>> =
            (0..batch.len()).map(|_| None).collect();
        let mut placed: Vec<Placed> = Vec::new();
        // Heads as they will be once this batch commits (several appends in one batch may
        // touch the same stream).
        let mut pending: HashMap<String, StreamHead> = HashMap::new();
        let mut position = self.next_position;
        let mut next_stream_id = self.next_stream_id;
        for (i, request) in batch.iter().enumerate() {
            let current = match pending.get(&request.stream) {
                Some(h) => Some(*h),
                None => match self.lookup(&request.stream).await {
                    Ok(h) => h,
                    Err(e) => {
                        outcomes[i] = Some(Err(AppendError::Unavailable(e.to_string())));
                        continue;
                    }
                },
            };
            let version = current.map(|h| h.version).unwrap_or(0);
            if let Err(conflict) = request.expected.check(version) {
                outcomes[i] = Some(Err(conflict.into()));
                continue;
            }
            if request.events.is_empty() {
                outcomes[i] = Some(Ok(Appended {
                    version,
                    position: Position::embedded((position - 1).max(0) as u64),
                }));
                continue;
            }
            let (stream_id, new_stream) = match current {
                Some(h) => (h.id, false),
                None => {
                    next_stream_id += 1;
                    (next_stream_id - 1, true)
                }
            };
            let n = request.events.len() as u64;
            placed.push(Placed {
                request: i,
                stream_id,
                new_stream,
                first_seq: version + 1,
                first_position: position,
            });
            pending.insert(
                request.stream.clone(),
                StreamHead {
                    id: stream_id,
                    version: version + n,
                },
            );
            position += n as i64;
        }

        let appended_events = (position - self.next_position) as usize;
        let result = if placed.is_empty() {
            Ok(())
        } else {
            self.write(batch, &placed).await
        };
        match result {
            Ok(()) => {
                self.next_position = position;
                self.next_stream_id = next_stream_id;
                if let Ok(mut names) = self.names.write() {
                    for p in placed.iter().filter(|p| p.new_stream) {
                        names.insert(p.stream_id, Arc::from(batch[p.request].stream.as_str()));
                    }
                }
                self.streams.extend(pending);
                for p in &placed {
                    let n = batch[p.request].events.len() as u64;
                    outcomes[p.request] = Some(Ok(Appended {
                        version: p.first_seq + n - 1,
                        position: Position::embedded((p.first_position as u64) + n - 1),
                    }));
                }
                if !placed.is_empty() {
                    self.head.send_replace((position - 1) as u64);
                    self.observer
                        .committed(placed.len(), appended_events, started.elapsed());
                }
            }
            Err(e) => {
                error!(cause = %e, appends = placed.len(), "log commit failed; nothing in this batch was written");
                for p in &placed {
                    outcomes[p.request] =
                        Some(Err(AppendError::Unavailable(format!("commit failed: {e}"))));
                }
                if let Err(e) = self.reload().await {
                    warn!(cause = %e, "cannot reload log writer state");
                }
            }
        }
        for (request, outcome) in batch.drain(..).zip(outcomes) {
            let outcome = outcome.unwrap_or_else(|| {
                Err(AppendError::Unavailable("append was not processed".into()))
            });
            // The appender may have gone away (request cancelled); the append stands anyway.
            let _ = request.reply.send(outcome);
        }
    }

    async fn write(
        &mut self,
        batch: &[AppendRequest],
        placed: &[Placed],
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.conn.begin().await?;
        let new_streams: Vec<(i64, &str)> = placed
            .iter()
            .filter(|p| p.new_stream)
            .map(|p| (p.stream_id, batch[p.request].stream.as_str()))
            .collect();
        for chunk in chunks(&new_streams) {
            let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO streams (id, name) ");
            q.push_values(chunk, |mut b, (id, name)| {
                b.push_bind(*id).push_bind(*name);
            });
            q.build().persistent(true).execute(&mut *tx).await?;
        }
        let rows: Vec<(i64, i64, u64, &StoredRow)> = placed
            .iter()
            .flat_map(|p| {
                batch[p.request]
                    .events
                    .iter()
                    .enumerate()
                    .map(move |(k, e)| {
                        (
                            p.first_position + k as i64,
                            p.stream_id,
                            p.first_seq + k as u64,
                            e,
                        )
                    })
            })
            .collect();
        for chunk in chunks(&rows) {
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
