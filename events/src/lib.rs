//! # switchboard-events: the write model
//!
//! Every fact switchboard records is an [`Event`] in an [`Envelope`]. This crate owns the
//! vocabulary (event types, their wire names and schema versions), identifiers ([`Sid`]),
//! stream versions ([`ExpectedVersion`]) and the pure deciders and folds that turn commands
//! into events.
//!
//! It cannot do I/O: its dependency list names serde, uuid, chrono (without the clock
//! feature) and thiserror only. Time and ids arrive inside commands, so a replay is
//! deterministic and a test needs no runtime.
//!
//! # Layout
//! - [`sid`]: `AC…`/`WS…`/`CA…` identifiers, validated when parsed.
//! - [`version`]: expected-version checks for optimistic concurrency.
//! - [`envelope`]: the envelope, log positions and checkpoints, and the raw (stored) form of
//!   an event.
//! - [`event`]: the [`Event`] enum, its wire names, schema versions and decoding.
//! - [`upcast`]: how data stored in an older schema version is lifted to the current one.
//! - [`account`]: account events, commands, the decider and the fold.
//! - [`application`]: applications (`AP…`) and the webhook fields they share with numbers.
//! - [`number`]: incoming phone numbers (`PN…`) and their claim streams (`NC…`): one
//!   account per number, enforced here.
//! - [`alert`]: a delivery that failed for good, as a Monitor alert (`alert.raised`).
//! - [`call`]: call-stream events (SIP signalling, DTMF, playback) from the telephony engine.
//! - [`process`]: process managers (event → commands and deliveries) and the webhook retry
//!   policy.
//! - [`taskrouter`]: work distribution in a workspace stream: the commands and their deciders
//!   (one file each), the shared validation, routing (workflow targets, then the matcher's
//!   offers), timeouts, the workspace fold (one file per entity), the workflow engine, the
//!   matcher and the expression language.
//! - [`twiml`]: TwiML as a pure program: the parser (Twilio's 12100/12102 errors, 12200
//!   warnings), the verbs, URL resolution and the executor's step function.

pub mod account;
pub mod alert;
pub mod application;
pub mod call;
pub mod envelope;
pub mod event;
pub mod number;
pub mod process;
pub mod sid;
pub mod taskrouter;
pub mod twiml;
pub mod upcast;
pub mod version;

pub use envelope::{Checkpoint, Envelope, Metadata, NewEvent, Position, RecordedEvent};
pub use event::{DecodeError, Event};
pub use sid::{Sid, SidError, SidPrefix};
pub use version::{Conflict, ExpectedVersion};
