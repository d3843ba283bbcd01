//! The application layer shared by every stream: what runs *because* of events.
//!
//! - [`alerts`]: a delivery that finally failed, recorded and listed as a Monitor alert.
//! - [`tokens`]: where the signer of outgoing webhooks gets an account's auth token.
//! - [`account_tokens`]: that seam's implementation, opening the sealed token in the
//!   account's stream with the server key.
//!
//! The process-manager runner, the outbox and the timers join this module (issue 12); the
//! workspace actor stays in [`crate::taskrouter`] until another stream needs one.

pub mod account_tokens;
pub mod alerts;
pub mod tokens;
