//! [`AuthTokens`] from the accounts' own streams: an account's current token is its sealed
//! copy in the log (`account.created` v2, or the last promoted secondary), opened with the
//! server's keyring.
//!
//! Why the stream and not the `accounts` read model: a webhook can follow an account's
//! creation or token promotion by milliseconds, and the read model may not have folded it
//! yet; the stream is the write model itself, so what the signer reads is never older than
//! what the account's own commands have appended (read-your-writes without waiting). An account
//! stream is short (creation, renames, rotations), so reading it per signature is cheap (the
//! embedded and PostgreSQL logs read it by index, the Kafka log from its writer's stream
//! index and cache; that index lives on the writer node, where the signer runs).
//!
//! What was opened is remembered per account until the runner reads a newer event of that
//! account ([`AuthTokens::forget`]): a sender at a thousand deliveries a second otherwise
//! spends a log read, a fold and an AES-GCM open on every one of them (1–2 ms under load,
//! measured with `bench taskrouter`). A token promoted through the API signs from the moment
//! the runner reads the promotion, milliseconds after it commits.
//!
//! The invariant: only the primary token signs (as Twilio signs with the primary until a
//! promotion); an account that has no sealed primary answers `Ok(None)`, never a guess.

use super::tokens::{AuthTokens, TokenError};
use crate::log::{EventLog, ReadError};
use crate::secrets::{Keyring, OpenError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_events::account::{self, Account};
use switchboard_events::Sid;

/// See the module doc.
#[derive(Clone)]
pub struct AccountTokens {
    log: Arc<dyn EventLog>,
    keyring: Arc<Keyring>,
    /// Tokens opened so far (`None`: the account has no signable token), until forgotten.
    opened: Arc<Mutex<HashMap<Sid, Option<String>>>>,
}

impl AccountTokens {
    /// Tokens read from `log`, opened with `keyring` (the node's current and previous keys).
    pub fn new(log: Arc<dyn EventLog>, keyring: Arc<Keyring>) -> AccountTokens {
        AccountTokens {
            log,
            keyring,
            opened: Arc::default(),
        }
    }

    /// The account as its stream folds now.
    async fn load(&self, sid: &Sid) -> Result<Option<Account>, TokenError> {
        let recorded = self
            .log
            .read_stream(sid.as_str())
            .await
            .map_err(|e| match e {
                ReadError::Unavailable(why) => TokenError::Unavailable(why),
                ReadError::Damaged(d) => TokenError::Unavailable(d.to_string()),
            })?;
        let mut state = None;
        for r in &recorded {
            let envelope = r.decode().map_err(|e| {
                TokenError::Unavailable(format!(
                    "account {sid}: the record at {} cannot be read: {e}",
                    r.position
                ))
            })?;
            state = account::evolve(state, sid, envelope.occurred_at, &envelope.event);
        }
        Ok(state)
    }
}

#[async_trait]
impl AuthTokens for AccountTokens {
    async fn auth_token(&self, account: &Sid) -> Result<Option<String>, TokenError> {
        if let Some(known) = self.remembered(account) {
            return Ok(known);
        }
        let token = self.open(account).await?;
        self.opened
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(account.clone(), token.clone());
        Ok(token)
    }

    fn forget(&self, account: &Sid) {
        self.opened
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(account);
    }
}

impl AccountTokens {
    fn remembered(&self, account: &Sid) -> Option<Option<String>> {
        let opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        opened.get(account).cloned()
    }

    /// Reads the account's stream and opens its primary token.
    async fn open(&self, account: &Sid) -> Result<Option<String>, TokenError> {
        let Some(state) = self.load(account).await? else {
            return Ok(None);
        };
        let Some(sealed) = state.auth_token_sealed else {
            return Ok(None);
        };
        self.keyring.open(&sealed).map(Some).map_err(|e| match e {
            OpenError::UnknownKey(key_id) => TokenError::UnknownKey {
                account: account.to_string(),
                key_id,
            },
            other => TokenError::Unavailable(format!(
                "the sealed auth token of {account} does not open: {other}"
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{hash_token, new_sealed_auth_token, new_sid, Commands};
    use crate::log::memory::MemoryLog;
    use crate::secrets::{SecretKey, KEY_LEN};
    use switchboard_events::account::{
        AccountCreated, AccountStatus, AccountType, CreateAccount, CreateSecondaryAuthToken,
        PromoteAuthToken,
    };
    use switchboard_events::{Event, ExpectedVersion, NewEvent, SidPrefix};
    use uuid::Uuid;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_bytes([n; KEY_LEN])
    }

    fn ring(current: u8, previous: &[u8]) -> Arc<Keyring> {
        Arc::new(Keyring::new(
            key(current),
            previous.iter().map(|n| key(*n)).collect(),
        ))
    }

    async fn create(
        commands: &Commands,
        keyring: &Keyring,
        owner: Option<Account>,
    ) -> (Sid, String) {
        let sid = new_sid(SidPrefix::Account);
        let token = new_sealed_auth_token(keyring);
        let command = CreateAccount {
            sid: sid.clone(),
            friendly_name: "A".into(),
            owner,
            auth_token_hash: token.hash.clone(),
            auth_token_sealed: Some(token.sealed.clone()),
        };
        let meta = commands.metadata(sid.clone(), Uuid::now_v7());
        commands
            .account(&sid, &meta, |s| command.decide(s))
            .await
            .unwrap_or_else(|e| panic!("create: {e}"));
        (sid, token.token)
    }

    async fn rotate(commands: &Commands, keyring: &Keyring, sid: &Sid) -> String {
        let token = new_sealed_auth_token(keyring);
        let meta = commands.metadata(sid.clone(), Uuid::now_v7());
        let secondary = CreateSecondaryAuthToken {
            sid: sid.clone(),
            auth_token_hash: token.hash.clone(),
            auth_token_sealed: token.sealed.clone(),
        };
        commands
            .account(sid, &meta, |s| secondary.decide(s))
            .await
            .unwrap_or_else(|e| panic!("secondary: {e}"));
        let promote = PromoteAuthToken { sid: sid.clone() };
        commands
            .account(sid, &meta, |s| promote.decide(s))
            .await
            .unwrap_or_else(|e| panic!("promote: {e}"));
        token.token
    }

    #[tokio::test]
    async fn the_token_is_the_one_returned_at_creation_for_accounts_and_subaccounts() {
        let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
        let commands = Commands::new(log.clone(), "us1".into());
        let keyring = ring(1, &[]);
        let tokens = AccountTokens::new(log.clone(), keyring.clone());
        let (main, main_token) = create(&commands, &keyring, None).await;
        let parent = tokens.load(&main).await.ok().flatten();
        let (sub, sub_token) = create(&commands, &keyring, parent).await;
        assert_eq!(tokens.auth_token(&main).await, Ok(Some(main_token.clone())));
        assert_eq!(tokens.auth_token(&sub).await, Ok(Some(sub_token.clone())));
        assert_ne!(main_token, sub_token);
        let missing = new_sid(SidPrefix::Account);
        assert_eq!(tokens.auth_token(&missing).await, Ok(None));
    }

    #[tokio::test]
    async fn an_account_created_before_sealing_has_no_token_until_it_rotates() {
        let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
        let commands = Commands::new(log.clone(), "us1".into());
        let keyring = ring(1, &[]);
        let sid = new_sid(SidPrefix::Account);
        // The v1 record as an older build wrote it: only the hash.
        let meta = commands.metadata(sid.clone(), Uuid::now_v7());
        let placeholder = Event::AccountCreated(AccountCreated {
            friendly_name: "Old".into(),
            owner_account_sid: None,
            auth_token_hash: hash_token("old"),
            auth_token_sealed: None,
            status: AccountStatus::Active,
            account_type: AccountType::Full,
        });
        let mut v1 = NewEvent::new(Uuid::now_v7(), &meta, &placeholder);
        v1.schema_version = 1;
        v1.data = format!(
            r#"{{"friendly_name":"Old","owner_account_sid":null,"auth_token_hash":"{}","status":"active","type":"Full"}}"#,
            hash_token("old")
        );
        log.append(sid.as_str(), ExpectedVersion::NoStream, vec![v1])
            .await
            .unwrap_or_else(|e| panic!("append: {e}"));
        let tokens = AccountTokens::new(log.clone(), keyring.clone());
        assert_eq!(tokens.auth_token(&sid).await, Ok(None));
        let new = rotate(&commands, &keyring, &sid).await;
        // Remembered until the runner reads the rotation.
        assert_eq!(tokens.auth_token(&sid).await, Ok(None));
        tokens.forget(&sid);
        assert_eq!(tokens.auth_token(&sid).await, Ok(Some(new.clone())));
        let state = tokens.load(&sid).await.ok().flatten().expect("exists");
        assert_eq!(
            state.token_hashes().collect::<Vec<_>>(),
            vec![hash_token(&new)]
        );
    }

    #[tokio::test]
    async fn a_key_rotation_still_opens_old_seals_and_a_missing_key_is_named() {
        let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
        let commands = Commands::new(log.clone(), "us1".into());
        let (sid, token) = create(&commands, &ring(1, &[]), None).await;
        let rotated = AccountTokens::new(log.clone(), ring(2, &[1]));
        assert_eq!(rotated.auth_token(&sid).await, Ok(Some(token)));
        // A token rotated after the key rotation is sealed under the new key.
        let new = rotate(&commands, &ring(2, &[1]), &sid).await;
        rotated.forget(&sid);
        assert_eq!(rotated.auth_token(&sid).await, Ok(Some(new)));
        let stale = AccountTokens::new(log.clone(), ring(1, &[]));
        assert_eq!(
            stale.auth_token(&sid).await,
            Err(TokenError::UnknownKey {
                account: sid.to_string(),
                key_id: key(2).id().to_string(),
            })
        );
    }
}
