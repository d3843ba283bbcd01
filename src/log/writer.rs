//! The single writer with group commit, shared by the SQL logs (SQLite, PostgreSQL).
//!
//! One writer task owns the only write connection. Appenders send their request down a
//! bounded channel and wait; the writer drains whatever has queued (up to a batch limit),
//! checks every expected version against the stream heads it keeps in memory, writes all the
//! accepted events in one transaction, commits, and only then answers each appender. So an
//! acknowledged append is durable, and many appends share one commit.
//!
//! Invariants:
//! - positions and stream ids are assigned here, densely and in commit order; nothing else
//!   writes (each backend refuses a second writer: a lock file, an advisory lock);
//! - the database's unique (stream, seq) index backs the in-memory version check: if they
//!   ever disagree the batch fails, the writer reloads its state from the database, and no
//!   fork is written.
//!
//! A backend supplies only its SQL, as a [`Storage`].

use super::{record, AppendError, Appended, Damaged, LogItem};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use switchboard_events::{ExpectedVersion, NewEvent, Position, RecordedEvent};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// Stream names by id, shared by the writer (which adds every stream it creates) and the
/// readers (which load what they miss), so rows carry a small integer instead of the name.
pub(crate) type Names = Arc<RwLock<HashMap<i64, Arc<str>>>>;

/// Observes the writer (counters live in the shell's metrics registry).
pub trait WriterObserver: Send + Sync + 'static {
    /// One transaction committed `events` events for `appends` appends in `elapsed`.
    fn committed(&self, appends: usize, events: usize, elapsed: Duration);
}

impl WriterObserver for () {
    fn committed(&self, _: usize, _: usize, _: Duration) {}
}

/// An event in its stored form, encoded by the appender (not the writer) to keep the one
/// writer task's work to SQL.
pub(crate) struct StoredRow {
    pub header: Vec<u8>,
    pub data: String,
}

/// A committed batch as this process's subscribers get it without reading it back
/// ([`crate::log::reader::subscribe`]): `items` hold positions `first`, `first + 1`, … in
/// order, each decoded from the very header and data that were written, so a subscriber
/// sees exactly what a read of the range would give.
pub(crate) struct Tail {
    pub first: u64,
    pub items: Vec<LogItem>,
}

/// Committed batches kept for subscribers that have not taken them yet; one that falls
/// further behind reads the range from the database instead.
const TAIL_BATCHES: usize = 1024;

/// A row to insert: position, stream id, seq, and the stored event.
pub(crate) type RowRef<'a> = (i64, i64, u64, &'a StoredRow);

/// A stream's id and version, as the writer knows them.
#[derive(Clone, Copy)]
pub(crate) struct StreamHead {
    pub id: i64,
    pub version: u64,
}

/// The SQL a backend provides to the writer.
#[async_trait]
pub(crate) trait Storage: Send + 'static {
    /// The highest position and the highest stream id written (0 when none).
    async fn tops(&mut self) -> Result<(i64, i64), sqlx::Error>;
    /// A stream's id and version, if it exists.
    async fn head(&mut self, stream: &str) -> Result<Option<StreamHead>, sqlx::Error>;
    /// Writes new streams and rows in one transaction; returns once it committed.
    async fn write(
        &mut self,
        new_streams: &[(i64, &str)],
        rows: &[RowRef<'_>],
        head: i64,
    ) -> Result<(), sqlx::Error>;
    /// Last work before the writer stops (a checkpoint, say).
    async fn finish(&mut self);
}

struct AppendRequest {
    stream: String,
    expected: ExpectedVersion,
    events: Vec<StoredRow>,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// The appenders' side of a running writer.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<AppendRequest>,
    head: watch::Receiver<u64>,
    tail: broadcast::Sender<Arc<Tail>>,
    names: Names,
    stop: CancellationToken,
    task: Arc<tokio::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl WriterHandle {
    /// Loads the writer's state from `storage` and starts it.
    pub async fn start(
        storage: impl Storage,
        observer: Arc<dyn WriterObserver>,
        max_batch_events: usize,
        queue_depth: usize,
    ) -> Result<WriterHandle, sqlx::Error> {
        let names = Names::default();
        let mut writer = Writer {
            storage,
            names: names.clone(),
            streams: HashMap::new(),
            next_position: 0,
            next_stream_id: 0,
            head: watch::channel(0).0,
            tail: broadcast::channel(TAIL_BATCHES).0,
            observer,
        };
        writer.reload().await?;
        let head = writer.head.subscribe();
        let tail = writer.tail.clone();
        let (tx, rx) = mpsc::channel(queue_depth.max(1));
        let stop = CancellationToken::new();
        let task = tokio::spawn(writer.run(rx, max_batch_events.max(1), stop.clone()));
        Ok(WriterHandle {
            tx,
            head,
            tail,
            names,
            stop,
            task: Arc::new(tokio::sync::Mutex::new(Some(task))),
        })
    }

    /// The last committed position, watched.
    pub fn head(&self) -> &watch::Receiver<u64> {
        &self.head
    }

    /// Every batch committed from now on (see [`Tail`]); sent before the head moves.
    pub fn tail(&self) -> broadcast::Receiver<Arc<Tail>> {
        self.tail.subscribe()
    }

    /// The shared stream-name cache.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Encodes, queues and waits for one append.
    pub async fn append(
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

    /// Stops accepting appends, commits and answers every append already queued, and waits
    /// for the writer to finish. Appends after this fail with `Unavailable`.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        if let Some(task) = self.task.lock().await.take() {
            if let Err(e) = task.await {
                error!(cause = %e, "log writer task failed");
            }
        }
    }
}

/// Stream heads the writer keeps in memory before it starts over (about 100 bytes each).
const MAX_CACHED_HEADS: usize = 1_000_000;

struct Writer<S: Storage> {
    storage: S,
    names: Names,
    streams: HashMap<String, StreamHead>,
    next_position: i64,
    next_stream_id: i64,
    head: watch::Sender<u64>,
    tail: broadcast::Sender<Arc<Tail>>,
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

impl<S: Storage> Writer<S> {
    /// Rereads what the writer keeps in memory from the database (at start, and after a
    /// failed transaction, when memory may be ahead of what was committed).
    async fn reload(&mut self) -> Result<(), sqlx::Error> {
        self.streams.clear();
        let (max_position, max_stream) = self.storage.tops().await?;
        self.next_position = max_position + 1;
        self.next_stream_id = max_stream + 1;
        self.head.send_replace(max_position.max(0) as u64);
        Ok(())
    }

    async fn lookup(&mut self, stream: &str) -> Result<Option<StreamHead>, sqlx::Error> {
        if let Some(head) = self.streams.get(stream) {
            return Ok(Some(*head));
        }
        let head = self.storage.head(stream).await?;
        if let Some(h) = head {
            self.streams.insert(stream.to_string(), h);
        }
        Ok(head)
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
        self.storage.finish().await;
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
                if self.streams.len() > MAX_CACHED_HEADS {
                    // The database is the truth: a forgotten head costs one lookup on the
                    // stream's next append, and memory stays bounded.
                    self.streams.clear();
                }
                for p in &placed {
                    let n = batch[p.request].events.len() as u64;
                    outcomes[p.request] = Some(Ok(Appended {
                        version: p.first_seq + n - 1,
                        position: Position::embedded((p.first_position as u64) + n - 1),
                    }));
                }
                if !placed.is_empty() {
                    if self.tail.receiver_count() > 0 {
                        let _ = self.tail.send(Arc::new(tail_of(batch, &placed)));
                    }
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
        let new_streams: Vec<(i64, &str)> = placed
            .iter()
            .filter(|p| p.new_stream)
            .map(|p| (p.stream_id, batch[p.request].stream.as_str()))
            .collect();
        let rows: Vec<RowRef<'_>> = placed
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
        let head = rows.last().map(|r| r.0).unwrap_or(self.next_position - 1);
        self.storage.write(&new_streams, &rows, head).await
    }
}

/// The committed `placed` appends of `batch` as subscribers read them.
fn tail_of(batch: &[AppendRequest], placed: &[Placed]) -> Tail {
    let first = placed.first().map_or(0, |p| p.first_position as u64);
    let mut items = Vec::new();
    for p in placed {
        let request = &batch[p.request];
        for (k, row) in request.events.iter().enumerate() {
            let position = Position::embedded(p.first_position as u64 + k as u64);
            items.push(
                record::decode(&row.header, row.data.clone())
                    .map(|event| RecordedEvent {
                        position,
                        stream: request.stream.clone(),
                        seq: p.first_seq + k as u64,
                        event,
                    })
                    .map_err(|reason| Damaged {
                        position,
                        stream: Some(request.stream.clone()),
                        reason,
                    }),
            );
        }
    }
    Tail { first, items }
}
