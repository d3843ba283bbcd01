//! Crash safety on the real binary: subaccounts are created under concurrent load, the
//! server is killed with SIGKILL mid-stream, and restarted. Every creation that had been
//! acknowledged (201) must be there, and the read models the projector caught up to must
//! equal, by digest, a rebuild of them from the whole log.

use crate::{cli_env, create_account_env, http, DataDir, Env, PgDatabase, Server};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn acknowledged_appends_survive_kill_9(durability: &str, env: Env<'_>) {
    let dir = DataDir::new(&format!("crash-{durability}"));
    let acme = create_account_env(dir.path(), env, "Acme");
    let server = Server::start_env(dir.path(), env, &["--durability", durability]);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    // The clients run until the kill (or this bound, long past any kill).
    let stop_at = Instant::now() + Duration::from_secs(60);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (acked, url, acme) = (
                acked.clone(),
                server.url("/2010-04-01/Accounts.json"),
                acme.clone(),
            );
            tokio::spawn(async move {
                let client = http();
                while Instant::now() < stop_at {
                    let sent = client
                        .post(&url)
                        .basic_auth(&acme.sid, Some(&acme.token))
                        .form(&[("FriendlyName", "load")])
                        .send()
                        .await;
                    let Ok(r) = sent else { break };
                    if r.status() != 201 {
                        break;
                    }
                    let Ok(v) = r.json::<Value>().await else {
                        break;
                    };
                    if let Some(sid) = v["sid"].as_str() {
                        acked.lock().expect("lock").push(sid.to_string());
                    }
                }
            })
        })
        .collect();
    // Kill mid-stream, once enough has been acknowledged: a fixed sleep was too short on a
    // loaded machine against a cold broker (32 acknowledged in 1.5 s, one per client).
    let enough = Instant::now() + Duration::from_secs(30);
    while acked.lock().expect("lock").len() <= 100 && Instant::now() < enough {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill9();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() > 50,
        "the load ran before the kill ({} acknowledged)",
        acked.len()
    );

    let server = Server::start_env(dir.path(), env, &[]);
    let client = http();
    for sid in &acked {
        let r = client
            .get(server.url(&format!("/2010-04-01/Accounts/{sid}.json")))
            .basic_auth(&acme.sid, Some(&acme.token))
            .send()
            .await
            .expect("sent");
        assert_eq!(
            r.status(),
            200,
            "acknowledged subaccount {sid} lost after kill -9"
        );
    }
    assert!(server.terminate());

    let listed = cli_env(dir.path(), env, &["accounts", "list"]);
    assert!(
        listed.lines().count() > acked.len(),
        "every acknowledged account is listed"
    );
    let caught_up = cli_env(dir.path(), env, &["projections", "digest"]);
    cli_env(dir.path(), env, &["projections", "rebuild"]);
    let rebuilt = cli_env(dir.path(), env, &["projections", "digest"]);
    let caught_up: Value = serde_json::from_str(caught_up.trim()).expect("json");
    let rebuilt: Value = serde_json::from_str(rebuilt.trim()).expect("json");
    assert!(caught_up["accounts"]
        .as_str()
        .is_some_and(|d| d.len() == 64));
    assert_eq!(
        caught_up, rebuilt,
        "read models after catch-up equal a full rebuild"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_kill_9_at_durability_full() {
    acknowledged_appends_survive_kill_9("full", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_kill_9_at_durability_normal() {
    acknowledged_appends_survive_kill_9("normal", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_kill_9_on_postgresql() {
    let log = PgDatabase::new().await;
    let db = PgDatabase::new().await;
    let env = [
        ("SWITCHBOARD_LOG", log.url.as_str()),
        ("SWITCHBOARD_DB", db.url.as_str()),
    ];
    acknowledged_appends_survive_kill_9("full", &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_kill_9_on_kafka_with_postgresql_read_models() {
    let db = PgDatabase::new().await;
    let log = format!("kafka://{}", crate::log_suite::tansu_brokers());
    let prefix = crate::log_suite::test_prefix();
    let env = [
        ("SWITCHBOARD_LOG", log.as_str()),
        ("SWITCHBOARD_DB", db.url.as_str()),
        ("SWITCHBOARD_KAFKA_TOPIC_PREFIX", prefix.as_str()),
        // The killed writer's lease runs out after 9 s; the restarted one waits for it.
        ("SWITCHBOARD_KAFKA_LEASE_MS", "9000"),
        ("SWITCHBOARD_KAFKA_LEASE_WAIT_MS", "30000"),
    ];
    acknowledged_appends_survive_kill_9("full", &env).await;
}
