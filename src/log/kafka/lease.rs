//! The writer lease: who may append to a Kafka log.
//!
//! Kafka has no "append if the partition is at offset N", so the log's optimistic
//! concurrency rests on one writer that knows every stream's head. Kafka's own tool for
//! refusing a second writer is a transactional id (the broker fences the older producer
//! epoch), but the broker available here (tansu 0.6.0) has no transactions. So the writer
//! holds a lease in the SQL store every Kafka deployment already has for its read models.
//!
//! The rule:
//! - a writer takes the lease before it reads the partitions to rebuild its stream heads, and
//!   renews it every `ttl / 4`; a lease is free once its expiry (the database's clock) passed;
//! - the writer sends a record only while the lease it last renewed has more than
//!   `message timeout + margin` left (by its own monotonic clock, counted from before the
//!   renewal was sent). librdkafka fails every record it has not delivered within the message
//!   timeout, so every record of the old writer is either in the log or failed before its
//!   lease can expire, and the next writer's rebuild sees all of them;
//! - a writer that finds its lease taken stops for good; its appends fail.
//!
//! A writer that is paused (not running) cannot keep the second point, so the lease's epoch
//! (one more at every hand-over) is stamped on every record and readers drop an older
//! epoch's records once a newer one wrote on the partition: [`super::fence`].

use sqlx::AnyPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_projections::store::Dialect;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Now in milliseconds since the epoch, by the database's clock.
fn now_ms(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    }
}

/// Why the lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another live writer holds it.
    #[error(
        "another writer ({holder}) holds the writer lease {name:?} for {remaining_ms} ms more; \
         a second writer would interleave events into streams, so this one is refused \
         (run this node with --roles api,projector, or stop the other writer)"
    )]
    Held {
        /// The lease.
        name: String,
        /// Who holds it.
        holder: String,
        /// How long until it expires.
        remaining_ms: i64,
    },
    /// The store failed.
    #[error("cannot reach the lease store: {0}")]
    Store(#[from] sqlx::Error),
}

/// A held lease, renewed in the background until released or lost.
#[derive(Clone)]
pub struct Lease {
    inner: Arc<LeaseInner>,
}

struct LeaseInner {
    name: String,
    holder: String,
    epoch: i64,
    ttl: Duration,
    valid_until: Mutex<Instant>,
    lost: AtomicBool,
    stop: CancellationToken,
    /// The renewing task: `release` waits for it, so a renewal in flight cannot extend the
    /// lease after it was freed (a race a loaded machine showed).
    renewer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    pool: AnyPool,
    dialect: Dialect,
}

impl Lease {
    /// Takes the lease `name` for `ttl`, or says who holds it.
    pub async fn acquire(
        pool: AnyPool,
        dialect: Dialect,
        name: &str,
        ttl: Duration,
    ) -> Result<Lease, LeaseError> {
        let holder = format!(
            "{}/{}/{}",
            hostname(),
            std::process::id(),
            uuid::Uuid::now_v7()
        );
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let now = now_ms(dialect);
        let started = Instant::now();
        let sql = format!(
            "INSERT INTO log_writer_leases (name, holder, epoch, expires_at_ms) \
             VALUES ($1, $2, 1, {now} + $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
               epoch = log_writer_leases.epoch + 1, expires_at_ms = excluded.expires_at_ms \
             WHERE log_writer_leases.expires_at_ms < {now} \
             RETURNING epoch"
        );
        let epoch: Option<i64> = sqlx::query_scalar(&sql)
            .bind(name)
            .bind(&holder)
            .bind(ttl_ms)
            .fetch_optional(&pool)
            .await?;
        let Some(epoch) = epoch else {
            let sql = format!(
                "SELECT holder, expires_at_ms - {now} FROM log_writer_leases WHERE name = $1"
            );
            let (holder, remaining_ms): (String, i64) =
                sqlx::query_as(&sql).bind(name).fetch_one(&pool).await?;
            return Err(LeaseError::Held {
                name: name.to_string(),
                holder,
                remaining_ms,
            });
        };
        info!(lease = name, %holder, epoch, "writer lease taken");
        let lease = Lease {
            inner: Arc::new(LeaseInner {
                name: name.to_string(),
                holder,
                epoch,
                ttl,
                valid_until: Mutex::new(started + ttl),
                lost: AtomicBool::new(false),
                stop: CancellationToken::new(),
                renewer: Mutex::new(None),
                pool,
                dialect,
            }),
        };
        let renewer = tokio::spawn(lease.clone().renew_forever());
        *lease
            .inner
            .renewer
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(renewer);
        Ok(lease)
    }

    /// How many hand-overs the lease has seen (1 for its first holder).
    pub fn epoch(&self) -> i64 {
        self.inner.epoch
    }

    /// How long a renewal makes it last.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Who holds it (this process).
    pub fn holder(&self) -> &str {
        &self.inner.holder
    }

    /// Whether another writer took it: then this one must never write again.
    pub fn lost(&self) -> bool {
        self.inner.lost.load(Ordering::SeqCst)
    }

    /// How long the lease is certainly still ours (zero once lost or expired).
    pub fn remaining(&self) -> Duration {
        if self.lost() {
            return Duration::ZERO;
        }
        let until = *self
            .inner
            .valid_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        until.saturating_duration_since(Instant::now())
    }

    async fn renew_forever(self) {
        let every = self.inner.ttl / 4;
        loop {
            tokio::select! {
                _ = self.inner.stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let started = Instant::now();
            match self.renew_once().await {
                Ok(true) => {
                    *self
                        .inner
                        .valid_until
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = started + self.inner.ttl;
                }
                Ok(false) => {
                    error!(lease = %self.inner.name, "writer lease taken by another writer: this node stops writing");
                    self.inner.lost.store(true, Ordering::SeqCst);
                    return;
                }
                Err(e) => {
                    warn!(lease = %self.inner.name, cause = %e, remaining_ms = self.remaining().as_millis() as u64,
                        "cannot renew the writer lease; appends stop when it runs low");
                }
            }
        }
    }

    async fn renew_once(&self) -> Result<bool, sqlx::Error> {
        let now = now_ms(self.inner.dialect);
        let sql = format!(
            "UPDATE log_writer_leases SET expires_at_ms = {now} + $3 \
             WHERE name = $1 AND holder = $2 RETURNING epoch"
        );
        let ttl_ms = i64::try_from(self.inner.ttl.as_millis()).unwrap_or(i64::MAX);
        let row: Option<i64> = sqlx::query_scalar(&sql)
            .bind(&self.inner.name)
            .bind(&self.inner.holder)
            .bind(ttl_ms)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Stops renewing and frees the lease for the next writer (call once nothing is in
    /// flight).
    pub async fn release(&self) {
        self.inner.stop.cancel();
        let renewer = self
            .inner
            .renewer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(renewer) = renewer {
            let _ = renewer.await;
        }
        if self.lost() {
            return;
        }
        let result = sqlx::query(
            "UPDATE log_writer_leases SET expires_at_ms = 0 WHERE name = $1 AND holder = $2",
        )
        .bind(&self.inner.name)
        .bind(&self.inner.holder)
        .execute(&self.inner.pool)
        .await;
        *self
            .inner
            .valid_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.inner.lost.store(true, Ordering::SeqCst);
        match result {
            Ok(_) => info!(lease = %self.inner.name, "writer lease released"),
            Err(e) => {
                warn!(lease = %self.inner.name, cause = %e, "cannot release the writer lease; it expires on its own")
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}
