//! The event log: the one source of truth. Every command's events are appended to a stream
//! (a SID) with an expected version; every read model is a fold over a subscription to the
//! whole log from a checkpoint.
//!
//! The port is small on purpose ([`EventLog`]: append, read a stream, subscribe). Positions
//! are per partition ([`Position`]): the embedded log has one partition, the Kafka log one per
//! topic partition, so callers never rely on one global order.
//!
//! Backends: [`memory::MemoryLog`] for tests, [`sqlite::SqliteLog`] (the embedded default)
//! and [`postgres::PostgresLog`], both with group commit through one writer task
//! ([`writer`]), and [`kafka::KafkaLog`] (one topic per category, a single writer per
//! partition behind a lease).

pub mod kafka;
pub mod memory;
pub mod postgres;
mod reader;
pub mod record;
pub mod sqlite;
pub mod writer;

use async_trait::async_trait;
use futures::stream::BoxStream;
use switchboard_events::{Conflict, ExpectedVersion, NewEvent, Position, RecordedEvent};

/// What an append reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The stream's version after the append (the last event's `seq`).
    pub version: u64,
    /// The position of the last event appended (or of the stream's head, when nothing was
    /// appended).
    pub position: Position,
}

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The stream was not at the expected version; nothing was written.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The log could not take the append (storage failure, shutting down); nothing was
    /// acknowledged.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// The append itself is not valid (for example an empty stream name).
    #[error("invalid append: {0}")]
    Invalid(String),
}

/// The refusal of a second writer: another process holds the log's writer lock (the
/// embedded log's lock file, PostgreSQL's advisory lock; on Kafka the writer lease refuses
/// with its own `LeaseError::Held`). A type of its own so the command line can tell "a
/// server runs on this log" from any other failure and go through that server instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WriterHeld(pub String);

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Storage failure.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// A stored event cannot be represented (damaged row); carries its position.
    #[error(transparent)]
    Damaged(#[from] Damaged),
}

/// A stored record that cannot be read back as an event: a damaged row, or one a newer
/// version wrote in a shape this one cannot read. Readers report it and move past it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("damaged event at position {position} (stream {stream:?}): {reason}")]
pub struct Damaged {
    /// Where it sits.
    pub position: Position,
    /// Its stream, when that much could be read.
    pub stream: Option<String>,
    /// What is wrong with it.
    pub reason: String,
}

/// One item of a subscription: an event, or a record that could not be read.
pub type LogItem = Result<RecordedEvent, Damaged>;

/// Where a subscriber stands (defined beside [`Position`] in the events crate).
pub use switchboard_events::Checkpoint;

/// The event log port.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Appends `events` to `stream` if the stream is at `expected`. Returns only after the
    /// events are durable (as durable as the backend's setting promises). Appending no
    /// events checks the expectation and returns the head.
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError>;

    /// Reads a whole stream in `seq` order (empty when the stream does not exist).
    async fn read_stream(&self, stream: &str) -> Result<Vec<RecordedEvent>, ReadError>;

    /// Every event after `from`, in position order per partition, in batches, then live as
    /// new events commit. Storage errors end the stream with an error (the subscriber
    /// resubscribes from its checkpoint); damaged records are items, not errors.
    fn subscribe(&self, from: Checkpoint) -> BoxStream<'static, Result<Vec<LogItem>, ReadError>>;

    /// The last committed position in each partition.
    async fn heads(&self) -> Result<Checkpoint, ReadError>;

    /// Stops accepting appends, answers every append already queued, and releases what the
    /// backend holds. Appends afterwards fail with `Unavailable`.
    async fn shutdown(&self) {}
}
