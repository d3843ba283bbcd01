//! Batched SQL writes of the `taskrouter` read model: multi-row upserts and deletes by SID,
//! so a batch costs a few round trips to the database instead of one per row, and the
//! one-shot statements of the tables the batch does not hold in memory.
//!
//! Invariant: a statement's placeholders stay far under both databases' limits because no
//! statement carries more than [`ROWS_PER_STATEMENT`] rows.

use sqlx::AnyConnection;

/// A value bound into a multi-row statement.
pub(super) enum Arg {
    S(String),
    I(i64),
    OS(Option<String>),
    OI(Option<i64>),
}

/// Rows per statement (SQLite allows 32,766 parameters, PostgreSQL 65,535).
pub(super) const ROWS_PER_STATEMENT: usize = 32;

/// Writes `rows` as multi-row statements `head (…), (…) tail`: one round trip to the database
/// per [`ROWS_PER_STATEMENT`] rows instead of one per row. Keys must be distinct within `rows`
/// (an upsert may not touch one row twice in a statement).
pub(super) async fn write_rows(
    tx: &mut AnyConnection,
    head: &str,
    rows: &[Vec<Arg>],
    tail: &str,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * 64);
        sql.push_str(head);
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..row.len() {
                n += 1;
                if j > 0 {
                    sql.push_str(", ");
                }
                sql.push('$');
                sql.push_str(&n.to_string());
            }
            sql.push(')');
        }
        sql.push_str(tail);
        let mut q = sqlx::query(&sql);
        for a in chunk.iter().flatten() {
            q = match a {
                Arg::S(v) => q.bind(v.as_str()),
                Arg::I(v) => q.bind(*v),
                Arg::OS(v) => q.bind(v.as_deref()),
                Arg::OI(v) => q.bind(*v),
            };
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Deletes the rows of `table` whose `sid` is listed, [`ROWS_PER_STATEMENT`] at a time.
pub(super) async fn delete_sids(
    tx: &mut AnyConnection,
    table: &str,
    sids: &[&String],
) -> Result<(), sqlx::Error> {
    for chunk in sids.chunks(ROWS_PER_STATEMENT) {
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("DELETE FROM {table} WHERE sid IN ({})", list.join(", "));
        let mut q = sqlx::query(&sql);
        for sid in chunk {
            q = q.bind(sid.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Runs one statement binding text arguments (for the tables written as events arrive).
pub(super) async fn exec(
    tx: &mut AnyConnection,
    sql: &str,
    args: &[&str],
) -> Result<(), sqlx::Error> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = q.bind(*a);
    }
    q.execute(&mut *tx).await?;
    Ok(())
}
