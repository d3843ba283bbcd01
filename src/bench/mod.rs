//! `switchboard bench …`: benchmarks that print their figures next to a baseline measured in
//! the same run, on the same machine, so a figure is read as a ratio and not on its own.
//!
//! | benchmark | file | measures | baseline |
//! |---|---|---|---|
//! | `bench log` | [`log`] | appends/s and append latency of the embedded (SQLite) log at 1, 16 and 256 appenders, durability full and normal; the replay rate into a fold | raw batched sqlx INSERTs of the same events |
//! | `bench log --postgres` | [`postgres`] | the same for the PostgreSQL log | raw `UNNEST` INSERTs into the same schema |
//! | `bench log --kafka` | [`kafka`] | the same for the Kafka log | a raw rdkafka producer with the writer's settings |
//! | `bench lag` | [`lag`] | projection lag, from an append's acknowledgement to the read model having it | — (the appends/s achieved meanwhile) |
//! | `bench taskrouter` | [`taskrouter`] | the highest task rate with p99 < 20 ms from each task's scheduled time to its reservation at a worker; the server in a child process, workers of capacity 1 accepting and completing at once | raw log appends of the same log code |
//! | `bench sip` | [`sip`] | SIP calls/s, setup time, CPU per call and RTP playback quality under SIPp | SIPp's own answer-only `uas` |
//! | `bench router` | [`router`] | calls/s, failures and INVITE → first RTP packet through the whole call router (webhook, TwiML, `<Play>`, `<Hangup>`), the application in another process ([`static_responder`]) | SIPp's own answer-only `uas` |
//!
//! What they share: [`measure`] (nearest-rank percentiles, latency samples, the timed append
//! load, the log writer's commit counter) and [`fixtures`] (scratch directories, sample
//! events, fresh PostgreSQL databases). Every percentile printed goes through
//! [`measure::percentile`], so every benchmark ranks its samples the same way.

pub mod first_packet;
pub mod fixtures;
pub mod kafka;
pub mod lag;
pub mod log;
pub mod measure;
pub mod postgres;
pub mod router;
pub mod sip;
pub mod sipp;
pub mod stages;
pub mod static_responder;
pub mod taskrouter;
pub mod voice_app;

use crate::config::BenchCommand;
use std::time::Duration;

/// Runs a benchmark subcommand.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Lag {
            seconds,
            appenders,
            postgres,
            kafka,
        } => {
            lag::run(
                Duration::from_secs_f64(seconds),
                appenders,
                postgres.as_deref(),
                kafka.as_deref(),
            )
            .await
        }
        BenchCommand::Sip(options) => {
            tokio::task::spawn_blocking(move || sip::run(options)).await?
        }
        BenchCommand::Router(options) => {
            tokio::task::spawn_blocking(move || router::run(options)).await?
        }
        BenchCommand::StaticResponder { twiml, wav } => static_responder::run(&twiml, &wav).await,
        BenchCommand::Taskrouter {
            seconds,
            rates,
            workers,
            queues,
            clients,
            projections,
        } => {
            let options = taskrouter::TaskRouterBenchOptions {
                window: Duration::from_secs_f64(seconds),
                rates: rates.into_iter().map(|r| r.max(1)).collect(),
                workers: workers.max(1),
                queues: queues.max(1),
                clients: clients.max(1),
                projections,
            };
            taskrouter::run(options).await
        }
        BenchCommand::Log {
            kafka: Some(brokers),
            postgres,
            seconds,
            appenders,
            ..
        } => {
            kafka::run(
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
        } => postgres::run(&admin, Duration::from_secs_f64(seconds), &appenders).await,
        BenchCommand::Log {
            seconds,
            appenders,
            durability,
            dir,
            postgres: None,
            kafka: None,
        } => {
            log::run(
                dir,
                Duration::from_secs_f64(seconds),
                &appenders,
                &durability,
            )
            .await
        }
    }
}
