//! The batch's statistics counters: every count and value a batch adds, summed in memory per
//! key and written once per key when the batch ends.
//!
//! Invariant: counters are only ever added to (`n + excluded.n`, the smaller min, the larger
//! max), so a batch's tally gives the same rows as writing its events' counts one by one.

use super::counter::{self, Counter};
use super::sql::{write_rows, Arg};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

/// Statistics scope key: (workspace, scope, channel, minute, metric).
type StatKey = (String, String, String, i64, &'static str);
/// Wait histogram key: (workspace, scope, channel, minute, metric, seconds).
type WaitKey = (String, String, String, i64, &'static str, i64);

/// Counters a batch adds, written once per key at the end of the batch.
#[derive(Default)]
pub(super) struct Tally {
    stats: BTreeMap<StatKey, (i64, i64, i64, i64)>,
    waits: BTreeMap<WaitKey, i64>,
}

fn key(ws: &str, scope: &str, channel: &str, minute: i64, metric: &'static str) -> StatKey {
    (
        ws.to_string(),
        scope.to_string(),
        channel.to_string(),
        minute,
        metric,
    )
}

impl Tally {
    /// Counts one `counter` in each non-empty scope.
    pub(super) fn count(
        &mut self,
        ws: &str,
        scopes: &[&str],
        channel: &str,
        minute: i64,
        counter: Counter,
    ) {
        for scope in scopes.iter().filter(|s| !s.is_empty()) {
            self.entry(key(ws, scope, channel, minute, counter.name()))
                .0 += 1;
        }
    }

    /// Adds value `v` (seconds) to `counter` in each non-empty scope; with `histogram`, also
    /// counts it by second for `SplitByWaitTime`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn value(
        &mut self,
        ws: &str,
        scopes: &[&str],
        channel: &str,
        minute: i64,
        counter: Counter,
        v: i64,
        histogram: bool,
    ) {
        self.record(ws, scopes, channel, minute, counter.name(), v, histogram);
    }

    /// Adds `seconds` spent in activity `activity` (a counter of no channel).
    pub(super) fn activity_time(
        &mut self,
        ws: &str,
        scopes: &[&str],
        minute: i64,
        activity: &str,
        seconds: i64,
    ) {
        self.record(
            ws,
            scopes,
            "",
            minute,
            intern_activity(activity),
            seconds,
            false,
        );
    }

    /// The row of `key`: (count, total, min, max); min and max start past each other so the
    /// first value sets both (and a counter without values writes 0, 0).
    fn entry(&mut self, key: StatKey) -> &mut (i64, i64, i64, i64) {
        self.stats.entry(key).or_insert((0, 0, i64::MAX, i64::MIN))
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        ws: &str,
        scopes: &[&str],
        channel: &str,
        minute: i64,
        metric: &'static str,
        v: i64,
        histogram: bool,
    ) {
        for scope in scopes.iter().filter(|s| !s.is_empty()) {
            let e = self.entry(key(ws, scope, channel, minute, metric));
            e.0 += 1;
            e.1 += v;
            e.2 = e.2.min(v);
            e.3 = e.3.max(v);
            if histogram {
                let (ws, scope, channel, minute, metric) = key(ws, scope, channel, minute, metric);
                *self
                    .waits
                    .entry((ws, scope, channel, minute, metric, v))
                    .or_default() += 1;
            }
        }
    }

    /// Adds the batch's counters to the tables.
    pub(super) async fn flush(self, tx: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let stats: Vec<Vec<Arg>> = self
            .stats
            .into_iter()
            .map(
                |((ws, scope, channel, minute, metric), (n, total, min, max))| {
                    let (min, max) = if min > max { (0, 0) } else { (min, max) };
                    vec![
                        Arg::S(ws),
                        Arg::S(scope),
                        Arg::S(channel),
                        Arg::I(minute),
                        Arg::S(metric.to_string()),
                        Arg::I(n),
                        Arg::I(total),
                        Arg::I(min),
                        Arg::I(max),
                    ]
                },
            )
            .collect();
        write_rows(
            tx,
            "INSERT INTO tr_stats (workspace_sid, scope_sid, channel_sid, minute, metric, n, total, min_value, max_value) VALUES ",
            &stats,
            " ON CONFLICT (workspace_sid, scope_sid, minute, metric, channel_sid) DO UPDATE SET \
             n = tr_stats.n + excluded.n, total = tr_stats.total + excluded.total, \
             min_value = CASE WHEN excluded.n > 0 AND excluded.min_value < tr_stats.min_value THEN excluded.min_value ELSE tr_stats.min_value END, \
             max_value = CASE WHEN excluded.max_value > tr_stats.max_value THEN excluded.max_value ELSE tr_stats.max_value END",
        )
        .await?;
        let waits: Vec<Vec<Arg>> = self
            .waits
            .into_iter()
            .map(|((ws, scope, channel, minute, metric, wait), n)| {
                vec![
                    Arg::S(ws),
                    Arg::S(scope),
                    Arg::S(channel),
                    Arg::I(minute),
                    Arg::S(metric.to_string()),
                    Arg::I(wait),
                    Arg::I(n),
                ]
            })
            .collect();
        write_rows(
            tx,
            "INSERT INTO tr_waits (workspace_sid, scope_sid, channel_sid, minute, metric, wait_s, n) VALUES ",
            &waits,
            " ON CONFLICT (workspace_sid, scope_sid, minute, metric, channel_sid, wait_s) DO UPDATE SET n = tr_waits.n + excluded.n",
        )
        .await
    }
}

/// Activity metrics are named `activity:{WA…}`; the tally keys on `&'static str`, so the few
/// distinct names a process sees are leaked once each.
fn intern_activity(sid: &str) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<BTreeMap<String, &'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let mut names = names.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(sid) {
        return n;
    }
    let name: &'static str = Box::leak(counter::activity(sid).into_boxed_str());
    names.insert(sid.to_string(), name);
    name
}
