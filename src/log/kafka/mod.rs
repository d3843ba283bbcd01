//! The event log on Kafka, for deployments past one machine.
//!
//! Layout: one topic per category (`{prefix}.account`, `.workspace`, `.call`, `.queue`,
//! `.media`, `.metering`, `.alert`), created at open when missing with a fixed partition count; the
//! record key is the stream (a SID), so a stream's events share one partition and keep their
//! order; the value is the event's envelope as JSON ([`wire`]). Positions are per partition:
//! partition `c << 16 | p` is partition `p` of the `c`-th category topic, and offset `o + 1`
//! is Kafka offset `o` (positions count from 1 in every backend), so a checkpoint taken on
//! one node means the same on every node.
//!
//! Optimistic concurrency comes from one writer ([`writer`]): the node holding the writer
//! lease ([`lease`]) rebuilds every stream's head from the partitions at start and checks
//! each append's expected version against them before it sends; sends are pipelined
//! (idempotent producer, `acks=all`) and an append is acknowledged once the broker
//! acknowledged all its records. If any send fails, or the brokers are unreachable, the writer
//! refuses appends (503 at the API, at once, not after a timeout), waits for what is in flight,
//! and rebuilds its heads from the partitions once the brokers answer again.
//!
//! Every record carries the writer's lease epoch and, for a caused command, its trigger's
//! position (headers, [`wire`]); every reader judges records by [`fence`]'s rule (stale
//! epochs and retried duplicates dropped).
//!
//! Reads: `subscribe` assigns every partition at the subscriber's own checkpoint (no consumer
//! group; projections keep their offsets in SQL next to their read models). `read_stream`
//! looks the stream's offsets up in the writer's index and fetches those records.

pub mod fence;
pub mod lease;
mod scan;
pub mod wire;
pub mod writer;

use super::{AppendError, Appended, Checkpoint, EventLog, LogItem, ReadError};
use crate::metrics::Metrics;
use async_trait::async_trait;
use futures::stream::BoxStream;
use lease::Lease;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use switchboard_events::{ExpectedVersion, NewEvent, Position, RecordedEvent, Sid};
use tracing::info;

/// The categories, in the order that numbers their topics (never reorder: positions and
/// checkpoints depend on it; a new category goes at the end, and its topic is created at the
/// next open).
pub const CATEGORIES: [&str; 7] = [
    "account",
    "workspace",
    "call",
    "queue",
    "media",
    "metering",
    "alert",
];

/// librdkafka settings the writer sets and the lease and fencing rules rely on (durable,
/// in-order, deduplicated sends failing within the message timeout, a bounded in-flight
/// window): an extra setting naming one is refused ([`KafkaLogOptions::check`]).
pub const PINNED: [&str; 10] = [
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "max.in.flight.requests.per.connection",
    "max.in.flight",
    "batch.num.messages",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "request.timeout.ms",
    "transactional.id",
];

/// Options of the Kafka log.
#[derive(Clone)]
pub struct KafkaLogOptions {
    /// `host:port[,host:port]`.
    pub brokers: String,
    /// Topic names are `{prefix}.{category}`.
    pub topic_prefix: String,
    /// Partitions of each topic created at open (fix it up front: changing it moves keys).
    pub partitions: i32,
    /// Replication factor of topics created at open.
    pub replication: i32,
    /// The writer lease; `None` opens the log read-only (appends fail), for API and
    /// projector nodes and for tools.
    pub lease: Option<Lease>,
    /// librdkafka's `message.timeout.ms`: an undelivered record fails after this.
    pub message_timeout: Duration,
    /// Most records in flight before the writer stops taking appends.
    pub max_in_flight: usize,
    /// Extra librdkafka settings, applied over the client defaults but never over the
    /// writer's producer settings the fencing rule relies on ([`PINNED`]; refused at open).
    pub extra: Vec<(String, String)>,
}

impl KafkaLogOptions {
    /// Defaults for `brokers`.
    pub fn new(brokers: &str) -> KafkaLogOptions {
        KafkaLogOptions {
            brokers: brokers.to_string(),
            topic_prefix: "switchboard".into(),
            partitions: 3,
            replication: 1,
            lease: None,
            message_timeout: Duration::from_secs(4),
            max_in_flight: 50_000,
            extra: Vec::new(),
        }
    }

    /// The name of the writer lease for these topics.
    pub fn lease_name(&self) -> String {
        format!("kafka:{}", self.topic_prefix)
    }

    /// Refuses extra settings that would override what the writer pins ([`PINNED`]).
    pub fn check(&self) -> anyhow::Result<()> {
        for (k, _) in &self.extra {
            if PINNED.contains(&k.trim().to_ascii_lowercase().as_str()) {
                anyhow::bail!(
                    "the Kafka setting {k:?} cannot be overridden: the writer's fencing rule relies on it (pinned: {})",
                    PINNED.join(", ")
                );
            }
        }
        Ok(())
    }

    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", "switchboard")
            .set("broker.address.family", "v4");
        for (k, v) in &self.extra {
            config.set(k, v);
        }
        config
    }
}

/// A topic of the log.
#[derive(Debug, Clone)]
pub(crate) struct Topic {
    pub name: String,
    pub partitions: i32,
}

/// Where a stream's records are, as the writer knows them.
#[derive(Debug, Clone, Default)]
pub(crate) struct StreamEntry {
    /// Category index.
    pub topic: usize,
    /// Kafka partition (-1 until the first record is acknowledged).
    pub partition: i32,
    /// The stream's version, counting appends sent but not yet acknowledged.
    pub version: u64,
    /// Offsets of its acknowledged records, ascending.
    pub offsets: Vec<i64>,
}

pub(crate) type Index = HashMap<String, StreamEntry>;

/// The global partition number of Kafka partition `partition` of category `topic`.
pub fn global_partition(topic: usize, partition: i32) -> u32 {
    ((topic as u32) << 16) | (partition as u32 & 0xffff)
}

/// The category index of a stream: its SID's category.
pub fn category_of(stream: &str) -> Result<usize, AppendError> {
    let sid = Sid::parse(stream)
        .map_err(|e| AppendError::Invalid(format!("stream {stream:?} is not a SID: {e}")))?;
    let category = sid.prefix().category();
    CATEGORIES
        .iter()
        .position(|c| *c == category)
        .ok_or_else(|| AppendError::Invalid(format!("no topic for category {category}")))
}

pub(crate) struct Shared {
    pub options: KafkaLogOptions,
    pub topics: Vec<Topic>,
    pub index: RwLock<Index>,
    pub meta: Arc<BaseConsumer>,
    pub fetchers: std::sync::Mutex<Vec<rdkafka::consumer::StreamConsumer>>,
    /// Set by the producer when librdkafka reports every broker down; cleared once the
    /// writer has rebuilt its index against the brokers again. Reads fail fast while set.
    pub down: Arc<std::sync::atomic::AtomicBool>,
    /// Recently read or written streams, whole (the writer is the only writer, so it keeps
    /// them exact).
    pub cache: StreamCache,
    /// On the writer node: every partition's head as of the last acknowledged append (the
    /// writer is the only writer, so this is the log's head without asking the brokers).
    pub heads: std::sync::Mutex<Option<Checkpoint>>,
    /// On the writer node: partitions it has not written to since its last scan, with the
    /// Kafka offset the scan ended at (see [`writer`]'s module doc).
    pub gaps: std::sync::Mutex<HashMap<u32, i64>>,
}

/// Whole streams kept in memory so a command on a hot stream does not fetch it from Kafka.
/// Bounded by events held: past the bound it starts over empty.
#[derive(Default)]
pub(crate) struct StreamCache {
    inner: std::sync::Mutex<Cached>,
}

/// The cached streams and how many events they hold.
type Cached = (HashMap<String, Arc<Vec<RecordedEvent>>>, usize);

/// Events the stream cache holds at most.
const CACHED_EVENTS: usize = 200_000;

impl StreamCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stream if cached with exactly `len` events.
    pub fn get(&self, stream: &str, len: usize) -> Option<Arc<Vec<RecordedEvent>>> {
        self.lock()
            .0
            .get(stream)
            .filter(|events| events.len() == len)
            .cloned()
    }

    /// Keeps a stream read whole.
    pub fn put(&self, stream: &str, events: Vec<RecordedEvent>) {
        let mut inner = self.lock();
        if inner.1 + events.len() > CACHED_EVENTS {
            *inner = Default::default();
        }
        inner.1 += events.len();
        inner.0.insert(stream.to_string(), Arc::new(events));
    }

    /// Extends a cached stream with acknowledged events from `first_seq` (a new stream when
    /// `first_seq` is 1); a stream cached at another length is dropped.
    pub fn appended(&self, stream: &str, first_seq: u64, events: Vec<RecordedEvent>) {
        let mut inner = self.lock();
        let current = inner.0.remove(stream);
        let mut all = match current {
            Some(cached) if cached.len() as u64 + 1 == first_seq => {
                Arc::try_unwrap(cached).unwrap_or_else(|a| (*a).clone())
            }
            None if first_seq == 1 => Vec::new(),
            _ => return,
        };
        if inner.1 + events.len() > CACHED_EVENTS {
            *inner = Default::default();
        }
        inner.1 += events.len();
        all.extend(events);
        inner.0.insert(stream.to_string(), Arc::new(all));
    }

    /// Forgets everything (after a rebuild).
    pub fn clear(&self) {
        *self.lock() = Default::default();
    }
}

impl Shared {
    pub fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails at once while the brokers are known to be down.
    pub fn check_up(&self) -> Result<(), ReadError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            Err(ReadError::Unavailable(
                "all Kafka brokers are unreachable".into(),
            ))
        } else {
            Ok(())
        }
    }

    pub fn gaps(&self) -> std::sync::MutexGuard<'_, HashMap<u32, i64>> {
        self.gaps.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_heads(&self, heads: Option<Checkpoint>) {
        *self.heads.lock().unwrap_or_else(|e| e.into_inner()) = heads;
    }

    pub fn advance_head(&self, p: Position) {
        if let Some(heads) = self
            .heads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            let at = heads.entry(p.partition).or_insert(0);
            *at = (*at).max(p.offset);
        }
    }

    pub fn index_mut(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// See the module doc.
#[derive(Clone)]
pub struct KafkaLog {
    shared: Arc<Shared>,
    writer: Option<writer::WriterHandle>,
}

fn kafka_unavailable(e: impl std::fmt::Display) -> ReadError {
    ReadError::Unavailable(format!("Kafka: {e}"))
}

impl KafkaLog {
    /// Connects, creates missing topics, and (with a lease) rebuilds the stream index and
    /// starts the writer.
    pub async fn open(options: KafkaLogOptions, metrics: Arc<Metrics>) -> anyhow::Result<KafkaLog> {
        options.check()?;
        let meta: BaseConsumer = options
            .client_config()
            .set("group.id", "switchboard-meta")
            .set("enable.auto.commit", "false")
            .create()?;
        let meta = Arc::new(meta);
        let topics = ensure_topics(&options, &meta).await?;
        info!(brokers = %options.brokers, topics = ?topics.iter().map(|t| (&t.name, t.partitions)).collect::<Vec<_>>(), "Kafka log opened");
        let shared = Arc::new(Shared {
            options: options.clone(),
            topics,
            index: RwLock::new(Index::new()),
            meta,
            fetchers: std::sync::Mutex::new(Vec::new()),
            down: Arc::default(),
            cache: StreamCache::default(),
            heads: std::sync::Mutex::new(None),
            gaps: std::sync::Mutex::new(HashMap::new()),
        });
        let writer = match options.lease.clone() {
            Some(lease) => Some(writer::WriterHandle::start(shared.clone(), lease, metrics).await?),
            None => None,
        };
        Ok(KafkaLog { shared, writer })
    }

    /// The topics, with their partition counts.
    pub fn topics(&self) -> Vec<(String, i32)> {
        self.shared
            .topics
            .iter()
            .map(|t| (t.name.clone(), t.partitions))
            .collect()
    }

    /// Reads records of one topic from the beginning (or from the end with `from_end`),
    /// forever: for `switchboard tail`.
    pub fn tail(
        &self,
        topic: &str,
        from_beginning: bool,
    ) -> anyhow::Result<BoxStream<'static, Result<Vec<LogItem>, ReadError>>> {
        let index = self
            .shared
            .topics
            .iter()
            .position(|t| t.name == topic)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no topic {topic:?}; the log's topics are {}",
                    self.shared
                        .topics
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        Ok(scan::subscribe(
            self.shared.clone(),
            Some(index),
            Checkpoint::new(),
            !from_beginning,
        ))
    }
}

async fn ensure_topics(
    options: &KafkaLogOptions,
    meta: &Arc<BaseConsumer>,
) -> anyhow::Result<Vec<Topic>> {
    let names: Vec<String> = CATEGORIES
        .iter()
        .map(|c| format!("{}.{c}", options.topic_prefix))
        .collect();
    let existing = partition_counts(meta.clone()).await?;
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !existing.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        let admin: AdminClient<DefaultClientContext> = options.client_config().create()?;
        let new: Vec<NewTopic> = missing
            .iter()
            .map(|n| {
                NewTopic::new(
                    n.as_str(),
                    options.partitions,
                    TopicReplication::Fixed(options.replication),
                )
            })
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.create_topics(&new, &opts).await? {
            match result {
                Ok(name) => info!(topic = %name, partitions = options.partitions, "topic created"),
                Err((name, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {
                    info!(topic = %name, "topic already exists")
                }
                Err((name, code)) => anyhow::bail!("cannot create topic {name}: {code}"),
            }
        }
    }
    // A topic just created may take a moment to show its partitions.
    for _ in 0..100 {
        let counts = partition_counts(meta.clone()).await?;
        if names.iter().all(|n| counts.get(n).is_some_and(|c| *c > 0)) {
            return Ok(names
                .into_iter()
                .map(|name| Topic {
                    partitions: counts[&name],
                    name,
                })
                .collect());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the log's topics did not appear in the cluster metadata")
}

async fn partition_counts(meta: Arc<BaseConsumer>) -> anyhow::Result<HashMap<String, i32>> {
    let metadata = tokio::task::spawn_blocking(move || {
        meta.fetch_metadata(None, Duration::from_secs(10)).map(|m| {
            m.topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| (t.name().to_string(), t.partitions().len() as i32))
                .collect::<HashMap<_, _>>()
        })
    })
    .await?;
    metadata.map_err(|e| anyhow::anyhow!("cannot read the Kafka cluster's metadata: {e}"))
}

#[async_trait]
impl EventLog for KafkaLog {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        match &self.writer {
            Some(writer) => writer.append(stream, expected, events).await,
            None => Err(AppendError::Unavailable(
                "this node does not hold the Kafka log's writer role".into(),
            )),
        }
    }

    async fn read_stream(&self, stream: &str) -> Result<Vec<RecordedEvent>, ReadError> {
        if self.writer.is_none() {
            return Err(ReadError::Unavailable(
                "this node does not hold the Kafka log's writer role (the stream index lives there)"
                    .into(),
            ));
        }
        self.shared.check_up()?;
        let entry = self.shared.index().get(stream).cloned();
        match entry {
            None => Ok(Vec::new()),
            Some(entry) if entry.offsets.is_empty() => Ok(Vec::new()),
            Some(entry) => {
                if let Some(events) = self.shared.cache.get(stream, entry.offsets.len()) {
                    return Ok(events.as_ref().clone());
                }
                let events = scan::fetch(&self.shared, stream, &entry).await?;
                // Only an unchanged stream is kept: an append may have landed meanwhile.
                let unchanged = self
                    .shared
                    .index()
                    .get(stream)
                    .is_some_and(|now| now.offsets.len() == events.len());
                if unchanged {
                    self.shared.cache.put(stream, events.clone());
                }
                Ok(events)
            }
        }
    }

    fn subscribe(&self, from: Checkpoint) -> BoxStream<'static, Result<Vec<LogItem>, ReadError>> {
        scan::subscribe(self.shared.clone(), None, from, false)
    }

    async fn heads(&self) -> Result<Checkpoint, ReadError> {
        self.shared.check_up()?;
        if let Some(heads) = self
            .shared
            .heads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(heads);
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let mut heads = Checkpoint::new();
            for (t, topic) in shared.topics.iter().enumerate() {
                for p in 0..topic.partitions {
                    let (_, high) = shared
                        .meta
                        .fetch_watermarks(&topic.name, p, Duration::from_secs(5))
                        .map_err(kafka_unavailable)?;
                    if high > 0 {
                        heads.insert(global_partition(t, p), high as u64);
                    }
                }
            }
            Ok(heads)
        })
        .await
        .map_err(kafka_unavailable)?
    }

    async fn shutdown(&self) {
        if let Some(writer) = &self.writer {
            writer.shutdown().await;
        }
    }
}

/// The position of record `offset` of Kafka partition `partition` of category `topic`.
/// Position offsets count from 1, as in the SQL logs (0 means "nothing yet" in a
/// checkpoint), so a record's position offset is its Kafka offset + 1, and a checkpoint's
/// offset is the Kafka offset to resume at.
pub(crate) fn position(topic: usize, partition: i32, offset: i64) -> Position {
    Position {
        partition: global_partition(topic, partition),
        offset: offset.max(0) as u64 + 1,
    }
}
