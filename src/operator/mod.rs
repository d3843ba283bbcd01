//! Operating a running cluster: the operator's own credential and the command line's client
//! of the operator API.
//!
//! - [`token`]: the operator token, a file outside the log (`--operator-token-file`, default
//!   `DATA_DIR/operator.token`, created on a first `serve`), checked in constant time.
//! - [`client`]: `switchboard accounts create` against a running server, when a server holds
//!   the log (the embedded lock, the PostgreSQL advisory lock, the Kafka writer lease).
//!
//! The API itself is [`crate::http::operator`]. The invariant this module protects: the
//! operator credential and the accounts' credentials are disjoint — neither works where the
//! other is asked for, and the operator's never enters the log.

pub mod client;
pub mod token;
