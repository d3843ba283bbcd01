//! Recovery's exactly-once: a live call gets one end however often recovery runs.
