//! The Kafka log's one writer: checks expected versions against the stream heads it keeps,
//! sends records pipelined, and answers each append once the broker acknowledged all of its
//! records. See the module doc of [`super`] for the rules, [`super::lease`] for the lease and
//! [`super::fence`] for what readers apply.
//!
//! Every record carries the writer's lease epoch (a header). Readers drop a record of an
//! older epoch once a newer one has written on the partition, so a paused old writer's
//! queued records are harmless after this writer's first record on a partition. Before that
//! first record, an old record may still land after the end this writer's rebuild read; so
//! before acknowledging its first append on a partition the writer reads the gap between
//! that end and its record: anything of another epoch there fails the append (503, outcome
//! unknown) and the writer rebuilds its index, which then counts what readers apply.

use super::lease::Lease;
use super::{category_of, position, scan, wire, KafkaLogOptions, Shared, StreamEntry};
use crate::log::writer::WriterObserver;
use crate::log::{AppendError, Appended};
use crate::metrics::Metrics;
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::{ExpectedVersion, NewEvent, RecordedEvent};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Time kept in hand beyond the message timeout before the lease runs out: a tenth of the
/// lease, at most two seconds.
fn lease_margin(ttl: Duration) -> Duration {
    (ttl / 10).min(Duration::from_secs(2))
}

/// Most records one append may carry.
const MAX_APPEND_EVENTS: usize = 10_000;

/// Sees librdkafka's client errors: "all brokers down" makes the writer refuse appends at
/// once instead of letting them wait out the message timeout.
pub(crate) struct ProducerContext {
    down: Arc<AtomicBool>,
}

impl ClientContext for ProducerContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.down.store(true, Ordering::SeqCst);
        }
        warn!(cause = %error, reason, "Kafka producer error");
    }
}

type Producer_ = FutureProducer<ProducerContext>;

/// The writer's producer settings: idempotent, `acks=all`, a short linger so concurrent
/// appends share a batch, the message timeout the lease rule depends on, and a bounded
/// in-flight window (the readers' look-back after a resubscribe must cover a retry's copy:
/// [`super::scan::LOOK_BACK`]). Extra settings come first ([`KafkaLogOptions::client_config`])
/// and these are set over them, so no extra setting can loosen them; [`KafkaLogOptions::check`]
/// refuses extras naming them at open.
pub fn producer_config(options: &KafkaLogOptions) -> rdkafka::config::ClientConfig {
    let timeout = options.message_timeout.as_millis().to_string();
    let mut config = options.client_config();
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("max.in.flight.requests.per.connection", "5")
        .set("batch.num.messages", "1000")
        .set("linger.ms", "2")
        .set("message.timeout.ms", &timeout)
        .set("request.timeout.ms", &timeout)
        .set("queue.buffering.max.messages", "1000000");
    config
}

fn producer(shared: &Shared, down: &Arc<AtomicBool>) -> Result<Producer_, KafkaError> {
    producer_config(&shared.options).create_with_context(ProducerContext { down: down.clone() })
}

struct Request {
    stream: String,
    topic: usize,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// The appenders' side.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<Request>,
    stop: CancellationToken,
    task: Arc<tokio::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl WriterHandle {
    /// Rebuilds the stream index from the partitions (under `lease`) and starts the writer.
    pub async fn start(
        shared: Arc<Shared>,
        lease: Lease,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<WriterHandle> {
        let started = Instant::now();
        let scanned = scan::rebuild_index(&shared).await?;
        info!(
            streams = scanned.index.len(),
            stale = scanned.stale,
            epoch = lease.epoch(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Kafka writer: stream index rebuilt"
        );
        // Epochs only grow while the lease store lives; a log holding a newer epoch than
        // this lease means the store was reset (or another store is used): every record this
        // writer sent would be dropped by readers as stale.
        if let Some(newer) = scanned.ends.values().map(|(_, e)| *e).max() {
            if newer > lease.epoch() {
                anyhow::bail!(
                    "the Kafka log holds records of writer epoch {newer}, but this writer's lease has epoch {}: \
                     is --db the lease store these topics were written with? (readers would drop every record written now)",
                    lease.epoch()
                );
            }
        }
        install(&shared, scanned, lease.epoch());
        let down = shared.down.clone();
        let producer = producer(&shared, &down)?;
        let (tx, rx) = mpsc::channel(16_384);
        let stop = CancellationToken::new();
        let writer = Writer {
            shared,
            producer,
            down,
            lease,
            metrics,
            state: State::Healthy,
            in_flight: 0,
        };
        let task = tokio::spawn(writer.run(rx, stop.clone()));
        Ok(WriterHandle {
            tx,
            stop,
            task: Arc::new(tokio::sync::Mutex::new(Some(task))),
        })
    }

    pub async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        let topic = category_of(stream)?;
        if events.len() > MAX_APPEND_EVENTS {
            return Err(AppendError::Invalid(format!(
                "{} events in one append; at most {MAX_APPEND_EVENTS}",
                events.len()
            )));
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request {
                stream: stream.to_string(),
                topic,
                expected,
                events,
                reply,
            })
            .await
            .map_err(|_| AppendError::Unavailable("the Kafka log writer has stopped".into()))?;
        answer.await.map_err(|_| {
            AppendError::Unavailable("the Kafka log writer stopped before answering".into())
        })?
    }

    pub async fn shutdown(&self) {
        self.stop.cancel();
        if let Some(task) = self.task.lock().await.take() {
            if let Err(e) = task.await {
                error!(cause = %e, "Kafka log writer task failed");
            }
        }
    }
}

enum State {
    Healthy,
    /// A send failed or the brokers went away: refuse appends, let what is in flight finish,
    /// then rebuild the index.
    Failed(String),
    /// Rebuilding the index from the partitions.
    Rebuilding(String),
}

/// What one append became once the broker answered for all its records.
struct Done {
    request_stream: String,
    events: Vec<NewEvent>,
    topic: usize,
    first_seq: u64,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
    /// Set when records of an older writer sit before this append's on a partition this
    /// writer had not written to (see the module doc).
    gap: Option<String>,
    results: Vec<
        Result<
            rdkafka::producer::future_producer::OwnedDeliveryResult,
            futures::channel::oneshot::Canceled,
        >,
    >,
    started: Instant,
}

struct Writer {
    shared: Arc<Shared>,
    producer: Producer_,
    down: Arc<AtomicBool>,
    lease: Lease,
    metrics: Arc<Metrics>,
    state: State,
    in_flight: usize,
}

type Rebuilt = Result<scan::Scanned, crate::log::ReadError>;

/// Takes a scan's index and heads, and remembers where the partitions this writer has not
/// written to yet ended (their gap is checked before the first acknowledgement there).
fn install(shared: &Shared, scanned: scan::Scanned, epoch: i64) {
    *shared.index_mut() = scanned.index;
    shared.set_heads(Some(scanned.heads));
    *shared.gaps() = scanned
        .ends
        .into_iter()
        .filter(|(_, (_, seen))| *seen < epoch)
        .map(|(p, (end, _))| (p, end))
        .collect();
}

/// Whether records of another epoch sit between the end the last scan read on a partition
/// this writer had not written to and this writer's first record there (`first`). `None`
/// when the gap is clear (and the partition then needs no more checks).
async fn check_gap(
    shared: &Shared,
    epoch: i64,
    topic: usize,
    partition: i32,
    first: i64,
) -> Option<String> {
    let p = super::global_partition(topic, partition);
    let end = (*shared.gaps()).get(&p).copied()?;
    if first > end {
        match scan::epochs_between(shared, topic, partition, end, first).await {
            Ok(found) => {
                let foreign = found.iter().filter(|(_, e)| *e != epoch).count();
                if foreign > 0 {
                    return Some(format!(
                        "{foreign} record(s) of an older writer landed on {}/{partition} after this writer's rebuild (a paused writer flushing); rebuilding",
                        shared.topics[topic].name
                    ));
                }
            }
            Err(e) => {
                return Some(format!(
                    "cannot check the partition before acknowledging: {e}"
                ))
            }
        }
    }
    shared.gaps().remove(&p);
    None
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>, stop: CancellationToken) {
        let mut pending = FuturesUnordered::new();
        let mut rebuild: Option<JoinHandle<Rebuilt>> = None;
        // The brokers can go away while no append arrives: notice it on a tick too, so the
        // rebuild that brings the writer back starts without waiting for an append.
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if matches!(self.state, State::Failed(_)) && pending.is_empty() && rebuild.is_none() {
                let reason = match std::mem::replace(&mut self.state, State::Healthy) {
                    State::Failed(r) => r,
                    _ => String::new(),
                };
                warn!(%reason, "Kafka writer: rebuilding the stream index from the partitions");
                self.state = State::Rebuilding(reason);
                let shared = self.shared.clone();
                let old = self.producer.clone();
                let timeout = self.shared.options.message_timeout;
                rebuild = Some(tokio::spawn(async move {
                    // Every record the old producer still holds is delivered or failed
                    // before the scan, so the scan sees all that landed.
                    let _ = tokio::task::spawn_blocking(move || old.flush(timeout)).await;
                    loop {
                        match scan::rebuild_index(&shared).await {
                            Ok(index) => return Ok(index),
                            Err(e) => {
                                warn!(cause = %e, "Kafka writer: rebuild failed; retrying");
                                tokio::time::sleep(Duration::from_millis(500)).await;
                            }
                        }
                    }
                }));
            }
            let can_take = self.in_flight < self.shared.options.max_in_flight;
            tokio::select! {
                biased;
                Some(done) = pending.next(), if !pending.is_empty() => self.finish(done),
                rebuilt = async { rebuild.as_mut().expect("guarded").await }, if rebuild.is_some() => {
                    rebuild = None;
                    self.rebuilt(rebuilt);
                }
                _ = stop.cancelled() => break,
                _ = tick.tick() => {
                    let _ = self.refusal();
                }
                request = rx.recv(), if can_take => match request {
                    Some(request) => {
                        if let Some(f) = self.start(request) {
                            pending.push(f);
                        }
                    }
                    None => break,
                },
            }
        }
        rx.close();
        while let Some(request) = rx.recv().await {
            let _ = request.reply.send(Err(AppendError::Unavailable(
                "the event log is shutting down".into(),
            )));
        }
        while let Some(done) = pending.next().await {
            self.finish(done);
        }
        if let Some(r) = rebuild {
            r.abort();
        }
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(5))).await;
        self.lease.release().await;
        info!("Kafka writer stopped");
    }

    /// Why appends are refused right now, if they are.
    fn refusal(&mut self) -> Option<String> {
        if self.lease.lost() {
            return Some("this node lost the Kafka writer lease to another writer".into());
        }
        match &self.state {
            State::Failed(r) | State::Rebuilding(r) => {
                return Some(format!("the Kafka log is recovering ({r})"))
            }
            State::Healthy => {}
        }
        if self.down.load(Ordering::SeqCst) {
            let reason = "all Kafka brokers are unreachable".to_string();
            self.state = State::Failed(reason.clone());
            return Some(reason);
        }
        if self.lease.remaining()
            < self.shared.options.message_timeout + lease_margin(self.lease.ttl())
        {
            return Some(
                "the Kafka writer lease could not be renewed in time (is the database reachable?)"
                    .into(),
            );
        }
        None
    }

    fn start(
        &mut self,
        request: Request,
    ) -> Option<impl std::future::Future<Output = Done> + use<>> {
        let epoch = self.lease.epoch();
        if let Some(reason) = self.refusal() {
            let _ = request.reply.send(Err(AppendError::Unavailable(reason)));
            return None;
        }
        let started = Instant::now();
        let version = self
            .shared
            .index()
            .get(&request.stream)
            .map_or(0, |e| e.version);
        if let Err(conflict) = request.expected.check(version) {
            let _ = request.reply.send(Err(conflict.into()));
            return None;
        }
        if request.events.is_empty() {
            let head = self
                .shared
                .index()
                .get(&request.stream)
                .and_then(|e| e.offsets.last().map(|o| position(e.topic, e.partition, *o)));
            let _ = request.reply.send(Ok(Appended {
                version,
                position: head.unwrap_or(switchboard_events::Position::embedded(0)),
            }));
            return None;
        }
        let mut payloads = Vec::with_capacity(request.events.len());
        for (i, event) in request.events.iter().enumerate() {
            match wire::encode(&request.stream, version + 1 + i as u64, event) {
                Ok(p) => payloads.push(p),
                Err(e) => {
                    let _ = request.reply.send(Err(AppendError::Invalid(e)));
                    return None;
                }
            }
        }
        let topic = &self.shared.topics[request.topic].name;
        let mut futures: Vec<DeliveryFuture> = Vec::with_capacity(payloads.len());
        for (payload, event) in payloads.iter().zip(&request.events) {
            let record = FutureRecord::to(topic)
                .key(request.stream.as_str())
                .payload(payload.as_slice())
                .headers(wire::headers(epoch, event));
            match self.producer.send_result(record) {
                Ok(f) => futures.push(f),
                Err((e, _)) => {
                    // Some of this append's records may already be queued: only a rebuild
                    // from the partitions knows what landed.
                    let reason = format!("the Kafka producer refused a record: {e}");
                    self.state = State::Failed(reason.clone());
                    let _ = request.reply.send(Err(AppendError::Unavailable(reason)));
                    return None;
                }
            }
        }
        {
            let mut index = self.shared.index_mut();
            let entry = index
                .entry(request.stream.clone())
                .or_insert_with(|| StreamEntry {
                    topic: request.topic,
                    partition: -1,
                    version: 0,
                    offsets: Vec::new(),
                });
            entry.version = version + payloads.len() as u64;
        }
        self.in_flight += futures.len();
        let Request {
            stream,
            topic,
            reply,
            events,
            ..
        } = request;
        let shared = self.shared.clone();
        Some(async move {
            let results = futures::future::join_all(futures).await;
            let acked: Vec<(i32, i64)> = results
                .iter()
                .filter_map(|r| match r {
                    Ok(Ok(d)) => Some((d.partition, d.offset)),
                    _ => None,
                })
                .collect();
            let gap = match acked.iter().min_by_key(|(_, o)| *o) {
                Some((partition, first)) if acked.len() == results.len() => {
                    check_gap(&shared, epoch, topic, *partition, *first).await
                }
                _ => None,
            };
            Done {
                results,
                gap,
                request_stream: stream,
                events,
                topic,
                first_seq: version + 1,
                reply,
                started,
            }
        })
    }

    fn finish(&mut self, done: Done) {
        self.in_flight = self.in_flight.saturating_sub(done.results.len());
        let mut offsets = Vec::with_capacity(done.results.len());
        let mut partition = -1;
        let mut failure = None;
        for result in done.results {
            match result {
                Ok(Ok(delivery)) => {
                    partition = delivery.partition;
                    offsets.push(delivery.offset);
                }
                Ok(Err((e, _))) => failure = Some(e.to_string()),
                Err(_) => failure = Some("the producer dropped the record".into()),
            }
        }
        if let Some(gap) = done.gap {
            failure = Some(gap);
        }
        if let Some(cause) = failure {
            let reason = format!("Kafka did not acknowledge an append: {cause}");
            error!(stream = %done.request_stream, %reason, "append failed; its records may or may not be in the log");
            if matches!(self.state, State::Healthy) {
                self.state = State::Failed(reason.clone());
            }
            let _ = done.reply.send(Err(AppendError::Unavailable(reason)));
            return;
        }
        let last = offsets.last().copied().unwrap_or_default();
        let version = done.first_seq + offsets.len() as u64 - 1;
        {
            let mut index = self.shared.index_mut();
            if let Some(entry) = index.get_mut(&done.request_stream) {
                entry.partition = partition;
                let sorted = entry.offsets.last().is_none_or(|l| *l < offsets[0]);
                entry.offsets.extend_from_slice(&offsets);
                if !sorted {
                    entry.offsets.sort_unstable();
                }
            }
        }
        let recorded: Vec<RecordedEvent> = done
            .events
            .into_iter()
            .zip(&offsets)
            .enumerate()
            .map(|(i, (event, offset))| RecordedEvent {
                position: position(done.topic, partition, *offset),
                stream: done.request_stream.clone(),
                seq: done.first_seq + i as u64,
                event,
            })
            .collect();
        self.shared
            .cache
            .appended(&done.request_stream, done.first_seq, recorded);
        self.shared
            .advance_head(position(done.topic, partition, last));
        self.metrics
            .committed(1, offsets.len(), done.started.elapsed());
        let _ = done.reply.send(Ok(Appended {
            version,
            position: position(done.topic, partition, last),
        }));
    }

    fn rebuilt(&mut self, rebuilt: Result<Rebuilt, tokio::task::JoinError>) {
        match rebuilt {
            Ok(Ok(scanned)) => {
                info!(
                    streams = scanned.index.len(),
                    stale = scanned.stale,
                    "Kafka writer: stream index rebuilt; taking appends again"
                );
                install(&self.shared, scanned, self.lease.epoch());
                self.shared.cache.clear();
                match producer(&self.shared, &self.down) {
                    Ok(p) => {
                        self.producer = p;
                        self.down.store(false, Ordering::SeqCst);
                        self.state = State::Healthy;
                    }
                    Err(e) => self.state = State::Failed(format!("cannot create a producer: {e}")),
                }
            }
            Ok(Err(e)) => self.state = State::Failed(e.to_string()),
            Err(e) => self.state = State::Failed(format!("rebuild task failed: {e}")),
        }
    }
}
