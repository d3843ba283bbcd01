//! `switchboard bench log --kafka BROKERS`: the Kafka log next to a raw rdkafka producer.
//!
//! For each concurrency level, on fresh topics: first the baseline, a raw `FutureProducer`
//! with the writer's own settings (idempotent, `acks=all`, same linger and timeouts) driven by
//! the same number of tasks, each encoding the same event envelope and awaiting its send
//! before the next; then the log itself, each appender appending one event at a time to its
//! own stream with an exact expected version and waiting for the acknowledgement. Last, for
//! scale, the raw producer fully pipelined (one task, up to 50,000 records in flight).
//!
//! [`open_log`] is also `bench lag --kafka`'s log.

use super::fixtures::{account_streams, pg_drop, pg_fresh, sample_event, Scratch};
use super::measure::{appenders, concurrently, ms, Run};
use crate::log::kafka::lease::Lease;
use crate::log::kafka::{wire, KafkaLog, KafkaLogOptions};
use crate::log::EventLog;
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::SidPrefix;
use switchboard_projections::store::ProjectionStore;
use uuid::Uuid;

fn fresh_options(brokers: &str) -> KafkaLogOptions {
    let mut options = KafkaLogOptions::new(brokers);
    options.topic_prefix = format!("bench{}", Uuid::now_v7().simple());
    options
}

/// A Kafka log on fresh topics, its writer lease in `store`.
pub async fn open_log(brokers: &str, store: &ProjectionStore) -> anyhow::Result<KafkaLog> {
    let mut options = fresh_options(brokers);
    options.lease = Some(
        Lease::acquire(
            store.pool().clone(),
            store.dialect(),
            &options.lease_name(),
            Duration::from_secs(10),
        )
        .await?,
    );
    KafkaLog::open(options, Arc::new(Default::default())).await
}

/// `n` tasks each encoding an event and awaiting its send; records/s and latencies.
async fn raw_senders(brokers: &str, n: usize, window: Duration) -> anyhow::Result<Run> {
    let options = fresh_options(brokers);
    // Opening the log read-only creates the topics.
    let log = KafkaLog::open(options.clone(), Arc::new(Default::default())).await?;
    let topic = format!("{}.account", options.topic_prefix);
    let producer: FutureProducer = crate::log::kafka::writer::producer_config(&options).create()?;
    let deadline = Instant::now() + window;
    let started = Instant::now();
    let latencies = concurrently(n, || {
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            let stream = crate::commands::new_sid(SidPrefix::Account);
            let mut latencies = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                seq += 1;
                let t = Instant::now();
                let payload = wire::encode(stream.as_str(), seq, &sample_event(&stream, seq))
                    .map_err(anyhow::Error::msg)?;
                producer
                    .send(
                        FutureRecord::to(&topic)
                            .key(stream.as_str())
                            .payload(&payload),
                        Timeout::Never,
                    )
                    .await
                    .map_err(|(e, _)| e)?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }
    })
    .await?;
    let run = Run::new(latencies, started.elapsed());
    drop(log);
    Ok(run)
}

/// One task keeping up to 50,000 records in flight: what the producer can do at all.
async fn raw_pipelined(brokers: &str, window: Duration) -> anyhow::Result<f64> {
    let options = fresh_options(brokers);
    let log = KafkaLog::open(options.clone(), Arc::new(Default::default())).await?;
    let topic = format!("{}.account", options.topic_prefix);
    let producer: FutureProducer = crate::log::kafka::writer::producer_config(&options).create()?;
    let streams = account_streams(256);
    let deadline = Instant::now() + window;
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut acked = 0u64;
    let mut sent = 0u64;
    while Instant::now() < deadline {
        while in_flight.len() < 50_000 && Instant::now() < deadline {
            let stream = &streams[(sent % 256) as usize];
            sent += 1;
            let payload = wire::encode(stream.as_str(), sent, &sample_event(stream, sent))
                .map_err(anyhow::Error::msg)?;
            match producer.send_result(
                FutureRecord::to(&topic)
                    .key(stream.as_str())
                    .payload(&payload),
            ) {
                Ok(f) => in_flight.push(f),
                Err(_) => break,
            }
        }
        if let Some(r) = in_flight.next().await {
            if matches!(r, Ok(Ok(_))) {
                acked += 1;
            }
        }
    }
    while let Some(r) = in_flight.next().await {
        if matches!(r, Ok(Ok(_))) {
            acked += 1;
        }
    }
    drop(log);
    Ok(acked as f64 / started.elapsed().as_secs_f64())
}

/// Runs the comparison and prints it.
pub async fn run(
    brokers: &str,
    postgres: Option<&str>,
    window: Duration,
    levels: &[usize],
) -> anyhow::Result<()> {
    let scratch = Scratch::new("kafka")?;
    let (store, db) = match postgres {
        Some(admin) => {
            let (url, name) = pg_fresh(admin).await?;
            (ProjectionStore::connect(&url).await?, Some((admin, name)))
        }
        None => (
            ProjectionStore::connect(&format!(
                "sqlite://{}?mode=rwc",
                scratch.join("lease.sqlite").display()
            ))
            .await?,
            None,
        ),
    };
    println!(
        "switchboard bench log --kafka {brokers}: the Kafka log, {:.1} s per configuration, fresh topics each",
        window.as_secs_f64()
    );
    println!("baseline: a raw rdkafka FutureProducer with the writer's settings, as many tasks each sending the same envelope and awaiting it, same process");
    println!();
    println!(
        "{:<7} {:>9} {:>12} {:>12} {:>7} {:>9} {:>9} {:>13} {:>13}",
        "backend",
        "appenders",
        "events/s",
        "baseline/s",
        "ratio",
        "p50 ms",
        "p99 ms",
        "raw p50 ms",
        "raw p99 ms"
    );
    for &n in levels {
        let raw = raw_senders(brokers, n, window).await?;
        let log: Arc<dyn EventLog> = Arc::new(open_log(brokers, &store).await?);
        let run = appenders(&log, n, window).await?;
        log.shutdown().await;
        println!(
            "{:<7} {:>9} {:>12.0} {:>12.0} {:>7.2} {:>9.2} {:>9.2} {:>13.2} {:>13.2}",
            "kafka",
            n,
            run.rate,
            raw.rate,
            run.rate / raw.rate,
            ms(run.p50),
            ms(run.p99),
            ms(raw.p50),
            ms(raw.p99),
        );
    }
    let pipelined = raw_pipelined(brokers, window).await?;
    println!();
    println!("raw producer fully pipelined (one task, 50,000 in flight): {pipelined:.0} records/s");
    store.close().await;
    if let Some((admin, name)) = db {
        pg_drop(admin, &name).await?;
    }
    Ok(())
}
