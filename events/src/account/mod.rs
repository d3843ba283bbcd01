//! Accounts: the tenants. An account stream (`AC…`) holds the account's creation and every
//! change to it. The auth token itself is never an event: only its SHA-256 hash is recorded,
//! so the log can be shipped to billing or a supervisor without leaking credentials.
//!
//! ```text
//!            create                 update(status=suspended)
//!  (none) ──────────▶ active ◀──────────────────────────▶ suspended
//!                       │        update(status=active)        │
//!                       └────────────▶ closed ◀───────────────┘
//!                        update(status=closed); closed is final
//! ```

mod create_account;
mod update_account;

pub use create_account::CreateAccount;
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
            date_created: occurred_at,
            date_updated: occurred_at,
        }),
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
