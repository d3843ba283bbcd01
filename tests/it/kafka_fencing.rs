//! The Kafka log's record headers on librdkafka's mock cluster: a caused command's position
//! survives a reload from Kafka (the workspace drops a re-issued trigger), and the fencing
//! rule — stale records of a superseded writer epoch and retried duplicates are dropped by
//! every reader, also after a resubscribe; an old writer's record in the gap before the new
//! writer's first record on a partition fails that append and the writer rebuilds.

use crate::log_suite::{open_kafka_log, test_prefix, MockKafka};
use crate::DataDir;
use futures::StreamExt;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use std::sync::Arc;
use std::time::Duration;
use switchboard::log::kafka::{wire, KafkaLogOptions, CATEGORIES};
use switchboard::log::{AppendError, Checkpoint, EventLog, LogItem};
use switchboard::taskrouter::{Causation, Engine};
use switchboard_events::account::AccountUpdated;
use switchboard_events::taskrouter::command::Template;
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::{Event, ExpectedVersion, Metadata, NewEvent, Position, Sid, SidPrefix};
use switchboard_projections::store::ProjectionStore;
use uuid::Uuid;

fn meta(account: &Sid) -> Metadata {
    Metadata {
        occurred_at: switchboard::commands::now_ms(),
        account_sid: account.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        region: "test".into(),
    }
}

fn event(stream: &Sid, n: u32) -> NewEvent {
    NewEvent::new(
        Uuid::now_v7(),
        &meta(stream),
        &Event::AccountUpdated(AccountUpdated {
            friendly_name: Some(format!("name {n}")),
            status: None,
        }),
    )
}

async fn sqlite_store(dir: &DataDir) -> ProjectionStore {
    ProjectionStore::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("p.sqlite").display()
    ))
    .await
    .expect("store")
}

/// Everything a subscription from `from` holds right now (until it is quiet for a second).
async fn drain(log: &dyn EventLog, from: Checkpoint) -> Vec<LogItem> {
    let mut sub = log.subscribe(from);
    let mut out = Vec::new();
    while let Ok(Some(batch)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
        out.extend(batch.expect("no storage error"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_mock_a_caused_command_is_dropped_after_a_reload_from_kafka() {
    let prefix = test_prefix();
    let mock = MockKafka::start(&prefix, 3);
    let dir = DataDir::new("kafka-caused");
    let store = sqlite_store(&dir).await;
    a_caused_command_is_dropped_after_a_reload(&mock.brokers, &prefix, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_tansu_a_caused_command_is_dropped_after_a_reload_from_kafka() {
    let db = crate::PgDatabase::new().await;
    let store = ProjectionStore::connect(&db.url).await.expect("store");
    let brokers = crate::log_suite::tansu_brokers();
    a_caused_command_is_dropped_after_a_reload(&brokers, &test_prefix(), &store).await;
}

async fn a_caused_command_is_dropped_after_a_reload(
    brokers: &str,
    prefix: &str,
    store: &ProjectionStore,
) {
    let account = switchboard::commands::new_sid(SidPrefix::Account);
    let ws = switchboard::commands::new_sid(SidPrefix::Workspace);
    let caused = |offset: u64| Causation {
        event_id: Uuid::from_u128(u128::from(offset)),
        position: Position {
            partition: 3,
            offset,
        },
    };
    let activity = |name: &str| Command::CreateActivity {
        friendly_name: name.into(),
        available: Some(true),
    };
    let run = |engine: Arc<Engine>, name: &'static str, c: Causation| {
        let (ws, account) = (ws.clone(), account.clone());
        async move {
            engine
                .execute_caused(&ws, activity(name), meta(&account), c, |_, events| {
                    events.len()
                })
                .await
                .unwrap_or_else(|e| panic!("caused command: {e}"))
                .body
        }
    };
    {
        let log: Arc<dyn EventLog> = Arc::new(open_kafka_log(brokers, prefix, store).await);
        let engine = Arc::new(Engine::new(log.clone()));
        let create = Command::CreateWorkspace {
            friendly_name: "W".into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: None,
            prioritize_queue_order: None,
            template: Template::None,
        };
        engine
            .execute(&ws, create, meta(&account), |_, _| ())
            .await
            .unwrap_or_else(|e| panic!("create workspace: {e}"));
        assert_eq!(run(engine.clone(), "Caused", caused(10)).await, 1);
        assert_eq!(run(engine.clone(), "Caused", caused(10)).await, 0);
        log.shutdown().await;
    }
    // A new writer (lease released at shutdown) rebuilds from the partitions and reads the
    // workspace from Kafka, not from a cache: the watermark comes back from the header.
    let log: Arc<dyn EventLog> = Arc::new(open_kafka_log(brokers, prefix, store).await);
    let recorded = log.read_stream(ws.as_str()).await.expect("read");
    let positions: Vec<_> = recorded
        .iter()
        .filter_map(|r| r.event.causation_position)
        .collect();
    assert_eq!(
        positions,
        vec![caused(10).position],
        "the header round-trips"
    );
    let engine = Arc::new(Engine::new(log.clone()));
    assert_eq!(
        run(engine.clone(), "Caused", caused(10)).await,
        0,
        "a re-issued trigger is dropped after the reload"
    );
    assert_eq!(run(engine.clone(), "Older", caused(9)).await, 0);
    assert_eq!(run(engine.clone(), "Newer", caused(11)).await, 1);
    log.shutdown().await;
}

/// A raw producer sending what an old (or retrying) writer would.
fn raw_producer(brokers: &str) -> FutureProducer {
    switchboard::log::kafka::writer::producer_config(&KafkaLogOptions::new(brokers))
        .create()
        .expect("producer")
}

/// Sends one record of account stream `stream` at `seq`, stamped with writer `epoch`, to
/// global partition `partition` (or where its key goes, as the writer would send it).
async fn inject(
    producer: &FutureProducer,
    prefix: &str,
    partition: Option<u32>,
    stream: &Sid,
    seq: u64,
    epoch: i64,
) {
    let e = event(stream, seq as u32);
    let value = wire::encode(stream.as_str(), seq, &e).expect("encode");
    let topic = format!("{prefix}.{}", CATEGORIES[0]);
    let mut record = FutureRecord::to(&topic)
        .key(stream.as_str())
        .payload(&value)
        .headers(wire::headers(epoch, &e));
    if let Some(p) = partition {
        record = record.partition((p & 0xffff) as i32);
    }
    producer
        .send(record, Timeout::After(Duration::from_secs(10)))
        .await
        .map_err(|(e, _)| e)
        .expect("injected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_mock_stale_and_duplicate_records_are_dropped_by_every_reader() {
    let prefix = test_prefix();
    let mock = MockKafka::start(&prefix, 3);
    let dir = DataDir::new("kafka-stale");
    let store = sqlite_store(&dir).await;
    let s = switchboard::commands::new_sid(SidPrefix::Account);
    let other = switchboard::commands::new_sid(SidPrefix::Account);
    let first = open_kafka_log(&mock.brokers, &prefix, &store).await;
    first
        .append(
            s.as_str(),
            ExpectedVersion::NoStream,
            vec![event(&s, 1), event(&s, 2)],
        )
        .await
        .expect("appended");
    first.shutdown().await;
    let second = open_kafka_log(&mock.brokers, &prefix, &store).await;
    let third_at = second
        .append(s.as_str(), ExpectedVersion::Exact(2), vec![event(&s, 3)])
        .await
        .expect("appended by the second writer")
        .position;
    // The first writer (epoch 1), paused and resumed, flushes seq 3 of `s` and a new stream
    // onto the partition; a retry writes the second writer's seq 3 twice.
    let producer = raw_producer(&mock.brokers);
    let p = third_at.partition;
    inject(&producer, &prefix, Some(p), &s, 3, 1).await;
    inject(&producer, &prefix, Some(p), &other, 1, 1).await;
    inject(&producer, &prefix, Some(p), &s, 3, 2).await;
    let after = second
        .append(s.as_str(), ExpectedVersion::Exact(3), vec![event(&s, 4)])
        .await
        .expect("the second writer goes on");

    let judge = |items: &[LogItem]| {
        let applied: Vec<(String, u64)> = items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .map(|r| (r.stream.clone(), r.seq))
            .collect();
        let reasons: Vec<String> = items
            .iter()
            .filter_map(|i| i.as_ref().err())
            .map(|d| d.reason.clone())
            .collect();
        (applied, reasons)
    };
    let (applied, reasons) = judge(&drain(&second, Checkpoint::new()).await);
    let want: Vec<(String, u64)> = (1..=4).map(|n| (s.to_string(), n)).collect();
    assert_eq!(applied, want, "each seq once, nothing of the stale writer");
    assert_eq!(
        reasons.iter().filter(|r| r.contains("fenced")).count(),
        2,
        "{reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|r| r.contains("duplicate")).count(),
        1,
        "{reasons:?}"
    );
    // Resubscribing just after seq 3: the look-back still knows the epoch and the head.
    let from = Checkpoint::from([(p, third_at.offset)]);
    let (applied, reasons) = judge(&drain(&second, from).await);
    assert_eq!(applied, vec![(s.to_string(), 4)], "{reasons:?}");
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    second.shutdown().await;

    // A new writer's rebuild agrees: `s` is at 4, `other` does not exist.
    let third = open_kafka_log(&mock.brokers, &prefix, &store).await;
    let read = third.read_stream(s.as_str()).await.expect("read");
    assert_eq!(read.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(read[3].position, after.position);
    assert!(third
        .read_stream(other.as_str())
        .await
        .expect("read")
        .is_empty());
    third
        .append(
            other.as_str(),
            ExpectedVersion::NoStream,
            vec![event(&other, 1)],
        )
        .await
        .expect("the fenced stream starts at 1");
    third.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_mock_an_old_writers_record_before_the_new_writers_first_fails_that_append() {
    let prefix = test_prefix();
    let mock = MockKafka::start(&prefix, 3);
    let dir = DataDir::new("kafka-gap");
    let store = sqlite_store(&dir).await;
    let first = open_kafka_log(&mock.brokers, &prefix, &store).await;
    first.shutdown().await;
    let second = open_kafka_log(&mock.brokers, &prefix, &store).await;
    // After the second writer's rebuild, the first (epoch 1) flushes a record of each of 24
    // streams (on every account partition, all but surely): readers apply them (no newer
    // epoch there yet).
    let producer = raw_producer(&mock.brokers);
    let mut olds = Vec::new();
    for _ in 0..24 {
        let old = switchboard::commands::new_sid(SidPrefix::Account);
        inject(&producer, &prefix, None, &old, 1, 1).await;
        olds.push(old);
    }
    let s = switchboard::commands::new_sid(SidPrefix::Account);
    let refused = second
        .append(s.as_str(), ExpectedVersion::NoStream, vec![event(&s, 1)])
        .await;
    assert!(
        matches!(&refused, Err(AppendError::Unavailable(m)) if m.contains("older writer")),
        "{refused:?}"
    );
    // The writer rebuilds and then counts what readers apply: the old streams are at 1.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let again = loop {
        match second
            .append(
                olds[0].as_str(),
                ExpectedVersion::Exact(1),
                vec![event(&olds[0], 2)],
            )
            .await
        {
            Err(AppendError::Unavailable(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            other => break other,
        }
    };
    assert_eq!(again.expect("appended after the rebuild").version, 2);
    let items = drain(&second, Checkpoint::new()).await;
    let applied: Vec<(String, u64)> = items
        .iter()
        .filter_map(|i| i.as_ref().ok())
        .filter(|r| r.stream == olds[0].as_str())
        .map(|r| (r.stream.clone(), r.seq))
        .collect();
    assert_eq!(
        applied,
        [(olds[0].to_string(), 1), (olds[0].to_string(), 2)]
    );
    second.shutdown().await;
}

#[test]
fn kafka_extra_settings_cannot_loosen_the_writers_producer_settings() {
    let mut options = KafkaLogOptions::new("127.0.0.1:1");
    options.extra = vec![
        ("enable.idempotence".into(), "false".into()),
        ("acks".into(), "1".into()),
        ("linger.ms".into(), "7".into()),
    ];
    let config = switchboard::log::kafka::writer::producer_config(&options);
    assert_eq!(config.get("enable.idempotence"), Some("true"));
    assert_eq!(config.get("acks"), Some("all"));
    assert_eq!(
        config.get("max.in.flight.requests.per.connection"),
        Some("5")
    );
    let err = options.check().expect_err("refused");
    assert!(err.to_string().contains("enable.idempotence"), "{err}");
    options.extra = vec![("linger.ms".into(), "7".into())];
    options.check().expect("a harmless extra is taken");
    assert_eq!(
        switchboard::log::kafka::writer::producer_config(&options).get("linger.ms"),
        Some("2"),
        "the writer's own linger wins too"
    );
}
