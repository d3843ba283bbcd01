//! # switchboard-projections: read models
//!
//! A projection is a name, a version and a fold from events into SQL tables. The fold itself
//! is pure (see [`accounts::fold`]); [`Projection::apply`] is the thin SQL store around it.
//! [`store::ProjectionStore`] owns the bookkeeping every projection shares: versions,
//! per-partition checkpoints written in the same transaction as the read-model change, the
//! record of events that could not be read, resets for rebuilds, and table digests that
//! prove a replay gives identical read models.
//!
//! Delivery from the log is at least once; effects are exactly once because an event at or
//! below the checkpoint is never applied again.
//!
//! The store speaks `sqlx::Any` with SQL both SQLite and PostgreSQL accept (`$1`
//! placeholders, `ON CONFLICT … DO UPDATE`), so one projection runs on either.
//!
//! # Layout
//! - [`migrations`]: schema migrations, each set (log, read models) tracked on its own.
//! - [`store`]: checkpoints, versions, skipped events, reset, digest.
//! - [`accounts`]: the `accounts` read model.
//! - [`alerts`]: Monitor alerts (deliveries that failed for good), per account.
//! - [`calls`]: the calls (the Calls API's list and instances; the calls left live).
//! - [`numbers`]: the accounts' incoming phone numbers and applications (the API's and the
//!   SIP router's).
//! - [`notifications`]: call notifications (errors and warnings running a call's TwiML), per
//!   account and call.
//! - [`workspaces`]: the account's workspaces.
//! - [`taskrouter`]: queue positions, worker assignments and statistics counters; one module
//!   per entity it folds (workspace, worker, task queue, workflow, task, reservation), the
//!   batch's overlay of tasks and reservations, and the typed counter names
//!   ([`taskrouter::Counter`]) the statistics API reads back.

pub mod accounts;
pub mod alerts;
pub mod calls;
pub mod migrations;
pub mod notifications;
pub mod numbers;
pub mod store;
pub mod taskrouter;
pub mod workspaces;

use async_trait::async_trait;
use switchboard_events::Envelope;

/// A read model built from the log.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Stable name (the checkpoint key).
    fn name(&self) -> &'static str;
    /// Version of the fold; changing it rebuilds the read model from the log.
    fn version(&self) -> u32;
    /// The tables this projection owns, each with the columns that order it for a digest.
    fn tables(&self) -> &'static [Table];
    /// Applies one event inside the caller's transaction.
    async fn apply(
        &self,
        tx: &mut sqlx::AnyConnection,
        event: &Envelope,
    ) -> Result<(), sqlx::Error>;

    /// Whether this projection reads `event` at all. Batches with nothing it reads are not
    /// applied (the projector only moves the checkpoint, committing it now and then).
    fn wants(&self, _event: &Envelope) -> bool {
        true
    }

    /// How long the projector may gather further events into a batch before applying it
    /// (zero: apply what arrived at once). A projection whose every transaction writes many
    /// pages trades this much read latency for far fewer commits under load.
    fn coalesce(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// Applies a batch of events, in order, inside the caller's transaction. The default
    /// applies them one by one; a projection can fold a batch in memory and write each row
    /// once, which must give the same tables.
    async fn apply_batch(
        &self,
        tx: &mut sqlx::AnyConnection,
        events: &[&Envelope],
    ) -> Result<(), sqlx::Error> {
        for event in events {
            self.apply(tx, event).await?;
        }
        Ok(())
    }
}

/// A read-model table.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// Table name.
    pub name: &'static str,
    /// `ORDER BY` clause giving a total order of its rows (for digests).
    pub order_by: &'static str,
}
