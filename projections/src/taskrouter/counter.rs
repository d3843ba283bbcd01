//! The names of the statistics counters: the projection writes `tr_stats.metric` and
//! `tr_waits.metric` only through [`Counter`] (and [`activity`]), and the statistics API reads
//! them back through the same items, so a misspelt name is a compile error, not a zero.
//!
//! The stored names are part of the read model's tables: renaming one would split a counter
//! between the minutes before and after the change (and fail the read-model equivalence test),
//! so [`Counter::name`] must stay byte-identical to what databases already hold.

/// Declares [`Counter`], its stored names and [`Counter::ALL`] from one list, so no counter
/// can be missing from `ALL`.
macro_rules! counters {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// A statistics counter of the `taskrouter` read model.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Counter {
            $( $(#[$doc])* $variant, )*
        }

        impl Counter {
            /// Every counter, in declaration order.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant),*];

            /// The name stored in `tr_stats.metric` (and `tr_waits.metric`).
            pub const fn name(self) -> &'static str {
                match self {
                    $( Counter::$variant => $name, )*
                }
            }
        }
    };
}

counters! {
    /// Tasks created (workspace scope).
    TasksCreated = "tasks_created",
    /// Tasks that entered a queue or a workflow.
    TasksEntered = "tasks_entered",
    /// Tasks a workflow moved out of a queue into another.
    TasksMoved = "tasks_moved",
    /// Tasks canceled.
    TasksCanceled = "tasks_canceled",
    /// Tasks completed.
    TasksCompleted = "tasks_completed",
    /// Tasks deleted.
    TasksDeleted = "tasks_deleted",
    /// Seconds from creation to cancelation (valued, kept by second for `SplitByWaitTime`).
    WaitUntilCanceled = "wait_until_canceled",
    /// Tasks canceled because their workflow timed out.
    TasksTimedOutInWorkflow = "tasks_timed_out_in_workflow",
    /// Reservations created.
    ReservationsCreated = "reservations_created",
    /// Reservations accepted.
    ReservationsAccepted = "reservations_accepted",
    /// Seconds from task creation to acceptance (valued, kept by second for `SplitByWaitTime`).
    WaitUntilAccepted = "wait_until_accepted",
    /// Seconds from entering the queue to acceptance (valued, queue scope).
    WaitInQueueUntilAccepted = "wait_in_queue_until_accepted",
    /// Reservations rejected.
    ReservationsRejected = "reservations_rejected",
    /// Reservations that timed out.
    ReservationsTimedOut = "reservations_timed_out",
    /// Reservations rescinded.
    ReservationsRescinded = "reservations_rescinded",
    /// Reservations canceled (also those still pending when their task ended).
    ReservationsCanceled = "reservations_canceled",
}

/// The stored name of the counter of seconds workers spent in activity `sid` (valued; one
/// counter per activity, so not a [`Counter`]).
pub fn activity(sid: &str) -> String {
    format!("activity:{sid}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_counter_keeps_the_name_databases_hold() {
        // The names the projection wrote as literals before they were typed; existing read
        // models hold exactly these.
        let stored = [
            "tasks_created",
            "tasks_entered",
            "tasks_moved",
            "tasks_canceled",
            "tasks_completed",
            "tasks_deleted",
            "wait_until_canceled",
            "tasks_timed_out_in_workflow",
            "reservations_created",
            "reservations_accepted",
            "wait_until_accepted",
            "wait_in_queue_until_accepted",
            "reservations_rejected",
            "reservations_timed_out",
            "reservations_rescinded",
            "reservations_canceled",
        ];
        let names: Vec<&str> = Counter::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, stored);
        let distinct: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(distinct.len(), Counter::ALL.len());
        assert_eq!(activity("WA0123"), "activity:WA0123");
        assert!(names.iter().all(|n| !n.starts_with("activity:")));
    }
}
