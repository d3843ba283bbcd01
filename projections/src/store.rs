//! The SQL side every projection shares: the pool, migrations, per-partition checkpoints,
//! versions, skipped events, resets and digests.
//!
//! [`ProjectionStore::apply_batch`] is the heart: in one transaction it applies every event
//! past the projection's checkpoint, records the ones that could not be read, and moves the
//! checkpoint. Either all of that commits or none of it does.
//!
//! Every write transaction on the store goes through [`ProjectionStore::begin_write`]. On
//! SQLite that first takes the store's in-process write gate, then `BEGIN IMMEDIATE`: SQLite
//! admits one writer per file, and a second one that finds the lock taken does not queue, it
//! sleeps in SQLite's busy handler (1, 2, 5, … up to 100 ms per try) and retries. With the
//! projector, the process-manager runner and the outbox sender all writing the one file, those
//! sleeps were most of a webhook's latency under load. The gate makes them wait their turn in
//! order instead, for exactly as long as the writer before them takes. Other processes on the
//! same file still meet the busy handler (`busy_timeout` 5 s).

use crate::{Projection, Table};
use sha2::{Digest, Sha256};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Row, Transaction};
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{Envelope, Position};

/// Last applied offset per partition (defined beside `Position` in the events crate).
pub use switchboard_events::Checkpoint;

/// One item handed to a projection: a decoded event, or a record that could not be read
/// (with where it was and why).
#[derive(Debug, Clone)]
pub enum Item {
    /// A readable event.
    Event(Box<Envelope>),
    /// An unreadable record.
    Unreadable {
        /// Where it sits.
        position: Position,
        /// Its stream, if known.
        stream: Option<String>,
        /// Why it could not be read.
        reason: String,
    },
}

impl Item {
    /// Where the item sits in the log.
    pub fn position(&self) -> Position {
        match self {
            Item::Event(e) => e.position,
            Item::Unreadable { position, .. } => *position,
        }
    }
}

/// Which SQL engine backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// Connections in the store's pool unless configured: SQLite takes one writer at a time,
    /// so 4 leaves room for API reads beside the projector without queueing on the file
    /// lock; PostgreSQL runs writers concurrently, so 16 lets several projectors and many
    /// reads proceed at once.
    pub const fn default_pool_size(self) -> u32 {
        match self {
            Dialect::Sqlite => 4,
            Dialect::Postgres => 16,
        }
    }
}

/// How [`ProjectionStore::connect_with`] sizes its pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections in the pool; `None` takes [`Dialect::default_pool_size`].
    pub pool_size: Option<u32>,
}

/// See the module doc.
#[derive(Clone)]
pub struct ProjectionStore {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite's one writer, taken in this process before `BEGIN IMMEDIATE` (module doc).
    write_gate: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction from [`ProjectionStore::begin_write`]; it derefs to the connection, so
/// queries run on `&mut *tx`. Dropped without [`WriteTx::commit`], it rolls back.
pub struct WriteTx {
    // Field order matters: the transaction ends before the gate opens.
    tx: Transaction<'static, Any>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits, then lets the next writer in.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl ProjectionStore {
    /// Connects to `url` (`sqlite://PATH` or `postgres://…`) with the default options and
    /// brings the schema up to date.
    pub async fn connect(url: &str) -> Result<ProjectionStore, sqlx::Error> {
        ProjectionStore::connect_with(url, StoreOptions::default()).await
    }

    /// Connects to `url` with `options` and brings the schema up to date.
    pub async fn connect_with(
        url: &str,
        options: StoreOptions,
    ) -> Result<ProjectionStore, sqlx::Error> {
        crate::migrations::install_drivers();
        let dialect = if url.starts_with("postgres") {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        };
        let pool_size = options
            .pool_size
            .unwrap_or_else(|| dialect.default_pool_size());
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets API reads run beside the projector's writes; NORMAL is
                        // enough because the projections can always be rebuilt from the log.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA cache_size = -65536",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let mut conn = pool.acquire().await?;
        let migrator = match dialect {
            Dialect::Sqlite => sqlx::migrate!("../migrations/sqlite/projections"),
            Dialect::Postgres => sqlx::migrate!("../migrations/postgres/projections"),
        };
        crate::migrations::run(&mut conn, crate::migrations::PROJECTIONS, &migrator)
            .await
            .map_err(|e| sqlx::Error::InvalidArgument(e.to_string()))?;
        drop(conn);
        Ok(ProjectionStore {
            pool,
            dialect,
            write_gate: Arc::default(),
        })
    }

    /// Begins a write transaction (module doc): on SQLite behind the store's write gate and
    /// with the file's write lock taken up front, since a deferred transaction that reads and
    /// then writes fails at once with "database is locked" when another writer holds it.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => {
                let gate = self.write_gate.clone().lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx {
                    tx,
                    _gate: Some(gate),
                })
            }
            Dialect::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _gate: None,
            }),
        }
    }

    /// The pool, for read-model queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which engine.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The projection's checkpoint (empty when it has applied nothing).
    pub async fn checkpoint(&self, projection: &str) -> Result<Checkpoint, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        read_checkpoint(&mut conn, projection).await
    }

    /// The version that built the projection's tables, if any.
    pub async fn stored_version(&self, projection: &str) -> Result<Option<u32>, sqlx::Error> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT version FROM projection_versions WHERE projection = $1")
                .bind(projection)
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.map(|v| v as u32))
    }

    /// Empties the projection's tables, checkpoints and skipped records and stamps the
    /// current version, in one transaction: the projection then replays the log from the
    /// start.
    pub async fn reset(&self, projection: &dyn Projection) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        for table in projection.tables() {
            sqlx::query(&format!("DELETE FROM {}", table.name))
                .execute(&mut *tx)
                .await?;
        }
        for bookkeeping in ["projection_checkpoints", "projection_skipped"] {
            sqlx::query(&format!("DELETE FROM {bookkeeping} WHERE projection = $1"))
                .bind(projection.name())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO projection_versions (projection, version) VALUES ($1, $2) \
             ON CONFLICT (projection) DO UPDATE SET version = excluded.version",
        )
        .bind(projection.name())
        .bind(i64::from(projection.version()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Applies every item past the checkpoint and moves the checkpoint, in one transaction.
    /// Returns the new checkpoint and how many items were recorded as unreadable.
    pub async fn apply_batch(
        &self,
        projection: &dyn Projection,
        checkpoint: &Checkpoint,
        items: &[Item],
    ) -> Result<(Checkpoint, usize), sqlx::Error> {
        let mut skipped = 0;
        let mut tx = self.begin_write().await?;
        // Several projector processes may share the store: serialise their batches per
        // projection and start from the checkpoint as committed, so none applies an event
        // another already applied.
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))::TEXT")
                .bind(format!("projection:{}", projection.name()))
                .execute(&mut *tx)
                .await?;
        }
        let stored = read_checkpoint(&mut tx, projection.name()).await?;
        let mut next = checkpoint.clone();
        for (partition, offset) in &stored {
            let at = next.entry(*partition).or_insert(*offset);
            *at = (*at).max(*offset);
        }
        let mut events: Vec<&Envelope> = Vec::with_capacity(items.len());
        for item in items {
            let at = item.position();
            if next.get(&at.partition).is_some_and(|o| *o >= at.offset) {
                continue; // already applied: at-least-once delivery, exactly-once effect
            }
            match item {
                Item::Event(envelope) => events.push(envelope),
                Item::Unreadable {
                    position,
                    stream,
                    reason,
                } => {
                    skipped += 1;
                    sqlx::query(
                        "INSERT INTO projection_skipped (projection, partition, log_offset, stream, reason) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    )
                    .bind(projection.name())
                    .bind(i64::from(position.partition))
                    .bind(position.offset as i64)
                    .bind(stream.clone())
                    .bind(reason.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            next.insert(at.partition, at.offset);
        }
        projection.apply_batch(&mut tx, &events).await?;
        for (partition, offset) in &next {
            if stored.get(partition) == Some(offset) {
                continue;
            }
            sqlx::query(
                "INSERT INTO projection_checkpoints (projection, partition, log_offset) VALUES ($1, $2, $3) \
                 ON CONFLICT (projection, partition) DO UPDATE SET log_offset = excluded.log_offset",
            )
            .bind(projection.name())
            .bind(i64::from(*partition))
            .bind(*offset as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((next, skipped))
    }

    /// The records a projection stepped over: (position, stream, reason).
    pub async fn skipped(
        &self,
        projection: &str,
    ) -> Result<Vec<(Position, Option<String>, String)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT partition, log_offset, stream, reason FROM projection_skipped \
             WHERE projection = $1 ORDER BY partition, log_offset",
        )
        .bind(projection)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let p: i64 = r.try_get(0)?;
                let o: i64 = r.try_get(1)?;
                Ok((
                    Position {
                        partition: p as u32,
                        offset: o as u64,
                    },
                    r.try_get(2)?,
                    r.try_get(3)?,
                ))
            })
            .collect()
    }

    /// SHA-256 over every row of the projection's tables in a total order, with the
    /// projection's skipped records: equal digests mean identical read models.
    pub async fn digest(&self, projection: &dyn Projection) -> Result<String, sqlx::Error> {
        let mut hash = Sha256::new();
        for table in projection.tables() {
            digest_table(&self.pool, table, &mut hash).await?;
        }
        for (position, stream, reason) in self.skipped(projection.name()).await? {
            hash.update(format!("skipped|{position}|{stream:?}|{reason}\n"));
        }
        Ok(hex::encode(hash.finalize()))
    }
}

async fn digest_table(pool: &AnyPool, table: &Table, hash: &mut Sha256) -> Result<(), sqlx::Error> {
    hash.update(format!("table|{}\n", table.name));
    let rows = sqlx::query(&format!(
        "SELECT * FROM {} ORDER BY {}",
        table.name, table.order_by
    ))
    .fetch_all(pool)
    .await?;
    for row in &rows {
        for i in 0..row.len() {
            // Any has no dynamic value type: try each type a read model stores.
            let cell = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                format!("{v:?}")
            } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                format!("{v:?}")
            } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                format!("{v:?}")
            } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
                format!("{v:?}")
            } else {
                "?".to_string()
            };
            hash.update(cell.as_bytes());
            hash.update(b"|");
        }
        hash.update(b"\n");
    }
    Ok(())
}

/// A projection's checkpoint as committed, read on `conn` (inside a transaction, if open).
async fn read_checkpoint(
    conn: &mut sqlx::AnyConnection,
    projection: &str,
) -> Result<Checkpoint, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT partition, log_offset FROM projection_checkpoints WHERE projection = $1",
    )
    .bind(projection)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let p: i64 = r.try_get(0)?;
            let o: i64 = r.try_get(1)?;
            Ok((p as u32, o.max(0) as u64))
        })
        .collect()
}
