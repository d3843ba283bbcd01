//! The application service for streams that keep no state in memory (accounts): load →
//! decide → append. The other writers sequence the same steps where their state lives, each
//! the single writer of its streams: a workspace's actor ([`crate::taskrouter`]) keeps the
//! folded state in memory and appends a batch of decisions at once; a call's controller
//! ([`crate::app::call_controller`]) decides and appends the facts of its call. Everything
//! else only reads.
//! This module also mints what commands carry from outside the pure core: SIDs, auth
//! tokens and millisecond timestamps.
//!
//! A command names its stream, folds the stream's events into state, asks the pure decider
//! for new events and appends them expecting the version it loaded. When another writer got
//! there first (a version conflict), it reloads and decides again, a bounded number of times:
//! deciders are pure, so deciding twice is safe.

use crate::log::{AppendError, EventLog, ReadError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use switchboard_events::account::{self, Account, AccountError};
use switchboard_events::{Event, ExpectedVersion, Metadata, NewEvent, Position, Sid};
use uuid::Uuid;

/// The friendly name of a top-level account created without one (the command line's
/// default and the operator API's).
pub const DEFAULT_ACCOUNT_NAME: &str = "switchboard account";

/// How many times a command is decided again after a version conflict.
const MAX_ATTEMPTS: usize = 8;

/// What a command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Executed {
    /// The position its last event reached (the stream head when it appended nothing):
    /// a read that waits for this position sees the command's effect.
    pub position: Position,
    /// The stream's version afterwards.
    pub version: u64,
    /// Events appended.
    pub appended: usize,
}

/// Why a command failed. Wraps rather than flattens: the domain's refusal, the log's.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E> {
    /// The decider refused.
    #[error(transparent)]
    Domain(E),
    /// The log refused or failed.
    #[error(transparent)]
    Append(AppendError),
    /// The stream could not be read (a damaged or unknown record in it).
    #[error("stream cannot be read: {0}")]
    Read(ReadError),
    /// Other writers kept moving the stream; nothing was written.
    #[error("stream {0} is too busy: gave up after {MAX_ATTEMPTS} version conflicts")]
    Contended(String),
}

/// See the module doc.
#[derive(Clone)]
pub struct Commands {
    log: Arc<dyn EventLog>,
    region: String,
}

impl Commands {
    /// Commands over `log`, stamping events with `region`.
    pub fn new(log: Arc<dyn EventLog>, region: String) -> Commands {
        Commands { log, region }
    }

    /// The log.
    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    /// Metadata for a command taken now (the shell reads the clock; deciders never do).
    pub fn metadata(&self, account_sid: Sid, correlation_id: Uuid) -> Metadata {
        Metadata {
            occurred_at: now_ms(),
            account_sid,
            correlation_id,
            causation_id: None,
            region: self.region.clone(),
        }
    }

    /// Runs a command on `stream`: load, fold with `evolve`, `decide`, append; retried on
    /// version conflicts. Returns what happened and the state after it.
    pub async fn execute<S, E>(
        &self,
        stream: &str,
        meta: &Metadata,
        evolve: impl Fn(Option<S>, DateTime<Utc>, &Event) -> Option<S>,
        decide: impl Fn(Option<&S>) -> Result<Vec<Event>, E>,
    ) -> Result<(Executed, Option<S>), CommandError<E>> {
        self.execute_as(stream, meta, |s, _, at, e| evolve(s, at, e), decide)
            .await
    }

    /// [`Commands::execute`] with a fold that also sees each event's account (the
    /// envelope's): for streams whose state records its owner from the event that made it
    /// (numbers, applications), not from a field of the event.
    pub async fn execute_as<S, E>(
        &self,
        stream: &str,
        meta: &Metadata,
        evolve: impl Fn(Option<S>, &Sid, DateTime<Utc>, &Event) -> Option<S>,
        decide: impl Fn(Option<&S>) -> Result<Vec<Event>, E>,
    ) -> Result<(Executed, Option<S>), CommandError<E>> {
        for _ in 0..MAX_ATTEMPTS {
            let recorded = self
                .log
                .read_stream(stream)
                .await
                .map_err(CommandError::Read)?;
            let version = recorded.last().map(|r| r.seq).unwrap_or(0);
            let head = recorded.last().map(|r| r.position);
            let mut state = None;
            for r in &recorded {
                let envelope = r.decode().map_err(|e| {
                    CommandError::Read(ReadError::Damaged(crate::log::Damaged {
                        position: r.position,
                        stream: Some(r.stream.clone()),
                        reason: e.to_string(),
                    }))
                })?;
                state = evolve(
                    state,
                    &envelope.account_sid,
                    envelope.occurred_at,
                    &envelope.event,
                );
            }
            let events = decide(state.as_ref()).map_err(CommandError::Domain)?;
            if events.is_empty() {
                return Ok((
                    Executed {
                        position: head.unwrap_or(Position::embedded(0)),
                        version,
                        appended: 0,
                    },
                    state,
                ));
            }
            let new: Vec<NewEvent> = events
                .iter()
                .map(|e| NewEvent::new(Uuid::now_v7(), meta, e))
                .collect();
            match self
                .log
                .append(stream, ExpectedVersion::after_load(version), new)
                .await
            {
                Ok(appended) => {
                    let after = events.iter().fold(state, |s, e| {
                        evolve(s, &meta.account_sid, meta.occurred_at, e)
                    });
                    return Ok((
                        Executed {
                            position: appended.position,
                            version: appended.version,
                            appended: events.len(),
                        },
                        after,
                    ));
                }
                Err(AppendError::Conflict(_)) => continue,
                Err(e) => return Err(CommandError::Append(e)),
            }
        }
        Err(CommandError::Contended(stream.to_string()))
    }

    /// Runs an account command on the account's stream.
    pub async fn account(
        &self,
        sid: &Sid,
        meta: &Metadata,
        decide: impl Fn(Option<&Account>) -> Result<Vec<Event>, AccountError>,
    ) -> Result<(Executed, Option<Account>), CommandError<AccountError>> {
        self.execute(
            sid.as_str(),
            meta,
            |s, at, e| account::evolve(s, sid, at, e),
            decide,
        )
        .await
    }

    /// Creates account `sid` (minted by [`new_sid`]; the caller names it first so `meta` can
    /// carry it) with a new auth token hashed and sealed under `keyring`: a top-level account
    /// when `owner` is `None`, else `owner`'s subaccount. The one way an
    /// account is made — `switchboard accounts create`, the operator API and
    /// `POST /2010-04-01/Accounts.json` all come here — so every account's token signs
    /// webhooks the same way.
    pub async fn create_account(
        &self,
        keyring: &crate::secrets::Keyring,
        sid: Sid,
        meta: &Metadata,
        friendly_name: String,
        owner: Option<Account>,
    ) -> Result<CreatedAccount, CommandError<AccountError>> {
        let token = new_sealed_auth_token(keyring);
        let command = account::CreateAccount {
            sid: sid.clone(),
            friendly_name,
            owner,
            auth_token_hash: token.hash.clone(),
            auth_token_sealed: Some(token.sealed.clone()),
        };
        let (executed, after) = self
            .account(&sid, meta, |current| command.decide(current))
            .await?;
        // A create that succeeded always leaves an account; `NotFound` is the honest answer
        // were it ever not so.
        let account = after.ok_or(CommandError::Domain(AccountError::NotFound(sid)))?;
        Ok(CreatedAccount {
            executed,
            account,
            auth_token: token.token,
        })
    }
}

/// What [`Commands::create_account`] made.
pub struct CreatedAccount {
    /// Where its event landed.
    pub executed: Executed,
    /// The account as created.
    pub account: Account,
    /// Its auth token in the clear: shown to the creator once, stored nowhere.
    pub auth_token: String,
}

impl std::fmt::Debug for CreatedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token: this may end up in a log line.
        f.debug_struct("CreatedAccount")
            .field("executed", &self.executed)
            .field("sid", &self.account.sid)
            .finish_non_exhaustive()
    }
}

/// The current time at millisecond precision (what the log keeps), so a state folded from
/// the command equals the state folded from the log.
pub fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// A new random SID of the given kind.
pub fn new_sid(prefix: switchboard_events::SidPrefix) -> Sid {
    Sid::from_u128(prefix, rand::random::<u128>())
}

/// A new auth token (32 lowercase hex digits, as Twilio's) and its SHA-256.
///
/// A plain SHA-256 is enough here: the token is 128 random bits, so there is nothing for a
/// slow, salted hash to protect against that the token's own entropy does not already.
pub fn new_auth_token() -> (String, String) {
    let token = format!("{:032x}", rand::random::<u128>());
    let hash = hash_token(&token);
    (token, hash)
}

/// A new auth token as an account keeps it: the plain token (shown to the caller once), its
/// SHA-256 (authentication) and the token sealed under the keyring's current key (signing).
#[derive(Clone)]
pub struct NewAuthToken {
    /// The token in the clear: returned to the caller, never stored.
    pub token: String,
    /// SHA-256 of it, lowercase hex.
    pub hash: String,
    /// It, sealed under the server key.
    pub sealed: String,
}

impl std::fmt::Debug for NewAuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token: this may end up in a log line.
        f.debug_struct("NewAuthToken")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// A new auth token, hashed and sealed under `keyring`'s current key.
pub fn new_sealed_auth_token(keyring: &crate::secrets::Keyring) -> NewAuthToken {
    let (token, hash) = new_auth_token();
    let sealed = keyring.seal(&token);
    NewAuthToken {
        token,
        hash,
        sealed,
    }
}

/// SHA-256 of a token, lowercase hex.
pub fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::memory::MemoryLog;
    use switchboard_events::account::{CreateAccount, UpdateAccount};
    use switchboard_events::SidPrefix;

    #[tokio::test]
    async fn a_command_appends_its_events_and_returns_the_position_and_state() {
        let commands = Commands::new(Arc::new(MemoryLog::default()), "us1".into());
        let sid = new_sid(SidPrefix::Account);
        let meta = commands.metadata(sid.clone(), Uuid::now_v7());
        let create = CreateAccount {
            sid: sid.clone(),
            friendly_name: "A".into(),
            owner: None,
            auth_token_hash: new_auth_token().1,
            auth_token_sealed: None,
        };
        let (done, state) = commands
            .account(&sid, &meta, |s| create.decide(s))
            .await
            .expect("created");
        assert_eq!(done.version, 1);
        assert_eq!(done.position, Position::embedded(1));
        assert_eq!(state.map(|a| a.friendly_name), Some("A".to_string()));

        let again = commands.account(&sid, &meta, |s| create.decide(s)).await;
        assert!(matches!(
            again,
            Err(CommandError::Domain(AccountError::AlreadyExists(_)))
        ));

        let noop = UpdateAccount {
            sid: sid.clone(),
            friendly_name: Some("A".into()),
            status: None,
        };
        let (done, _) = commands
            .account(&sid, &meta, |s| noop.decide(s))
            .await
            .expect("no-op succeeds");
        assert_eq!((done.appended, done.version), (0, 1));
    }

    #[tokio::test]
    async fn create_account_hashes_and_seals_the_token_it_returns() {
        use crate::secrets::{Keyring, SecretKey};
        let commands = Commands::new(Arc::new(MemoryLog::default()), "us1".into());
        let keyring = Keyring::new(SecretKey::from_bytes([7; 32]), vec![]);
        let sid = new_sid(SidPrefix::Account);
        let meta = commands.metadata(sid.clone(), Uuid::now_v7());
        let created = commands
            .create_account(&keyring, sid.clone(), &meta, "Top".into(), None)
            .await
            .expect("created");
        let account = &created.account;
        assert_eq!(
            (&account.sid, account.owner_account_sid.as_ref()),
            (&sid, None)
        );
        assert_eq!(account.auth_token_hash, hash_token(&created.auth_token));
        let sealed = account.auth_token_sealed.as_deref().expect("sealed");
        assert_eq!(
            keyring.open(sealed).as_deref(),
            Ok(created.auth_token.as_str())
        );
        let sub = commands
            .create_account(
                &keyring,
                new_sid(SidPrefix::Account),
                &meta,
                "Sub".into(),
                Some(account.clone()),
            )
            .await
            .expect("subaccount");
        assert_eq!(sub.account.owner_account_sid.as_ref(), Some(&sid));
    }

    #[tokio::test]
    async fn concurrent_commands_on_one_stream_all_land_by_deciding_again() {
        let commands = Commands::new(Arc::new(MemoryLog::default()), "us1".into());
        let sid = new_sid(SidPrefix::Account);
        let meta = commands.metadata(sid.clone(), Uuid::now_v7());
        let create = CreateAccount {
            sid: sid.clone(),
            friendly_name: "A".into(),
            owner: None,
            auth_token_hash: new_auth_token().1,
            auth_token_sealed: None,
        };
        commands
            .account(&sid, &meta, |s| create.decide(s))
            .await
            .expect("created");
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let (commands, sid, meta) = (commands.clone(), sid.clone(), meta.clone());
                tokio::spawn(async move {
                    let rename = UpdateAccount {
                        sid: sid.clone(),
                        friendly_name: Some(format!("name {i}")),
                        status: None,
                    };
                    commands
                        .account(&sid, &meta, |s| rename.decide(s))
                        .await
                        .map(|r| r.0)
                })
            })
            .collect();
        let mut versions = Vec::new();
        for t in tasks {
            versions.push(t.await.expect("joined").expect("renamed").version);
        }
        versions.sort();
        assert_eq!(versions, vec![2, 3, 4, 5, 6, 7]);
    }
}
