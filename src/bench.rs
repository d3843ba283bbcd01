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
        BenchCommand::Lag {
            seconds,
            appenders,
            postgres,
            kafka,
        } => {
            bench_lag(
                Duration::from_secs_f64(seconds),
                appenders,
                postgres.as_deref(),
                kafka.as_deref(),
            )
            .await
        }
        BenchCommand::Sip {
            sipp,
            rate,
            calls,
            call_ms,
            concurrent,
            audio_secs,
        } => {
            let options = crate::bench_sip::SipBenchOptions {
                sipp,
                rate,
                calls,
                call_ms,
                concurrent,
                audio_secs,
            };
            tokio::task::spawn_blocking(move || crate::bench_sip::run(options)).await?
        }
        BenchCommand::Taskrouter {
            seconds,
            rate,
            workers,
            queues,
            clients,
            projections,
        } => {
            crate::bench_taskrouter::run(
                Duration::from_secs_f64(seconds),
                rate,
                workers,
                queues,
                clients,
                projections,
            )
            .await
        }
        BenchCommand::Log {
            kafka: Some(brokers),
            postgres,
            seconds,
            appenders,
            ..
        } => {
            crate::bench_kafka::bench_kafka(
                &brokers,
                postgres.as_deref(),
                Duration::from_secs_f64(seconds),
                &appenders,
            )
            .await
        }
        BenchCommand::Log {
            postgres: Some(admin),
            seconds,
            appenders,
            ..
        } => bench_postgres(&admin, Duration::from_secs_f64(seconds), &appenders).await,
        BenchCommand::Log {
            seconds,
            appenders,
            durability,
            dir,
            postgres: None,
            kafka: None,
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
            let result = bench_log(
                &scratch.0,
                Duration::from_secs_f64(seconds),
                &appenders,
                &durability,
            )
            .await;
            if let Some(t) = scratch.1 {
                let _ = std::fs::remove_dir_all(t);
            }
            result
        }
    }
}

pub(crate) fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("switchboard-bench-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub(crate) fn sample_event(stream: &Sid, i: u64) -> NewEvent {
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

/// Bytes stored per event: the packed header, the JSON data, and three integers.
fn event_bytes(e: &NewEvent) -> usize {
    crate::log::record::encode_header(e)
        .map(|h| h.len())
        .unwrap_or(0)
        + e.data.len()
        + 3 * 8
}

/// position, stream id, seq, (header, data)
type BaselineRow = (i64, i64, i64, (Vec<u8>, String));

async fn baseline(
    path: &Path,
    durability: Durability,
    window: Duration,
    per_txn: usize,
) -> anyhow::Result<f64> {
    let mut conn = SqliteConnection::connect_with(&connect_options(path, durability)).await?;
    sqlx::migrate!("./migrations/sqlite/log")
        .run(&mut conn)
        .await?;
    let streams: Vec<Sid> = (0..256)
        .map(|_| crate::commands::new_sid(SidPrefix::Account))
        .collect();
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
        let batch: Vec<BaselineRow> = (0..per_txn)
            .map(|k| {
                let s = (position as usize + k) % streams.len();
                seqs[s] += 1;
                let e = sample_event(&streams[s], seqs[s] as u64);
                let header = crate::log::record::encode_header(&e).unwrap_or_default();
                (
                    position + k as i64 + 1,
                    s as i64 + 1,
                    seqs[s],
                    (header, e.data),
                )
            })
            .collect();
        position += batch.len() as i64;
        let mut tx = conn.begin().await?;
        for chunk in chunks(&batch) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (position, stream_id, seq, header, data) ",
            );
            q.push_values(chunk, |mut b, (p, s, seq, (header, data))| {
                b.push_bind(*p)
                    .push_bind(*s)
                    .push_bind(*seq)
                    .push_bind(header.as_slice())
                    .push_bind(data.as_str());
            });
            q.build().persistent(true).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(position as f64 / started.elapsed().as_secs_f64())
}

/// Counts commits, to report the mean batch (how well group commit is working).
#[derive(Default)]
struct Commits {
    commits: std::sync::atomic::AtomicU64,
    events: std::sync::atomic::AtomicU64,
}

impl crate::log::writer::WriterObserver for Commits {
    fn committed(&self, _: usize, events: usize, _: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        self.commits.fetch_add(1, Relaxed);
        self.events.fetch_add(events as u64, Relaxed);
    }
}

impl Commits {
    fn mean_batch(&self) -> f64 {
        use std::sync::atomic::Ordering::Relaxed;
        self.events.load(Relaxed) as f64 / self.commits.load(Relaxed).max(1) as f64
    }
}

/// The `q` quantile of sorted durations (zero when there are none).
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or_default()
}

pub(crate) struct Run {
    pub rate: f64,
    pub p50: Duration,
    pub p99: Duration,
}

pub(crate) async fn appenders(
    log: &Arc<dyn EventLog>,
    n: usize,
    window: Duration,
) -> anyhow::Result<Run> {
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
                        .append(
                            stream.as_str(),
                            ExpectedVersion::after_load(version),
                            vec![event],
                        )
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
    let pick = |q: f64| percentile(&all, q);
    Ok(Run {
        rate: all.len() as f64 / elapsed,
        p50: pick(0.5),
        p99: pick(0.99),
    })
}

async fn replay(log: &dyn EventLog) -> anyhow::Result<(u64, f64)> {
    let head = log.heads().await?.get(&0).copied().unwrap_or(0);
    let started = Instant::now();
    let mut fold: HashMap<String, u64> = HashMap::new();
    let mut count = 0u64;
    let mut stream = log.subscribe(Checkpoint::new());
    'outer: while let Some(batch) = stream.next().await {
        for item in batch? {
            let recorded = item?;
            let at = recorded.position.offset;
            let envelope = recorded.into_envelope()?;
            if let Event::AccountUpdated(_) = envelope.event {
                fold.insert(envelope.stream, envelope.seq);
            }
            count += 1;
            if at >= head {
                break 'outer;
            }
        }
    }
    Ok((count, count as f64 / started.elapsed().as_secs_f64()))
}

async fn bench_log(
    dir: &Path,
    window: Duration,
    levels: &[usize],
    durabilities: &[Durability],
) -> anyhow::Result<()> {
    let sample = sample_event(&crate::commands::new_sid(SidPrefix::Account), 1);
    println!(
        "switchboard bench log: single-event appends, ~{} bytes per event, {:.1} s per configuration",
        event_bytes(&sample),
        window.as_secs_f64()
    );
    println!("baseline: raw batched sqlx INSERTs of the same events (1,024 per transaction), same schema and pragmas, same process");
    println!();
    println!(
        "{:<11} {:>9} {:>12} {:>12} {:>7} {:>9} {:>9} {:>11}",
        "durability",
        "appenders",
        "events/s",
        "baseline/s",
        "ratio",
        "p50 ms",
        "p99 ms",
        "mean batch"
    );
    let mut replay_source = None;
    for durability in [Durability::Full, Durability::Normal] {
        if !durabilities.contains(&durability) {
            continue;
        }
        let tag = format!("{durability:?}").to_lowercase();
        let base = baseline(
            &dir.join(format!("baseline-{tag}.sqlite")),
            durability,
            window,
            1024,
        )
        .await?;
        for &n in levels {
            let path = dir.join(format!("log-{tag}-{n}.sqlite"));
            let commits = Arc::new(Commits::default());
            let log: Arc<dyn EventLog> = Arc::new(
                SqliteLog::open(
                    &path,
                    SqliteLogOptions {
                        durability,
                        ..SqliteLogOptions::default()
                    },
                    commits.clone(),
                )
                .await?,
            );
            let run = appenders(&log, n, window).await?;
            println!(
                "{:<11} {:>9} {:>12.0} {:>12.0} {:>7.2} {:>9.2} {:>9.2} {:>11.1}",
                tag,
                n,
                run.rate,
                base,
                run.rate / base,
                run.p50.as_secs_f64() * 1e3,
                run.p99.as_secs_f64() * 1e3,
                commits.mean_batch()
            );
            log.shutdown().await;
            // The same inserts in transactions of the size the log's commits had: what the
            // log's own machinery costs, apart from how many appends it could group.
            let shape = commits.mean_batch().round().max(1.0) as usize;
            let same = baseline(
                &dir.join(format!("same-{tag}-{n}.sqlite")),
                durability,
                window,
                shape,
            )
            .await?;
            println!(
                "{:<11} {:>9} {:>12} {:>12.0} {:>7.2}   (baseline in transactions of {shape}, the log's mean batch)",
                "", "", "", same, run.rate / same
            );
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

/// A database of its own on the benchmark's PostgreSQL server, dropped by [`pg_drop`].
pub(crate) async fn pg_fresh(admin: &str) -> anyhow::Result<(String, String)> {
    let name = format!("sb_bench_{}", Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    Ok((format!("{base}/{name}"), name))
}

pub(crate) async fn pg_drop(admin: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// One batch of the PostgreSQL baseline, column by column (UNNEST takes arrays).
#[derive(Default)]
struct PgColumns {
    positions: Vec<i64>,
    streams: Vec<i64>,
    seqs: Vec<i64>,
    headers: Vec<Vec<u8>>,
    data: Vec<String>,
}

/// Raw batched inserts into the PostgreSQL log's own schema: one `UNNEST` INSERT and one
/// commit per `per_txn` events.
async fn pg_baseline(admin: &str, window: Duration, per_txn: usize) -> anyhow::Result<f64> {
    let (url, name) = pg_fresh(admin).await?;
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    sqlx::migrate!("./migrations/postgres/log")
        .run(&mut conn)
        .await?;
    let streams: Vec<Sid> = (0..256)
        .map(|_| crate::commands::new_sid(SidPrefix::Account))
        .collect();
    let ids: Vec<i64> = (1..=streams.len() as i64).collect();
    let names: Vec<&str> = streams.iter().map(Sid::as_str).collect();
    sqlx::query("INSERT INTO streams (id, name) SELECT * FROM UNNEST($1::bigint[], $2::text[])")
        .bind(&ids)
        .bind(&names)
        .execute(&mut conn)
        .await?;
    let mut seqs = vec![0i64; streams.len()];
    let mut position = 0i64;
    let started = Instant::now();
    while started.elapsed() < window {
        let mut cols = PgColumns::default();
        for k in 0..per_txn {
            let s = (position as usize + k) % streams.len();
            seqs[s] += 1;
            let e = sample_event(&streams[s], seqs[s] as u64);
            cols.positions.push(position + k as i64 + 1);
            cols.streams.push(s as i64 + 1);
            cols.seqs.push(seqs[s]);
            cols.headers
                .push(crate::log::record::encode_header(&e).unwrap_or_default());
            cols.data.push(e.data);
        }
        position += per_txn as i64;
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO events (position, stream_id, seq, header, data) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[], $5::text[])",
        )
        .bind(&cols.positions)
        .bind(&cols.streams)
        .bind(&cols.seqs)
        .bind(&cols.headers)
        .bind(&cols.data)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    let rate = position as f64 / started.elapsed().as_secs_f64();
    conn.close().await?;
    pg_drop(admin, &name).await?;
    Ok(rate)
}

/// The PostgreSQL log against raw batched inserts on the same server.
async fn bench_postgres(admin: &str, window: Duration, levels: &[usize]) -> anyhow::Result<()> {
    println!(
        "switchboard bench log --postgres: the PostgreSQL log, {:.1} s per configuration",
        window.as_secs_f64()
    );
    println!("baseline: raw UNNEST INSERTs of the same events (1,024 per transaction) into the same schema, same server, same process");
    println!();
    println!(
        "{:<11} {:>9} {:>12} {:>12} {:>7} {:>9} {:>9} {:>11}",
        "backend", "appenders", "events/s", "baseline/s", "ratio", "p50 ms", "p99 ms", "mean batch"
    );
    let base = pg_baseline(admin, window, 1024).await?;
    for &n in levels {
        let (url, name) = pg_fresh(admin).await?;
        let commits = Arc::new(Commits::default());
        let log: Arc<dyn EventLog> = Arc::new(
            crate::log::postgres::PostgresLog::open(&url, Default::default(), commits.clone())
                .await?,
        );
        let run = appenders(&log, n, window).await?;
        log.shutdown().await;
        drop(log);
        pg_drop(admin, &name).await?;
        println!(
            "{:<11} {:>9} {:>12.0} {:>12.0} {:>7.2} {:>9.2} {:>9.2} {:>11.1}",
            "postgres",
            n,
            run.rate,
            base,
            run.rate / base,
            run.p50.as_secs_f64() * 1e3,
            run.p99.as_secs_f64() * 1e3,
            commits.mean_batch()
        );
        let shape = commits.mean_batch().round().max(1.0) as usize;
        let same = pg_baseline(admin, window, shape).await?;
        println!(
            "{:<11} {:>9} {:>12} {:>12.0} {:>7.2}   (baseline in transactions of {shape}, the log's mean batch)",
            "", "", "", same, run.rate / same
        );
    }
    Ok(())
}

/// Projection lag: appenders create an account each and then rename it over and over, while
/// the projector keeps the `accounts` read model; for every acknowledged append, the time
/// until the read model's checkpoint passed its position.
async fn bench_lag(
    window: Duration,
    appenders: usize,
    postgres: Option<&str>,
    kafka: Option<&str>,
) -> anyhow::Result<()> {
    use crate::projector::Projector;
    use std::sync::Mutex;
    use switchboard_projections::store::ProjectionStore;
    use tokio_util::sync::CancellationToken;

    let scratch = tempfile_dir()?;
    let mut drop_dbs = Vec::new();
    let (log, store): (Arc<dyn EventLog>, ProjectionStore) = match (postgres, kafka) {
        (Some(admin), Some(brokers)) => {
            let (views_url, views_db) = pg_fresh(admin).await?;
            drop_dbs = vec![views_db];
            let store = ProjectionStore::connect(&views_url).await?;
            let log = crate::bench_kafka::open_log(brokers, &store).await?;
            (Arc::new(log), store)
        }
        (None, _) => (
            Arc::new(
                SqliteLog::open(
                    &scratch.join("log.sqlite"),
                    SqliteLogOptions {
                        durability: Durability::Normal,
                        ..SqliteLogOptions::default()
                    },
                    Arc::new(()),
                )
                .await?,
            ),
            ProjectionStore::connect(&format!(
                "sqlite://{}?mode=rwc",
                scratch.join("views.sqlite").display()
            ))
            .await?,
        ),
        (Some(admin), None) => {
            let (log_url, log_db) = pg_fresh(admin).await?;
            let (views_url, views_db) = pg_fresh(admin).await?;
            drop_dbs = vec![log_db, views_db];
            (
                Arc::new(
                    crate::log::postgres::PostgresLog::open(
                        &log_url,
                        Default::default(),
                        Arc::new(()),
                    )
                    .await?,
                ),
                ProjectionStore::connect(&views_url).await?,
            )
        }
    };
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let projector = Arc::new(
        Projector::new(
            log.clone(),
            store.clone(),
            metrics,
            crate::projector::all_projections(),
        )
        .await?,
    );
    let progress: Arc<Mutex<Vec<(Checkpoint, Instant)>>> = Arc::default();
    let stop = CancellationToken::new();
    let runner = {
        let (projector, progress, stop) = (projector.clone(), progress.clone(), stop.clone());
        tokio::spawn(async move {
            let accounts = projector.projections()[0].clone();
            projector
                .run(accounts, None, stop, |cp| {
                    if let Ok(mut p) = progress.lock() {
                        p.push((cp.clone(), Instant::now()));
                    }
                })
                .await
        })
    };
    let deadline = Instant::now() + window;
    let started = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move {
                let sid = crate::commands::new_sid(SidPrefix::Account);
                let meta = Metadata {
                    occurred_at: crate::commands::now_ms(),
                    account_sid: sid.clone(),
                    correlation_id: Uuid::now_v7(),
                    causation_id: None,
                    region: "bench".into(),
                };
                let created = Event::AccountCreated(switchboard_events::account::AccountCreated {
                    friendly_name: "lag".into(),
                    owner_account_sid: None,
                    auth_token_hash: "00".repeat(32),
                    status: AccountStatus::Active,
                    account_type: switchboard_events::account::AccountType::Full,
                });
                let mut acks = Vec::new();
                let a = log
                    .append(
                        sid.as_str(),
                        ExpectedVersion::NoStream,
                        vec![NewEvent::new(Uuid::now_v7(), &meta, &created)],
                    )
                    .await?;
                acks.push((a.position, Instant::now()));
                let mut version = a.version;
                while Instant::now() < deadline {
                    let a = log
                        .append(
                            sid.as_str(),
                            ExpectedVersion::Exact(version),
                            vec![sample_event(&sid, version)],
                        )
                        .await?;
                    acks.push((a.position, Instant::now()));
                    version = a.version;
                }
                anyhow::Ok(acks)
            })
        })
        .collect();
    let mut acks = Vec::new();
    for t in tasks {
        acks.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut head = Checkpoint::new();
    for (p, _) in &acks {
        let at = head.entry(p.partition).or_insert(0);
        *at = (*at).max(p.offset);
    }
    let catch_up = Instant::now() + Duration::from_secs(60);
    while !progress
        .lock()
        .map(|p| {
            p.last()
                .is_some_and(|l| crate::projector::caught_up(&l.0, &head))
        })
        .unwrap_or(false)
        && Instant::now() < catch_up
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    runner.await?;
    let progress = progress.lock().map(|p| p.clone()).unwrap_or_default();
    let mut lags: Vec<Duration> = acks
        .iter()
        .filter_map(|(position, acked)| {
            let passed = |cp: &Checkpoint| {
                cp.get(&position.partition)
                    .is_some_and(|o| *o >= position.offset)
            };
            let i = progress.partition_point(|(cp, _)| !passed(cp));
            progress
                .get(i)
                .map(|(_, seen)| seen.saturating_duration_since(*acked))
        })
        .collect();
    lags.sort();
    let pick = |q: f64| percentile(&lags, q);
    println!(
        "switchboard bench lag ({}): {appenders} appenders, {:.1} s: {:.0} appends/s acknowledged; \
         projection lag from acknowledgement to read model (accounts): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} of {} measured)",
        match (postgres, kafka) {
            (Some(_), Some(_)) => "Kafka log, PostgreSQL read models",
            (Some(_), None) => "PostgreSQL log and read models",
            _ => "SQLite log (normal) and read models",
        },
        window.as_secs_f64(),
        acks.len() as f64 / elapsed,
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        lags.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        lags.len(),
        acks.len()
    );
    log.shutdown().await;
    store.close().await;
    if let Some(admin) = postgres {
        for db in drop_dbs {
            pg_drop(admin, &db).await?;
        }
    }
    let _ = std::fs::remove_dir_all(scratch);
    Ok(())
}
