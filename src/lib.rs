//! # switchboard: the service
//!
//! The shell around the pure write model (`switchboard-events`) and the read models
//! (`switchboard-projections`): the log adapters, the projector that keeps read models behind
//! the log, the application service that runs commands (load → decide → append), the HTTP
//! API, and the command line.
//!
//! ```text
//! integrator ──HTTP──▶ http ──command──▶ commands (decide, pure) ──events──▶ log (SQLite)
//!                       ▲                                                     │ subscribe
//!                       │ read (waits for the projector to pass the command's position)
//!                       └──────────── read models (SQLite) ◀── projector ◀────┘
//! ```
//!
//! # Layout
//! - [`config`]: command-line flags and environment variables.
//! - [`log`]: the [`log::EventLog`] port and its backends (memory, SQLite).
//! - [`projector`]: runs projections continuously, rebuilds them, answers "has it caught up?".
//! - [`commands`]: the application service (load, decide, append, retry on conflict).
//! - [`http`]: the axum API (Twilio-shaped), authentication, errors, health and metrics.
//! - [`metrics`]: the Prometheus registry.
//! - [`sip`]: the telephony engine: SIP over UDP (rsipstack), RTP media, call events.
//! - [`server`]: wires everything for `switchboard serve`, and shuts it down in order.
//! - [`cli`]: the other subcommands (accounts, projections).
//! - [`bench`]: `switchboard bench …` (log, lag, taskrouter, sip), each next to a baseline.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod http;
pub mod log;
pub mod metrics;
pub mod projector;
pub mod schemas;
pub mod server;
pub mod sip;
pub mod taskrouter;
