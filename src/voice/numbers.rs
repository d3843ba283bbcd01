//! The number directory: which account and which voice URLs answer a called number. The SIP
//! router asks [`NumberDirectory::route`] on every INVITE, before anything is answered; a
//! number nobody owns is `Ok(None)` (SIP 404).
//!
//! The invariant it keeps: a route names exactly the owner the write model gave the number
//! (one account per number, enforced by the number's claim stream, not here) and, when the
//! number has a `VoiceApplicationSid`, the application's voice fields and never the number's
//! own (Twilio ignores the number's voice URLs then).
//!
//! [`StoreDirectory`] answers from the `numbers` read model (SQLite or PostgreSQL);
//! [`MemoryDirectory`] from a map, for tests.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::RwLock;
use switchboard_events::Sid;
use switchboard_projections::store::ProjectionStore;

/// What answers a call to one number: the owner and the URLs to fetch TwiML from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceRoute {
    /// The account that owns the number (the call's `AccountSid`).
    pub account_sid: Sid,
    /// The number's `PN…` SID.
    pub phone_number_sid: String,
    /// The number, E.164 (`+15551230000`): the call's `To` and `Called`.
    pub phone_number: String,
    /// The `AP…` application whose fields these are, when the number has one.
    pub application_sid: Option<String>,
    /// Where the first TwiML request goes (`None`: nothing configured).
    pub voice_url: Option<String>,
    /// `GET` or `POST`.
    pub voice_method: String,
    /// Where a failed fetch or parse goes instead.
    pub voice_fallback_url: Option<String>,
    /// `GET` or `POST`.
    pub voice_fallback_method: String,
    /// Where call status changes are posted.
    pub status_callback: Option<String>,
    /// `GET` or `POST`.
    pub status_callback_method: String,
}

/// Why the directory could not answer (the caller answers the INVITE with a 503, not a 404:
/// the number may well be owned).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The read model cannot be reached or read.
    #[error("the numbers read model cannot be read: {0}")]
    Unavailable(String),
}

/// See the module doc.
#[async_trait]
pub trait NumberDirectory: Send + Sync + 'static {
    /// The route for `called`: the INVITE's Request-URI user (or `To` user), with or without
    /// the leading `+`. `Ok(None)`: no account owns it.
    async fn route(&self, called: &str) -> Result<Option<VoiceRoute>, DirectoryError>;
}

/// The E.164 form a called user names: a leading `+` added when missing, visual separators
/// a dial string may carry dropped. `None` when what is left is not `+` and 1–15 digits.
pub fn normalize(called: &str) -> Option<String> {
    let digits: String = called
        .trim()
        .trim_start_matches('+')
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | ' ' | '(' | ')'))
        .collect();
    let ok = (1..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    ok.then(|| format!("+{digits}"))
}

/// The directory over the read model.
#[derive(Clone)]
pub struct StoreDirectory {
    store: ProjectionStore,
}

impl StoreDirectory {
    /// A directory reading `store`'s `numbers` read model.
    pub fn new(store: ProjectionStore) -> StoreDirectory {
        StoreDirectory { store }
    }
}

#[async_trait]
impl NumberDirectory for StoreDirectory {
    async fn route(&self, called: &str) -> Result<Option<VoiceRoute>, DirectoryError> {
        let Some(_number) = normalize(called) else {
            return Ok(None);
        };
        let _ = &self.store;
        Err(DirectoryError::Unavailable(
            "the numbers read model is not built yet".into(),
        ))
    }
}

/// A directory held in memory, keyed by E.164 number (tests; a router without a store).
#[derive(Default)]
pub struct MemoryDirectory {
    routes: RwLock<HashMap<String, VoiceRoute>>,
}

impl MemoryDirectory {
    /// An empty directory.
    pub fn new() -> MemoryDirectory {
        MemoryDirectory::default()
    }

    /// Adds (or replaces) the route of `route.phone_number`.
    pub fn insert(&self, route: VoiceRoute) {
        let key = normalize(&route.phone_number).unwrap_or_else(|| route.phone_number.clone());
        self.routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, route);
    }

    /// Removes the route of `phone_number`.
    pub fn remove(&self, phone_number: &str) {
        let key = normalize(phone_number).unwrap_or_else(|| phone_number.to_string());
        self.routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
}

#[async_trait]
impl NumberDirectory for MemoryDirectory {
    async fn route(&self, called: &str) -> Result<Option<VoiceRoute>, DirectoryError> {
        let Some(number) = normalize(called) else {
            return Ok(None);
        };
        Ok(self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&number)
            .cloned())
    }
}
