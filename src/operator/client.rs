//! `switchboard accounts create` through a running server: when the log refuses a second
//! writer (the embedded log's lock file, PostgreSQL's advisory lock, the Kafka writer lease),
//! the command asks the server at `--server-url` to create the account over the operator API
//! (`POST /operator/v1/Accounts`, HTTP Basic `operator:TOKEN`), and prints what it would have
//! printed had it written the log itself.
//!
//! The invariant: only the refusal of a second writer sends the command to a server; any
//! other failure to open the log is reported as it is, and a failure of the server is
//! reported together with the refusal, so the operator sees both reasons.

use super::token::{self, USER};
use crate::log::kafka::lease::LeaseError;
use crate::log::WriterHeld;
use anyhow::Context;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// What `accounts create` prints, however the account was made: one JSON object.
#[derive(Clone)]
pub struct NewAccount {
    /// `AC…`.
    pub sid: String,
    /// Shown this once.
    pub auth_token: String,
    /// Human name.
    pub friendly_name: String,
    /// `active`.
    pub status: String,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token: this may end up in a log line.
        f.debug_struct("NewAccount")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

impl NewAccount {
    /// The line `accounts create` prints.
    pub fn to_json(&self) -> Value {
        json!({
            "sid": self.sid,
            "auth_token": self.auth_token,
            "friendly_name": self.friendly_name,
            "status": self.status,
        })
    }
}

/// Whether `error` (from opening the log to write) is the log refusing a second writer
/// because another process holds it: then a server runs on this log.
pub fn held_by_a_server(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<WriterHeld>() || matches!(cause.downcast_ref(), Some(LeaseError::Held { .. }))
    })
}

/// The token to send: `--operator-token`, else the first token of `file`.
pub fn operator_token(given: Option<String>, file: &Path) -> anyhow::Result<String> {
    match given {
        Some(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => token::current(file).context(
            "no operator token: pass --operator-token (SWITCHBOARD_OPERATOR_TOKEN) or \
             --operator-token-file, the file `serve` uses",
        ),
    }
}

/// Creates a top-level account through the operator API at `server_url`.
pub async fn create_account(
    server_url: &str,
    token: &str,
    friendly_name: &str,
) -> anyhow::Result<NewAccount> {
    let base = server_url.trim_end_matches('/');
    let url = format!("{base}/operator/v1/Accounts");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build an HTTP client")?;
    let answer = client
        .post(&url)
        .basic_auth(USER, Some(token))
        .form(&[("FriendlyName", friendly_name)])
        .send()
        .await
        .with_context(|| format!("the server at {base} did not answer"))?;
    let status = answer.status();
    let body: Value = answer
        .json()
        .await
        .with_context(|| format!("the server at {base} answered {status} without JSON"))?;
    if status != reqwest::StatusCode::CREATED {
        anyhow::bail!(
            "the server at {base} answered {status}, code {}: {}",
            body["code"],
            body["message"].as_str().unwrap_or("(no message)")
        );
    }
    let field = |name: &str| {
        body[name]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("the server at {base} answered without {name:?}: {body}"))
    };
    Ok(NewAccount {
        sid: field("sid")?,
        auth_token: field("auth_token")?,
        friendly_name: field("friendly_name")?,
        status: field("status")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_refusal_of_a_second_writer_means_a_server_runs() {
        let sqlite = anyhow::Error::new(WriterHeld("in use".into())).context("cannot open");
        assert!(held_by_a_server(&sqlite));
        let kafka = anyhow::Error::new(LeaseError::Held {
            name: "w".into(),
            holder: "h".into(),
            remaining_ms: 5,
        });
        assert!(held_by_a_server(&kafka));
        assert!(!held_by_a_server(&anyhow::anyhow!(
            "in use by another switchboard process"
        )));
        let store = LeaseError::Store(sqlx::Error::PoolClosed);
        assert!(!held_by_a_server(&anyhow::Error::new(store)));
    }
}
