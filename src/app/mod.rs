//! The application layer shared by every stream: what runs *because* of events.
//!
//! - [`alerts`]: a delivery that finally failed, recorded and listed as a Monitor alert.
//! - [`tokens`]: where the signer of outgoing webhooks gets an account's auth token.
//!
//! The process-manager runner, the outbox and the timers join this module (issue 12); the
//! workspace actor stays in [`crate::taskrouter`] until another stream needs one.

pub mod alerts;
pub mod tokens;
