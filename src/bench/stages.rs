//! Where a webhook's time goes, read from the server under test: the
//! `switchboard_webhook_latency_seconds{stage}` histograms of its `GET /metrics`, taken before
//! and after a level and subtracted, so the figures count that level's first attempts only.
//!
//! Each stage is timed from the source event's `occurred_at` (when the command that caused
//! it reached its workspace's actor; ms resolution, so a figure may read up to 1 ms long):
//! `read` (the process-manager runner has the event from the log: the actor's queue, its
//! commit and the log's delivery to subscribers), `stored` (the outbox row committed),
//! `sent` (the sender starts the request) and `answered` (the answer is in). Means are exact
//! (the histogram's sum over its count); a p99 is the upper bound of the bucket it falls in
//! (buckets ×1.5 apart).

use std::collections::BTreeMap;

/// The stages in the order a webhook passes them.
pub const STAGES: [&str; 4] = ["read", "stored", "sent", "answered"];

const METRIC: &str = "switchboard_webhook_latency_seconds";

/// One stage's histogram: cumulative counts per upper bound (seconds), sum, count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

/// Every stage's histogram at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot(BTreeMap<String, Histogram>);

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let len = labels[start..].find('"')?;
    Some(&labels[start..start + len])
}

impl Snapshot {
    /// Parses the histograms out of a Prometheus or OpenMetrics text exposition.
    pub fn parse(text: &str) -> Snapshot {
        let mut out: BTreeMap<String, Histogram> = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(METRIC) else {
                continue;
            };
            let (Some(open), Some(close)) = (rest.find('{'), rest.find('}')) else {
                continue;
            };
            let (kind, labels) = (&rest[..open], &rest[open + 1..close]);
            let value = rest[close + 1..].split_whitespace().next().unwrap_or("");
            let Some(stage) = label(labels, "stage") else {
                continue;
            };
            let h = out.entry(stage.to_string()).or_default();
            match kind {
                "_bucket" => {
                    let le = label(labels, "le").unwrap_or("+Inf");
                    let bound = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap_or(f64::INFINITY)
                    };
                    h.buckets.push((bound, value.parse().unwrap_or(0)));
                }
                "_sum" => h.sum = value.parse().unwrap_or(0.0),
                "_count" => h.count = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        Snapshot(out)
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Snapshot) -> Snapshot {
        let mut out = BTreeMap::new();
        for (stage, now) in &self.0 {
            let was = before.0.get(stage).cloned().unwrap_or_default();
            let earlier = |bound: f64| {
                was.buckets
                    .iter()
                    .find(|(b, _)| *b == bound)
                    .map_or(0, |(_, c)| *c)
            };
            out.insert(
                stage.clone(),
                Histogram {
                    buckets: now
                        .buckets
                        .iter()
                        .map(|(b, c)| (*b, c.saturating_sub(earlier(*b))))
                        .collect(),
                    sum: now.sum - was.sum,
                    count: now.count.saturating_sub(was.count),
                },
            );
        }
        Snapshot(out)
    }

    /// (count, mean ms, p99 upper bound ms) of `stage`, if it saw anything.
    pub fn figures(&self, stage: &str) -> Option<(u64, f64, f64)> {
        let h = self.0.get(stage).filter(|h| h.count > 0)?;
        let rank = (h.count as f64 * 0.99).ceil() as u64;
        let p99 = h
            .buckets
            .iter()
            .find(|(_, c)| *c >= rank)
            .map_or(f64::INFINITY, |(b, _)| *b);
        Some((h.count, h.sum / h.count as f64 * 1e3, p99 * 1e3))
    }

    /// One line per level: each stage's mean and p99.
    pub fn line(&self) -> String {
        let parts: Vec<String> = STAGES
            .iter()
            .filter_map(|s| {
                self.figures(s)
                    .map(|(_, mean, p99)| format!("{s} {mean:.2}/{p99:.1}"))
            })
            .collect();
        if parts.is_empty() {
            return "        (the server reported no webhook stages)".into();
        }
        format!(
            "        where a callback's time goes, ms from its command's arrival (mean/p99 bucket bound): {}",
            parts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
# TYPE switchboard_webhook_latency_seconds histogram
switchboard_webhook_latency_seconds_sum{stage=\"read\"} 0.010
switchboard_webhook_latency_seconds_count{stage=\"read\"} 10
switchboard_webhook_latency_seconds_bucket{le=\"0.001\",stage=\"read\"} 10
switchboard_webhook_latency_seconds_bucket{le=\"0.01\",stage=\"read\"} 10
switchboard_webhook_latency_seconds_bucket{le=\"+Inf\",stage=\"read\"} 10
";
    const AFTER: &str = "\
switchboard_webhook_latency_seconds_sum{stage=\"read\"} 1.010
switchboard_webhook_latency_seconds_count{stage=\"read\"} 210
switchboard_webhook_latency_seconds_bucket{le=\"0.001\",stage=\"read\"} 11
switchboard_webhook_latency_seconds_bucket{le=\"0.01\",stage=\"read\"} 209
switchboard_webhook_latency_seconds_bucket{le=\"+Inf\",stage=\"read\"} 210
switchboard_log_commit_seconds_sum 5
";

    #[test]
    fn a_level_counts_only_its_own_observations() {
        let level = Snapshot::parse(AFTER).since(&Snapshot::parse(BEFORE));
        let (count, mean, p99) = level.figures("read").expect("read");
        assert_eq!(count, 200);
        assert!((mean - 5.0).abs() < 1e-9, "mean {mean}");
        // 199 of 200 are at most 10 ms: rank 198 falls in the 10 ms bucket.
        assert_eq!(p99, 10.0);
        assert_eq!(level.figures("sent"), None);
    }
}
