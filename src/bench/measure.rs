//! How the benchmarks measure: one definition of a percentile (nearest rank), latency
//! samples ranked by it, concurrent timed loads, the append load every log benchmark runs,
//! and the log writer's commit counter.
//!
//! Invariant: every percentile a benchmark prints is [`percentile`] over sorted samples, so
//! two benchmarks' p50s or p99s mean the same thing and compare.

use super::fixtures::sample_event;
use crate::log::writer::WriterObserver;
use crate::log::EventLog;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::{ExpectedVersion, SidPrefix};

/// The `q` quantile (0 to 1) of `sorted` (ascending) by nearest rank: the smallest value
/// that at least a fraction `q` of all values are at or below; zero when there are none.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

/// Latency samples, sorted, kept as whole nanoseconds so they rank with [`percentile`].
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    nanos: Vec<u64>,
}

impl FromIterator<Duration> for Latencies {
    fn from_iter<I: IntoIterator<Item = Duration>>(samples: I) -> Latencies {
        let mut nanos: Vec<u64> = samples
            .into_iter()
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .collect();
        nanos.sort_unstable();
        Latencies { nanos }
    }
}

impl Latencies {
    /// How many samples.
    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nanos.is_empty()
    }

    /// The `q` quantile (zero when there are no samples).
    pub fn percentile(&self, q: f64) -> Duration {
        Duration::from_nanos(percentile(&self.nanos, q))
    }

    /// The largest sample (zero when there are none).
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.nanos.last().copied().unwrap_or(0))
    }
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `n` copies of `task` at once, each returning its samples, and gathers them all.
pub async fn concurrently<T, F, Fut>(n: usize, task: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<Vec<T>>> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(task())).collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// One timed load: operations per second and their latency.
pub struct Run {
    /// Operations per second over the run.
    pub rate: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

impl Run {
    /// The figures of `latencies` (one per operation) measured over `elapsed`.
    pub fn new(latencies: Vec<Duration>, elapsed: Duration) -> Run {
        let sorted: Latencies = latencies.into_iter().collect();
        Run {
            rate: sorted.len() as f64 / elapsed.as_secs_f64(),
            p50: sorted.percentile(0.5),
            p99: sorted.percentile(0.99),
        }
    }
}

/// `n` appenders for `window`, each appending single-event commands to a stream of its own
/// with an exact expected version, each append timed until its acknowledgement.
pub async fn appenders(log: &Arc<dyn EventLog>, n: usize, window: Duration) -> anyhow::Result<Run> {
    let deadline = Instant::now() + window;
    let started = Instant::now();
    let latencies = concurrently(n, || {
        let log = log.clone();
        async move {
            let stream = crate::commands::new_sid(SidPrefix::Account);
            let mut version = 0u64;
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let event = sample_event(&stream, version + 1);
                let t = Instant::now();
                let appended = log
                    .append(
                        stream.as_str(),
                        ExpectedVersion::after_load(version),
                        vec![event],
                    )
                    .await?;
                latencies.push(t.elapsed());
                version = appended.version;
            }
            anyhow::Ok(latencies)
        }
    })
    .await?;
    Ok(Run::new(latencies, started.elapsed()))
}

/// Counts the log writer's commits, to report the mean batch (how well group commit works).
#[derive(Default)]
pub struct Commits {
    commits: AtomicU64,
    events: AtomicU64,
}

impl WriterObserver for Commits {
    fn committed(&self, _: usize, events: usize, _: Duration) {
        self.commits.fetch_add(1, Relaxed);
        self.events.fetch_add(events as u64, Relaxed);
    }
}

impl Commits {
    /// Events per commit so far.
    pub fn mean_batch(&self) -> f64 {
        self.events.load(Relaxed) as f64 / self.commits.load(Relaxed).max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.95), 95);
        assert_eq!(percentile(&values, 0.50), 50);
        assert_eq!(percentile(&[7], 0.95), 7);
        assert_eq!(percentile(&[], 0.95), 0);
    }
}
