//! The outbox sender: POSTs the rows the runner ([`crate::app::runner`]) wrote, at least once
//! across crashes, signed with `X-Twilio-Signature`, retried as
//! [`switchboard_events::process::policy`] says.
//!
//! ```text
//! runner ──rows + checkpoint (one tx)──▶ outbox table ──due rows──▶ sender ──POST──▶ app
//!    └──────────── Notify ────────────────────────────────────────────▲      │
//!                                                     finishes (one tx) ◀────┘
//! ```
//!
//! - **Order**: a row with an order key (a workspace's event callbacks) is picked only when
//!   no earlier row of that key is in the outbox, so one workspace's callbacks go out one at a
//!   time in the log's order; rows without a key, or of other keys, go concurrently (at most
//!   `concurrency` at once).
//! - **At least once**: a row leaves the table only after a 2xx (and an assignment
//!   callback's instruction carried out), or once its final failure is recorded as an alert.
//!   A crash at any point leaves the row, and it is sent again after the restart: receivers
//!   may see a request twice (the `I-Twilio-Idempotency-Token` header is the row's id).
//! - **No busy poll**: the loop sleeps until the runner commits (a [`Notify`]), an attempt
//!   finishes, or the earliest `next_attempt_at` of a waiting row.

pub mod attempt;
pub mod rows;
pub mod unsigned;

use crate::app::tokens::AuthTokens;
use crate::app::webhook::clients::{Clients, Timing, UnsignedWarnings};
use crate::log::EventLog;
use crate::taskrouter::Engine;
use rows::{Finish, Row};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::Sid;
use switchboard_projections::store::ProjectionStore;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// Requests in flight at once unless configured (`--outbox-concurrency`): enough to keep a
/// slow receiver from holding up the others, few enough not to open hundreds of sockets.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// What every attempt needs.
pub struct Context {
    /// Where alerts are recorded.
    pub log: Arc<dyn EventLog>,
    /// Carries out assignment instructions.
    pub engine: Engine,
    /// Signs.
    pub tokens: Arc<dyn AuthTokens>,
    /// One client per connect timeout, so connections to a receiver are reused.
    clients: Clients,
    /// Accounts already warned about unsigned requests.
    unsigned: UnsignedWarnings,
    /// Where the webhooks' stage latencies go.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Context {
    /// A context over these ports.
    pub fn new(
        log: Arc<dyn EventLog>,
        engine: Engine,
        tokens: Arc<dyn AuthTokens>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Context {
        Context {
            log,
            engine,
            tokens,
            metrics,
            // The callbacks follow reqwest's ten redirects, as they always have.
            clients: Clients::new(true),
            unsigned: UnsignedWarnings::default(),
        }
    }

    fn client(&self, connect_timeout_ms: u32) -> reqwest::Client {
        self.clients.get(Timing {
            connect_ms: connect_timeout_ms,
            read_ms: None,
        })
    }

    fn warn_unsigned(&self, account: &Sid) {
        self.unsigned.warn(account);
    }
}

/// The sender. See the module doc.
pub struct Sender {
    /// The store the outbox lives in.
    pub store: ProjectionStore,
    /// Attempts' ports.
    pub context: Arc<Context>,
    /// Woken by the runner after each commit.
    pub wake: Arc<Notify>,
    /// Most attempts in flight.
    pub concurrency: usize,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Sender {
    /// Sends until `cancel`. Attempts in flight when it is cancelled are dropped (their rows
    /// stay and are sent after the restart).
    pub async fn run(self, cancel: CancellationToken) {
        let concurrency = self.concurrency.max(1);
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut attempts = JoinSet::new();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(String, Finish)>();
        let mut finished: Vec<(String, Finish)> = Vec::new();
        loop {
            while let Ok(f) = done_rx.try_recv() {
                finished.push(f);
            }
            while attempts.try_join_next().is_some() {}
            if !finished.is_empty() {
                match rows::finish(&self.store, &finished).await {
                    Ok(()) => {
                        for (id, _) in finished.drain(..) {
                            in_flight.remove(&id);
                        }
                    }
                    Err(e) => {
                        error!(cause = %e, "cannot record finished deliveries; retrying");
                        if pause(&cancel).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            let mut wake_at = None;
            let free = concurrency.saturating_sub(in_flight.len());
            if free > 0 {
                let at = now();
                // In-flight rows are still in the table: ask for enough to see past them.
                match rows::due(&self.store, at, free + in_flight.len()).await {
                    Ok(due) => {
                        let fresh: Vec<Row> = due
                            .into_iter()
                            .filter(|r| !in_flight.contains(&r.delivery.id))
                            .take(free)
                            .collect();
                        let saturated = fresh.len() == free;
                        for row in fresh {
                            if row.first_attempt() {
                                self.context
                                    .metrics
                                    .webhook_stage("sent", row.next_attempt_at);
                            }
                            in_flight.insert(row.delivery.id.clone());
                            let (ctx, done) = (self.context.clone(), done_tx.clone());
                            attempts.spawn(async move {
                                let id = row.delivery.id.clone();
                                let finish = attempt::attempt(&ctx, row).await;
                                let _ = done.send((id, finish));
                            });
                        }
                        // Saturated: every slot is busy, and a finishing attempt wakes the loop.
                        if !saturated {
                            match rows::next_due_after(&self.store, at).await {
                                Ok(next) => wake_at = next,
                                Err(e) => {
                                    warn!(cause = %e, "cannot read the outbox's next due time");
                                    wake_at = Some(at + 500);
                                }
                            }
                        }
                    }
                    Err(e) => {
                        error!(cause = %e, "cannot read the outbox; retrying");
                        if pause(&cancel).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            let sleep = async {
                match wake_at {
                    Some(at) => {
                        let ms = (at - now()).max(0) as u64;
                        tokio::time::sleep(Duration::from_millis(ms)).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {}
                f = done_rx.recv() => if let Some(f) = f { finished.push(f) },
                _ = sleep => {}
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
