//! Changing an account's friendly name or status. Closed is final; a change to nothing records
//! nothing (an idempotent retry appends no event).

use super::{check_friendly_name, Account, AccountError, AccountStatus, AccountUpdated};
use crate::event::Event;
use crate::sid::Sid;

/// Change an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateAccount {
    /// The account.
    pub sid: Sid,
    /// New friendly name, if given.
    pub friendly_name: Option<String>,
    /// New status, if given.
    pub status: Option<AccountStatus>,
}

impl UpdateAccount {
    /// Decides against the account's current state.
    pub fn decide(&self, state: Option<&Account>) -> Result<Vec<Event>, AccountError> {
        let account = state.ok_or_else(|| AccountError::NotFound(self.sid.clone()))?;
        if account.status == AccountStatus::Closed {
            return Err(AccountError::Closed(self.sid.clone()));
        }
        if let Some(name) = &self.friendly_name {
            check_friendly_name(name)?;
        }
        let friendly_name = self
            .friendly_name
            .clone()
            .filter(|n| *n != account.friendly_name);
        let status = self.status.filter(|s| *s != account.status);
        if friendly_name.is_none() && status.is_none() {
            return Ok(vec![]);
        }
        Ok(vec![Event::AccountUpdated(AccountUpdated {
            friendly_name,
            status,
        })])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{evolve, CreateAccount};
    use crate::sid::SidPrefix;
    use chrono::DateTime;

    fn sid() -> Sid {
        Sid::from_u128(SidPrefix::Account, 7)
    }

    fn given(events: &[Event]) -> Option<Account> {
        let at = DateTime::from_timestamp_millis(1000).unwrap_or_default();
        events.iter().fold(None, |s, e| evolve(s, &sid(), at, e))
    }

    fn created() -> Vec<Event> {
        CreateAccount {
            sid: sid(),
            friendly_name: "Main".into(),
            owner: None,
            auth_token_hash: "cd".repeat(32),
            auth_token_sealed: None,
        }
        .decide(None)
        .unwrap_or_default()
    }

    fn update(name: Option<&str>, status: Option<AccountStatus>) -> UpdateAccount {
        UpdateAccount {
            sid: sid(),
            friendly_name: name.map(str::to_string),
            status,
        }
    }

    #[test]
    fn given_no_account_when_updated_then_not_found() {
        assert_eq!(
            update(Some("x"), None).decide(None),
            Err(AccountError::NotFound(sid()))
        );
    }

    #[test]
    fn given_an_account_when_renamed_then_only_the_name_is_recorded_and_folded() {
        let mut history = created();
        let state = given(&history);
        let events = update(Some("Support"), None)
            .decide(state.as_ref())
            .expect("ok");
        assert_eq!(
            events,
            vec![Event::AccountUpdated(AccountUpdated {
                friendly_name: Some("Support".into()),
                status: None
            })]
        );
        history.extend(events);
        let after = given(&history).expect("exists");
        assert_eq!(after.friendly_name, "Support");
        assert_eq!(after.status, AccountStatus::Active);
    }

    #[test]
    fn an_update_that_changes_nothing_records_nothing() {
        let state = given(&created());
        assert_eq!(
            update(Some("Main"), Some(AccountStatus::Active)).decide(state.as_ref()),
            Ok(vec![])
        );
    }

    #[test]
    fn a_closed_account_is_final() {
        let mut history = created();
        let state = given(&history);
        history.extend(
            update(None, Some(AccountStatus::Closed))
                .decide(state.as_ref())
                .expect("closes"),
        );
        let closed = given(&history);
        assert_eq!(
            update(None, Some(AccountStatus::Active)).decide(closed.as_ref()),
            Err(AccountError::Closed(sid()))
        );
    }
}
