//! An in-memory [`EventLog`] for tests: one partition, a `Vec` of events, a map of stream
//! heads. Same contract as the durable backends (the adapter suite runs over both), nothing
//! survives the process.

use super::{AppendError, Appended, Checkpoint, EventLog, LogItem, ReadError};
use async_trait::async_trait;
use futures::stream::BoxStream;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_events::{ExpectedVersion, NewEvent, Position, RecordedEvent};
use tokio::sync::watch;

#[derive(Default)]
struct Inner {
    events: Vec<RecordedEvent>,
    heads: HashMap<String, u64>,
}

/// See the module doc.
#[derive(Clone)]
pub struct MemoryLog {
    inner: Arc<Mutex<Inner>>,
    head: Arc<watch::Sender<u64>>,
}

impl Default for MemoryLog {
    fn default() -> Self {
        MemoryLog {
            inner: Arc::default(),
            head: Arc::new(watch::channel(0).0),
        }
    }
}

impl MemoryLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in this file; the data is still
        // consistent (every mutation below is complete before the guard drops).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn after(&self, offset: u64, limit: usize) -> Vec<LogItem> {
        let inner = self.lock();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        inner
            .events
            .iter()
            .skip(start)
            .take(limit)
            .cloned()
            .map(Ok)
            .collect()
    }
}

#[async_trait]
impl EventLog for MemoryLog {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        if stream.is_empty() {
            return Err(AppendError::Invalid("empty stream name".into()));
        }
        let head = {
            let mut inner = self.lock();
            let version = inner.heads.get(stream).copied().unwrap_or(0);
            expected.check(version)?;
            let mut seq = version;
            for event in events {
                seq += 1;
                let offset = inner.events.len() as u64 + 1;
                inner.events.push(RecordedEvent {
                    position: Position::embedded(offset),
                    stream: stream.to_string(),
                    seq,
                    event,
                });
            }
            inner.heads.insert(stream.to_string(), seq);
            (seq, inner.events.len() as u64)
        };
        self.head.send_replace(head.1);
        Ok(Appended {
            version: head.0,
            position: Position::embedded(head.1),
        })
    }

    async fn read_stream(&self, stream: &str) -> Result<Vec<RecordedEvent>, ReadError> {
        let inner = self.lock();
        Ok(inner
            .events
            .iter()
            .filter(|e| e.stream == stream)
            .cloned()
            .collect())
    }

    fn subscribe(&self, from: Checkpoint) -> BoxStream<'static, Result<Vec<LogItem>, ReadError>> {
        let log = self.clone();
        let head = self.head.subscribe();
        let start = from.get(&0).copied().unwrap_or(0);
        Box::pin(futures::stream::unfold(
            (start, head),
            move |(mut offset, mut head)| {
                let log = log.clone();
                async move {
                    loop {
                        // Mark the head seen before reading, so a commit after the read wakes us.
                        head.borrow_and_update();
                        let batch = log.after(offset, 1024);
                        if let Some(Ok(last)) = batch.last() {
                            offset = last.position.offset;
                            return Some((Ok(batch), (offset, head)));
                        }
                        head.changed().await.ok()?;
                    }
                }
            },
        ))
    }

    async fn heads(&self) -> Result<Checkpoint, ReadError> {
        Ok(Checkpoint::from([(0, *self.head.borrow())]))
    }
}
