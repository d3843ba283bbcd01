//! TaskRouter: work distribution. A workspace stream (`WS…`) holds its activities, workers,
//! task queues, workflows, tasks and reservations, so the matcher decides on one consistent
//! state.
//!
//! A command goes `decide` → its decider in `commands` (checked with `validate`) → the events
//! folded into `state` → `routing` on the new state. Everything here is pure: time and new
//! SIDs arrive in the [`Ctx`](routing::Ctx), so a replay decides the same.
//!
//! - [`decide`]: the entry point ([`decide::decide`], [`decide::decide_mut`]) and the
//!   dispatcher from a command to its decider; re-exports what callers name from it.
//! - [`command`]: the [`Command`](command::Command) enum and workspace templates.
//! - [`error`]: [`TaskRouterError`](error::TaskRouterError), why a command was refused.
//! - `commands`: one decider per command (`create_task.rs`, `update_reservation.rs`, …,
//!   `tick.rs`).
//! - `validate`: the checks deciders share (names, attributes, expressions, priorities,
//!   `If-Match` versions, referenced resources) and Twilio's limits.
//! - [`routing`]: after every command, new tasks onto their workflow's first target and
//!   offers from the matcher ([`routing::route_mut`]).
//! - `close`: closing a task, its reservations' events first (`reservation.completed`
//!   beside `task.completed`).
//! - [`timeouts`]: reservations, workflow targets and task TTLs past their time, on `Tick`,
//!   and closed tasks past their retention, on `ExpireClosedTasks`.
//! - [`state`]: the workspace fold, one file per entity, and the indexes and ordered timers
//!   it keeps.
//! - [`events`]: the TaskRouter event payloads.
//! - [`expression`]: the expression language of target workers, workflow filters, target
//!   expressions and `skip_if`.
//! - [`refs`]: the SIDs an event names and the resource it is about (callback, `/Events`).
//! - [`matcher`]: which pending tasks are offered to which workers (pure, deterministic).
//! - [`workflow`]: workflow configuration documents, compiled, and routing through their
//!   filters and targets.

mod close;
pub mod command;
mod commands;
pub mod decide;
pub mod error;
pub mod events;
pub mod expression;
pub mod matcher;
pub mod refs;
pub mod routing;
pub mod state;
pub mod timeouts;
mod validate;
pub mod workflow;

#[cfg(test)]
mod tests;
