//! The `accounts` read model: one row per account, read by authentication and the Accounts
//! API. The fold is the write model's own ([`switchboard_events::account::evolve`]): the
//! read model is the account's state, flattened into a row.

use crate::{Projection, Table};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;
use switchboard_events::account::{self, Account, AccountStatus, AccountType, SecondaryAuthToken};
use switchboard_events::{Envelope, Event, Sid};

/// A row of the read model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// The account.
    pub account: Account,
    /// Seq of the last event folded in.
    pub version: u64,
}

/// The pure fold: the row after `envelope`. Events of other streams leave it as it is.
pub fn fold(row: Option<AccountRow>, envelope: &Envelope) -> Option<AccountRow> {
    let Ok(sid) = Sid::parse(&envelope.stream) else {
        return row;
    };
    if !is_account_event(&envelope.event) {
        return row;
    }
    let version = envelope.seq;
    let account = account::evolve(
        row.map(|r| r.account),
        &sid,
        envelope.occurred_at,
        &envelope.event,
    )?;
    Some(AccountRow { account, version })
}

/// Whether the event changes an account's row.
fn is_account_event(event: &Event) -> bool {
    matches!(
        event,
        Event::AccountCreated(_)
            | Event::AccountUpdated(_)
            | Event::SecondaryAuthTokenCreated(_)
            | Event::SecondaryAuthTokenDeleted(_)
            | Event::AuthTokenPromoted(_)
    )
}

/// See the module doc.
pub struct Accounts;

const COLUMNS: &str = "sid, owner_account_sid, friendly_name, status, type, auth_token_hash, \
                       date_created, date_updated, version, auth_token_sealed, \
                       auth_token_created, secondary_auth_token_hash, \
                       secondary_auth_token_sealed, secondary_auth_token_created";

fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Reads a row; a row that does not parse (edited by hand) reads as absent, never a panic.
pub fn decode(row: &sqlx::any::AnyRow) -> Option<AccountRow> {
    let sid = Sid::parse(&row.try_get::<String, _>(0).ok()?).ok()?;
    let owner: Option<String> = row.try_get(1).ok()?;
    let account_type = match row.try_get::<String, _>(4).ok()?.as_str() {
        "Trial" => AccountType::Trial,
        _ => AccountType::Full,
    };
    let date_created = ms_to_time(row.try_get(6).ok()?);
    let auth_token_created: Option<i64> = row.try_get(10).ok()?;
    let secondary_hash: Option<String> = row.try_get(11).ok()?;
    let secondary_sealed: Option<String> = row.try_get(12).ok()?;
    let secondary_created: Option<i64> = row.try_get(13).ok()?;
    let secondary_auth_token = match (secondary_hash, secondary_sealed) {
        (Some(hash), Some(sealed)) => Some(SecondaryAuthToken {
            hash,
            sealed,
            date_created: ms_to_time(secondary_created.unwrap_or_default()),
        }),
        _ => None,
    };
    Some(AccountRow {
        account: Account {
            sid,
            owner_account_sid: owner.and_then(|o| Sid::parse(&o).ok()),
            friendly_name: row.try_get(2).ok()?,
            status: AccountStatus::parse(&row.try_get::<String, _>(3).ok()?)?,
            account_type,
            auth_token_hash: row.try_get(5).ok()?,
            auth_token_sealed: row.try_get(9).ok()?,
            auth_token_created: auth_token_created.map_or(date_created, ms_to_time),
            secondary_auth_token,
            date_created,
            date_updated: ms_to_time(row.try_get(7).ok()?),
        },
        version: u64::try_from(row.try_get::<i64, _>(8).ok()?).ok()?,
    })
}

/// One account by SID.
pub async fn get(conn: &mut AnyConnection, sid: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE sid = $1");
    let row = sqlx::query(&sql).bind(sid).fetch_optional(conn).await?;
    Ok(row.as_ref().and_then(decode))
}

/// An account and its subaccounts, in SID order, one page of them after `after`,
/// optionally filtered by exact friendly name and status.
pub async fn list_family(
    conn: &mut AnyConnection,
    owner: &str,
    after: Option<&str>,
    friendly_name: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    list_page(conn, owner, after, friendly_name, status, limit).await
}

/// Top-level accounts (those without an owner), in SID order, one page of them after
/// `after`, optionally filtered as [`list_family`] (the operator API's list).
pub async fn list_top_level(
    conn: &mut AnyConnection,
    after: Option<&str>,
    friendly_name: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    list_page(conn, "", after, friendly_name, status, limit).await
}

/// One page of `owner`'s family, or of the top-level accounts when `owner` is empty (no SID
/// is empty, so the two cases never mix).
async fn list_page(
    conn: &mut AnyConnection,
    owner: &str,
    after: Option<&str>,
    friendly_name: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM accounts WHERE (($1 = '' AND owner_account_sid IS NULL) \
         OR sid = $1 OR owner_account_sid = $1) AND sid > $2 \
         AND ($3 = '' OR friendly_name = $3) AND ($4 = '' OR status = $4) ORDER BY sid LIMIT $5"
    );
    let rows = sqlx::query(&sql)
        .bind(owner)
        .bind(after.unwrap_or(""))
        .bind(friendly_name.unwrap_or(""))
        .bind(status.unwrap_or(""))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().filter_map(decode).collect())
}

/// Every account, in SID order (for the command line).
pub async fn list_all(conn: &mut AnyConnection) -> Result<Vec<AccountRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM accounts ORDER BY sid");
    let rows = sqlx::query(&sql).fetch_all(conn).await?;
    Ok(rows.iter().filter_map(decode).collect())
}

async fn upsert(tx: &mut AnyConnection, row: &AccountRow) -> Result<(), sqlx::Error> {
    let a = &row.account;
    let sql = format!(
        "INSERT INTO accounts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14) \
         ON CONFLICT (sid) DO UPDATE SET owner_account_sid = excluded.owner_account_sid, \
         friendly_name = excluded.friendly_name, status = excluded.status, type = excluded.type, \
         auth_token_hash = excluded.auth_token_hash, date_created = excluded.date_created, \
         date_updated = excluded.date_updated, version = excluded.version, \
         auth_token_sealed = excluded.auth_token_sealed, \
         auth_token_created = excluded.auth_token_created, \
         secondary_auth_token_hash = excluded.secondary_auth_token_hash, \
         secondary_auth_token_sealed = excluded.secondary_auth_token_sealed, \
         secondary_auth_token_created = excluded.secondary_auth_token_created"
    );
    let secondary = a.secondary_auth_token.as_ref();
    sqlx::query(&sql)
        .bind(a.sid.as_str())
        .bind(a.owner_account_sid.as_ref().map(|s| s.as_str().to_string()))
        .bind(a.friendly_name.as_str())
        .bind(a.status.as_str())
        .bind(account_type_str(a.account_type))
        .bind(a.auth_token_hash.as_str())
        .bind(a.date_created.timestamp_millis())
        .bind(a.date_updated.timestamp_millis())
        .bind(row.version as i64)
        .bind(a.auth_token_sealed.clone())
        .bind(a.auth_token_created.timestamp_millis())
        .bind(secondary.map(|t| t.hash.clone()))
        .bind(secondary.map(|t| t.sealed.clone()))
        .bind(secondary.map(|t| t.date_created.timestamp_millis()))
        .execute(tx)
        .await?;
    Ok(())
}

fn account_type_str(t: AccountType) -> &'static str {
    match t {
        AccountType::Trial => "Trial",
        AccountType::Full => "Full",
    }
}

#[async_trait]
impl Projection for Accounts {
    fn name(&self) -> &'static str {
        "accounts"
    }

    fn wants(&self, e: &Envelope) -> bool {
        is_account_event(&e.event)
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [Table] {
        &[Table {
            name: "accounts",
            order_by: "sid",
        }]
    }

    /// Folds the batch in memory — each account's row read once and written once — which
    /// gives the same row as applying the events one by one (a fold is applied in order).
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        events: &[&Envelope],
    ) -> Result<(), sqlx::Error> {
        let relevant: Vec<&Envelope> = events
            .iter()
            .copied()
            .filter(|e| is_account_event(&e.event))
            .collect();
        if relevant.is_empty() {
            return Ok(());
        }
        let mut rows: BTreeMap<&str, Option<AccountRow>> = BTreeMap::new();
        let keys: Vec<&str> = {
            let mut k: Vec<&str> = relevant.iter().map(|e| e.stream.as_str()).collect();
            k.sort_unstable();
            k.dedup();
            k
        };
        for chunk in keys.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {COLUMNS} FROM accounts WHERE sid IN ({})",
                placeholders.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for k in chunk {
                q = q.bind(*k);
            }
            for row in q.fetch_all(&mut *tx).await?.iter().filter_map(decode) {
                let sid = keys
                    .binary_search(&row.account.sid.as_str())
                    .ok()
                    .map(|i| keys[i]);
                if let Some(sid) = sid {
                    rows.insert(sid, Some(row));
                }
            }
        }
        for e in &relevant {
            let slot = rows.entry(e.stream.as_str()).or_insert(None);
            *slot = fold(slot.take(), e);
        }
        for row in rows.values().flatten() {
            upsert(tx, row).await?;
        }
        Ok(())
    }

    async fn apply(&self, tx: &mut AnyConnection, envelope: &Envelope) -> Result<(), sqlx::Error> {
        if !is_account_event(&envelope.event) {
            return Ok(());
        }
        let before = get(tx, &envelope.stream).await?;
        let Some(after) = fold(before, envelope) else {
            return Ok(());
        };
        upsert(tx, &after).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::account::{AccountCreated, AccountUpdated};
    use switchboard_events::{Position, SidPrefix};
    use uuid::Uuid;

    fn envelope(seq: u64, ms: i64, event: Event) -> Envelope {
        let sid = Sid::from_u128(SidPrefix::Account, 5);
        Envelope {
            id: Uuid::from_u128(seq as u128),
            stream: sid.to_string(),
            seq,
            position: Position::embedded(seq),
            occurred_at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
            account_sid: sid,
            correlation_id: Uuid::nil(),
            causation_id: None,
            region: "us1".into(),
            schema_version: 1,
            event,
        }
    }

    #[test]
    fn the_row_follows_creation_then_updates_and_keeps_the_creation_date() {
        let created = envelope(
            1,
            1_000,
            Event::AccountCreated(AccountCreated {
                friendly_name: "A".into(),
                owner_account_sid: None,
                auth_token_hash: "11".repeat(32),
                auth_token_sealed: None,
                status: AccountStatus::Active,
                account_type: AccountType::Full,
            }),
        );
        let renamed = envelope(
            2,
            2_000,
            Event::AccountUpdated(AccountUpdated {
                friendly_name: Some("B".into()),
                status: Some(AccountStatus::Suspended),
            }),
        );
        let row = [created, renamed].iter().fold(None, fold).expect("row");
        assert_eq!(row.version, 2);
        assert_eq!(row.account.friendly_name, "B");
        assert_eq!(row.account.status, AccountStatus::Suspended);
        assert_eq!(row.account.date_created.timestamp_millis(), 1_000);
        assert_eq!(row.account.date_updated.timestamp_millis(), 2_000);
    }

    #[test]
    fn an_update_without_a_creation_makes_no_row() {
        let update = envelope(
            1,
            1,
            Event::AccountUpdated(AccountUpdated {
                friendly_name: Some("x".into()),
                status: None,
            }),
        );
        assert_eq!(fold(None, &update), None);
    }
}
