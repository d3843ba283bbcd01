//! Sealed auth tokens: what the webhook signer gets from `AccountTokens` is the token shown at
//! creation, for accounts and subaccounts; the log's bytes never hold a token in the clear; an
//! account whose creation was written before tokens were sealed (an `account.created` v1
//! record, written here literally) has no signable token until it rotates its token through
//! Twilio's `/v1/AuthTokens/Secondary` and `/Promote`, driven by the official Python library.

use crate::sdk::run_sdk_script;
use crate::{account_path, create_account, Api, Creds, DataDir, Server};
use std::path::Path;
use std::sync::Arc;
use switchboard::app::account_tokens::AccountTokens;
use switchboard::app::tokens::AuthTokens;
use switchboard::commands::hash_token;
use switchboard::log::sqlite::{SqliteLog, SqliteLogOptions};
use switchboard::log::EventLog;
use switchboard::secrets::Keyring;
use switchboard_events::account::{AccountCreated, AccountStatus, AccountType};
use switchboard_events::{Event, ExpectedVersion, Metadata, NewEvent, Sid};
use uuid::Uuid;

/// Opens the log a server (or an earlier check) just let go of. The last connection to a WAL
/// file checkpoints it as it closes, so an open right after may meet the file busy for a
/// moment: a few tries, and the error itself if they all fail.
async fn open_log(dir: &Path) -> Arc<dyn EventLog> {
    let mut last = None;
    for _ in 0..10 {
        match SqliteLog::open(
            &dir.join("log.sqlite"),
            SqliteLogOptions::default(),
            Arc::new(()),
        )
        .await
        {
            Ok(log) => return Arc::new(log),
            Err(e) => {
                eprintln!("opening the log: {e:#}; trying again");
                last = Some(e);
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
    panic!("open the log: {:#}", last.expect("tried"))
}

/// The signer's view, as `serve` builds it: the log and the key file in the data directory.
pub(crate) async fn token_of(dir: &Path, sid: &str) -> Option<String> {
    let (keyring, created) = Keyring::load(&dir.join("secret.key"), &[]).expect("key file");
    assert!(!created, "the key file was made by the server");
    let log = open_log(dir).await;
    let tokens = AccountTokens::new(log.clone(), Arc::new(keyring));
    let sid = Sid::parse(sid).expect("sid");
    let token = tokens.auth_token(&sid).await.expect("readable");
    log.shutdown().await;
    token
}

/// Every byte of the log's files (the database, its WAL and shared memory).
pub(crate) fn log_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data dir").flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("log.sqlite")
        {
            bytes.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
    }
    bytes
}

pub(crate) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_signer_gets_the_token_shown_at_creation_and_the_log_never_holds_it() {
    let dir = DataDir::new("sealed-tokens");
    let main = create_account(dir.path(), "Sealed main");
    let server = Server::start(dir.path());
    let created = Api::new(&server, &main)
        .post(
            "/2010-04-01/Accounts.json",
            &[("FriendlyName", "Sealed sub")],
        )
        .await;
    assert_eq!(created.status(), 201);
    let body: serde_json::Value = created.json().await.expect("JSON");
    let sub = Creds {
        sid: body["sid"].as_str().expect("sid").to_string(),
        token: body["auth_token"].as_str().expect("token").to_string(),
    };
    assert!(server.terminate(), "clean stop");

    assert_eq!(
        token_of(dir.path(), &main.sid).await,
        Some(main.token.clone())
    );
    assert_eq!(
        token_of(dir.path(), &sub.sid).await,
        Some(sub.token.clone())
    );
    let bytes = log_bytes(dir.path());
    assert!(
        contains(&bytes, &main.sid),
        "the check reads the log's real bytes"
    );
    assert!(
        contains(&bytes, &hash_token(&main.token)),
        "the hash is kept"
    );
    for token in [&main.token, &sub.token] {
        assert!(
            !contains(&bytes, token),
            "the log holds a token in the clear"
        );
    }
}

#[tokio::test]
async fn an_account_from_before_sealing_signs_only_after_it_rotates_its_token() {
    let dir = DataDir::new("unsealed-account");
    let sid = "AC0000000000000000000000000000aa01".to_string();
    let old = "0123456789abcdef0123456789abcdef".to_string();
    {
        // The creation exactly as an older build wrote it: v1, a hash and no sealed token.
        let log = open_log(dir.path()).await;
        let account = Sid::parse(&sid).expect("sid");
        let meta = Metadata {
            occurred_at: chrono::Utc::now(),
            account_sid: account.clone(),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            region: "local".into(),
        };
        let placeholder = Event::AccountCreated(AccountCreated {
            friendly_name: "Before sealing".into(),
            owner_account_sid: None,
            auth_token_hash: hash_token(&old),
            auth_token_sealed: None,
            status: AccountStatus::Active,
            account_type: AccountType::Full,
        });
        let mut v1 = NewEvent::new(Uuid::now_v7(), &meta, &placeholder);
        v1.schema_version = 1;
        v1.data = format!(
            r#"{{"friendly_name":"Before sealing","owner_account_sid":null,"auth_token_hash":"{}","status":"active","type":"Full"}}"#,
            hash_token(&old)
        );
        log.append(&sid, ExpectedVersion::NoStream, vec![v1])
            .await
            .expect("append the v1 record");
        log.shutdown().await;
    }
    let server = Server::start(dir.path());
    // It authenticates as before, but the signer has nothing to sign with.
    let before = Creds {
        sid: sid.clone(),
        token: old.clone(),
    };
    assert_eq!(
        Api::new(&server, &before)
            .get(&account_path(&sid))
            .await
            .status(),
        200
    );
    assert!(server.terminate());
    assert_eq!(token_of(dir.path(), &sid).await, None);

    let server = Server::start(dir.path());
    let out = run_sdk_script("auth_tokens.py", &server, &sid, &old);
    let new = out.lines().last().unwrap_or_default().trim().to_string();
    assert_eq!(new.len(), 32, "the script prints the promoted token: {out}");
    assert!(server.terminate());
    assert_eq!(token_of(dir.path(), &sid).await, Some(new.clone()));

    // After a restart (the read model folded from the log) the new token works, the old not.
    let server = Server::start(dir.path());
    let after = Creds {
        sid: sid.clone(),
        token: new.clone(),
    };
    assert_eq!(
        Api::new(&server, &after)
            .get(&account_path(&sid))
            .await
            .status(),
        200
    );
    assert_eq!(
        Api::new(&server, &before)
            .get(&account_path(&sid))
            .await
            .status(),
        401
    );
    assert!(
        !contains(&log_bytes(dir.path()), &new),
        "the promoted token in the clear"
    );
}
