//! Projections over a real SQLite store: checkpoints make effects exactly once, and a version
//! bump rebuilds the read model from the log to the same digest.

use crate::{DataDir, PgDatabase};
use async_trait::async_trait;
use std::sync::Arc;
use switchboard::commands::{new_auth_token, new_sid, Commands};
use switchboard::log::memory::MemoryLog;
use switchboard::log::EventLog;
use switchboard::metrics::Metrics;
use switchboard::projector::Projector;
use switchboard_events::account::{CreateAccount, UpdateAccount};
use switchboard_events::{Envelope, SidPrefix};
use switchboard_projections::accounts::Accounts;
use switchboard_projections::store::{Item, ProjectionStore};
use switchboard_projections::{Projection, Table};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The accounts projection under another version number.
struct Bumped(u32);

#[async_trait]
impl Projection for Bumped {
    fn name(&self) -> &'static str {
        Accounts.name()
    }
    fn version(&self) -> u32 {
        self.0
    }
    fn tables(&self) -> &'static [Table] {
        Accounts.tables()
    }
    async fn apply(&self, tx: &mut sqlx::AnyConnection, e: &Envelope) -> Result<(), sqlx::Error> {
        Accounts.apply(tx, e).await
    }
}

async fn history(log: Arc<dyn EventLog>) {
    let commands = Commands::new(log, "test".into());
    for i in 0..20 {
        let sid = new_sid(SidPrefix::Account);
        let meta = commands.metadata(sid.clone(), Uuid::now_v7());
        let create = CreateAccount {
            sid: sid.clone(),
            friendly_name: format!("account {i}"),
            owner: None,
            auth_token_hash: new_auth_token().1,
            auth_token_sealed: None,
        };
        commands
            .account(&sid, &meta, |s| create.decide(s))
            .await
            .expect("created");
        let rename = UpdateAccount {
            sid: sid.clone(),
            friendly_name: Some(format!("renamed {i}")),
            status: None,
        };
        commands
            .account(&sid, &meta, |s| rename.decide(s))
            .await
            .expect("renamed");
    }
}

async fn catch_up(projector: &Projector, log: &Arc<dyn EventLog>) {
    let heads = log.heads().await.expect("heads");
    for p in projector.projections() {
        projector
            .run(
                p.clone(),
                Some(heads.clone()),
                CancellationToken::new(),
                |_| {},
            )
            .await;
    }
}

async fn a_version_bump_rebuilds_from_the_log_to_the_same_read_model(url: String) {
    let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
    a_version_bump_rebuilds_on(log, url).await;
}

async fn a_version_bump_rebuilds_on(log: Arc<dyn EventLog>, url: String) {
    history(log.clone()).await;
    let metrics = Arc::new(Metrics::default());

    let store = ProjectionStore::connect(&url).await.expect("store");
    let v1 = Projector::new(
        log.clone(),
        store.clone(),
        metrics.clone(),
        vec![Arc::new(Bumped(1))],
    )
    .await
    .expect("projector");
    catch_up(&v1, &log).await;
    let before = store.digest(&Bumped(1)).await.expect("digest");
    assert_eq!(
        store.checkpoint("accounts").await.expect("cp"),
        log.heads().await.expect("heads"),
        "caught up with all 40 events"
    );

    let v2 = Projector::new(
        log.clone(),
        store.clone(),
        metrics,
        vec![Arc::new(Bumped(2))],
    )
    .await
    .expect("projector");
    assert!(
        store.checkpoint("accounts").await.expect("cp").is_empty(),
        "reset for the rebuild"
    );
    assert_eq!(
        store.stored_version("accounts").await.expect("version"),
        Some(2)
    );
    catch_up(&v2, &log).await;
    assert_eq!(store.digest(&Bumped(2)).await.expect("digest"), before);
}

async fn redelivered_events_at_or_below_the_checkpoint_change_nothing(url: String) {
    let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
    history(log.clone()).await;
    let store = ProjectionStore::connect(&url).await.expect("store");
    store.reset(&Accounts).await.expect("reset");
    let items: Vec<Item> = {
        use futures::StreamExt;
        let mut sub = log.subscribe(Default::default());
        let batch = sub.next().await.expect("batch").expect("ok");
        batch
            .into_iter()
            .map(|i| {
                Item::Event(Box::new(
                    i.expect("readable").into_envelope().expect("decodes"),
                ))
            })
            .collect()
    };
    let (checkpoint, _) = store
        .apply_batch(&Accounts, &Default::default(), &items)
        .await
        .expect("applied");
    let once = store.digest(&Accounts).await.expect("digest");
    // At-least-once delivery: the same batch again, from the stored checkpoint.
    let (again, skipped) = store
        .apply_batch(&Accounts, &checkpoint, &items)
        .await
        .expect("applied");
    assert_eq!((again, skipped), (checkpoint, 0));
    assert_eq!(store.digest(&Accounts).await.expect("digest"), once);
}

fn sqlite_url(dir: &DataDir) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("p.sqlite").display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_version_bump_rebuilds_from_the_log_to_the_same_read_model() {
    let dir = DataDir::new("bump");
    a_version_bump_rebuilds_from_the_log_to_the_same_read_model(sqlite_url(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_redelivered_events_at_or_below_the_checkpoint_change_nothing() {
    let dir = DataDir::new("redeliver");
    redelivered_events_at_or_below_the_checkpoint_change_nothing(sqlite_url(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_version_bump_rebuilds_from_the_log_to_the_same_read_model() {
    let db = PgDatabase::new().await;
    a_version_bump_rebuilds_from_the_log_to_the_same_read_model(db.url.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_redelivered_events_at_or_below_the_checkpoint_change_nothing() {
    let db = PgDatabase::new().await;
    redelivered_events_at_or_below_the_checkpoint_change_nothing(db.url.clone()).await;
}

/// The accounts projection applied event by event (the trait's default `apply_batch`).
struct OneByOne;

#[async_trait]
impl Projection for OneByOne {
    fn name(&self) -> &'static str {
        Accounts.name()
    }
    fn version(&self) -> u32 {
        Accounts.version()
    }
    fn tables(&self) -> &'static [Table] {
        Accounts.tables()
    }
    async fn apply(&self, tx: &mut sqlx::AnyConnection, e: &Envelope) -> Result<(), sqlx::Error> {
        Accounts.apply(tx, e).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folding_a_batch_in_memory_gives_the_tables_event_by_event_application_gives() {
    let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
    history(log.clone()).await;
    let mut digests = Vec::new();
    for batched in [true, false] {
        let dir = DataDir::new("batch");
        let store = ProjectionStore::connect(&sqlite_url(&dir))
            .await
            .expect("store");
        let projection: Arc<dyn Projection> = if batched {
            Arc::new(Accounts)
        } else {
            Arc::new(OneByOne)
        };
        let projector = Projector::new(
            log.clone(),
            store.clone(),
            Arc::new(Metrics::default()),
            vec![projection.clone()],
        )
        .await
        .expect("projector");
        catch_up(&projector, &log).await;
        digests.push(store.digest(projection.as_ref()).await.expect("digest"));
    }
    assert_eq!(digests[0], digests[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_with_postgres_a_version_bump_rebuilds_from_the_log_to_the_same_read_model() {
    let db = PgDatabase::new().await;
    let store = ProjectionStore::connect(&db.url).await.expect("store");
    let log = crate::log_suite::open_kafka_log(
        &crate::log_suite::tansu_brokers(),
        &crate::log_suite::test_prefix(),
        &store,
    )
    .await;
    let log: Arc<dyn EventLog> = Arc::new(log);
    a_version_bump_rebuilds_on(log.clone(), db.url.clone()).await;
    log.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projectors_sharing_a_postgres_store_apply_each_event_once() {
    let db = PgDatabase::new().await;
    let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
    history(log.clone()).await;
    let store = ProjectionStore::connect(&db.url).await.expect("store");
    let metrics = Arc::new(Metrics::default());
    // Two projector processes, as two API/projector nodes would run them.
    let a = Projector::new(
        log.clone(),
        store.clone(),
        metrics.clone(),
        vec![Arc::new(Counting)],
    )
    .await
    .expect("projector");
    let b = Projector::new(
        log.clone(),
        store.clone(),
        metrics,
        vec![Arc::new(Counting)],
    )
    .await
    .expect("projector");
    tokio::join!(catch_up(&a, &log), catch_up(&b, &log));
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(store.pool())
        .await
        .expect("count");
    let versions: i64 = sqlx::query_scalar("SELECT CAST(SUM(version) AS BIGINT) FROM accounts")
        .fetch_one(store.pool())
        .await
        .expect("sum");
    assert_eq!((applied, versions), (20, 40));
    let bumps: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projection_skipped")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(
        bumps, 0,
        "no event was applied twice (Counting records doubles)"
    );
}

/// The accounts projection, but an event folded onto a row that already has its version is
/// recorded as a double application.
struct Counting;

#[async_trait]
impl Projection for Counting {
    fn name(&self) -> &'static str {
        Accounts.name()
    }
    fn version(&self) -> u32 {
        Accounts.version()
    }
    fn tables(&self) -> &'static [Table] {
        Accounts.tables()
    }
    async fn apply(&self, tx: &mut sqlx::AnyConnection, e: &Envelope) -> Result<(), sqlx::Error> {
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT version FROM accounts WHERE sid = $1")
                .bind(e.stream.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if existing.is_some_and(|v| v as u64 >= e.seq) {
            sqlx::query(
                "INSERT INTO projection_skipped (projection, partition, log_offset, stream, reason) \
                 VALUES ('double', $1, $2, $3, 'applied twice')",
            )
            .bind(i64::from(e.position.partition))
            .bind(e.position.offset as i64)
            .bind(e.stream.as_str())
            .execute(&mut *tx)
            .await?;
            return Ok(());
        }
        Accounts.apply(tx, e).await
    }
}
