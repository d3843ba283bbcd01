//! The HTTP clients webhooks go out on, one per timing (reqwest sets connect and read
//! timeouts per client, not per request), kept so connections to a receiver are reused; and
//! the once-per-account warning about requests that go out unsigned.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use switchboard_events::Sid;
use tracing::warn;

/// A client's timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    /// Longest a connection may take, ms (`ct`).
    pub connect_ms: u32,
    /// Longest a read may wait once connected, ms (`rt`); `None`: only the request's own
    /// total timeout bounds it.
    pub read_ms: Option<u32>,
}

/// Clients by timing, all following redirects or none.
pub struct Clients {
    follow_redirects: bool,
    clients: Mutex<HashMap<Timing, reqwest::Client>>,
}

impl Clients {
    /// An empty set; `follow_redirects` false leaves every 3xx to the caller.
    pub fn new(follow_redirects: bool) -> Clients {
        Clients {
            follow_redirects,
            clients: Mutex::default(),
        }
    }

    /// Uses `client` for `timing` from now on (one built elsewhere, with the same redirect
    /// rule).
    pub fn insert(&self, timing: Timing, client: reqwest::Client) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.insert(timing, client);
    }

    /// The client for `timing`, built on first use.
    pub fn get(&self, timing: Timing) -> reqwest::Client {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(timing)
            .or_insert_with(|| build(timing, self.follow_redirects))
            .clone()
    }
}

/// A client with `timing`, following reqwest's default of ten redirects or none.
pub fn build(timing: Timing, follow_redirects: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(u64::from(timing.connect_ms.max(1))));
    if let Some(read) = timing.read_ms {
        builder = builder.read_timeout(Duration::from_millis(u64::from(read.max(1))));
    }
    if !follow_redirects {
        builder = builder.redirect(reqwest::redirect::Policy::none());
    }
    builder.build().unwrap_or_default()
}

/// Accounts already warned about unsigned requests.
#[derive(Default)]
pub struct UnsignedWarnings(Mutex<HashSet<Sid>>);

impl UnsignedWarnings {
    /// Warns that `account`'s requests go out without `X-Twilio-Signature`, the first time
    /// only: every request would say the same, and the fix (rotating the token) is one.
    pub fn warn(&self, account: &Sid) {
        let mut warned = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if warned.insert(account.clone()) {
            warn!(account_sid = %account, "no signable auth token for this account: its webhooks go out without X-Twilio-Signature (rotate its token to make one)");
        }
    }
}
