//! The Kafka log with PostgreSQL read models, on the real binary and a real broker (tansu
//! with its SQLite engine): the broker killed and restarted under load, and a second writer
//! process refused while a standby takes over from a killed one.

use crate::log_suite::{tansu_brokers, test_prefix};
use crate::{cli_env, create_account_env, http, DataDir, PgDatabase, Server, Tansu};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Environment naming a Kafka log on `brokers` and a PostgreSQL store.
pub(crate) fn kafka_env(brokers: &str, db: &PgDatabase, prefix: &str) -> Vec<(String, String)> {
    vec![
        ("SWITCHBOARD_LOG".into(), format!("kafka://{brokers}")),
        ("SWITCHBOARD_DB".into(), db.url.clone()),
        ("SWITCHBOARD_KAFKA_TOPIC_PREFIX".into(), prefix.into()),
    ]
}

pub(crate) fn as_env(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[derive(Default)]
struct Tally {
    acked: Vec<String>,
    unavailable: Vec<(Duration, String)>,
    other: Vec<String>,
}

/// Clients creating subaccounts until `stop`; every answer is tallied.
fn load(
    server_url: String,
    acme: &crate::Creds,
    clients: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|_| {
            let (url, acme, stop, tally) = (
                server_url.clone(),
                acme.clone(),
                stop.clone(),
                tally.clone(),
            );
            tokio::spawn(async move {
                let client = http();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let sent = Instant::now();
                    let r = client
                        .post(&url)
                        .basic_auth(&acme.sid, Some(&acme.token))
                        .form(&[("FriendlyName", "load")])
                        .send()
                        .await;
                    let Ok(r) = r else {
                        tally.lock().expect("lock").other.push("no answer".into());
                        continue;
                    };
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    {
                        let mut t = tally.lock().expect("lock");
                        match status {
                            201 => t.acked.push(body["sid"].as_str().unwrap_or("").to_string()),
                            503 => t.unavailable.push((
                                sent.elapsed(),
                                body["message"].as_str().unwrap_or("").to_string(),
                            )),
                            s => t.other.push(format!("{s} {body}")),
                        }
                    }
                    if status == 503 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_killed_and_restarted_under_load_loses_no_acknowledged_append_and_duplicates_nothing(
) {
    let dir = DataDir::new("kafka-fault");
    let mut tansu = Tansu::start(dir.path());
    let db = PgDatabase::new().await;
    let env = kafka_env(&tansu.brokers(), &db, &test_prefix());
    let env = as_env(&env);
    let acme = create_account_env(dir.path(), &env, "Acme");
    let server = Server::start_env(dir.path(), &env, &[]);
    let url = server.url("/2010-04-01/Accounts.json");

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let clients = load(url.clone(), &acme, 16, stop.clone(), tally.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before_kill = tally.lock().expect("lock").acked.len();
    tansu.kill9();
    let killed_at = Instant::now();
    // While the broker is down, a command fails fast with 503 and says why.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let probe_sent = Instant::now();
    let probe = http()
        .post(&url)
        .basic_auth(&acme.sid, Some(&acme.token))
        .form(&[("FriendlyName", "while down")])
        .send()
        .await
        .expect("answered");
    let probe_took = probe_sent.elapsed();
    assert_eq!(probe.status(), 503, "a command while the broker is down");
    let body: Value = probe.json().await.expect("json");
    assert_eq!(body["status"], 503);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Kafka")),
        "the 503 says why: {body}"
    );
    assert!(
        probe_took < Duration::from_millis(500),
        "fails fast, not after a timeout ({probe_took:?})"
    );
    tansu.restart();
    let restarted_at = Instant::now();
    // Appends are taken again once the writer has rebuilt its index.
    let deadline = Instant::now() + Duration::from_secs(60);
    let resumed = loop {
        let n = tally.lock().expect("lock").acked.len();
        tokio::time::sleep(Duration::from_millis(200)).await;
        if tally.lock().expect("lock").acked.len() > n + 20 {
            break restarted_at.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "appends never resumed after the broker came back"
        );
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in clients {
        let _ = c.await;
    }
    let tally = Arc::try_unwrap(tally)
        .ok()
        .expect("clients done")
        .into_inner()
        .expect("lock");
    eprintln!(
        "acked {} ({before_kill} before the kill), 503s {}, other {:?}; down for {:?}, appends resumed {resumed:?} after the restart",
        tally.acked.len(),
        tally.unavailable.len(),
        tally.other,
        restarted_at - killed_at
    );
    assert!(before_kill > 20, "load ran before the kill");
    assert!(
        !tally.unavailable.is_empty(),
        "503s while the broker was down"
    );
    assert!(
        tally.other.is_empty(),
        "only 201 and 503: {:?}",
        tally.other
    );
    let unique: HashSet<&String> = tally.acked.iter().collect();
    assert_eq!(unique.len(), tally.acked.len());

    // Every acknowledged subaccount is in the read model, exactly once.
    let client = http();
    for sid in &tally.acked {
        let r = client
            .get(server.url(&format!("/2010-04-01/Accounts/{sid}.json")))
            .basic_auth(&acme.sid, Some(&acme.token))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 200, "acknowledged subaccount {sid} lost");
    }
    assert!(server.terminate());
    let listed = cli_env(dir.path(), &env, &["accounts", "list"]);
    let sids: Vec<String> = listed
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["sid"]
                .as_str()
                .expect("sid")
                .to_string()
        })
        .collect();
    let distinct: HashSet<&String> = sids.iter().collect();
    assert_eq!(distinct.len(), sids.len(), "no account listed twice");
    for sid in &tally.acked {
        assert!(distinct.contains(sid), "{sid} listed");
    }
    // Caught up == rebuilt from the whole log: each event applied exactly once.
    let caught_up = cli_env(dir.path(), &env, &["projections", "digest"]);
    cli_env(dir.path(), &env, &["projections", "rebuild"]);
    let rebuilt = cli_env(dir.path(), &env, &["projections", "digest"]);
    assert_eq!(caught_up, rebuilt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_process_is_refused_and_a_standby_takes_over_from_a_killed_one() {
    let dir = DataDir::new("kafka-fence");
    let db = PgDatabase::new().await;
    let mut env = kafka_env(&tansu_brokers(), &db, &test_prefix());
    env.push(("SWITCHBOARD_KAFKA_LEASE_MS".into(), "9000".into()));
    let env_ref = as_env(&env);
    let acme = create_account_env(dir.path(), &env_ref, "Acme");
    let writer = Server::start_env(dir.path(), &env_ref, &[]);

    // A second writer on the same topics is refused, and says why.
    let second = std::process::Command::new(crate::bin())
        .args(["serve", "--http-addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .envs(env_ref.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .expect("ran");
    assert!(!second.status.success(), "a second writer must not start");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("writer lease"), "says why: {stderr}");

    // An API-only node forwards commands to the writer and reads its own writes.
    let api = Server::start_env(
        dir.path(),
        &env_ref,
        &["--roles", "api", "--writer-url", &writer.base],
    );
    let client = http();
    let created: Value = client
        .post(api.url("/2010-04-01/Accounts.json"))
        .basic_auth(&acme.sid, Some(&acme.token))
        .form(&[("FriendlyName", "via the api node")])
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let sub = created["sid"]
        .as_str()
        .expect("created through the API node")
        .to_string();
    let read: Value = client
        .get(api.url(&format!("/2010-04-01/Accounts/{sub}.json")))
        .basic_auth(&acme.sid, Some(&acme.token))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(read["friendly_name"], "via the api node");

    // The writer dies; a standby waiting for the lease takes over once it expires, knows
    // every stream's head, and the API node's commands go through again.
    writer.kill9();
    drop(api);
    let standby_env: Vec<(&str, &str)> = env_ref
        .iter()
        .copied()
        .chain([("SWITCHBOARD_KAFKA_LEASE_WAIT_MS", "30000")])
        .collect();
    let started = Instant::now();
    let standby = Server::start_env(dir.path(), &standby_env, &[]);
    let took_over = started.elapsed();
    let renamed = client
        .post(standby.url(&format!("/2010-04-01/Accounts/{sub}.json")))
        .basic_auth(&acme.sid, Some(&acme.token))
        .form(&[("FriendlyName", "renamed after the hand-over")])
        .send()
        .await
        .expect("sent");
    assert_eq!(renamed.status(), 200);
    let topic = format!("{}.account", env_ref[2].1);
    let events = cli_env(
        dir.path(),
        &env_ref,
        &[
            "tail",
            "--topic",
            &topic,
            "--from-beginning",
            "--exit-at-end",
        ],
    );
    let seqs: Vec<u64> = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|e| e["stream"] == sub.as_str())
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        vec![1, 2],
        "the stream continues at the right version, nothing interleaved"
    );
    eprintln!("standby took over in {took_over:?}");
    assert!(standby.terminate());
}
