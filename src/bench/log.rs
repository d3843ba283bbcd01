//! `switchboard bench log`: what the embedded log costs over raw SQLite.
//!
//! For each durability, a baseline first: the same events written by raw batched sqlx inserts
//! (1,024 events per transaction, multi-row INSERTs, same schema and pragmas) into a fresh
//! database in this process. Then the log itself with 1, 16 and 256 concurrent appenders, each
//! appending single-event commands to its own stream with an exact expected version, each
//! acknowledged only after its commit. Figures are events/s and the ratio to the baseline.
//! Last, the replay rate: the whole log read through a subscription, every event decoded into
//! its typed form and folded into an in-memory map.
//!
//! This file also owns what `bench log` prints and the baseline's events, which the
//! PostgreSQL variant ([`super::postgres`]) shares, so the two tables read alike.

use super::fixtures::{account_streams, sample_event, Scratch};
use super::measure::{appenders, ms, Commits, Run};
use crate::log::sqlite::{chunks, connect_options, Durability, SqliteLog, SqliteLogOptions};
use crate::log::{Checkpoint, EventLog};
use futures::StreamExt;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::{Event, NewEvent, Sid};

/// Runs `bench log` on SQLite files in `dir` (a scratch directory, removed afterwards, when
/// none is given).
pub async fn run(
    dir: Option<PathBuf>,
    window: Duration,
    levels: &[usize],
    durabilities: &[Durability],
) -> anyhow::Result<()> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            bench(&dir, window, levels, durabilities).await
        }
        None => {
            let scratch = Scratch::new("log")?;
            bench(scratch.path(), window, levels, durabilities).await
        }
    }
}

/// Bytes stored per event: the packed header, the JSON data, and three integers.
fn event_bytes(e: &NewEvent) -> usize {
    crate::log::record::encode_header(e)
        .map(|h| h.len())
        .unwrap_or(0)
        + e.data.len()
        + 3 * 8
}

/// One event as a baseline inserts it: the log's own stored columns.
pub(super) struct StoredRow {
    pub position: i64,
    pub stream_id: i64,
    pub seq: i64,
    pub header: Vec<u8>,
    pub data: String,
}

/// The events a baseline writes: [`sample_event`]s spread round-robin over 256 streams,
/// positions from 1 and each stream's `seq` from 1, as the log would place them.
pub(super) struct BaselineEvents {
    streams: Vec<Sid>,
    seqs: Vec<i64>,
    position: i64,
}

impl BaselineEvents {
    pub fn new() -> BaselineEvents {
        let streams = account_streams(256);
        BaselineEvents {
            seqs: vec![0; streams.len()],
            streams,
            position: 0,
        }
    }

    /// The streams, in `stream_id` order (ids from 1).
    pub fn streams(&self) -> &[Sid] {
        &self.streams
    }

    /// Events handed out so far.
    pub fn written(&self) -> i64 {
        self.position
    }

    /// The next `n` events.
    pub fn next_batch(&mut self, n: usize) -> Vec<StoredRow> {
        let batch: Vec<StoredRow> = (0..n)
            .map(|k| {
                let s = (self.position as usize + k) % self.streams.len();
                self.seqs[s] += 1;
                let e = sample_event(&self.streams[s], self.seqs[s] as u64);
                StoredRow {
                    position: self.position + k as i64 + 1,
                    stream_id: s as i64 + 1,
                    seq: self.seqs[s],
                    header: crate::log::record::encode_header(&e).unwrap_or_default(),
                    data: e.data,
                }
            })
            .collect();
        self.position += batch.len() as i64;
        batch
    }
}

/// The column headings of `bench log`'s table; `first` names the first column.
pub(super) fn print_heading(first: &str) {
    println!(
        "{:<11} {:>9} {:>12} {:>12} {:>7} {:>9} {:>9} {:>11}",
        first, "appenders", "events/s", "baseline/s", "ratio", "p50 ms", "p99 ms", "mean batch"
    );
}

/// One row: the log at `appenders` against the baseline's rate.
pub(super) fn print_row(label: &str, appenders: usize, run: &Run, baseline: f64, mean_batch: f64) {
    println!(
        "{:<11} {:>9} {:>12.0} {:>12.0} {:>7.2} {:>9.2} {:>9.2} {:>11.1}",
        label,
        appenders,
        run.rate,
        baseline,
        run.rate / baseline,
        ms(run.p50),
        ms(run.p99),
        mean_batch
    );
}

/// The line under a row: the baseline again in transactions of the log's mean batch
/// (`shape`), which isolates what the log's own machinery costs from how many appends it
/// could group.
pub(super) fn print_same_shape(run: &Run, same: f64, shape: usize) {
    println!(
        "{:<11} {:>9} {:>12} {:>12.0} {:>7.2}   (baseline in transactions of {shape}, the log's mean batch)",
        "", "", "", same, run.rate / same
    );
}

/// The baseline transaction size that matches the log's mean batch.
pub(super) fn same_shape(commits: &Commits) -> usize {
    commits.mean_batch().round().max(1.0) as usize
}

async fn baseline(
    path: &Path,
    durability: Durability,
    window: Duration,
    per_txn: usize,
) -> anyhow::Result<f64> {
    crate::log::sqlite::migrate(path).await?;
    let mut conn = SqliteConnection::connect_with(&connect_options(path, durability)).await?;
    let mut events = BaselineEvents::new();
    let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO streams (id, name) ");
    q.push_values(events.streams().iter().enumerate(), |mut b, (i, s)| {
        b.push_bind(i as i64 + 1).push_bind(s.as_str());
    });
    q.build().execute(&mut conn).await?;
    // Only the writes are timed: each batch is built before its clock starts, so the
    // baseline's rate counts inserting and committing, never preparing events.
    let mut writing = Duration::ZERO;
    let started = Instant::now();
    while started.elapsed() < window {
        let batch = events.next_batch(per_txn);
        let write = Instant::now();
        let mut tx = conn.begin().await?;
        for chunk in chunks(&batch) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (position, stream_id, seq, header, data) ",
            );
            q.push_values(chunk, |mut b, row| {
                b.push_bind(row.position)
                    .push_bind(row.stream_id)
                    .push_bind(row.seq)
                    .push_bind(row.header.as_slice())
                    .push_bind(row.data.as_str());
            });
            q.build().persistent(true).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        writing += write.elapsed();
    }
    Ok(events.written() as f64 / writing.as_secs_f64().max(1e-9))
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

async fn bench(
    dir: &Path,
    window: Duration,
    levels: &[usize],
    durabilities: &[Durability],
) -> anyhow::Result<()> {
    let sample = sample_event(&account_streams(1)[0], 1);
    println!(
        "switchboard bench log: single-event appends, ~{} bytes per event, {:.1} s per configuration",
        event_bytes(&sample),
        window.as_secs_f64()
    );
    println!("baseline: raw batched sqlx INSERTs of the same events (1,024 per transaction), same schema and pragmas, same process");
    println!();
    print_heading("durability");
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
            print_row(&tag, n, &run, base, commits.mean_batch());
            log.shutdown().await;
            let shape = same_shape(&commits);
            let same = baseline(
                &dir.join(format!("same-{tag}-{n}.sqlite")),
                durability,
                window,
                shape,
            )
            .await?;
            print_same_shape(&run, same, shape);
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
