//! Stream versions for optimistic concurrency. A stream's version is the `seq` of its last
//! event (0 when the stream does not exist); an append states what it expects, and the log
//! refuses it with [`Conflict`] when the stream has moved on.

use serde::{Deserialize, Serialize};

/// What an append expects of its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have this `seq` (≥ 1).
    Exact(u64),
}

/// The stream was not where the append expected it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stream version conflict: expected {expected:?}, stream is at {actual}")]
pub struct Conflict {
    /// What the append expected.
    pub expected: ExpectedVersion,
    /// The stream's current version (0 = no stream).
    pub actual: u64,
}

impl ExpectedVersion {
    /// Checks the expectation against a stream at version `actual` (0 = no stream).
    pub fn check(self, actual: u64) -> Result<(), Conflict> {
        let ok = match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(n) => n == actual && n > 0,
        };
        if ok {
            Ok(())
        } else {
            Err(Conflict {
                expected: self,
                actual,
            })
        }
    }

    /// The expectation that follows from having loaded a stream at `version`.
    pub fn after_load(version: u64) -> ExpectedVersion {
        if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_accepts_every_stream_state() {
        assert_eq!(ExpectedVersion::Any.check(0), Ok(()));
        assert_eq!(ExpectedVersion::Any.check(7), Ok(()));
    }

    #[test]
    fn no_stream_accepts_only_a_missing_stream() {
        assert_eq!(ExpectedVersion::NoStream.check(0), Ok(()));
        assert_eq!(
            ExpectedVersion::NoStream.check(1),
            Err(Conflict {
                expected: ExpectedVersion::NoStream,
                actual: 1
            })
        );
    }

    #[test]
    fn exact_accepts_only_that_version() {
        assert_eq!(ExpectedVersion::Exact(3).check(3), Ok(()));
        assert!(ExpectedVersion::Exact(3).check(2).is_err());
        assert!(ExpectedVersion::Exact(3).check(4).is_err());
        // Exact(0) would be a missing stream: that is NoStream's job, so it never matches.
        assert!(ExpectedVersion::Exact(0).check(0).is_err());
    }

    #[test]
    fn after_load_turns_a_loaded_version_into_the_right_expectation() {
        assert_eq!(ExpectedVersion::after_load(0), ExpectedVersion::NoStream);
        assert_eq!(ExpectedVersion::after_load(5), ExpectedVersion::Exact(5));
    }
}
