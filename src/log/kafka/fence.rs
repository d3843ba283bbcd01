//! The readers' rule against a superseded writer and a retried send: which records of a
//! partition are applied. Every reader of the Kafka log (the scan that rebuilds the writer's
//! stream index, the subscriptions that feed projections, the process-manager runner and
//! `tail`) judges records with this one rule, in partition order, so they all apply the
//! same records.
//!
//! The rule, per partition:
//! - a record whose writer epoch ([`super::wire::EPOCH_HEADER`]) is below the highest epoch
//!   already seen on the partition is **stale** (a paused writer's queued record flushed
//!   after a newer writer took the lease) and dropped;
//! - of the rest, only the first record of each `(stream, seq)` is applied; a later one (a
//!   producer retry written twice) is a **duplicate** and dropped.
//!
//! Why this is enough: a new writer's first record on a partition raises the epoch there, so
//! every older writer's record after it is dropped. An older record landing between the end
//! the new writer's rebuild read and its first record is applied by readers; the writer
//! checks that gap before it acknowledges anything on the partition ([`super::writer`]).

use std::collections::HashMap;

/// What a reader does with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Applied.
    Apply,
    /// Written by epoch `epoch` after epoch `newer` wrote to the partition: dropped.
    Stale { epoch: i64, newer: i64 },
    /// Its `(stream, seq)` was already applied (seq `last` is the stream's head): dropped.
    Duplicate { seq: u64, last: u64 },
}

impl Verdict {
    /// Why the record was dropped, for the reader that reports it.
    pub fn reason(&self) -> Option<String> {
        match self {
            Verdict::Apply => None,
            Verdict::Stale { epoch, newer } => Some(format!(
                "stale record of writer epoch {epoch} after epoch {newer} took the lease; fenced"
            )),
            Verdict::Duplicate { seq, last } => Some(format!(
                "duplicate of seq {seq} (the stream is at {last}; a producer retry); skipped"
            )),
        }
    }
}

/// What one partition has shown so far.
#[derive(Debug, Default, Clone)]
struct PartitionState {
    epoch: i64,
    heads: HashMap<String, u64>,
}

/// The rule's memory over any number of partitions (keyed by global partition number).
#[derive(Debug, Default, Clone)]
pub struct Fencing {
    partitions: HashMap<u32, PartitionState>,
}

impl Fencing {
    /// Judges the next record of `partition`, written by `epoch`, holding `seq` of `stream`.
    pub fn judge(&mut self, partition: u32, epoch: i64, stream: &str, seq: u64) -> Verdict {
        let state = self.partitions.entry(partition).or_default();
        if epoch < state.epoch {
            return Verdict::Stale {
                epoch,
                newer: state.epoch,
            };
        }
        state.epoch = epoch;
        match state.heads.get_mut(stream) {
            Some(last) if seq <= *last => Verdict::Duplicate { seq, last: *last },
            Some(last) => {
                *last = seq;
                Verdict::Apply
            }
            None => {
                state.heads.insert(stream.to_string(), seq);
                Verdict::Apply
            }
        }
    }

    /// The highest epoch seen on `partition` (0 when none).
    pub fn epoch(&self, partition: u32) -> i64 {
        self.partitions.get(&partition).map_or(0, |s| s.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_epoch_after_a_newer_one_is_stale_and_the_first_seq_wins() {
        let mut f = Fencing::default();
        assert_eq!(f.judge(1, 1, "a", 1), Verdict::Apply);
        assert_eq!(f.judge(1, 1, "a", 2), Verdict::Apply);
        // A retry wrote seq 2 twice.
        assert_eq!(
            f.judge(1, 1, "a", 2),
            Verdict::Duplicate { seq: 2, last: 2 }
        );
        // The new writer takes over and continues the stream.
        assert_eq!(f.judge(1, 2, "a", 3), Verdict::Apply);
        // The paused old writer's queued seq 3 lands after: fenced, not a duplicate.
        assert_eq!(f.judge(1, 1, "a", 3), Verdict::Stale { epoch: 1, newer: 2 });
        assert_eq!(f.judge(1, 1, "b", 1), Verdict::Stale { epoch: 1, newer: 2 });
        assert!(f
            .judge(1, 1, "b", 1)
            .reason()
            .is_some_and(|r| r.contains("fenced")));
        // Another partition has its own epoch; old records (epoch 0) before any epoch apply.
        assert_eq!(f.judge(2, 0, "c", 1), Verdict::Apply);
        assert_eq!(f.epoch(2), 0);
        assert_eq!(f.epoch(1), 2);
        // A stale record did not move the stream's head: the new writer's seq 4 applies.
        assert_eq!(f.judge(1, 2, "a", 4), Verdict::Apply);
        assert_eq!(f.judge(1, 2, "b", 1), Verdict::Apply);
    }
}
