//! The log and the read models in one database (PostgreSQL) or one file (SQLite): each
//! migration set is tracked on its own, and a database laid out by the previous build (its
//! set recorded in sqlx's `_sqlx_migrations`) opens without re-running or losing anything.

use crate::{DataDir, PgDatabase};
use sqlx::Connection;
use std::sync::Arc;
use switchboard::log::postgres::{PostgresLog, PostgresLogOptions};
use switchboard::log::sqlite::{SqliteLog, SqliteLogOptions};
use switchboard::log::EventLog;
use switchboard_projections::store::ProjectionStore;

/// Opens the log and the store on `url` twice, as a restart would.
async fn open_both_postgres(url: &str) {
    for _ in 0..2 {
        let log = PostgresLog::open(url, PostgresLogOptions::default(), Arc::new(()))
            .await
            .expect("the log opens beside the read models");
        let store = ProjectionStore::connect(url)
            .await
            .expect("the read models open beside the log");
        log.heads().await.expect("the log reads");
        log.shutdown().await;
        store.close().await;
    }
}

async fn tracked(url: &str) -> Vec<(String, i64)> {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query_as("SELECT set_name, version FROM switchboard_migrations ORDER BY 1, 2")
        .fetch_all(&mut conn)
        .await
        .expect("switchboard_migrations")
}

fn expected_sets(projections: i64) -> Vec<(String, i64)> {
    let mut sets = vec![("log".to_string(), 1)];
    sets.extend((1..=projections).map(|v| ("projections".to_string(), v)));
    sets
}

fn projection_migrations() -> i64 {
    sqlx::migrate!("./migrations/postgres/projections")
        .iter()
        .count() as i64
}

#[tokio::test]
async fn postgres_log_and_read_models_share_a_fresh_database() {
    let db = PgDatabase::new().await;
    open_both_postgres(&db.url).await;
    assert_eq!(
        tracked(&db.url).await,
        expected_sets(projection_migrations())
    );
}

#[tokio::test]
async fn postgres_log_database_of_the_previous_build_gains_the_read_models() {
    let db = PgDatabase::new().await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    // The previous build: sqlx's own runner, recording in `_sqlx_migrations`.
    sqlx::migrate!("./migrations/postgres/log")
        .run(&mut conn)
        .await
        .expect("old layout");
    sqlx::query("INSERT INTO streams (id, name) VALUES (1, 'ACold')")
        .execute(&mut conn)
        .await
        .expect("a stream of the old build");
    open_both_postgres(&db.url).await;
    assert_eq!(
        tracked(&db.url).await,
        expected_sets(projection_migrations())
    );
    let old: Vec<String> = sqlx::query_scalar("SELECT name FROM streams ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .expect("streams");
    assert_eq!(old, ["ACold"], "the log's rows are kept");
    let recorded: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&mut conn)
        .await
        .expect("_sqlx_migrations");
    assert_eq!(
        recorded,
        [1],
        "the previous build's record is left as it was"
    );
}

#[tokio::test]
async fn postgres_read_model_database_of_the_previous_build_gains_the_log() {
    let db = PgDatabase::new().await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    sqlx::migrate!("./migrations/postgres/projections")
        .run(&mut conn)
        .await
        .expect("old layout");
    sqlx::query(
        "INSERT INTO projection_checkpoints (projection, partition, log_offset) \
         VALUES ('kept', 0, 7)",
    )
    .execute(&mut conn)
    .await
    .expect("a checkpoint of the old build");
    open_both_postgres(&db.url).await;
    assert_eq!(
        tracked(&db.url).await,
        expected_sets(projection_migrations())
    );
    let kept: i64 = sqlx::query_scalar(
        "SELECT log_offset FROM projection_checkpoints WHERE projection = 'kept'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("checkpoint");
    assert_eq!(kept, 7, "the read models' rows are kept");
}

#[tokio::test]
async fn sqlite_log_and_read_models_share_one_file_also_from_the_previous_build() {
    let dir = DataDir::new("one-file");
    let path = dir.path().join("switchboard.sqlite");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    {
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("connect");
        sqlx::migrate!("./migrations/sqlite/log")
            .run(&mut conn)
            .await
            .expect("old layout");
        sqlx::query("INSERT INTO streams (id, name) VALUES (1, 'ACold')")
            .execute(&mut conn)
            .await
            .expect("a stream of the old build");
    }
    for _ in 0..2 {
        let log = SqliteLog::open(&path, SqliteLogOptions::default(), Arc::new(()))
            .await
            .expect("the log opens");
        let store = ProjectionStore::connect(&url)
            .await
            .expect("the read models open in the log's file");
        log.heads().await.expect("the log reads");
        log.shutdown().await;
        store.close().await;
    }
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("connect");
    let sets: Vec<(String, i64)> =
        sqlx::query_as("SELECT set_name, version FROM switchboard_migrations ORDER BY 1, 2")
            .fetch_all(&mut conn)
            .await
            .expect("switchboard_migrations");
    let projections = sqlx::migrate!("./migrations/sqlite/projections")
        .iter()
        .count() as i64;
    assert_eq!(sets, expected_sets(projections));
    let streams: Vec<String> = sqlx::query_scalar("SELECT name FROM streams ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .expect("streams");
    assert_eq!(streams, ["ACold"]);
}
