//! Promoting the secondary auth token to primary (Twilio's `/v1/AuthTokens/Promote`): the old
//! primary stops authenticating at once, and the promoted token, sealed when it was made, is
//! the one webhooks are signed with from then on. This is how an account created before
//! tokens were sealed (only a hash stored) gets a signable token.

use super::{Account, AccountError, AccountStatus, AuthTokenPromoted};
use crate::event::Event;
use crate::sid::Sid;

/// Promote the secondary auth token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoteAuthToken {
    /// The account.
    pub sid: Sid,
}

impl PromoteAuthToken {
    /// Decides against the account's current state; without a secondary token it answers
    /// [`AccountError::NoSecondaryAuthToken`] (Twilio answers 404).
    pub fn decide(&self, state: Option<&Account>) -> Result<Vec<Event>, AccountError> {
        let account = state.ok_or_else(|| AccountError::NotFound(self.sid.clone()))?;
        if account.status == AccountStatus::Closed {
            return Err(AccountError::Closed(self.sid.clone()));
        }
        let secondary = account
            .secondary_auth_token
            .as_ref()
            .ok_or_else(|| AccountError::NoSecondaryAuthToken(self.sid.clone()))?;
        Ok(vec![Event::AuthTokenPromoted(AuthTokenPromoted {
            auth_token_hash: secondary.hash.clone(),
        })])
    }
}
