//! Accounts: the tenants. An account stream (`AC…`) holds the account's creation and every
//! change to it. The auth token itself is never in an event in the clear: its SHA-256 hash is
//! recorded (authentication compares against it) and, since `account.created` v2, the token
//! sealed under the server key (`src/secrets.rs`; signing webhooks opens it), so the log can be
//! shipped to billing or a supervisor without leaking credentials. Accounts created before v2
//! hold only the hash; they get a sealed token by rotating it, as Twilio rotates one: create a
//! secondary token (both authenticate), then promote it (the old one stops working).
//!
//! ```text
//!            create                 update(status=suspended)
//!  (none) ──────────▶ active ◀──────────────────────────▶ suspended
//!                       │        update(status=active)        │
//!                       └────────────▶ closed ◀───────────────┘
//!                        update(status=closed); closed is final
//! ```

mod create_account;
mod promote_auth_token;
mod secondary_auth_token;
mod update_account;

pub use create_account::CreateAccount;
pub use promote_auth_token::PromoteAuthToken;
pub use secondary_auth_token::{CreateSecondaryAuthToken, DeleteSecondaryAuthToken};
pub use update_account::UpdateAccount;

use crate::event::Event;
use crate::sid::Sid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest friendly name Twilio accepts for an account.
pub const MAX_FRIENDLY_NAME: usize = 64;

/// Twilio's account status values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// In use.
    Active,
    /// Temporarily unable to use the API.
    Suspended,
    /// Permanently closed.
    Closed,
}

impl AccountStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Closed => "closed",
        }
    }

    /// Parses the wire value.
    pub fn parse(s: &str) -> Option<AccountStatus> {
        match s {
            "active" => Some(AccountStatus::Active),
            "suspended" => Some(AccountStatus::Suspended),
            "closed" => Some(AccountStatus::Closed),
            _ => None,
        }
    }

    /// Whether requests authenticated as this account are served.
    pub fn can_use_api(self) -> bool {
        self == AccountStatus::Active
    }
}

/// Twilio's account types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountType {
    /// A trial account.
    Trial,
    /// A paid account.
    Full,
}

/// `account.created`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCreated {
    /// A human name.
    pub friendly_name: String,
    /// The parent account of a subaccount; `None` for a top-level account.
    pub owner_account_sid: Option<Sid>,
    /// Lowercase hex SHA-256 of the auth token.
    pub auth_token_hash: String,
    /// The auth token sealed under the server key (`v1.<key id>.<base64>`); `None` for an
    /// account created before tokens were sealed (a v1 event), which has only the hash.
    pub auth_token_sealed: Option<String>,
    /// Initial status (always active today).
    pub status: AccountStatus,
    /// Trial or Full.
    #[serde(rename = "type")]
    pub account_type: AccountType,
}

/// `account.updated`: only the fields that changed are present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUpdated {
    /// New friendly name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// New status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AccountStatus>,
}

/// `account.secondary-auth-token.created`: a secondary auth token was made (it replaces any
/// earlier secondary). Both the primary and the secondary authenticate until one is promoted
/// or the secondary deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryAuthTokenCreated {
    /// Lowercase hex SHA-256 of the secondary token.
    pub auth_token_hash: String,
    /// The secondary token sealed under the server key.
    pub auth_token_sealed: String,
}

/// `account.secondary-auth-token.deleted`: the secondary auth token no longer authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryAuthTokenDeleted {}

/// `account.auth-token.promoted`: the secondary auth token became the primary one; the old
/// primary stops authenticating at once (as Twilio's promotion does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthTokenPromoted {
    /// SHA-256 of the new primary token (the promoted secondary's), so the event says which
    /// token is now current without the fold having to be trusted.
    pub auth_token_hash: String,
}

/// A secondary auth token, while it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryAuthToken {
    /// SHA-256 of it.
    pub hash: String,
    /// It, sealed under the server key.
    pub sealed: String,
    /// When it was made.
    pub date_created: DateTime<Utc>,
}

/// The state of one account, folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its SID (the stream).
    pub sid: Sid,
    /// Parent, for a subaccount.
    pub owner_account_sid: Option<Sid>,
    /// Human name.
    pub friendly_name: String,
    /// Current status.
    pub status: AccountStatus,
    /// Trial or Full.
    pub account_type: AccountType,
    /// SHA-256 of the auth token.
    pub auth_token_hash: String,
    /// The auth token sealed under the server key; `None` while an account created before
    /// tokens were sealed has not rotated its token.
    pub auth_token_sealed: Option<String>,
    /// When the current primary token was made (creation, or the promotion's secondary).
    pub auth_token_created: DateTime<Utc>,
    /// The secondary auth token, between its creation and its promotion or deletion.
    pub secondary_auth_token: Option<SecondaryAuthToken>,
    /// When it was created.
    pub date_created: DateTime<Utc>,
    /// When it last changed.
    pub date_updated: DateTime<Utc>,
}

/// Why an account command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// Creating an account whose stream already exists.
    #[error("account {0} already exists")]
    AlreadyExists(Sid),
    /// Changing an account that does not exist.
    #[error("account {0} was not found")]
    NotFound(Sid),
    /// A closed account cannot change.
    #[error("account {0} is closed and cannot be changed")]
    Closed(Sid),
    /// The friendly name is empty or too long.
    #[error("FriendlyName must be 1 to {MAX_FRIENDLY_NAME} characters")]
    FriendlyName,
    /// A subaccount cannot own subaccounts (Twilio allows one level).
    #[error("subaccount {0} cannot create subaccounts")]
    NestedSubaccount(Sid),
    /// Promoting or deleting a secondary auth token the account does not have.
    #[error("account {0} has no secondary auth token")]
    NoSecondaryAuthToken(Sid),
}

impl Account {
    /// The hashes of the tokens that authenticate as this account: the primary, and the
    /// secondary while it exists. The caller compares in constant time; this is the rule.
    pub fn token_hashes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.auth_token_hash.as_str())
            .chain(self.secondary_auth_token.iter().map(|s| s.hash.as_str()))
    }
}

/// Folds one event into an account's state. Folds cannot fail: an event that does not apply
/// (an update before a creation, which a correct log never holds) leaves the state as is.
pub fn evolve(
    state: Option<Account>,
    sid: &Sid,
    occurred_at: DateTime<Utc>,
    event: &Event,
) -> Option<Account> {
    match (state, event) {
        (None, Event::AccountCreated(e)) => Some(Account {
            sid: sid.clone(),
            owner_account_sid: e.owner_account_sid.clone(),
            friendly_name: e.friendly_name.clone(),
            status: e.status,
            account_type: e.account_type,
            auth_token_hash: e.auth_token_hash.clone(),
            auth_token_sealed: e.auth_token_sealed.clone(),
            auth_token_created: occurred_at,
            secondary_auth_token: None,
            date_created: occurred_at,
            date_updated: occurred_at,
        }),
        (Some(mut a), Event::SecondaryAuthTokenCreated(e)) => {
            a.secondary_auth_token = Some(SecondaryAuthToken {
                hash: e.auth_token_hash.clone(),
                sealed: e.auth_token_sealed.clone(),
                date_created: occurred_at,
            });
            a.date_updated = occurred_at;
            Some(a)
        }
        (Some(mut a), Event::SecondaryAuthTokenDeleted(_)) => {
            a.secondary_auth_token = None;
            a.date_updated = occurred_at;
            Some(a)
        }
        (Some(mut a), Event::AuthTokenPromoted(e)) => {
            // The event names the new primary's hash; the sealed copy comes from the
            // secondary it promotes (a promotion without one, which a correct log never
            // holds, still moves the hash and leaves no signable token rather than a wrong one).
            let secondary = a.secondary_auth_token.take();
            a.auth_token_hash.clone_from(&e.auth_token_hash);
            a.auth_token_sealed = secondary
                .as_ref()
                .filter(|s| s.hash == e.auth_token_hash)
                .map(|s| s.sealed.clone());
            a.auth_token_created = secondary.map_or(occurred_at, |s| s.date_created);
            a.date_updated = occurred_at;
            Some(a)
        }
        (Some(mut a), Event::AccountUpdated(e)) => {
            if let Some(name) = &e.friendly_name {
                a.friendly_name.clone_from(name);
            }
            if let Some(status) = e.status {
                a.status = status;
            }
            a.date_updated = occurred_at;
            Some(a)
        }
        (state, _) => state,
    }
}

fn check_friendly_name(name: &str) -> Result<(), AccountError> {
    let n = name.chars().count();
    if n == 0 || n > MAX_FRIENDLY_NAME {
        Err(AccountError::FriendlyName)
    } else {
        Ok(())
    }
}
