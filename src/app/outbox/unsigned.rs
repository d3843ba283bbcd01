//! The token source used until accounts keep a signable (sealed) auth token: it has none, so
//! the sender sends every request unsigned and warns once per account. Replaced by the
//! sealed-token implementation of [`AuthTokens`] when that lands.

use crate::app::tokens::{AuthTokens, TokenError};
use async_trait::async_trait;
use switchboard_events::Sid;

/// No account has a signable token.
pub struct NoTokens;

#[async_trait]
impl AuthTokens for NoTokens {
    async fn auth_token(&self, _account: &Sid) -> Result<Option<String>, TokenError> {
        Ok(None)
    }
}
