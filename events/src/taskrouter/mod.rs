//! TaskRouter: work distribution. A workspace stream (`WS…`) holds its activities, workers,
//! task queues, workflows, tasks and reservations, so the matcher decides on one consistent
//! state.
//!
//! - [`expression`]: the expression language of target workers, workflow filters, target
//!   expressions and `skip_if`.
//! - [`matcher`]: which pending tasks are offered to which workers (pure, deterministic).
//! - [`workflow`]: workflow configuration documents, compiled, and routing through their
//!   filters and targets.

pub mod decide;
pub mod events;
pub mod expression;
pub mod matcher;
pub mod state;
pub mod workflow;
