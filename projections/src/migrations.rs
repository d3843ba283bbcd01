//! Schema migrations, each set tracked on its own, so one database can hold both the event
//! log (`migrations/*/log`) and the read models (`migrations/*/projections`).
//!
//! sqlx's own runner records every set in one `_sqlx_migrations` table keyed by version
//! alone: two sets in one database see each other's versions (the log's 1 is not the
//! projections' 1) and refuse to start ("migration 2 was previously applied but is
//! missing"). sqlx 0.8.6 cannot name that table, so this runner keeps its own,
//! `switchboard_migrations`, keyed by `(set_name, version)`, and applies sqlx's resolved
//! migrations (the `migrate!` macro's files and checksums) itself.
//!
//! Invariants: a migration is applied once per set and database, in version order, in the
//! same transaction that records it; an applied migration whose file changed since, or one
//! this build does not know (a newer build applied it), stops the start with the set named.
//! Concurrent starts on one database take turns (PostgreSQL: a transaction advisory lock;
//! SQLite: `BEGIN IMMEDIATE`).
//!
//! Databases from before this runner recorded their set in `_sqlx_migrations`. The first run
//! of a set adopts the rows there whose version *and checksum* are one of its own migrations
//! (so the other set's rows are never taken for this one's) and applies only what is missing.
//! `_sqlx_migrations` is left as it was, so the previous build still opens a database that
//! held one set.

use sqlx::migrate::{Migration, Migrator};
use sqlx::{AnyConnection, Connection, Row};
use std::collections::BTreeMap;
use std::sync::Once;

/// The advisory lock key that serializes migrations on PostgreSQL ("SWBDMIG" in ASCII).
const MIGRATION_LOCK: i64 = 0x0053_5742_444D_4947;

/// The read models' set (`migrations/*/projections`).
pub const PROJECTIONS: &str = "projections";

/// The event log's set (`migrations/*/log`).
pub const LOG: &str = "log";

static DRIVERS: Once = Once::new();

/// Installs sqlx's `Any` drivers (once per process).
pub fn install_drivers() {
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

/// Opens one connection to `url` (`sqlite://…` or `postgres://…`) for [`run`].
pub async fn connect(url: &str) -> Result<AnyConnection, sqlx::Error> {
    install_drivers();
    AnyConnection::connect(url).await
}

/// Why a set could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database failed.
    #[error("migrations of {set:?}: {source}")]
    Sql {
        /// The set.
        set: String,
        /// What failed.
        source: sqlx::Error,
    },
    /// An applied migration's file changed since.
    #[error("migration {version} of {set:?} was applied from a different file than this build's; restore the file or the database")]
    Changed {
        /// The set.
        set: String,
        /// Its version.
        version: i64,
    },
    /// A newer build applied a migration this one does not have.
    #[error("migration {version} of {set:?} was applied by a newer build of switchboard; run that build")]
    Unknown {
        /// The set.
        set: String,
        /// Its version.
        version: i64,
    },
}

/// Brings the set `set` (sqlx's resolved `migrator`) up to date on `conn` (module doc).
pub async fn run(
    conn: &mut AnyConnection,
    set: &str,
    migrator: &Migrator,
) -> Result<(), MigrationError> {
    let sql = |source| MigrationError::Sql {
        set: set.to_string(),
        source,
    };
    let postgres = conn.backend_name().eq_ignore_ascii_case("postgresql");
    let mut tx = if postgres {
        let mut tx = conn.begin().await.map_err(sql)?;
        // In FROM, so the row has a column `Any` can carry (the function returns `void`).
        sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(sql)?;
        tx
    } else {
        conn.begin_with("BEGIN IMMEDIATE").await.map_err(sql)?
    };
    let blob = if postgres { "BYTEA" } else { "BLOB" };
    sqlx::raw_sql(&format!(
        "CREATE TABLE IF NOT EXISTS switchboard_migrations (\
           set_name    TEXT   NOT NULL, \
           version     BIGINT NOT NULL, \
           description TEXT   NOT NULL, \
           checksum    {blob} NOT NULL, \
           PRIMARY KEY (set_name, version))"
    ))
    .execute(&mut *tx)
    .await
    .map_err(sql)?;
    let mut applied = applied(&mut tx, set).await.map_err(sql)?;
    if applied.is_empty() {
        applied = adopt(&mut tx, set, migrator, postgres).await.map_err(sql)?;
    }
    for (version, checksum) in &applied {
        match migrator.iter().find(|m| m.version == *version) {
            None => {
                return Err(MigrationError::Unknown {
                    set: set.to_string(),
                    version: *version,
                })
            }
            Some(m) if m.checksum.as_ref() != checksum.as_slice() => {
                return Err(MigrationError::Changed {
                    set: set.to_string(),
                    version: *version,
                })
            }
            Some(_) => {}
        }
    }
    let mut pending: Vec<&Migration> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains_key(&m.version))
        .collect();
    pending.sort_by_key(|m| m.version);
    for m in pending {
        sqlx::raw_sql(&m.sql).execute(&mut *tx).await.map_err(sql)?;
        record(&mut tx, set, m).await.map_err(sql)?;
        tracing::info!(set, version = m.version, description = %m.description, "applied migration");
    }
    tx.commit().await.map_err(sql)
}

/// The set's applied migrations: version → checksum.
async fn applied(
    conn: &mut AnyConnection,
    set: &str,
) -> Result<BTreeMap<i64, Vec<u8>>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT version, checksum FROM switchboard_migrations WHERE set_name = $1")
            .bind(set)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<Vec<u8>, _>(1)?)))
        .collect()
}

async fn record(conn: &mut AnyConnection, set: &str, m: &Migration) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO switchboard_migrations (set_name, version, description, checksum) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(set)
    .bind(m.version)
    .bind(m.description.to_string())
    .bind(m.checksum.to_vec())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes over the set's migrations a previous build recorded in `_sqlx_migrations` (module
/// doc): only rows that succeeded and whose version and checksum are this set's.
async fn adopt(
    conn: &mut AnyConnection,
    set: &str,
    migrator: &Migrator,
    postgres: bool,
) -> Result<BTreeMap<i64, Vec<u8>>, sqlx::Error> {
    let exists = if postgres {
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()"
    } else {
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
    };
    let n: i64 = sqlx::query_scalar(exists).fetch_one(&mut *conn).await?;
    if n == 0 {
        return Ok(BTreeMap::new());
    }
    let rows = sqlx::query("SELECT version, checksum FROM _sqlx_migrations WHERE success")
        .fetch_all(&mut *conn)
        .await?;
    let mut adopted = BTreeMap::new();
    for row in rows {
        let version: i64 = row.try_get(0)?;
        let checksum: Vec<u8> = row.try_get(1)?;
        let ours = migrator
            .iter()
            .find(|m| m.version == version && m.checksum.as_ref() == checksum.as_slice());
        if let Some(m) = ours {
            record(conn, set, m).await?;
            adopted.insert(version, checksum);
        }
    }
    if !adopted.is_empty() {
        tracing::info!(
            set,
            migrations = adopted.len(),
            "adopted migrations recorded by a previous build"
        );
    }
    Ok(adopted)
}
