//! Operating a running cluster: `switchboard accounts create` while a server holds the log
//! (the embedded lock, the PostgreSQL advisory lock, the Kafka writer lease on tansu) goes
//! through that server's operator API with the operator token `serve` created, prints what a
//! direct creation prints, and the account works at once with the official Twilio library.
//! A wrong, missing or account credential gets Twilio's 401 20003 there; the log never holds
//! the operator token or the new auth token; on SQLite the signer's view of the new account
//! is the token shown at creation, as for an account the command line wrote itself.

use crate::auth_tokens::{contains, log_bytes, token_of};
use crate::kafka::{as_env, kafka_env};
use crate::log_suite::{tansu_brokers, test_prefix};
use crate::sdk::run_sdk_script;
use crate::{
    assert_twilio_error, cli_env, cli_output_env, http, Creds, DataDir, Env, PgDatabase, Server,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const ACCOUNTS: &str = "/operator/v1/Accounts";

/// `accounts create` as the operator runs it, with `extra` flags; its JSON line.
fn accounts_create(dir: &Path, env: Env, name: &str, extra: &[&str]) -> Value {
    let mut args = vec!["accounts", "create", "--friendly-name", name];
    args.extend(extra);
    let out = cli_env(dir, env, &args);
    serde_json::from_str(out.trim()).expect("one JSON object")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

/// What one run leaves for the backend's own checks.
struct Run {
    direct: Creds,
    through_server: Creds,
    operator_token: String,
}

/// A direct creation, a server, `accounts create` through it, the new account at work,
/// refused operator credentials, the server stopped, and a direct creation again.
async fn through_a_running_server(dir: &Path, env: Env<'_>) -> Run {
    let direct = accounts_create(dir, env, "Direct", &[]);
    let server = Server::start_env(dir, env, &[]);
    let server_url = server.base.clone();
    let started = Instant::now();
    let via = accounts_create(dir, env, "Beta", &["--server-url", &server_url]);
    // At once: no wait for a lease the running writer holds (PostgreSQL's own 5 s aside).
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        keys(&via),
        keys(&direct),
        "the same output either way: {via}"
    );
    assert_eq!(
        (&via["friendly_name"], &via["status"]),
        (&"Beta".into(), &"active".into())
    );
    let beta = Creds {
        sid: via["sid"].as_str().expect("sid").into(),
        token: via["auth_token"].as_str().expect("auth_token").into(),
    };
    let direct = Creds {
        sid: direct["sid"].as_str().expect("sid").into(),
        token: direct["auth_token"].as_str().expect("auth_token").into(),
    };

    // The customer's account works at once, through the official library.
    let ws = run_sdk_script("operator_account.py", &server, &beta.sid, &beta.token);
    assert!(ws.trim().starts_with("WS"), "{ws}");

    // The operator sees its top-level accounts (not the customer's subaccount) and each one.
    let operator_token = switchboard::operator::token::current(&dir.join("operator.token"))
        .expect("serve created DATA_DIR/operator.token");
    let client = http();
    let listed: Value = client
        .get(server.url(ACCOUNTS))
        .basic_auth("operator", Some(&operator_token))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    let sids: BTreeSet<&str> = listed["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["sid"].as_str().expect("sid"))
        .collect();
    assert_eq!(
        sids,
        BTreeSet::from([direct.sid.as_str(), beta.sid.as_str()])
    );
    let fetched = client
        .get(server.url(&format!("{ACCOUNTS}/{}", beta.sid)))
        .basic_auth("operator", Some(&operator_token))
        .send()
        .await
        .expect("sent");
    assert_eq!(fetched.status(), 200);
    let fetched: Value = fetched.json().await.expect("JSON");
    assert_eq!(fetched["friendly_name"], "Beta");
    assert_eq!(
        fetched["auth_token"],
        Value::Null,
        "shown once, at creation"
    );

    // Anything but the operator token: Twilio's 401 20003, and nothing created.
    let wrong = switchboard::operator::token::generate().expect("token");
    let attempts = [
        ("operator", Some(wrong.as_str())),
        (beta.sid.as_str(), Some(beta.token.as_str())),
        (beta.sid.as_str(), Some(operator_token.as_str())),
    ];
    for (user, password) in attempts {
        let r = client
            .post(server.url(ACCOUNTS))
            .basic_auth(user, password)
            .form(&[("FriendlyName", "Mallory")])
            .send()
            .await
            .expect("sent");
        assert_twilio_error(r, 401, 20003).await;
    }
    let r = client
        .post(server.url(ACCOUNTS))
        .form(&[("FriendlyName", "Mallory")])
        .send()
        .await
        .expect("sent");
    assert_twilio_error(r, 401, 20003).await;
    // The command line with a wrong token says both why it could not write and what the
    // server answered.
    let out = cli_output_env(
        dir,
        env,
        &[
            "accounts",
            "create",
            "--server-url",
            &server_url,
            "--operator-token",
            &wrong,
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("20003") && err.contains("401"), "{err}");
    assert!(
        err.contains("in use by another switchboard") || err.contains("writer lease"),
        "{err}"
    );

    assert!(server.terminate(), "clean stop");
    // No server: the command writes the log itself again.
    accounts_create(dir, env, "After", &["--server-url", &server_url]);
    Run {
        direct,
        through_server: beta,
        operator_token,
    }
}

/// The log's account events (`tail`), with no secret in the clear and the new account's
/// token sealed.
fn assert_log_holds_no_secret(dir: &Path, env: Env, prefix: &str, run: &Run) {
    let topic = format!("{prefix}.account");
    let events = cli_env(
        dir,
        env,
        &[
            "tail",
            "--topic",
            &topic,
            "--from-beginning",
            "--exit-at-end",
        ],
    );
    assert!(events.contains(&run.through_server.sid), "{events}");
    let created = events
        .lines()
        .find(|l| l.contains(&run.through_server.sid) && l.contains("account.created"))
        .unwrap_or_else(|| panic!("no account.created for the new account in {events}"));
    assert!(created.contains("\"auth_token_sealed\":\"v1."), "{created}");
    for secret in [
        &run.operator_token,
        &run.through_server.token,
        &run.direct.token,
    ] {
        assert!(
            !events.contains(secret.as_str()),
            "a secret in the log: {events}"
        );
    }
}

#[tokio::test]
async fn accounts_create_goes_through_the_running_server_on_sqlite() {
    let dir = DataDir::new("operator-sqlite");
    let run = through_a_running_server(dir.path(), &[]).await;
    assert_log_holds_no_secret(dir.path(), &[], "switchboard", &run);
    // The signer gets the token shown at creation, as for the account written directly.
    for creds in [&run.direct, &run.through_server] {
        assert_eq!(
            token_of(dir.path(), &creds.sid).await,
            Some(creds.token.clone())
        );
    }
    let bytes = log_bytes(dir.path());
    assert!(contains(&bytes, &run.through_server.sid));
    assert!(!contains(&bytes, &run.operator_token));
    assert!(!contains(&bytes, &run.through_server.token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_create_goes_through_the_running_server_on_postgresql() {
    let dir = DataDir::new("operator-pg");
    let (log, db) = (PgDatabase::new().await, PgDatabase::new().await);
    let env = [
        ("SWITCHBOARD_LOG", log.url.as_str()),
        ("SWITCHBOARD_DB", db.url.as_str()),
    ];
    let run = through_a_running_server(dir.path(), &env).await;
    assert_log_holds_no_secret(dir.path(), &env, "switchboard", &run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_create_goes_through_the_running_writer_on_kafka() {
    let dir = DataDir::new("operator-kafka");
    let db = PgDatabase::new().await;
    let prefix = test_prefix();
    let mut env = kafka_env(&tansu_brokers(), &db, &prefix);
    // The writer's environment, as a standby's: `accounts create` must not wait for the
    // lease it holds (the test would take a minute per creation).
    env.push(("SWITCHBOARD_KAFKA_LEASE_WAIT_MS".into(), "60000".into()));
    let env = as_env(&env);
    let run = through_a_running_server(dir.path(), &env).await;
    assert_log_holds_no_secret(dir.path(), &env, &prefix, &run);

    // Through an API node: the command is forwarded to the writer like any other, and the
    // new account works there at once.
    let writer = Server::start_env(dir.path(), &env, &[]);
    let api = Server::start_env(
        dir.path(),
        &env,
        &["--roles", "api,projector", "--writer-url", &writer.base],
    );
    let via_api = accounts_create(dir.path(), &env, "Gamma", &["--server-url", &api.base]);
    let sid = via_api["sid"].as_str().expect("sid");
    let token = via_api["auth_token"].as_str().expect("auth_token");
    let r = http()
        .post(writer.url("/2010-04-01/Accounts.json"))
        .basic_auth(sid, Some(token))
        .form(&[("FriendlyName", "Gamma's subaccount")])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    drop(api);
    assert!(writer.terminate());
}
