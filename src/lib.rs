//! # switchboard: the service
//!
//! The shell around the pure write model (`switchboard-events`), the read models
//! (`switchboard-projections`) and the wire formats (`switchboard-telephony`): the log
//! adapters, the writers that sequence load → decide → append, the projector that keeps read
//! models behind the log, the HTTP API, the SIP engine, and the command line.
//!
//! ```text
//! integrator ──HTTP──▶ http ──command──▶ commands / taskrouter actor ──events──▶ log
//! SIP peer ──UDP/TCP──▶ sip (call tasks, RTP) ───commands──▶ call controller ─▶ (SQLite |
//!                       ▲                                                       PostgreSQL |
//!                       │ read (waits for the projector to pass the command's    Kafka)
//!                       │ position)                                               │ subscribe
//!                       └──── read models (SQLite | PostgreSQL) ◀── projector ◀──┘
//! ```
//!
//! # Layout
//! - [`app`]: what runs because of events (the signer's token seam; the process managers,
//!   outbox and timers as they arrive).
//! - [`config`]: command-line flags and environment variables, parsed once into typed structs
//!   (limits included, with today's values as defaults).
//! - [`log`]: the [`log::EventLog`] port and its backends (memory, SQLite, PostgreSQL, Kafka).
//! - [`commands`]: the application service for accounts (load, decide, append, retry on
//!   conflict), and the SID, token and clock helpers every writer uses.
//! - [`taskrouter`]: one actor per workspace (the single writer of its stream), its timers,
//!   and the assignment and workspace event callbacks.
//! - [`projector`]: runs projections continuously, rebuilds them, answers "has it caught up?".
//! - [`http`]: the axum API (Twilio-shaped: accounts, TaskRouter per resource, supervisor
//!   reads), the Twilio conventions they share, authentication, health and metrics.
//! - [`sip`]: the telephony engine: SIP over UDP and TCP (rsipstack), RTP media, inbound and
//!   outbound calls, bridging, call events.
//! - [`media`]: one media session per call leg (play, pause, digits, gather, record, relay
//!   on the leg's RTP socket) and the one resolver of `Say` text and `Play` URLs to audio.
//! - [`operator`]: the operator's own credential (a token file outside the log) and the
//!   command line's client of the operator API, `/operator/v1/Accounts`.
//! - [`secrets`]: the server key (a file outside the log) and the secrets sealed under it, so
//!   the log never holds a usable one.
//! - [`schemas`]: the published event schemas, built in, for `switchboard tail`.
//! - [`metrics`]: the Prometheus registry.
//! - [`server`]: wires everything for `switchboard serve`, and shuts it down in order.
//! - [`cli`]: the other subcommands (accounts, projections, call, tail).
//! - [`voice`]: the number directory the SIP router consults on INVITE (more to come).
//! - [`bench`]: `switchboard bench …` (log, lag, taskrouter, sip), each next to a baseline.
//! - [`voice`]: the call router: fetching a call's instructions.

pub mod app;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod http;
pub mod log;
pub mod media;
pub mod metrics;
pub mod operator;
pub mod projector;
pub mod schemas;
pub mod secrets;
pub mod server;
pub mod sip;
pub mod taskrouter;
pub mod voice;
