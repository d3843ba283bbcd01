//! Reading the statistics counters: sums over whole minutes of one scope's counters from
//! `tr_stats`, and the split of a wait's counts around thresholds from `tr_waits`.
//!
//! Invariant: a window is a closed range of whole minutes, and a counter of no channel
//! (activity durations) counts whatever channel is asked for.

use super::counter::Counter;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// A metric summed over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summed {
    /// How many.
    pub n: i64,
    /// Sum of values (seconds).
    pub total: i64,
    /// Smallest value.
    pub min: i64,
    /// Largest value.
    pub max: i64,
}

impl Summed {
    /// Mean value, rounded down (0 when empty).
    pub fn avg(&self) -> i64 {
        if self.n == 0 {
            0
        } else {
            self.total / self.n
        }
    }
}

/// Counters of one scope (a workspace, queue, workflow or worker SID) over the minutes
/// `[from_minute, to_minute]`, optionally for one task channel (activity durations belong to
/// no channel and always count); stored name ([`Counter::name`], [`super::counter::activity`])
/// → sum.
pub async fn counters(
    conn: &mut AnyConnection,
    workspace: &str,
    scope: &str,
    channel: Option<&str>,
    from_minute: i64,
    to_minute: i64,
) -> Result<BTreeMap<String, Summed>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT metric, CAST(SUM(n) AS BIGINT), CAST(SUM(total) AS BIGINT), MIN(CASE WHEN n > 0 THEN min_value END), MAX(max_value) FROM tr_stats \
         WHERE workspace_sid = $1 AND scope_sid = $2 AND ($3 = '' OR channel_sid = $3 OR channel_sid = '') \
         AND minute >= $4 AND minute <= $5 GROUP BY metric ORDER BY metric",
    )
    .bind(workspace)
    .bind(scope)
    .bind(channel.unwrap_or(""))
    .bind(from_minute)
    .bind(to_minute)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = BTreeMap::new();
    for r in &rows {
        out.insert(
            r.try_get::<String, _>(0)?,
            Summed {
                n: r.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
                total: r.try_get::<Option<i64>, _>(2)?.unwrap_or(0),
                min: r.try_get::<Option<i64>, _>(3)?.unwrap_or(0),
                max: r.try_get::<Option<i64>, _>(4)?.unwrap_or(0),
            },
        );
    }
    Ok(out)
}

/// For each threshold (seconds): how many of `metric`'s waits were below it and how many at or
/// above it, over the same window as [`counters`].
#[allow(clippy::too_many_arguments)]
pub async fn split_by_wait(
    conn: &mut AnyConnection,
    workspace: &str,
    scope: &str,
    channel: Option<&str>,
    from_minute: i64,
    to_minute: i64,
    metric: Counter,
    thresholds: &[i64],
) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT wait_s, CAST(SUM(n) AS BIGINT) FROM tr_waits WHERE workspace_sid = $1 AND scope_sid = $2 AND ($3 = '' OR channel_sid = $3) \
         AND minute >= $4 AND minute <= $5 AND metric = $6 GROUP BY wait_s ORDER BY wait_s",
    )
    .bind(workspace)
    .bind(scope)
    .bind(channel.unwrap_or(""))
    .bind(from_minute)
    .bind(to_minute)
    .bind(metric.name())
    .fetch_all(&mut *conn)
    .await?;
    let waits: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<i64, _>(0)?,
                r.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(thresholds
        .iter()
        .map(|t| {
            let below: i64 = waits.iter().filter(|(w, _)| w < t).map(|(_, n)| n).sum();
            let above: i64 = waits.iter().filter(|(w, _)| w >= t).map(|(_, n)| n).sum();
            (*t, below, above)
        })
        .collect())
}
