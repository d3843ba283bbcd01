//! Prometheus metrics, served at `GET /metrics`: log appends, batch sizes and commit latency
//! (group commit at work), projection lag and skipped records, HTTP requests, and how long
//! a webhook takes to get through each stage of the outbox path
//! (`switchboard_webhook_latency_seconds{stage}`, which `bench taskrouter` reads to say where
//! a callback's time goes).

use crate::log::writer::WriterObserver;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Label set naming a projection.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProjectionLabel {
    /// Projection name.
    pub projection: String,
}

/// Label set of an HTTP response.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabel {
    /// Method.
    pub method: String,
    /// Status code.
    pub status: u16,
}

/// Label set of a webhook's stage, timed from its source event's `occurred_at` (when the
/// command that caused it arrived), first attempts only:
/// - `read`: the process-manager runner has the event from the log;
/// - `stored`: its outbox row committed;
/// - `sent`: the sender starts the request;
/// - `answered`: the application's answer is in.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    /// One of the stages above.
    pub stage: &'static str,
}

/// The webhook stage histograms' buckets: 0.25 ms to about 100 s, ×1.5 apart, fine enough to
/// read a p99 from.
fn stage_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 1.5, 32))
}

/// Every metric the process exports.
pub struct Metrics {
    registry: Registry,
    /// Appends committed.
    pub appends: Counter,
    /// Events committed.
    pub events: Counter,
    /// Events per commit.
    pub batch_events: Histogram,
    /// Time from a batch's start to its commit.
    pub commit_seconds: Histogram,
    /// Events between the log head and a projection's checkpoint.
    pub projection_lag: Family<ProjectionLabel, Gauge>,
    /// Records a projection could not read and stepped over.
    pub projection_skipped: Family<ProjectionLabel, Counter>,
    /// HTTP responses.
    pub http_responses: Family<HttpLabel, Counter>,
    /// Webhooks' time to each stage (see [`StageLabel`]).
    pub webhook_latency: Family<StageLabel, Histogram, fn() -> Histogram>,
    /// Restart recoveries finished (`src/voice/recovery.rs`), their BYEs included.
    pub recoveries: Counter,
    /// Calls a stopped node left live that a recovery ended.
    pub recovered_calls: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let appends = Counter::default();
        let events = Counter::default();
        let batch_events = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        let commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        let projection_lag = Family::<ProjectionLabel, Gauge>::default();
        let projection_skipped = Family::<ProjectionLabel, Counter>::default();
        let http_responses = Family::<HttpLabel, Counter>::default();
        let webhook_latency =
            Family::<StageLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                stage_histogram,
            );
        registry.register(
            "log_appends",
            "Appends committed to the log",
            appends.clone(),
        );
        registry.register("log_events", "Events committed to the log", events.clone());
        registry.register(
            "log_batch_events",
            "Events per log commit (group commit)",
            batch_events.clone(),
        );
        registry.register(
            "log_commit_seconds",
            "Time to write and commit one batch",
            commit_seconds.clone(),
        );
        registry.register(
            "projection_lag_events",
            "Events between the log head and the projection's checkpoint",
            projection_lag.clone(),
        );
        registry.register(
            "projection_skipped_records",
            "Log records a projection could not read and stepped over",
            projection_skipped.clone(),
        );
        registry.register(
            "http_responses",
            "HTTP responses by method and status",
            http_responses.clone(),
        );
        registry.register(
            "webhook_latency_seconds",
            "Time from a webhook's source event to each stage of its first attempt",
            webhook_latency.clone(),
        );
        let recoveries = Counter::default();
        let recovered_calls = Counter::default();
        registry.register(
            "recoveries",
            "Restart recoveries finished (the calls a stopped node left live ended, BYEs sent)",
            recoveries.clone(),
        );
        registry.register(
            "recovered_calls",
            "Calls a stopped node left live that a restart's recovery ended",
            recovered_calls.clone(),
        );
        Metrics {
            recoveries,
            recovered_calls,
            webhook_latency,
            registry,
            appends,
            events,
            batch_events,
            commit_seconds,
            projection_lag,
            projection_skipped,
            http_responses,
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Records that a webhook caused by an event that occurred at `occurred_at_ms` (ms since
    /// the epoch) reached `stage` now.
    pub fn webhook_stage(&self, stage: &'static str, occurred_at_ms: i64) {
        let now = chrono::Utc::now().timestamp_micros();
        let seconds = (now - occurred_at_ms * 1000).max(0) as f64 / 1e6;
        self.webhook_latency
            .get_or_create(&StageLabel { stage })
            .observe(seconds);
    }

    /// The lag gauge of one projection.
    pub fn lag(&self, projection: &str) -> Gauge {
        self.projection_lag
            .get_or_create(&ProjectionLabel {
                projection: projection.to_string(),
            })
            .clone()
    }
}

impl WriterObserver for Metrics {
    fn committed(&self, appends: usize, events: usize, elapsed: Duration) {
        self.appends.inc_by(appends as u64);
        self.events.inc_by(events as u64);
        self.batch_events.observe(events as f64);
        self.commit_seconds.observe(elapsed.as_secs_f64());
    }
}
