//! The seam between the outbox (which signs every request to an application with
//! `X-Twilio-Signature`) and the accounts (which keep each auth token sealed under the server
//! key, never in the clear in the log). The outbox asks for a token only when it signs; the
//! accounts side opens the sealed copy with the server's keyring.

use async_trait::async_trait;
use switchboard_events::Sid;

/// Why a token cannot be had right now (the delivery waits and retries; it is not lost).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The accounts read model or log could not be read.
    #[error("auth tokens unavailable: {0}")]
    Unavailable(String),
    /// The sealed token is under a key this node does not hold.
    #[error("auth token of {account} is sealed under key {key_id}, which this node does not hold")]
    UnknownKey {
        /// The account.
        account: String,
        /// The key's id.
        key_id: String,
    },
}

/// Where the signer gets plain auth tokens.
#[async_trait]
pub trait AuthTokens: Send + Sync + 'static {
    /// The current auth token of `account` in plain text. `Ok(None)` when the account has no
    /// signable token: it does not exist, or it was created before tokens were sealed and has
    /// not rotated its token since (the README, "Signed webhooks", says how to rotate).
    async fn auth_token(&self, account: &Sid) -> Result<Option<String>, TokenError>;

    /// `account`'s stream has a new event (a token created, promoted, …): whatever was
    /// remembered of its tokens is stale. The process-manager runner calls this for every
    /// account event it reads, in log order, so a delivery produced after an event is signed
    /// with a token at least as new as that event. The default remembers nothing.
    fn forget(&self, _account: &Sid) {}
}
