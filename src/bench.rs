//! `switchboard bench log`: what the embedded log costs over raw SQLite.
//!
//! For each durability, a baseline first: the same events written by raw batched sqlx inserts
//! (1,024 events per transaction, multi-row INSERTs, same schema and pragmas) into a fresh
//! database in this process. Then the log itself with 1, 16 and 256 concurrent appenders, each
//! appending single-event commands to its own stream with an exact expected version, each
//! acknowledged only after its commit. Figures are events/s and the ratio to the baseline.
//! Last, the replay rate: the whole log read through a subscription, every event decoded into
//! its typed form and folded into an in-memory map.

use crate::config::BenchCommand;
use crate::log::sqlite::{chunks, connect_options, Durability, SqliteLog, SqliteLogOptions};
use crate::log::{Checkpoint, EventLog};
use futures::StreamExt;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::account::{AccountStatus, AccountUpdated};
use switchboard_events::{Event, ExpectedVersion, Metadata, NewEvent, Sid, SidPrefix};
use uuid::Uuid;

/// Runs a benchmark subcommand.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Log {
            seconds,
            appenders,
            dir,
        } => {
            let scratch = match dir {
                Some(d) => {
                    std::fs::create_dir_all(&d)?;
                    (d, None)
                }
                None => {
                    let t = tempfile_dir()?;
                    (t.clone(), Some(t))
                }
            };
            let result = bench_log(&scratch.0, Duration::from_secs_f64(seconds), &appenders).await;
            if let Some(t) = scratch.1 {
                let _ = std::fs::remove_dir_all(t);
            }
            result
        }
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("switchboard-bench-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn sample_event(stream: &Sid, i: u64) -> NewEvent {
    let meta = Metadata {
        occurred_at: crate::commands::now_ms(),
        account_sid: stream.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        region: "bench".into(),
    };
    let event = Event::AccountUpdated(AccountUpdated {
        friendly_name: Some(format!("{:0>64}", format!("benchmark event number {i}"))),
        status: Some(AccountStatus::Active),
    });
    NewEvent::new(Uuid::now_v7(), &meta, &event)
}

fn event_bytes(e: &NewEvent) -> usize {
    16 + 8 + e.account_sid.as_str().len() + 16 + e.region.len() + e.event_type.len() + 4 + e.data.len() + 3 * 8
}

async fn baseline(path: &Path, durability: Durability, window: Duration) -> anyhow::Result<f64> {
    let mut conn = SqliteConnection::connect_with(&connect_options(path, durability)).await?;
    sqlx::migrate!("./migrations/sqlite/log").run(&mut conn).await?;
    let streams: Vec<Sid> = (0..256).map(|_| crate::commands::new_sid(SidPrefix::Account)).collect();
    let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO streams (id, name) ");
    q.push_values(streams.iter().enumerate(), |mut b, (i, s)| {
        b.push_bind(i as i64 + 1).push_bind(s.as_str());
    });
    q.build().execute(&mut conn).await?;
    let mut seqs = vec![0i64; streams.len()];
    let mut position = 0i64;
    let started = Instant::now();
    while started.elapsed() < window {
        // Events are generated outside the timed write, as the log's appenders generate
        // theirs before sending.
        let batch: Vec<(i64, i64, i64, NewEvent)> = (0..1024)
            .map(|k| {
                let s = (position as usize + k) % streams.len();
                seqs[s] += 1;
                (position + k as i64 + 1, s as i64 + 1, seqs[s], sample_event(&streams[s], seqs[s] as u64))
            })
            .collect();
        position += batch.len() as i64;
        let mut tx = conn.begin().await?;
        for chunk in chunks(&batch) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (position, stream_id, seq, id, occurred_at, account_sid, \
                 correlation_id, causation_id, region, type, schema_version, data) ",
            );
            q.push_values(chunk, |mut b, (p, s, seq, e)| {
                b.push_bind(*p)
                    .push_bind(*s)
                    .push_bind(*seq)
                    .push_bind(e.id.as_bytes().as_slice())
                    .push_bind(e.occurred_at.timestamp_millis())
                    .push_bind(e.account_sid.as_str())
                    .push_bind(e.correlation_id.as_bytes().as_slice())
                    .push_bind(e.causation_id.as_ref().map(|c| c.as_bytes().as_slice()))
                    .push_bind(e.region.as_str())
                    .push_bind(e.event_type.as_str())
                    .push_bind(i64::from(e.schema_version))
                    .push_bind(e.data.as_str());
            });
            q.build().persistent(true).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(position as f64 / started.elapsed().as_secs_f64())
}

struct Run {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

async fn appenders(log: &SqliteLog, n: usize, window: Duration) -> anyhow::Result<Run> {
    let deadline = Instant::now() + window;
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move {
                let stream = crate::commands::new_sid(SidPrefix::Account);
                let mut version = 0u64;
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let event = sample_event(&stream, version + 1);
                    let t = Instant::now();
                    let appended = log
                        .append(stream.as_str(), ExpectedVersion::after_load(version), vec![event])
                        .await?;
                    latencies.push(t.elapsed());
                    version = appended.version;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pick = |q: f64| all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or_default();
    Ok(Run {
        rate: all.len() as f64 / elapsed,
        p50: pick(0.5),
        p99: pick(0.99),
    })
}

async fn replay(log: &SqliteLog) -> anyhow::Result<(u64, f64)> {
    let head = log.heads().await?.get(&0).copied().unwrap_or(0);
    let started = Instant::now();
    let mut fold: HashMap<String, u64> = HashMap::new();
    let mut count = 0u64;
    let mut stream = log.subscribe(Checkpoint::new());
    'outer: while let Some(batch) = stream.next().await {
        for item in batch? {
            let recorded = item?;
            let envelope = recorded.decode()?;
            if let Event::AccountUpdated(_) = envelope.event {
                fold.insert(envelope.stream, envelope.seq);
            }
            count += 1;
            if recorded.position.offset >= head {
                break 'outer;
            }
        }
    }
    Ok((count, count as f64 / started.elapsed().as_secs_f64()))
}

async fn bench_log(dir: &Path, window: Duration, levels: &[usize]) -> anyhow::Result<()> {
    let sample = sample_event(&crate::commands::new_sid(SidPrefix::Account), 1);
    println!(
        "switchboard bench log: single-event appends, ~{} bytes per event, {:.1} s per configuration",
        event_bytes(&sample),
        window.as_secs_f64()
    );
    println!("baseline: raw batched sqlx INSERTs of the same events (1,024 per transaction), same schema and pragmas, same process");
    println!();
    println!("{:<11} {:>9} {:>12} {:>12} {:>7} {:>9} {:>9}", "durability", "appenders", "events/s", "baseline/s", "ratio", "p50 ms", "p99 ms");
    let mut replay_source = None;
    for durability in [Durability::Full, Durability::Normal] {
        let tag = format!("{durability:?}").to_lowercase();
        let base = baseline(&dir.join(format!("baseline-{tag}.sqlite")), durability, window).await?;
        for &n in levels {
            let path = dir.join(format!("log-{tag}-{n}.sqlite"));
            let log = SqliteLog::open(
                &path,
                SqliteLogOptions {
                    durability,
                    ..SqliteLogOptions::default()
                },
                Arc::new(()),
            )
            .await?;
            let run = appenders(&log, n, window).await?;
            println!(
                "{:<11} {:>9} {:>12.0} {:>12.0} {:>7.2} {:>9.2} {:>9.2}",
                tag,
                n,
                run.rate,
                base,
                run.rate / base,
                run.p50.as_secs_f64() * 1e3,
                run.p99.as_secs_f64() * 1e3
            );
            log.shutdown().await;
            replay_source = Some(path);
        }
    }
    if let Some(path) = replay_source {
        let log = SqliteLog::open(&path, SqliteLogOptions::default(), Arc::new(())).await?;
        let (count, rate) = replay(&log).await?;
        println!();
        println!("replay: {count} events read through a subscription, decoded (typed) and folded: {rate:.0} events/s");
        log.shutdown().await;
    }
    Ok(())
}
