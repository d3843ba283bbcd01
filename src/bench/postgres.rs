//! `switchboard bench log --postgres ADMIN_URL`: the PostgreSQL log next to raw batched
//! inserts on the same server.
//!
//! A baseline first: the same events as `bench log`'s ([`super::log::BaselineEvents`])
//! written by one `UNNEST` INSERT and one commit per 1,024 events into the log's own schema,
//! in a fresh database. Then the log itself, in a fresh database per concurrency level, with
//! as many appenders each appending single-event commands to its own stream; and the
//! baseline again in transactions of the log's mean batch. Every database is dropped
//! afterwards.

use super::fixtures::{pg_drop, pg_fresh};
use super::log::{print_heading, print_row, print_same_shape, same_shape, BaselineEvents};
use super::measure::{appenders, Commits};
use crate::log::EventLog;
use sqlx::Connection;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::Sid;

/// One batch of the baseline, column by column (UNNEST takes arrays).
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
async fn baseline(admin: &str, window: Duration, per_txn: usize) -> anyhow::Result<f64> {
    let (url, name) = pg_fresh(admin).await?;
    crate::log::postgres::migrate(&url).await?;
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    let mut events = BaselineEvents::new();
    let ids: Vec<i64> = (1..=events.streams().len() as i64).collect();
    let names: Vec<&str> = events.streams().iter().map(Sid::as_str).collect();
    sqlx::query("INSERT INTO streams (id, name) SELECT * FROM UNNEST($1::bigint[], $2::text[])")
        .bind(&ids)
        .bind(&names)
        .execute(&mut conn)
        .await?;
    // Only the writes are timed: each batch's columns are built before its clock starts.
    let mut writing = Duration::ZERO;
    let started = Instant::now();
    while started.elapsed() < window {
        let mut cols = PgColumns::default();
        for row in events.next_batch(per_txn) {
            cols.positions.push(row.position);
            cols.streams.push(row.stream_id);
            cols.seqs.push(row.seq);
            cols.headers.push(row.header);
            cols.data.push(row.data);
        }
        let write = Instant::now();
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
        writing += write.elapsed();
    }
    let rate = events.written() as f64 / writing.as_secs_f64().max(1e-9);
    conn.close().await?;
    pg_drop(admin, &name).await?;
    Ok(rate)
}

/// Runs the comparison on the server `admin` names and prints it.
pub async fn run(admin: &str, window: Duration, levels: &[usize]) -> anyhow::Result<()> {
    println!(
        "switchboard bench log --postgres: the PostgreSQL log, {:.1} s per configuration",
        window.as_secs_f64()
    );
    println!("baseline: raw UNNEST INSERTs of the same events (1,024 per transaction) into the same schema, same server, same process");
    println!();
    print_heading("backend");
    let base = baseline(admin, window, 1024).await?;
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
        print_row("postgres", n, &run, base, commits.mean_batch());
        let shape = same_shape(&commits);
        let same = baseline(admin, window, shape).await?;
        print_same_shape(&run, same, shape);
    }
    Ok(())
}
