//! Making and dropping a secondary auth token (Twilio's `/v1/AuthTokens/Secondary`). The token
//! is drawn, hashed and sealed by the shell and arrives in the command, so the decision is
//! pure. A new secondary replaces an earlier one; both it and the primary authenticate until
//! it is promoted ([`super::PromoteAuthToken`]) or deleted.

use super::{
    Account, AccountError, AccountStatus, SecondaryAuthTokenCreated, SecondaryAuthTokenDeleted,
};
use crate::event::Event;
use crate::sid::Sid;

/// Make a secondary auth token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSecondaryAuthToken {
    /// The account.
    pub sid: Sid,
    /// SHA-256 of the new token.
    pub auth_token_hash: String,
    /// The new token sealed under the server key.
    pub auth_token_sealed: String,
}

impl CreateSecondaryAuthToken {
    /// Decides against the account's current state.
    pub fn decide(&self, state: Option<&Account>) -> Result<Vec<Event>, AccountError> {
        let account = state.ok_or_else(|| AccountError::NotFound(self.sid.clone()))?;
        if account.status == AccountStatus::Closed {
            return Err(AccountError::Closed(self.sid.clone()));
        }
        Ok(vec![Event::SecondaryAuthTokenCreated(
            SecondaryAuthTokenCreated {
                auth_token_hash: self.auth_token_hash.clone(),
                auth_token_sealed: self.auth_token_sealed.clone(),
            },
        )])
    }
}

/// Drop the secondary auth token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteSecondaryAuthToken {
    /// The account.
    pub sid: Sid,
}

impl DeleteSecondaryAuthToken {
    /// Decides against the account's current state; an account without a secondary token
    /// answers [`AccountError::NoSecondaryAuthToken`] (Twilio answers 404).
    pub fn decide(&self, state: Option<&Account>) -> Result<Vec<Event>, AccountError> {
        let account = state.ok_or_else(|| AccountError::NotFound(self.sid.clone()))?;
        if account.secondary_auth_token.is_none() {
            return Err(AccountError::NoSecondaryAuthToken(self.sid.clone()));
        }
        Ok(vec![Event::SecondaryAuthTokenDeleted(
            SecondaryAuthTokenDeleted {},
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{evolve, CreateAccount, PromoteAuthToken, UpdateAccount};
    use crate::sid::SidPrefix;
    use chrono::DateTime;

    fn sid() -> Sid {
        Sid::from_u128(SidPrefix::Account, 9)
    }

    fn fold(events: &[Event]) -> Option<Account> {
        let at = DateTime::from_timestamp_millis(1000).unwrap_or_default();
        events.iter().fold(None, |s, e| evolve(s, &sid(), at, e))
    }

    fn created() -> Vec<Event> {
        CreateAccount {
            sid: sid(),
            friendly_name: "Main".into(),
            owner: None,
            auth_token_hash: "aa".repeat(32),
            auth_token_sealed: None,
        }
        .decide(None)
        .unwrap_or_default()
    }

    fn secondary() -> CreateSecondaryAuthToken {
        CreateSecondaryAuthToken {
            sid: sid(),
            auth_token_hash: "bb".repeat(32),
            auth_token_sealed: "v1.00000000.sealed-b".into(),
        }
    }

    #[test]
    fn a_secondary_token_authenticates_beside_the_primary_until_deleted() {
        let mut history = created();
        history.extend(secondary().decide(fold(&history).as_ref()).expect("made"));
        let account = fold(&history).expect("exists");
        let hashes: Vec<&str> = account.token_hashes().collect();
        assert_eq!(hashes, vec!["aa".repeat(32), "bb".repeat(32)]);
        let delete = DeleteSecondaryAuthToken { sid: sid() };
        history.extend(delete.decide(Some(&account)).expect("deleted"));
        let account = fold(&history).expect("exists");
        assert_eq!(account.token_hashes().count(), 1);
        assert_eq!(
            delete.decide(Some(&account)),
            Err(AccountError::NoSecondaryAuthToken(sid()))
        );
    }

    #[test]
    fn an_old_account_gets_a_sealed_token_by_promotion_and_loses_the_old_one() {
        let mut history = created();
        assert_eq!(fold(&history).and_then(|a| a.auth_token_sealed), None);
        history.extend(secondary().decide(fold(&history).as_ref()).expect("made"));
        let promote = PromoteAuthToken { sid: sid() };
        history.extend(promote.decide(fold(&history).as_ref()).expect("promoted"));
        let account = fold(&history).expect("exists");
        assert_eq!(account.auth_token_hash, "bb".repeat(32));
        assert_eq!(
            account.auth_token_sealed.as_deref(),
            Some("v1.00000000.sealed-b")
        );
        assert_eq!(account.secondary_auth_token, None);
        assert_eq!(
            account.token_hashes().collect::<Vec<_>>(),
            vec!["bb".repeat(32)]
        );
        assert_eq!(
            promote.decide(Some(&account)),
            Err(AccountError::NoSecondaryAuthToken(sid()))
        );
    }

    #[test]
    fn a_closed_account_makes_no_token_and_a_missing_one_is_not_found() {
        let mut history = created();
        let close = UpdateAccount {
            sid: sid(),
            friendly_name: None,
            status: Some(AccountStatus::Closed),
        };
        history.extend(close.decide(fold(&history).as_ref()).expect("closed"));
        assert_eq!(
            secondary().decide(fold(&history).as_ref()),
            Err(AccountError::Closed(sid()))
        );
        assert_eq!(secondary().decide(None), Err(AccountError::NotFound(sid())));
    }
}
