//! The application layer shared by every stream: what runs *because* of events.
//!
//! - [`alerts`]: a delivery that finally failed, recorded and listed as a Monitor alert.
//! - [`call_controller`]: the single writer of a call's stream (decide, fold, append in order).
//! - [`tokens`]: where the signer of outgoing webhooks gets an account's auth token.
//! - [`account_tokens`]: that seam's implementation, opening the sealed token in the
//!   account's stream with the server key.
//! - [`runner`]: the process-manager runner (log → reactions → outbox rows and its
//!   checkpoint, in one transaction).
//! - [`webhook`]: what every signed request to an application shares (clients, headers and
//!   signature, the 64 kB answer, the policy outcome of a failure): the outbox's and the
//!   voice fetcher's.
//! - [`outbox`]: the sender (due rows → signed POSTs, per-workspace order, retries by the
//!   policy, at least once across crashes).
//!
//! Both run on the node with the `writer` role. Timers join this module (issue 12); the
//! workspace actor stays in [`crate::taskrouter`] until another stream needs one.

pub mod account_tokens;
pub mod alerts;
pub mod call_controller;
pub mod outbox;
pub mod runner;
pub mod tokens;
pub mod webhook;
