//! The projector keeps every read model behind the log: one task per projection subscribes
//! from the projection's checkpoint, decodes each batch, and hands it to the store, which
//! applies it and moves the checkpoint in one transaction.
//!
//! Delivery is at least once (a crash between commit and the next read replays from the
//! stored checkpoint); effects are exactly once (the store skips what the checkpoint covers).
//! A record that cannot be decoded — a type from a newer version, a damaged row — is recorded
//! in `projection_skipped`, logged, counted, and stepped over: one bad record never stops the
//! read models or loses the events after it.
//!
//! Read-your-writes: [`Projector::wait_for`] resolves once a projection has passed a position
//! (commands return the position they reached).

use crate::log::{Checkpoint, EventLog};
use crate::metrics::Metrics;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::Position;
use switchboard_projections::store::{Item, ProjectionStore};
use switchboard_projections::taskrouter::TaskRouter;
use switchboard_projections::Projection;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Every projection this build has, with the default settings.
pub fn all_projections() -> Vec<Arc<dyn Projection>> {
    projections(TaskRouter::DEFAULT_EVENTS_RETENTION)
}

/// Every projection this build has; TaskRouter's `/Events` keeps `events_retention`.
pub fn projections(events_retention: Duration) -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(switchboard_projections::accounts::Accounts),
        Arc::new(switchboard_projections::workspaces::Workspaces),
        Arc::new(switchboard_projections::alerts::Alerts),
        Arc::new(switchboard_projections::numbers::Numbers),
        Arc::new(switchboard_projections::notifications::Notifications),
        Arc::new(switchboard_projections::calls::Calls),
        Arc::new(TaskRouter::with_events_retention(events_retention)),
    ]
}

/// How often a projection that only sees other projections' events commits its checkpoint.
const IDLE_COMMIT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Most events gathered into one transaction by a projection's coalescing window.
const COALESCE_MAX: usize = 4096;

/// See the module doc.
pub struct Projector {
    log: Arc<dyn EventLog>,
    store: ProjectionStore,
    metrics: Arc<Metrics>,
    projections: Vec<Arc<dyn Projection>>,
    progress: HashMap<&'static str, watch::Sender<Checkpoint>>,
    /// Per projection: bumped after every committed batch that changed its tables, while
    /// this process applies it (caches of read-model rows compare it).
    generations: HashMap<&'static str, std::sync::atomic::AtomicU64>,
    /// Whether [`Projector::spawn`] runs the projections in this process.
    applying: std::sync::atomic::AtomicBool,
}

fn reached(checkpoint: &Checkpoint, position: Position) -> bool {
    checkpoint
        .get(&position.partition)
        .is_some_and(|o| *o >= position.offset)
        || position.offset == 0
}

/// Whether `checkpoint` has reached every partition head in `target`.
pub fn caught_up(checkpoint: &Checkpoint, target: &Checkpoint) -> bool {
    target.iter().all(|(p, o)| {
        reached(
            checkpoint,
            Position {
                partition: *p,
                offset: *o,
            },
        )
    })
}

impl Projector {
    /// Loads every projection's checkpoint; a projection whose stored version differs from
    /// the code's is reset, so it rebuilds from the log.
    pub async fn new(
        log: Arc<dyn EventLog>,
        store: ProjectionStore,
        metrics: Arc<Metrics>,
        projections: Vec<Arc<dyn Projection>>,
    ) -> anyhow::Result<Projector> {
        let mut progress = HashMap::new();
        for p in &projections {
            let stored = store.stored_version(p.name()).await?;
            if stored != Some(p.version()) {
                match stored {
                    None => info!(
                        projection = p.name(),
                        version = p.version(),
                        "new projection: building it from the log"
                    ),
                    Some(old) => info!(
                        projection = p.name(),
                        old,
                        version = p.version(),
                        "projection version changed: rebuilding it from the log"
                    ),
                }
                store.reset(p.as_ref()).await?;
            }
            let checkpoint = store.checkpoint(p.name()).await?;
            progress.insert(p.name(), watch::channel(checkpoint).0);
        }
        let generations = projections
            .iter()
            .map(|p| (p.name(), std::sync::atomic::AtomicU64::new(0)))
            .collect();
        Ok(Projector {
            log,
            store,
            metrics,
            projections,
            progress,
            generations,
            applying: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The projections this projector runs.
    pub fn projections(&self) -> &[Arc<dyn Projection>] {
        &self.projections
    }

    /// The store.
    pub fn store(&self) -> &ProjectionStore {
        &self.store
    }

    /// The projection's checkpoint as last committed.
    pub fn checkpoint(&self, projection: &str) -> Checkpoint {
        self.progress
            .get(projection)
            .map(|w| w.borrow().clone())
            .unwrap_or_default()
    }

    /// Waits until `projection` has applied `position`, at most `timeout`. True if it has.
    pub async fn wait_for(&self, projection: &str, position: Position, timeout: Duration) -> bool {
        let Some(progress) = self.progress.get(projection) else {
            return false;
        };
        let mut rx = progress.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|cp| reached(cp, position)))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits until `projection` has reached the log's current head, at most `timeout`.
    pub async fn wait_for_head(&self, projection: &str, timeout: Duration) -> bool {
        let Ok(heads) = self.log.heads().await else {
            return false;
        };
        let Some(progress) = self.progress.get(projection) else {
            return false;
        };
        let mut rx = progress.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|cp| caught_up(cp, &heads)))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Follows the checkpoints that projectors in other processes commit (every 50 ms), so
    /// reads here can wait for a caller's write without running the projections here.
    pub fn follow(self: &Arc<Self>, cancel: CancellationToken) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                for p in &this.projections {
                    match this.store.checkpoint(p.name()).await {
                        Ok(cp) => {
                            if let Some(progress) = this.progress.get(p.name()) {
                                progress.send_if_modified(|old| {
                                    let changed = *old != cp;
                                    *old = cp;
                                    changed
                                });
                            }
                        }
                        Err(e) => {
                            warn!(projection = p.name(), cause = %e, "cannot read the checkpoint")
                        }
                    }
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        })
    }

    /// The projection's generation when this process applies it (None when another process
    /// does): equal generations mean its tables have not changed in between.
    pub fn generation(&self, projection: &str) -> Option<u64> {
        use std::sync::atomic::Ordering;
        if !self.applying.load(Ordering::Acquire) {
            return None;
        }
        self.generations
            .get(projection)
            .map(|g| g.load(Ordering::Acquire))
    }

    /// Runs every projection until `cancel`, on a runtime of their own (one thread): the
    /// read models' work then shares the CPU with request handling through the OS
    /// scheduler instead of occupying the request runtime's workers between awaits.
    pub fn spawn(self: &Arc<Self>, cancel: CancellationToken) -> Vec<JoinHandle<()>> {
        self.applying
            .store(true, std::sync::atomic::Ordering::Release);
        let this = self.clone();
        vec![tokio::task::spawn_blocking(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("projector")
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    error!(cause = %e, "cannot start the projector runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                let runs = this.projections.iter().map(|p| {
                    let (this, p, cancel) = (this.clone(), p.clone(), cancel.clone());
                    async move { this.run(p, None, cancel, |_| {}).await }
                });
                futures::future::join_all(runs).await;
            });
        })]
    }

    /// Applies the log to one projection until `cancel`, or until it reaches `until` when
    /// given. Storage errors are retried from the stored checkpoint after a pause.
    pub async fn run(
        &self,
        projection: Arc<dyn Projection>,
        until: Option<Checkpoint>,
        cancel: CancellationToken,
        on_progress: impl Fn(&Checkpoint),
    ) {
        let name = projection.name();
        let lag = self.metrics.lag(name);
        let skipped_counter = self
            .metrics
            .projection_skipped
            .get_or_create(&crate::metrics::ProjectionLabel {
                projection: name.to_string(),
            })
            .clone();
        let Some(progress) = self.progress.get(name) else {
            return;
        };
        'resubscribe: loop {
            let mut checkpoint = match self.store.checkpoint(name).await {
                Ok(cp) => cp,
                Err(e) => {
                    error!(projection = name, cause = %e, "cannot read checkpoint; retrying");
                    if pause(&cancel).await {
                        return;
                    }
                    continue;
                }
            };
            if until.as_ref().is_some_and(|u| caught_up(&checkpoint, u)) {
                return;
            }
            let mut stream = self.log.subscribe(checkpoint.clone());
            let window = projection.coalesce();
            let mut deferred = None;
            let mut last_commit = std::time::Instant::now();
            loop {
                let batch = match deferred.take() {
                    Some(next) => next,
                    None => tokio::select! {
                        _ = cancel.cancelled() => return,
                        next = stream.next() => next,
                    },
                };
                let mut batch = match batch {
                    Some(Ok(batch)) => batch,
                    Some(Err(e)) => {
                        warn!(projection = name, cause = %e, "log read failed; resubscribing");
                        if pause(&cancel).await {
                            return;
                        }
                        continue 'resubscribe;
                    }
                    None => {
                        if pause(&cancel).await {
                            return;
                        }
                        continue 'resubscribe;
                    }
                };
                // Under load, gather what arrives within the projection's window into one
                // transaction: commits, not events, are what a busy store pays for.
                if !window.is_zero() {
                    let deadline = tokio::time::Instant::now() + window;
                    while batch.len() < COALESCE_MAX {
                        match tokio::time::timeout_at(deadline, stream.next()).await {
                            Ok(Some(Ok(more))) => batch.extend(more),
                            Ok(other) => {
                                deferred = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                }
                let items: Vec<Item> = batch
                    .into_iter()
                    .map(|item| match item {
                        Ok(recorded) => {
                            let (position, stream) = (recorded.position, recorded.stream.clone());
                            match recorded.into_envelope() {
                                Ok(envelope) => Item::Event(Box::new(envelope)),
                                Err(e) => Item::Unreadable {
                                    position,
                                    stream: Some(stream),
                                    reason: e.to_string(),
                                },
                            }
                        }
                        Err(damaged) => Item::Unreadable {
                            position: damaged.position,
                            stream: damaged.stream,
                            reason: damaged.reason,
                        },
                    })
                    .collect();
                for item in &items {
                    if let Item::Unreadable {
                        position,
                        stream,
                        reason,
                    } = item
                    {
                        error!(projection = name, %position, ?stream, %reason, "unreadable log record: recorded in projection_skipped and stepped over");
                    }
                }
                // A batch with nothing this projection reads changes none of its tables: move
                // the checkpoint in memory and commit it at most every 200 ms (replaying
                // such events after a restart is harmless), instead of one transaction per
                // batch of other projections' events.
                let relevant = items.iter().any(|i| match i {
                    Item::Event(e) => projection.wants(e),
                    Item::Unreadable { .. } => true,
                });
                let mut advanced = checkpoint.clone();
                for item in &items {
                    let p = item.position();
                    let at = advanced.entry(p.partition).or_insert(0);
                    *at = (*at).max(p.offset);
                }
                // (A rebuild that this batch completes commits, so it ends stored.)
                let finishing = until.as_ref().is_some_and(|u| caught_up(&advanced, u));
                if !relevant && !finishing && last_commit.elapsed() < IDLE_COMMIT_EVERY {
                    checkpoint = advanced;
                    progress.send_replace(checkpoint.clone());
                    on_progress(&checkpoint);
                    continue;
                }
                last_commit = std::time::Instant::now();
                match self
                    .store
                    .apply_batch(projection.as_ref(), &checkpoint, &items)
                    .await
                {
                    Ok((next, skipped)) => {
                        if relevant {
                            if let Some(g) = self.generations.get(name) {
                                g.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                            }
                        }
                        skipped_counter.inc_by(skipped as u64);
                        checkpoint = next;
                        progress.send_replace(checkpoint.clone());
                        on_progress(&checkpoint);
                        if let Ok(heads) = self.log.heads().await {
                            let behind: u64 = heads
                                .iter()
                                .map(|(p, o)| {
                                    o.saturating_sub(checkpoint.get(p).copied().unwrap_or(0))
                                })
                                .sum();
                            lag.set(behind as i64);
                        }
                        if until.as_ref().is_some_and(|u| caught_up(&checkpoint, u)) {
                            return;
                        }
                    }
                    Err(e) => {
                        error!(projection = name, cause = %e, "projection batch failed; retrying from the checkpoint");
                        if pause(&cancel).await {
                            return;
                        }
                        continue 'resubscribe;
                    }
                }
            }
        }
    }
}

/// Waits a moment before a retry; true if cancelled meanwhile.
async fn pause(cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(Duration::from_millis(500)) => false,
    }
}
