//! Reading the Kafka log: subscriptions over every partition from a checkpoint, the scan
//! that rebuilds the writer's stream index, and fetches of one stream's records. Every scan
//! judges records by [`super::fence`]'s rule, so all readers apply the same records.

use super::fence::{Fencing, Verdict};
use super::{position, wire, Index, Shared, StreamEntry};
use crate::log::{Checkpoint, Damaged, LogItem, ReadError};
use futures::stream::BoxStream;
use futures::FutureExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::RecordedEvent;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// Most records handed over in one subscription batch.
const BATCH: usize = 4096;

/// How long a fetch may wait for a record the log is known to hold.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Records a subscription resuming at a checkpoint reads before it, per partition, without
/// handing them over: they tell the fencing rule the partition's epoch and the streams' heads
/// there, so a stale record or a retried duplicate just after the checkpoint is still
/// dropped after a resubscribe or a restart. A retry's copy lands within the producer's
/// in-flight window (at most `max.in.flight` batches of `batch.num.messages`, which the
/// writer pins: [`super::writer::producer_config`]), well inside this.
pub(crate) const LOOK_BACK: i64 = 8192;

fn unavailable(e: impl std::fmt::Display) -> ReadError {
    ReadError::Unavailable(format!("Kafka: {e}"))
}

/// A consumer that reads assigned partitions only: no group membership, no offset commits.
pub(crate) fn consumer(shared: &Shared) -> Result<StreamConsumer, ReadError> {
    shared
        .options
        .client_config()
        .set("group.id", "switchboard-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "20")
        .set("auto.offset.reset", "earliest")
        .create()
        .map_err(unavailable)
}

/// Which topic index a record of topic `name` belongs to.
fn topic_index(shared: &Shared, name: &str) -> Option<usize> {
    shared.topics.iter().position(|t| t.name == name)
}

/// Every record after `from` in every partition (of `only` topic, if given), in batches,
/// then live. With `from_end`, partitions absent from `from` start at their end.
pub(crate) fn subscribe(
    shared: Arc<Shared>,
    only: Option<usize>,
    from: Checkpoint,
    from_end: bool,
) -> BoxStream<'static, Result<Vec<LogItem>, ReadError>> {
    let (tx, rx) = mpsc::channel::<Result<Vec<LogItem>, ReadError>>(2);
    tokio::spawn(async move {
        if let Err(e) = run_subscription(&shared, only, &from, from_end, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

async fn run_subscription(
    shared: &Shared,
    only: Option<usize>,
    from: &Checkpoint,
    from_end: bool,
    tx: &mpsc::Sender<Result<Vec<LogItem>, ReadError>>,
) -> Result<(), ReadError> {
    let consumer = consumer(shared)?;
    let mut assignment = TopicPartitionList::new();
    for (t, topic) in shared.topics.iter().enumerate() {
        if only.is_some_and(|o| o != t) {
            continue;
        }
        for p in 0..topic.partitions {
            let offset = match from.get(&super::global_partition(t, p)) {
                // A position offset is the Kafka offset + 1: the next record to read. Start
                // a look-back before it (below the partition's start the broker answers
                // out of range and `auto.offset.reset=earliest` starts at the start).
                Some(seen) => Offset::Offset((*seen as i64 - LOOK_BACK).max(0)),
                None if from_end => Offset::End,
                None => Offset::Beginning,
            };
            assignment
                .add_partition_offset(&topic.name, p, offset)
                .map_err(unavailable)?;
        }
    }
    consumer.assign(&assignment).map_err(unavailable)?;
    // A stale record (a superseded writer's) or a retried send's second copy is reported as
    // damaged (so checkpoints move past it) rather than applied.
    let mut fencing = Fencing::default();
    loop {
        let mut batch = Vec::new();
        {
            let first = consumer.recv().await.map_err(unavailable)?;
            batch.extend(item(shared, &first, from, &mut fencing));
        }
        while batch.len() < BATCH {
            match consumer.recv().now_or_never() {
                Some(Ok(m)) => batch.extend(item(shared, &m, from, &mut fencing)),
                Some(Err(e)) => return Err(unavailable(e)),
                None => break,
            }
        }
        if !batch.is_empty() && tx.send(Ok(batch)).await.is_err() {
            return Ok(());
        }
    }
}

/// The item a record becomes, or `None` for a record of the look-back before `from` (judged,
/// not handed over).
fn item<M: Message>(
    shared: &Shared,
    m: &M,
    from: &Checkpoint,
    fencing: &mut Fencing,
) -> Option<LogItem> {
    let Some(t) = topic_index(shared, m.topic()) else {
        return Some(Err(Damaged {
            position: position(0, m.partition(), m.offset()),
            stream: None,
            reason: format!("record from unexpected topic {}", m.topic()),
        }));
    };
    let position = position(t, m.partition(), m.offset());
    let looking_back = from
        .get(&position.partition)
        .is_some_and(|resume| position.offset <= *resume);
    let (event, headers) = match wire::decode_message(position, m) {
        Ok(decoded) => decoded,
        Err(_) if looking_back => return None,
        Err(damaged) => return Some(Err(damaged)),
    };
    let verdict = fencing.judge(position.partition, headers.epoch, &event.stream, event.seq);
    if looking_back {
        return None;
    }
    Some(match verdict.reason() {
        None => Ok(event),
        Some(reason) => Err(Damaged {
            position,
            stream: Some(event.stream),
            reason,
        }),
    })
}

/// What the scan at a writer's start (or after a broker failure) found.
pub(crate) struct Scanned {
    /// Every stream's version and offsets.
    pub index: Index,
    /// Every non-empty partition's end (as position offsets).
    pub heads: Checkpoint,
    /// Every partition's end as a Kafka offset (the first record the scan did not read)
    /// and the highest writer epoch the scan saw there.
    pub ends: HashMap<u32, (i64, i64)>,
    /// Records dropped as stale (a superseded writer's).
    pub stale: u64,
}

/// Reads every partition from its start to its current end and returns each stream's
/// version and offsets, judged by the fencing rule: stale records (a superseded writer's)
/// and duplicates (a retried send written twice) are skipped.
pub(crate) async fn rebuild_index(shared: &Arc<Shared>) -> Result<Scanned, ReadError> {
    let consumer = consumer(shared)?;
    let marks = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || {
            let mut marks = Vec::new();
            for (t, topic) in shared.topics.iter().enumerate() {
                for p in 0..topic.partitions {
                    let (low, high) = shared
                        .meta
                        .fetch_watermarks(&topic.name, p, Duration::from_secs(2))
                        .map_err(unavailable)?;
                    marks.push((t, p, low, high));
                }
            }
            Ok::<_, ReadError>(marks)
        })
        .await
        .map_err(unavailable)??
    };
    let mut assignment = TopicPartitionList::new();
    let mut remaining: HashMap<(usize, i32), i64> = HashMap::new();
    let heads: Checkpoint = marks
        .iter()
        .filter(|(_, _, _, high)| *high > 0)
        .map(|(t, p, _, high)| (super::global_partition(*t, *p), *high as u64))
        .collect();
    let ends: HashMap<u32, i64> = marks
        .iter()
        .map(|(t, p, _, high)| (super::global_partition(*t, *p), (*high).max(0)))
        .collect();
    for (t, p, low, high) in marks {
        if high > low {
            assignment
                .add_partition_offset(&shared.topics[t].name, p, Offset::Offset(low))
                .map_err(unavailable)?;
            remaining.insert((t, p), high);
        }
    }
    let mut index = Index::new();
    let mut fencing = Fencing::default();
    let done = |index, fencing: Fencing, stale| Scanned {
        index,
        heads,
        ends: ends
            .iter()
            .map(|(p, end)| (*p, (*end, fencing.epoch(*p))))
            .collect(),
        stale,
    };
    if remaining.is_empty() {
        return Ok(done(index, fencing, 0));
    }
    consumer.assign(&assignment).map_err(unavailable)?;
    let (mut records, mut duplicates, mut stale) = (0u64, 0u64, 0u64);
    while !remaining.is_empty() {
        let m = tokio::time::timeout(FETCH_TIMEOUT, consumer.recv())
            .await
            .map_err(|_| unavailable("timed out reading the partitions to rebuild the index"))?
            .map_err(unavailable)?;
        let Some(t) = topic_index(shared, m.topic()) else {
            continue;
        };
        let key = (t, m.partition());
        let Some(high) = remaining.get(&key).copied() else {
            continue;
        };
        if m.offset() + 1 >= high {
            remaining.remove(&key);
        }
        let (Some(stream), Some(seq)) = (
            m.key().and_then(|k| std::str::from_utf8(k).ok()),
            wire::seq_of(m.payload()),
        ) else {
            warn!(
                topic = m.topic(),
                partition = m.partition(),
                offset = m.offset(),
                "record without a stream key or seq skipped"
            );
            continue;
        };
        records += 1;
        let epoch = match wire::read_headers(m.headers()) {
            Ok(h) => h.epoch,
            Err(reason) => {
                warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), %reason, "record with a damaged header skipped");
                continue;
            }
        };
        match fencing.judge(
            super::global_partition(t, m.partition()),
            epoch,
            stream,
            seq,
        ) {
            Verdict::Apply => {}
            Verdict::Stale { .. } => {
                stale += 1;
                continue;
            }
            Verdict::Duplicate { .. } => {
                duplicates += 1;
                continue;
            }
        }
        let entry = index
            .entry(stream.to_string())
            .or_insert_with(|| StreamEntry {
                topic: t,
                partition: m.partition(),
                version: 0,
                offsets: Vec::new(),
            });
        if seq != entry.version + 1 {
            warn!(stream, seq, version = entry.version, "gap in stream");
        }
        entry.version = seq;
        entry.offsets.push(m.offset());
    }
    debug!(
        records,
        duplicates,
        stale,
        streams = index.len(),
        "stream index rebuilt"
    );
    if duplicates > 0 || stale > 0 {
        warn!(
            duplicates,
            stale,
            "duplicate and stale (fenced) records in the log skipped while rebuilding the index"
        );
    }
    Ok(done(index, fencing, stale))
}

/// The writer epochs of the records of Kafka partition `partition` of category `topic` at
/// offsets `from..to` (for the writer's check of the gap before its first record there).
pub(crate) async fn epochs_between(
    shared: &Shared,
    topic: usize,
    partition: i32,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, i64)>, ReadError> {
    let consumer = consumer(shared)?;
    let name = &shared.topics[topic].name;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(name, partition, Offset::Offset(from))
        .map_err(unavailable)?;
    consumer.assign(&assignment).map_err(unavailable)?;
    let mut out = Vec::new();
    let mut next = from;
    while next < to {
        let m = tokio::time::timeout(FETCH_TIMEOUT, consumer.recv())
            .await
            .map_err(|_| unavailable(format!("timed out reading {name}/{partition}")))?
            .map_err(unavailable)?;
        if m.partition() != partition || m.offset() < next {
            continue;
        }
        next = m.offset() + 1;
        if m.offset() < to {
            let epoch = wire::read_headers(m.headers()).map_or(0, |h| h.epoch);
            out.push((m.offset(), epoch));
        }
    }
    Ok(out)
}

/// Largest gap between two of a stream's offsets still read through rather than sought.
const READ_THROUGH: i64 = 512;

/// Fetches the records of `stream` at the offsets in `entry`.
pub(crate) async fn fetch(
    shared: &Shared,
    stream: &str,
    entry: &StreamEntry,
) -> Result<Vec<RecordedEvent>, ReadError> {
    let pooled = shared
        .fetchers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop();
    let consumer = match pooled {
        Some(c) => c,
        None => consumer(shared)?,
    };
    let result = fetch_with(&consumer, shared, stream, entry).await;
    if result.is_ok() && consumer.unassign().is_ok() {
        shared
            .fetchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(consumer);
    }
    result
}

async fn fetch_with(
    consumer: &StreamConsumer,
    shared: &Shared,
    stream: &str,
    entry: &StreamEntry,
) -> Result<Vec<RecordedEvent>, ReadError> {
    let topic = &shared.topics[entry.topic].name;
    let offsets = &entry.offsets;
    let mut out = Vec::with_capacity(offsets.len());
    let mut i = 0;
    while i < offsets.len() {
        let mut j = i;
        while j + 1 < offsets.len() && offsets[j + 1] - offsets[j] <= READ_THROUGH {
            j += 1;
        }
        let wanted: HashSet<i64> = offsets[i..=j].iter().copied().collect();
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, entry.partition, Offset::Offset(offsets[i]))
            .map_err(unavailable)?;
        consumer.assign(&assignment).map_err(unavailable)?;
        let mut found = 0;
        while found < wanted.len() {
            let m = tokio::time::timeout(FETCH_TIMEOUT, consumer.recv())
                .await
                .map_err(|_| unavailable(format!("timed out fetching stream {stream}")))?
                .map_err(unavailable)?;
            if m.topic() != topic.as_str()
                || m.partition() != entry.partition
                || !wanted.contains(&m.offset())
            {
                continue;
            }
            found += 1;
            let (event, _) =
                wire::decode_message(position(entry.topic, m.partition(), m.offset()), &m)?;
            if event.stream != stream {
                return Err(ReadError::Damaged(Damaged {
                    position: event.position,
                    stream: Some(event.stream),
                    reason: format!("the index placed a record of stream {stream} here"),
                }));
            }
            out.push(event);
        }
        i = j + 1;
    }
    out.sort_by_key(|e| e.seq);
    out.dedup_by_key(|e| e.seq);
    Ok(out)
}
