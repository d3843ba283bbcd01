//! Tests of the status-callback process manager.
