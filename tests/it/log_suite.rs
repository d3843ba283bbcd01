//! The `EventLog` contract, run over every backend: the same tests, parameterised by how the
//! log is opened.

use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use switchboard::log::memory::MemoryLog;
use switchboard::log::postgres::{PostgresLog, PostgresLogOptions};
use switchboard::log::sqlite::{Durability, SqliteLog, SqliteLogOptions};
use switchboard::log::{AppendError, Checkpoint, EventLog, LogItem};
use switchboard_events::account::AccountUpdated;
use switchboard_events::{Conflict, Event, ExpectedVersion, Metadata, NewEvent, Sid, SidPrefix};
use uuid::Uuid;

use crate::{DataDir, PgDatabase};
use switchboard::log::kafka::lease::{Lease, LeaseError};
use switchboard::log::kafka::{KafkaLog, KafkaLogOptions};
use switchboard_projections::store::ProjectionStore;

fn event(stream: &Sid, n: u32) -> NewEvent {
    let meta = Metadata {
        occurred_at: switchboard::commands::now_ms(),
        account_sid: stream.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: Some(Uuid::now_v7()),
        region: "test".into(),
    };
    NewEvent::new(
        Uuid::now_v7(),
        &meta,
        &Event::AccountUpdated(AccountUpdated {
            friendly_name: Some(format!("name {n}")),
            status: None,
        }),
    )
}

fn stream() -> Sid {
    switchboard::commands::new_sid(SidPrefix::Account)
}

async fn next_items(
    sub: &mut futures::stream::BoxStream<
        'static,
        Result<Vec<LogItem>, switchboard::log::ReadError>,
    >,
    want: usize,
) -> Vec<LogItem> {
    let mut got = Vec::new();
    while got.len() < want {
        let batch = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("subscription delivered in time")
            .expect("subscription open")
            .expect("no storage error");
        got.extend(batch);
    }
    got
}

async fn appends_are_read_back_in_order_with_their_envelopes(log: Arc<dyn EventLog>) {
    let s = stream();
    let first = log
        .append(
            s.as_str(),
            ExpectedVersion::NoStream,
            vec![event(&s, 1), event(&s, 2)],
        )
        .await
        .expect("appended");
    assert_eq!(first.version, 2);
    let e3 = event(&s, 3);
    let second = log
        .append(s.as_str(), ExpectedVersion::Exact(2), vec![e3.clone()])
        .await
        .expect("appended");
    assert_eq!(second.version, 3);
    assert!(second.position > first.position);
    let read = log.read_stream(s.as_str()).await.expect("read");
    assert_eq!(
        read.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(read[2].event, e3, "the envelope comes back field for field");
    assert_eq!(read[2].position, second.position);
    assert!(log
        .read_stream(stream().as_str())
        .await
        .expect("read")
        .is_empty());
}

async fn concurrent_appends_with_the_same_expectation_let_exactly_one_through(
    log: Arc<dyn EventLog>,
) {
    let s = stream();
    log.append(s.as_str(), ExpectedVersion::NoStream, vec![event(&s, 0)])
        .await
        .expect("created");
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (log, s) = (log.clone(), s.clone());
            tokio::spawn(async move {
                log.append(s.as_str(), ExpectedVersion::Exact(1), vec![event(&s, i)])
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.expect("joined") {
            Ok(a) => {
                ok += 1;
                assert_eq!(a.version, 2);
            }
            Err(AppendError::Conflict(Conflict { expected, actual })) => {
                conflicts += 1;
                assert_eq!(expected, ExpectedVersion::Exact(1));
                assert_eq!(actual, 2);
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!((ok, conflicts), (1, 63));
    assert_eq!(log.read_stream(s.as_str()).await.expect("read").len(), 2);
}

async fn expectations_about_missing_and_existing_streams_are_enforced(log: Arc<dyn EventLog>) {
    let s = stream();
    let missing = log
        .append(s.as_str(), ExpectedVersion::Exact(1), vec![event(&s, 1)])
        .await;
    assert!(matches!(
        missing,
        Err(AppendError::Conflict(Conflict { actual: 0, .. }))
    ));
    log.append(s.as_str(), ExpectedVersion::NoStream, vec![event(&s, 1)])
        .await
        .expect("created");
    let again = log
        .append(s.as_str(), ExpectedVersion::NoStream, vec![event(&s, 2)])
        .await;
    assert!(matches!(
        again,
        Err(AppendError::Conflict(Conflict { actual: 1, .. }))
    ));
    let any = log
        .append(s.as_str(), ExpectedVersion::Any, vec![event(&s, 2)])
        .await
        .expect("any appends");
    assert_eq!(any.version, 2);
    assert!(matches!(
        log.append("", ExpectedVersion::Any, vec![event(&s, 3)])
            .await,
        Err(AppendError::Invalid(_))
    ));
}

async fn a_subscription_starts_after_its_checkpoint_and_then_follows_live(log: Arc<dyn EventLog>) {
    let s = stream();
    let mut positions = Vec::new();
    for i in 0..5u32 {
        let a = log
            .append(s.as_str(), ExpectedVersion::Any, vec![event(&s, i)])
            .await
            .expect("appended");
        positions.push(a.position);
    }
    let from = Checkpoint::from([(positions[1].partition, positions[1].offset)]);
    let mut sub = log.subscribe(from);
    let items = next_items(&mut sub, 3).await;
    let seen: Vec<_> = items
        .iter()
        .map(|i| i.as_ref().expect("readable").position)
        .collect();
    assert_eq!(seen, positions[2..].to_vec());
    // Live: an append after the subscription caught up arrives too.
    let live = log
        .append(s.as_str(), ExpectedVersion::Any, vec![event(&s, 9)])
        .await
        .expect("appended");
    let items = next_items(&mut sub, 1).await;
    assert_eq!(items[0].as_ref().expect("readable").position, live.position);
    let heads = log.heads().await.expect("heads");
    assert_eq!(
        heads.get(&live.position.partition),
        Some(&live.position.offset)
    );
}

async fn a_long_stream_reads_back_whole_across_seq_blocks(log: Arc<dyn EventLog>) {
    let s = stream();
    let other = stream();
    let mut version = 0;
    for chunk in 0..15u32 {
        let events: Vec<_> = (0..10).map(|i| event(&s, chunk * 10 + i)).collect();
        let a = log
            .append(s.as_str(), ExpectedVersion::after_load(version), events)
            .await
            .expect("appended");
        version = a.version;
        log.append(
            other.as_str(),
            ExpectedVersion::Any,
            vec![event(&other, chunk)],
        )
        .await
        .expect("interleaved");
    }
    let read = log.read_stream(s.as_str()).await.expect("read");
    assert_eq!(
        read.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=150).collect::<Vec<u64>>()
    );
    assert!(read.iter().all(|r| r.stream == s.as_str()));
    assert_eq!(
        log.read_stream(other.as_str()).await.expect("read").len(),
        15
    );
}

/// What a subscriber sees live (in the writer's process: handed over as committed) is what
/// a later read from the start gives (from storage): the same positions, streams, seqs and
/// envelopes, in the same order, while eight appenders write batches of 1–3 events at once.
async fn a_live_subscription_sees_exactly_what_a_later_read_gives(log: Arc<dyn EventLog>) {
    let start = log.heads().await.expect("heads");
    let mut live = log.subscribe(start.clone());
    let appenders: Vec<_> = (0..8u32)
        .map(|a| {
            let log = log.clone();
            tokio::spawn(async move {
                let s = stream();
                for i in 0..25u32 {
                    let events = (0..=(i % 3)).map(|k| event(&s, i * 10 + k)).collect();
                    log.append(s.as_str(), ExpectedVersion::Any, events)
                        .await
                        .unwrap_or_else(|e| panic!("appender {a}: {e}"));
                }
            })
        })
        .collect();
    for a in appenders {
        a.await.expect("appender");
    }
    let total = 8 * (0..25u32).map(|i| (i % 3 + 1) as usize).sum::<usize>();
    let seen = next_items(&mut live, total).await;
    let mut again = log.subscribe(start);
    let stored = next_items(&mut again, total).await;
    // Order holds within a partition (Kafka's logs have several): compare in position order,
    // after checking each side's order within each partition.
    let key = |items: &[LogItem]| -> Vec<((u32, u64), String, u64, String)> {
        let mut out: Vec<_> = items
            .iter()
            .map(|i| {
                let r = i.as_ref().expect("readable");
                let at = (r.position.partition, r.position.offset);
                (at, r.stream.clone(), r.seq, format!("{:?}", r.event))
            })
            .collect();
        let mut last = std::collections::HashMap::new();
        for (at, ..) in &out {
            let before = last.insert(at.0, at.1);
            assert!(
                before < Some(at.1),
                "partition {} out of order at {}",
                at.0,
                at.1
            );
        }
        out.sort();
        out
    };
    assert_eq!(seen.len(), total, "nothing extra live");
    assert_eq!(key(&seen), key(&stored));
}

macro_rules! suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn appends_are_read_back_in_order_with_their_envelopes() {
                let (log, _guard) = $open.await;
                super::appends_are_read_back_in_order_with_their_envelopes(log).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_appends_with_the_same_expectation_let_exactly_one_through() {
                let (log, _guard) = $open.await;
                super::concurrent_appends_with_the_same_expectation_let_exactly_one_through(log)
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn expectations_about_missing_and_existing_streams_are_enforced() {
                let (log, _guard) = $open.await;
                super::expectations_about_missing_and_existing_streams_are_enforced(log).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_long_stream_reads_back_whole_across_seq_blocks() {
                let (log, _guard) = $open.await;
                super::a_long_stream_reads_back_whole_across_seq_blocks(log).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_live_subscription_sees_exactly_what_a_later_read_gives() {
                let (log, _guard) = $open.await;
                super::a_live_subscription_sees_exactly_what_a_later_read_gives(log).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_subscription_starts_after_its_checkpoint_and_then_follows_live() {
                let (log, _guard) = $open.await;
                super::a_subscription_starts_after_its_checkpoint_and_then_follows_live(log).await;
            }
        }
    };
}

/// Whatever must live as long as the log (a temporary directory, a database).
type Guard = Box<dyn std::any::Any + Send>;

async fn open_memory() -> (Arc<dyn EventLog>, Guard) {
    (Arc::new(MemoryLog::default()), Box::new(()))
}

async fn open_postgres() -> (Arc<dyn EventLog>, Guard) {
    let db = PgDatabase::new().await;
    let log = PostgresLog::open(&db.url, PostgresLogOptions::default(), Arc::new(()))
        .await
        .expect("open");
    (Arc::new(log), Box::new(db))
}

async fn open_sqlite(durability: Durability) -> (Arc<dyn EventLog>, Guard) {
    let dir = DataDir::new("log");
    let log = SqliteLog::open(
        &dir.path().join("log.sqlite"),
        SqliteLogOptions {
            durability,
            ..SqliteLogOptions::default()
        },
        Arc::new(()),
    )
    .await
    .expect("open");
    (Arc::new(log), Box::new(dir))
}

suite!(memory, open_memory());
suite!(sqlite_full, open_sqlite(Durability::Full));
suite!(sqlite_normal, open_sqlite(Durability::Normal));
suite!(postgres, open_postgres());
suite!(kafka_mock, open_kafka_mock());
suite!(kafka_tansu_postgres, open_kafka_tansu());

/// librdkafka's in-process mock cluster, kept on a thread of its own (it is not `Send`)
/// until the guard drops.
pub struct MockKafka {
    pub brokers: String,
    _stop: std::sync::mpsc::Sender<()>,
}

impl MockKafka {
    pub fn start(prefix: &str, partitions: i32) -> MockKafka {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let prefix = prefix.to_string();
        std::thread::spawn(move || {
            let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
            for c in switchboard::log::kafka::CATEGORIES {
                cluster
                    .create_topic(&format!("{prefix}.{c}"), partitions, 1)
                    .expect("mock topic");
            }
            let _ = ready_tx.send(cluster.bootstrap_servers());
            let _ = stop_rx.recv();
        });
        MockKafka {
            brokers: ready_rx.recv().expect("mock cluster started"),
            _stop: stop_tx,
        }
    }
}

/// A Kafka log with its writer lease in `store`.
pub async fn open_kafka_log(brokers: &str, prefix: &str, store: &ProjectionStore) -> KafkaLog {
    let mut options = KafkaLogOptions::new(brokers);
    options.topic_prefix = prefix.to_string();
    let lease = Lease::acquire(
        store.pool().clone(),
        store.dialect(),
        &options.lease_name(),
        Duration::from_secs(10),
    )
    .await
    .expect("lease");
    options.lease = Some(lease);
    KafkaLog::open(options, Arc::new(Default::default()))
        .await
        .expect("open the Kafka log")
}

pub fn test_prefix() -> String {
    format!("sbtest{}", Uuid::now_v7().simple())
}

async fn open_kafka_mock() -> (Arc<dyn EventLog>, Guard) {
    let prefix = test_prefix();
    let mock = MockKafka::start(&prefix, 3);
    let dir = DataDir::new("kafka");
    let store = ProjectionStore::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("p.sqlite").display()
    ))
    .await
    .expect("store");
    let log = open_kafka_log(&mock.brokers, &prefix, &store).await;
    (Arc::new(log), Box::new((mock, dir, store)))
}

/// The real broker the test script started (tansu), with PostgreSQL as the lease store.
pub fn tansu_brokers() -> String {
    std::env::var("SWITCHBOARD_TEST_KAFKA").expect(
        "SWITCHBOARD_TEST_KAFKA is not set: run ./scripts/test.sh, which installs and starts a Kafka-protocol broker (tansu)",
    )
}

async fn open_kafka_tansu() -> (Arc<dyn EventLog>, Guard) {
    let db = PgDatabase::new().await;
    let store = ProjectionStore::connect(&db.url).await.expect("store");
    let log = open_kafka_log(&tansu_brokers(), &test_prefix(), &store).await;
    (Arc::new(log), Box::new((store, db)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_a_second_writer_is_refused_while_the_lease_is_held_and_a_new_one_rebuilds_heads() {
    let prefix = test_prefix();
    let mock = MockKafka::start(&prefix, 3);
    let dir = DataDir::new("kafka");
    let store = ProjectionStore::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("p.sqlite").display()
    ))
    .await
    .expect("store");
    let first = open_kafka_log(&mock.brokers, &prefix, &store).await;
    let s = stream();
    first
        .append(
            s.as_str(),
            ExpectedVersion::NoStream,
            vec![event(&s, 1), event(&s, 2)],
        )
        .await
        .expect("appended");
    let mut options = KafkaLogOptions::new(&mock.brokers);
    options.topic_prefix = prefix.clone();
    let refused = Lease::acquire(
        store.pool().clone(),
        store.dialect(),
        &options.lease_name(),
        Duration::from_secs(10),
    )
    .await;
    let Err(LeaseError::Held { holder, .. }) = refused else {
        panic!("a second writer must be refused while the lease is held");
    };
    assert!(!holder.is_empty());
    first.shutdown().await;
    assert!(matches!(
        first
            .append(s.as_str(), ExpectedVersion::Exact(2), vec![event(&s, 3)])
            .await,
        Err(AppendError::Unavailable(_))
    ));
    // Released at shutdown: the next writer takes over and knows the stream's head.
    let second = open_kafka_log(&mock.brokers, &prefix, &store).await;
    assert!(matches!(
        second
            .append(s.as_str(), ExpectedVersion::Exact(1), vec![event(&s, 3)])
            .await,
        Err(AppendError::Conflict(_))
    ));
    let a = second
        .append(s.as_str(), ExpectedVersion::Exact(2), vec![event(&s, 3)])
        .await
        .expect("appended after the hand-over");
    assert_eq!(a.version, 3);
    let read = second.read_stream(s.as_str()).await.expect("read");
    assert_eq!(
        read.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    second.shutdown().await;
}

/// Nodes without the writer role: beside a running writer (whose lock they never touch)
/// they read everything it commits, live, and refuse every append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_read_only_logs_open_beside_the_writer_follow_it_and_refuse_appends() {
    let db = PgDatabase::new().await;
    let writer = PostgresLog::open(&db.url, PostgresLogOptions::default(), Arc::new(()))
        .await
        .expect("open");
    let s = stream();
    writer
        .append(s.as_str(), ExpectedVersion::NoStream, vec![event(&s, 1)])
        .await
        .expect("appended");
    let readers = [
        PostgresLog::open_read_only(&db.url, PostgresLogOptions::default())
            .await
            .expect("a read-only log opens while the writer holds its lock"),
        PostgresLog::open_read_only(&db.url, PostgresLogOptions::default())
            .await
            .expect("and a second one"),
    ];
    let mut subs: Vec<_> = readers
        .iter()
        .map(|r| r.subscribe(Checkpoint::default()))
        .collect();
    for sub in &mut subs {
        assert_eq!(next_items(sub, 1).await.len(), 1);
    }
    let appended = writer
        .append(s.as_str(), ExpectedVersion::Exact(1), vec![event(&s, 2)])
        .await
        .expect("appended");
    for (reader, sub) in readers.iter().zip(&mut subs) {
        let live = next_items(sub, 1).await;
        assert_eq!(live[0].as_ref().expect("event").seq, 2, "followed live");
        assert_eq!(
            reader.heads().await.expect("heads")[&0],
            appended.position.offset
        );
        assert_eq!(reader.read_stream(s.as_str()).await.expect("read").len(), 2);
        let refused = reader
            .append(s.as_str(), ExpectedVersion::Any, vec![event(&s, 3)])
            .await;
        let err = refused.expect_err("read-only refuses appends").to_string();
        assert!(
            err.contains("read-only") && err.contains("--writer-url"),
            "{err}"
        );
    }
    assert_eq!(writer.read_stream(s.as_str()).await.expect("read").len(), 2);
    for reader in &readers {
        reader.shutdown().await;
    }
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_second_writer_is_refused_until_the_first_lets_go() {
    let db = PgDatabase::new().await;
    let first = PostgresLog::open(&db.url, PostgresLogOptions::default(), Arc::new(()))
        .await
        .expect("open");
    let s = stream();
    first
        .append(s.as_str(), ExpectedVersion::NoStream, vec![event(&s, 1)])
        .await
        .expect("appended");
    let second = PostgresLog::open(&db.url, PostgresLogOptions::default(), Arc::new(())).await;
    let err = second.err().expect("second writer refused").to_string();
    assert!(err.contains("another switchboard writer"), "{err}");
    first.shutdown().await;
    drop(first);
    // The lock goes with the first writer's connection; a new writer picks up the heads.
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(log) =
            PostgresLog::open(&db.url, PostgresLogOptions::default(), Arc::new(())).await
        {
            reopened = Some(log);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = reopened.expect("a writer can take over once the first has gone");
    assert!(matches!(
        log.append(s.as_str(), ExpectedVersion::NoStream, vec![event(&s, 2)])
            .await,
        Err(AppendError::Conflict(Conflict { actual: 1, .. }))
    ));
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_appends_survive_a_reopen_and_heads_are_reloaded() {
    let dir = DataDir::new("reopen");
    let path = dir.path().join("log.sqlite");
    let s = stream();
    {
        let log = SqliteLog::open(&path, SqliteLogOptions::default(), Arc::new(()))
            .await
            .expect("open");
        // 130 events: the head lies in the third block of 64 seqs.
        let events: Vec<_> = (0..130).map(|i| event(&s, i)).collect();
        log.append(s.as_str(), ExpectedVersion::NoStream, events)
            .await
            .expect("appended");
        log.shutdown().await;
    }
    let log = SqliteLog::open(&path, SqliteLogOptions::default(), Arc::new(()))
        .await
        .expect("reopen");
    assert_eq!(log.read_stream(s.as_str()).await.expect("read").len(), 130);
    // The writer finds the stream's head after a restart: a stale expectation conflicts.
    assert!(matches!(
        log.append(s.as_str(), ExpectedVersion::Exact(129), vec![event(&s, 3)])
            .await,
        Err(AppendError::Conflict(Conflict { actual: 130, .. }))
    ));
    let a = log
        .append(s.as_str(), ExpectedVersion::Exact(130), vec![event(&s, 3)])
        .await
        .expect("appended");
    assert_eq!(a.version, 131);
    log.shutdown().await;
    assert!(matches!(
        log.append(s.as_str(), ExpectedVersion::Any, vec![event(&s, 4)])
            .await,
        Err(AppendError::Unavailable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_second_writer_on_the_same_log_is_refused() {
    let dir = DataDir::new("lock");
    let path = dir.path().join("log.sqlite");
    let log = SqliteLog::open(&path, SqliteLogOptions::default(), Arc::new(()))
        .await
        .expect("open");
    let second = SqliteLog::open(&path, SqliteLogOptions::default(), Arc::new(())).await;
    let err = second.err().expect("second writer refused").to_string();
    assert!(
        err.contains("in use by another switchboard process"),
        "{err}"
    );
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_writer_reconnects_and_retakes_its_lock_after_losing_its_connection() {
    use sqlx::Connection;
    let db = PgDatabase::new().await;
    let log = PostgresLog::open(&db.url, PostgresLogOptions::default(), Arc::new(()))
        .await
        .expect("open");
    let s = stream();
    log.append(s.as_str(), ExpectedVersion::NoStream, vec![event(&s, 1)])
        .await
        .expect("appended");
    // Kill the writer's server process: its connection, and the lock with it, are gone.
    let mut admin = sqlx::PgConnection::connect(&db.url).await.expect("admin");
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(&mut admin)
    .await
    .expect("locks");
    assert_eq!(pids.len(), 1, "exactly one writer holds the lock");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pids[0])
        .execute(&mut admin)
        .await
        .expect("terminated");
    // The append that meets the dead connection fails without being acknowledged; the next
    // one reconnects, takes the lock again, and lands where the stream really is.
    let version = match log
        .append(s.as_str(), ExpectedVersion::Exact(1), vec![event(&s, 2)])
        .await
    {
        Ok(a) => a.version,
        Err(AppendError::Unavailable(_)) => {
            log.append(s.as_str(), ExpectedVersion::Exact(1), vec![event(&s, 2)])
                .await
                .expect("appended after reconnecting")
                .version
        }
        Err(other) => panic!("unexpected {other}"),
    };
    assert_eq!(version, 2);
    assert_eq!(log.read_stream(s.as_str()).await.expect("read").len(), 2);
    let holders: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&mut admin)
    .await
    .expect("locks");
    assert_eq!(holders, 1, "the writer holds the lock again");
    log.shutdown().await;
}
