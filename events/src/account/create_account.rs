//! Opening an account or a subaccount. The SID, the token hash and the sealed token arrive in
//! the command (the shell draws the token, hashes it and seals it under the server key), so
//! the decision is pure.

use super::{
    check_friendly_name, Account, AccountCreated, AccountError, AccountStatus, AccountType,
};
use crate::event::Event;
use crate::sid::Sid;

/// Open an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAccount {
    /// The new account's SID (its stream).
    pub sid: Sid,
    /// Human name.
    pub friendly_name: String,
    /// The parent, when creating a subaccount, with the parent's current state.
    pub owner: Option<Account>,
    /// SHA-256 of the auth token.
    pub auth_token_hash: String,
    /// The auth token sealed under the server key (`None` only where no key is at hand:
    /// such an account cannot have its webhooks signed until it rotates its token).
    pub auth_token_sealed: Option<String>,
}

impl CreateAccount {
    /// Decides against the new account's stream (which must be empty).
    pub fn decide(&self, state: Option<&Account>) -> Result<Vec<Event>, AccountError> {
        if state.is_some() {
            return Err(AccountError::AlreadyExists(self.sid.clone()));
        }
        check_friendly_name(&self.friendly_name)?;
        let owner_account_sid = match &self.owner {
            None => None,
            Some(owner) if owner.owner_account_sid.is_some() => {
                return Err(AccountError::NestedSubaccount(owner.sid.clone()))
            }
            Some(owner) if owner.status == AccountStatus::Closed => {
                return Err(AccountError::Closed(owner.sid.clone()))
            }
            Some(owner) => Some(owner.sid.clone()),
        };
        Ok(vec![Event::AccountCreated(AccountCreated {
            friendly_name: self.friendly_name.clone(),
            owner_account_sid,
            auth_token_hash: self.auth_token_hash.clone(),
            auth_token_sealed: self.auth_token_sealed.clone(),
            status: AccountStatus::Active,
            account_type: AccountType::Full,
        })])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::evolve;
    use crate::sid::SidPrefix;
    use chrono::DateTime;

    fn sid(n: u128) -> Sid {
        Sid::from_u128(SidPrefix::Account, n)
    }

    fn create(n: u128, owner: Option<Account>) -> CreateAccount {
        CreateAccount {
            sid: sid(n),
            friendly_name: format!("account {n}"),
            owner,
            auth_token_hash: "ab".repeat(32),
            auth_token_sealed: Some("v1.00000000.sealed".into()),
        }
    }

    fn existing(n: u128) -> Account {
        let events = create(n, None).decide(None).unwrap_or_default();
        let at = DateTime::from_timestamp_millis(0).unwrap_or_default();
        events
            .iter()
            .fold(None, |s, e| evolve(s, &sid(n), at, e))
            .expect("created")
    }

    #[test]
    fn given_no_account_when_created_then_account_created_is_recorded_active() {
        let events = create(1, None).decide(None).expect("decided");
        assert_eq!(events.len(), 1);
        match &events[0] {
            Event::AccountCreated(e) => {
                assert_eq!(e.status, AccountStatus::Active);
                assert_eq!(e.owner_account_sid, None);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn given_an_account_when_created_again_then_it_already_exists() {
        let a = existing(1);
        assert_eq!(
            create(1, None).decide(Some(&a)),
            Err(AccountError::AlreadyExists(sid(1)))
        );
    }

    #[test]
    fn a_subaccount_records_its_owner_and_cannot_own_subaccounts() {
        let parent = existing(1);
        let events = create(2, Some(parent.clone()))
            .decide(None)
            .expect("decided");
        let at = DateTime::from_timestamp_millis(0).unwrap_or_default();
        let child = events
            .iter()
            .fold(None, |s, e| evolve(s, &sid(2), at, e))
            .expect("created");
        assert_eq!(child.owner_account_sid, Some(sid(1)));
        assert_eq!(
            create(3, Some(child)).decide(None),
            Err(AccountError::NestedSubaccount(sid(2)))
        );
    }

    #[test]
    fn friendly_names_must_be_one_to_sixty_four_characters() {
        let mut c = create(1, None);
        c.friendly_name = String::new();
        assert_eq!(c.decide(None), Err(AccountError::FriendlyName));
        c.friendly_name = "x".repeat(65);
        assert_eq!(c.decide(None), Err(AccountError::FriendlyName));
        c.friendly_name = "é".repeat(64);
        assert!(c.decide(None).is_ok());
    }
}
