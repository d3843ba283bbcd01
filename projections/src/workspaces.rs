//! Read model `workspaces`: one row per live TaskRouter workspace (its account, name and
//! dates). Everything inside a workspace is served from the workspace's own state.

use crate::{Projection, Table};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};
use switchboard_events::{Envelope, Event};

/// See the module doc.
pub struct Workspaces;

/// A row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRow {
    /// The workspace.
    pub sid: String,
    /// Its account.
    pub account_sid: String,
    /// Its name.
    pub friendly_name: String,
    /// Created.
    pub date_created: DateTime<Utc>,
    /// Last changed.
    pub date_updated: DateTime<Utc>,
}

fn ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn decode(row: &sqlx::any::AnyRow) -> Option<WorkspaceRow> {
    Some(WorkspaceRow {
        sid: row.try_get(0).ok()?,
        account_sid: row.try_get(1).ok()?,
        friendly_name: row.try_get(2).ok()?,
        date_created: ms(row.try_get(3).ok()?),
        date_updated: ms(row.try_get(4).ok()?),
    })
}

/// An account's workspaces, by SID, from `after` (exclusive), at most `limit`.
pub async fn list(
    conn: &mut AnyConnection,
    account_sid: &str,
    friendly_name: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<WorkspaceRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT sid, account_sid, friendly_name, date_created, date_updated FROM workspaces \
         WHERE account_sid = $1 AND ($2 = '' OR friendly_name = $2) ORDER BY sid LIMIT $3 OFFSET $4",
    )
    .bind(account_sid)
    .bind(friendly_name.unwrap_or(""))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().filter_map(decode).collect())
}

/// One workspace.
pub async fn get(conn: &mut AnyConnection, sid: &str) -> Result<Option<WorkspaceRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT sid, account_sid, friendly_name, date_created, date_updated FROM workspaces WHERE sid = $1",
    )
    .bind(sid)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().and_then(decode))
}

/// Every workspace (to load them at start).
pub async fn all(conn: &mut AnyConnection) -> Result<Vec<WorkspaceRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT sid, account_sid, friendly_name, date_created, date_updated FROM workspaces ORDER BY sid",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().filter_map(decode).collect())
}

#[async_trait]
impl Projection for Workspaces {
    fn name(&self) -> &'static str {
        "workspaces"
    }

    fn wants(&self, e: &Envelope) -> bool {
        matches!(
            e.event,
            Event::WorkspaceCreated(_) | Event::WorkspaceUpdated(_) | Event::WorkspaceDeleted(_)
        )
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [Table] {
        &[Table {
            name: "workspaces",
            order_by: "sid",
        }]
    }

    async fn apply(&self, tx: &mut AnyConnection, e: &Envelope) -> Result<(), sqlx::Error> {
        let at = e.occurred_at.timestamp_millis();
        match &e.event {
            Event::WorkspaceCreated(c) => {
                sqlx::query(
                    "INSERT INTO workspaces (sid, account_sid, friendly_name, date_created, date_updated) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sid) DO NOTHING",
                )
                .bind(e.stream.as_str())
                .bind(e.account_sid.as_str())
                .bind(c.friendly_name.as_str())
                .bind(at)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            Event::WorkspaceUpdated(u) => {
                sqlx::query(
                    "UPDATE workspaces SET friendly_name = COALESCE($2, friendly_name), date_updated = $3 WHERE sid = $1",
                )
                .bind(e.stream.as_str())
                .bind(u.friendly_name.clone())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            Event::WorkspaceDeleted(_) => {
                sqlx::query("DELETE FROM workspaces WHERE sid = $1")
                    .bind(e.stream.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
