//! Process managers: pure functions from an event (and the little state they need) to
//! commands for other streams and to deliveries (outgoing HTTP requests to applications).
//! The runner in `src/app/` feeds them the log from its own checkpoint and keeps what they
//! produce (outbox rows, the checkpoint) in one transaction.
//!
//! - [`reaction`]: what a process manager returns ([`Reaction`]: [`Issued`] commands and
//!   [`Delivery`] requests), plain data with deterministic ids.
//! - [`taskrouter`]: TaskRouter's assignment callback and workspace event callback.
//! - [`call`]: a call's status callbacks (`StatusCallback`, per-call order).
//! - [`policy`]: how a delivery of each kind is timed and retried (Twilio's defaults, its
//!   assignment-callback rule, and the `#ct/#rt/#tt/#rc/#rp` URL-fragment overrides), and which
//!   Twilio error code a final failure carries.

pub mod call;
pub mod policy;
pub mod reaction;
pub mod taskrouter;

pub use reaction::{ActsOn, Delivery, Issued, IssuedCommand, Reaction};
