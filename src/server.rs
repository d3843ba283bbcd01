//! `switchboard serve`: opens the log and the read-model store, starts the projector and the
//! SIP engine, serves the API, and shuts down in order on SIGTERM or Ctrl-C: stop accepting
//! connections, let in-flight requests finish, hang up calls and append their last events,
//! stop the projector, then let the log writer commit and answer
//! everything queued before it closes.

use crate::app::outbox::{Context as Outbox, Sender};
use crate::app::runner::Runner;
use crate::app::tokens::AuthTokens;
use crate::config::{LogBackend, Role, ServeArgs, SipListen, StoreArgs};
use crate::http::{app, AppState, HttpConfig};
use crate::log::kafka::lease::{Lease, LeaseError};
use crate::log::kafka::{KafkaLog, KafkaLogOptions};
use crate::log::postgres::{PostgresLog, PostgresLogOptions};
use crate::log::sqlite::{SqliteLog, SqliteLogOptions};
use crate::log::EventLog;
use crate::metrics::Metrics;
use crate::operator::token::OperatorTokens;
use crate::projector::{all_projections, Projector};
use crate::secrets::Keyring;
use crate::sip::{SipConfig, SipEngine};
use anyhow::Context;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use switchboard_projections::store::{ProjectionStore, StoreOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// The log, the store and the projector, opened together.
pub struct Opened {
    /// The log.
    pub log: Arc<dyn EventLog>,
    /// The read-model store.
    pub store: ProjectionStore,
    /// The projector over them.
    pub projector: Arc<Projector>,
    /// Metrics they report to.
    pub metrics: Arc<Metrics>,
}

/// Opens what `store` names; projections whose version changed are reset for a rebuild.
/// `writer`: this process appends (on Kafka it takes the writer lease, on PostgreSQL the
/// writer lock; without it the PostgreSQL log is opened read-only; the embedded log is always
/// opened for writing and refuses a second process itself).
pub async fn open(store: &StoreArgs, writer: bool) -> anyhow::Result<Opened> {
    let metrics = Arc::new(Metrics::default());
    let url = store.db_url()?;
    let options = StoreOptions {
        pool_size: store.db_pool_size,
    };
    let db = ProjectionStore::connect_with(&url, options)
        .await
        .with_context(|| format!("cannot open the read-model store {url}"))?;
    let log: Arc<dyn EventLog> = match store.log_backend()? {
        LogBackend::Sqlite(path) => {
            let options = SqliteLogOptions {
                durability: store.durability,
                ..SqliteLogOptions::default()
            };
            Arc::new(
                SqliteLog::open(&path, options, metrics.clone())
                    .await
                    .with_context(|| format!("cannot open the log at {}", path.display()))?,
            )
        }
        // Only the writer takes the writer lock; the other nodes read (and refuse appends).
        LogBackend::Postgres(url) if writer => Arc::new(
            PostgresLog::open(&url, PostgresLogOptions::default(), metrics.clone())
                .await
                .context("cannot open the PostgreSQL log")?,
        ),
        LogBackend::Postgres(url) => Arc::new(
            PostgresLog::open_read_only(&url, PostgresLogOptions::default())
                .await
                .context("cannot open the PostgreSQL log read-only")?,
        ),
        LogBackend::Kafka(brokers) => {
            Arc::new(open_kafka(store, &brokers, &db, writer, &metrics).await?)
        }
    };
    let mut projections = crate::projector::projections(store.taskrouter_events_retention());
    if !store.projections.is_empty() {
        for name in &store.projections {
            if !projections.iter().any(|p| p.name() == name) {
                anyhow::bail!(
                    "unknown projection {name:?} in --projections (known: {})",
                    all_projections()
                        .iter()
                        .map(|p| p.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        projections.retain(|p| store.projections.iter().any(|n| n == p.name()));
    }
    let projector =
        Arc::new(Projector::new(log.clone(), db.clone(), metrics.clone(), projections).await?);
    Ok(Opened {
        log,
        store: db,
        projector,
        metrics,
    })
}

async fn open_kafka(
    store: &StoreArgs,
    brokers: &str,
    db: &ProjectionStore,
    writer: bool,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<KafkaLog> {
    let mut options = KafkaLogOptions::new(brokers);
    options.topic_prefix = store.kafka_topic_prefix.clone();
    options.partitions = store.kafka_partitions.max(1);
    options.replication = store.kafka_replication.max(1);
    let ttl = Duration::from_millis(store.kafka_lease_ms.max(1000));
    // A record must be delivered or failed well within the lease (see `lease`).
    if ttl < options.message_timeout * 5 / 2 {
        options.message_timeout = ttl / 3;
    }
    if writer {
        let deadline = std::time::Instant::now() + Duration::from_millis(store.kafka_lease_wait_ms);
        let lease = loop {
            match Lease::acquire(db.pool().clone(), db.dialect(), &options.lease_name(), ttl).await
            {
                Ok(lease) => break lease,
                Err(LeaseError::Held { remaining_ms, .. })
                    if std::time::Instant::now() < deadline =>
                {
                    info!(remaining_ms, "waiting for the Kafka writer lease");
                    tokio::time::sleep(Duration::from_millis(remaining_ms.clamp(100, 1000) as u64))
                        .await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        options.lease = Some(lease.clone());
        match KafkaLog::open(options, metrics.clone()).await {
            Ok(log) => Ok(log),
            Err(e) => {
                lease.release().await;
                Err(e.context(format!("cannot open the Kafka log on {brokers}")))
            }
        }
    } else {
        KafkaLog::open(options, metrics.clone())
            .await
            .with_context(|| format!("cannot open the Kafka log on {brokers}"))
    }
}

impl Opened {
    /// Lets the log writer finish and closes everything.
    pub async fn close(self) {
        self.log.shutdown().await;
        self.store.close().await;
    }
}

/// Binds the HTTP address and runs until SIGTERM or Ctrl-C.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("shutdown requested: draining");
        trigger.cancel();
    });
    run(args, listener, shutdown).await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The server key (created on first start) and the keys a rotation replaced. Its id is
/// logged so operators can check every node holds the same key.
fn load_secrets(args: &ServeArgs) -> anyhow::Result<Arc<Keyring>> {
    let path = args.secret_key_path();
    let (keyring, created) = Keyring::load(&path, &args.secret_key_previous_files)?;
    let key_id = keyring.current().id();
    if created {
        info!(path = %path.display(), key_id, "created a new secret key");
    } else {
        info!(path = %path.display(), key_id, "loaded the secret key");
    }
    Ok(Arc::new(keyring))
}

/// The operator token file (created with one token on first start). Only the current
/// token's id is logged, so operators can check every node holds the same file.
fn load_operator_tokens(args: &ServeArgs) -> anyhow::Result<OperatorTokens> {
    let path = args.operator_token_path();
    let (tokens, token_id, created) = OperatorTokens::load_or_create(&path)?;
    let what = if created {
        "created a new operator token"
    } else {
        "loaded the operator token"
    };
    info!(path = %path.display(), token_id, "{what}");
    Ok(tokens)
}

/// Opens the outbox store (`--outbox-db`) and moves into it what an older build left in the
/// read-model store; then starts the process-manager runner and the outbox sender until
/// `stop`.
async fn start_outbox(
    args: &ServeArgs,
    opened: &Opened,
    engine: &crate::taskrouter::Engine,
    tokens: Arc<dyn AuthTokens>,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let url = args.outbox_url()?;
    let store = if url == args.store.db_url()? {
        opened.store.clone()
    } else {
        let options = StoreOptions {
            pool_size: args.store.db_pool_size,
        };
        let store = ProjectionStore::connect_with(&url, options)
            .await
            .with_context(|| format!("cannot open the outbox store {url}"))?;
        let moved =
            crate::app::outbox::rows::adopt(&opened.store, &store, crate::app::runner::RUNNER)
                .await
                .context("cannot move the outbox out of the read-model store")?;
        if moved > 0 {
            info!(rows = moved, %url, "moved undelivered webhooks into the outbox store");
        }
        store
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    let runner = Runner {
        log: opened.log.clone(),
        store: store.clone(),
        engine: engine.clone(),
        wake: wake.clone(),
        tokens: tokens.clone(),
        metrics: opened.metrics.clone(),
    };
    // Before the first request: the heads a new runner starts at must not include anything
    // this server appends.
    runner
        .init()
        .await
        .context("cannot store the process-manager runner's first checkpoint")?;
    let sender = Sender {
        store,
        context: Arc::new(Outbox::new(
            opened.log.clone(),
            engine.clone(),
            tokens,
            opened.metrics.clone(),
        )),
        wake,
        concurrency: args.outbox_concurrency,
    };
    Ok(vec![
        tokio::spawn(runner.run(stop.clone())),
        tokio::spawn(sender.run(stop.clone())),
    ])
}

/// Serves on `listener` until `shutdown` is cancelled (tests pass a listener on port 0).
pub async fn run(
    args: ServeArgs,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let roles = &args.roles;
    // Before anything is opened: a node that cannot hold the server key must not start.
    let secrets = load_secrets(&args)?;
    let operator = load_operator_tokens(&args)?;
    let opened = open(&args.store, roles.contains(&Role::Writer)).await?;
    let projector_stop = CancellationToken::new();
    let tasks = if roles.contains(&Role::Projector) {
        opened.projector.spawn(projector_stop.clone())
    } else {
        // Read-your-writes still holds: follow the checkpoints other nodes' projectors commit.
        vec![opened.projector.follow(projector_stop.clone())]
    };
    let addr = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();
    let taskrouter =
        crate::taskrouter::Engine::with_limits(opened.log.clone(), args.taskrouter.limits());
    // The webhooks' runner and sender run where the log is written (one writer node).
    let outbox_stop = CancellationToken::new();
    let outbox = if roles.contains(&Role::Writer) {
        let tokens: Arc<dyn AuthTokens> = Arc::new(crate::app::account_tokens::AccountTokens::new(
            opened.log.clone(),
            secrets.clone(),
        ));
        start_outbox(&args, &opened, &taskrouter, tokens, &outbox_stop).await?
    } else {
        Vec::new()
    };
    let state = AppState::new(
        crate::commands::Commands::new(opened.log.clone(), args.region.clone()),
        taskrouter,
        opened.projector.clone(),
        opened.metrics.clone(),
        HttpConfig {
            public_url,
            read_wait: Duration::from_millis(args.read_wait_ms),
            request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
            body_limit: args.body_limit,
            uri_limit: args.uri_limit,
            writer_url: if roles.contains(&Role::Writer) {
                None
            } else {
                args.writer_url
                    .as_ref()
                    .map(|u| u.trim_end_matches('/').to_string())
            },
        },
        secrets.clone(),
        operator,
    );
    if roles.contains(&Role::Writer) {
        // Workspace actors run the TaskRouter timers (reservation and workflow timeouts, task
        // TTLs): start one for every workspace, not only those a request touches.
        let mut conn = opened.store.pool().acquire().await?;
        let workspaces = switchboard_projections::workspaces::all(&mut conn).await?;
        drop(conn);
        state.taskrouter().warm(
            workspaces
                .iter()
                .filter_map(|w| switchboard_events::Sid::parse(&w.sid).ok()),
        );
    }
    // The calls a dead writer left live: what the log held before this one takes a call.
    let recovery = if roles.contains(&Role::Writer) {
        Some(
            crate::voice::recovery::Recovery::prepare(
                opened.log.clone(),
                args.region.clone(),
                opened.projector.clone(),
                opened.metrics.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    // The telephony engine appends call events, so it runs where the log is written.
    let sip = match args.sip.sip_addr {
        SipListen::Udp(listen) if roles.contains(&Role::Writer) => {
            let config = SipConfig {
                listen,
                external: args.sip.sip_external_addr,
                rtp_ports: args.sip.rtp_ports,
                max_calls: args.sip.max_calls,
                retry_after_secs: args.sip.sip_retry_after_secs,
            };
            let commands = crate::commands::Commands::new(opened.log.clone(), args.region.clone());
            let tokens: Arc<dyn AuthTokens> = Arc::new(
                crate::app::account_tokens::AccountTokens::new(opened.log.clone(), secrets.clone()),
            );
            let voice = Arc::new(crate::voice::Voice {
                directory: Arc::new(crate::voice::numbers::StoreDirectory::new(
                    opened.store.clone(),
                )),
                fetcher: Arc::new(crate::voice::fetch::Fetcher::new(
                    crate::voice::fetch::Fetcher::client(),
                    tokens,
                )),
                resolver: Arc::new(crate::media::resolver::LocalResolver::new(
                    reqwest::Client::new(),
                    args.sip.espeak.clone(),
                )),
                trunk: args.sip.sip_trunk.clone(),
            });
            let engine = match SipEngine::start(config, commands, voice).await {
                Ok(engine) => engine,
                Err(e) => {
                    outbox_stop.cancel();
                    for task in outbox {
                        let _ = task.await;
                    }
                    projector_stop.cancel();
                    for task in tasks {
                        let _ = task.await;
                    }
                    opened.close().await;
                    return Err(e);
                }
            };
            println!(
                "switchboard sip listening on udp://{0} and tcp://{0}",
                engine.local_addr
            );
            state.set_calls(engine.calls());
            Some(engine)
        }
        _ => None,
    };
    let recovery_stop = CancellationToken::new();
    let recovery = recovery.map(|recovery| {
        tokio::spawn(recovery.run(sip.as_ref().map(SipEngine::byes), recovery_stop.clone()))
    });
    info!(%addr, data_dir = %args.store.data_dir.display(), "switchboard listening");
    // One line on stdout that scripts and tests can wait for.
    println!("switchboard listening on http://{addr}");
    let _ = std::io::stdout().flush();
    let router = if roles.contains(&Role::Api) {
        app(state)
    } else {
        crate::http::ops_only(state)
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("HTTP server failed")?;
    // Recovery's BYEs go out over the engine's transport: it ends before the engine.
    recovery_stop.cancel();
    if let Some(task) = recovery {
        let _ = task.await;
    }
    // Calls hang up and their last events are appended before the log closes.
    if let Some(engine) = sip {
        engine.stop().await;
    }
    // Undelivered rows stay in the outbox for the next start.
    outbox_stop.cancel();
    for task in outbox {
        let _ = task.await;
    }
    projector_stop.cancel();
    for task in tasks {
        let _ = task.await;
    }
    opened.close().await;
    // Held until here: the deliveries that will sign with sealed tokens run until shutdown.
    drop(secrets);
    info!("switchboard stopped");
    Ok(())
}
