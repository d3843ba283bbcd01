//! `switchboard bench lag`: projection lag under load. Appenders create an account each and
//! then rename it over and over, while the projector keeps the `accounts` read model; for
//! every acknowledged append, the time until the read model's checkpoint passed its
//! position. Printed with the appends/s achieved meanwhile.
//!
//! Backends: SQLite files (durability normal) by default; `--postgres` puts the log and the
//! read models in fresh PostgreSQL databases; with `--kafka` too, a Kafka log on fresh topics
//! with the read models (and the writer lease) on PostgreSQL. Every database is dropped
//! afterwards.

use super::fixtures::{pg_drop, pg_fresh, sample_event, Scratch};
use super::measure::{concurrently, ms, Latencies};
use crate::log::sqlite::{Durability, SqliteLog, SqliteLogOptions};
use crate::log::{Checkpoint, EventLog};
use crate::projector::Projector;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_events::account::{AccountCreated, AccountStatus, AccountType};
use switchboard_events::{Event, ExpectedVersion, Metadata, NewEvent, Position, SidPrefix};
use switchboard_projections::store::ProjectionStore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The checkpoints the projector committed, each with when it did.
type Progress = Arc<Mutex<Vec<(Checkpoint, Instant)>>>;

/// Runs the benchmark and prints its figures.
pub async fn run(
    window: Duration,
    appenders: usize,
    postgres: Option<&str>,
    kafka: Option<&str>,
) -> anyhow::Result<()> {
    let scratch = Scratch::new("lag")?;
    let (log, store, drop_dbs) = open(&scratch, postgres, kafka).await?;
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
    let progress: Progress = Arc::default();
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
    let started = Instant::now();
    let acks = load(&log, appenders, window).await?;
    let elapsed = started.elapsed().as_secs_f64();
    wait_for_catch_up(&progress, &acks).await;
    stop.cancel();
    runner.await?;
    let progress = progress.lock().map(|p| p.clone()).unwrap_or_default();
    let lags = lags(&acks, &progress);
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
        ms(lags.percentile(0.5)),
        ms(lags.percentile(0.99)),
        ms(lags.max()),
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
    Ok(())
}

/// The log and the read-model store the flags name, with the PostgreSQL databases made for
/// them (to drop afterwards).
async fn open(
    scratch: &Scratch,
    postgres: Option<&str>,
    kafka: Option<&str>,
) -> anyhow::Result<(Arc<dyn EventLog>, ProjectionStore, Vec<String>)> {
    Ok(match (postgres, kafka) {
        (Some(admin), Some(brokers)) => {
            let (views_url, views_db) = pg_fresh(admin).await?;
            let store = ProjectionStore::connect(&views_url).await?;
            let log = super::kafka::open_log(brokers, &store).await?;
            (Arc::new(log), store, vec![views_db])
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
            Vec::new(),
        ),
        (Some(admin), None) => {
            let (log_url, log_db) = pg_fresh(admin).await?;
            let (views_url, views_db) = pg_fresh(admin).await?;
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
                vec![log_db, views_db],
            )
        }
    })
}

/// `appenders` tasks, each creating an account and renaming it until `window` is over:
/// every acknowledged append's position and when it was acknowledged.
async fn load(
    log: &Arc<dyn EventLog>,
    appenders: usize,
    window: Duration,
) -> anyhow::Result<Vec<(Position, Instant)>> {
    let deadline = Instant::now() + window;
    concurrently(appenders, || {
        let log = log.clone();
        async move {
            let sid = crate::commands::new_sid(SidPrefix::Account);
            let meta = Metadata {
                occurred_at: crate::commands::now_ms(),
                account_sid: sid.clone(),
                correlation_id: Uuid::now_v7(),
                causation_id: None,
                region: "bench".into(),
            };
            let created = Event::AccountCreated(AccountCreated {
                friendly_name: "lag".into(),
                owner_account_sid: None,
                auth_token_hash: "00".repeat(32),
                auth_token_sealed: None,
                status: AccountStatus::Active,
                account_type: AccountType::Full,
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
        }
    })
    .await
}

/// Waits (at most a minute) until the projector's last checkpoint passed every ack.
async fn wait_for_catch_up(progress: &Progress, acks: &[(Position, Instant)]) {
    let mut head = Checkpoint::new();
    for (p, _) in acks {
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
}

/// For every ack, the time from it to the first committed checkpoint past its position
/// (acks no checkpoint passed are left out).
fn lags(acks: &[(Position, Instant)], progress: &[(Checkpoint, Instant)]) -> Latencies {
    acks.iter()
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
        .collect()
}
