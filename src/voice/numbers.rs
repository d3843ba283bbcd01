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
use switchboard_events::application::Application;
use switchboard_events::number::IncomingPhoneNumber;
use switchboard_events::Sid;
use switchboard_projections::numbers;
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
        let Some(e164) = normalize(called) else {
            return Ok(None);
        };
        let unavailable = |e: sqlx::Error| DirectoryError::Unavailable(e.to_string());
        let mut conn = self.store.pool().acquire().await.map_err(unavailable)?;
        let Some(number) = numbers::by_phone_number(&mut conn, &e164)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let application = match &number.voice_application_sid {
            Some(sid) => numbers::application(&mut conn, sid.as_str())
                .await
                .map_err(unavailable)?
                // Only the owner's own application answers its number (the write model
                // checks this when the number names it; this guards a hand-edited row).
                .filter(|a| a.account_sid == number.account_sid),
            None => None,
        };
        Ok(Some(route_of(&number, application.as_ref())))
    }
}

/// The route of `number`: its application's voice fields when it has a live one (Twilio
/// ignores the number's own voice URLs then), else its own.
pub fn route_of(number: &IncomingPhoneNumber, application: Option<&Application>) -> VoiceRoute {
    let s = application.map_or(&number.settings, |a| &a.settings);
    VoiceRoute {
        account_sid: number.account_sid.clone(),
        phone_number_sid: number.sid.to_string(),
        phone_number: number.phone_number.clone(),
        application_sid: application.map(|a| a.sid.to_string()),
        voice_url: s.voice_url.clone(),
        voice_method: s.voice_method.clone(),
        voice_fallback_url: s.voice_fallback_url.clone(),
        voice_fallback_method: s.voice_fallback_method.clone(),
        status_callback: s.status_callback.clone(),
        status_callback_method: s.status_callback_method.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::application::{CreateApplication, SettingsChange};
    use switchboard_events::number::CreateIncomingPhoneNumber;
    use switchboard_events::{Envelope, Event, Position, SidPrefix};
    use switchboard_projections::Projection;
    use uuid::Uuid;

    fn account() -> Sid {
        Sid::from_u128(SidPrefix::Account, 1)
    }

    fn envelope(stream: &Sid, seq: u64, event: Event) -> Envelope {
        Envelope {
            id: Uuid::now_v7(),
            stream: stream.to_string(),
            seq: 1,
            position: Position::embedded(seq),
            occurred_at: chrono::DateTime::from_timestamp_millis(1_000).unwrap_or_default(),
            account_sid: account(),
            correlation_id: Uuid::nil(),
            causation_id: None,
            region: "us1".into(),
            schema_version: 1,
            event,
        }
    }

    fn voice(url: &str) -> SettingsChange {
        SettingsChange {
            voice_url: Some(url.into()),
            voice_method: Some("GET".into()),
            voice_fallback_url: Some(format!("{url}/fallback")),
            status_callback: Some(format!("{url}/status")),
            ..Default::default()
        }
    }

    fn create_number(n: u128, number: &str, app: Option<&Application>) -> Vec<Event> {
        CreateIncomingPhoneNumber {
            sid: Sid::from_u128(SidPrefix::PhoneNumber, n),
            account_sid: account(),
            phone_number: number.into(),
            friendly_name: None,
            voice_application_sid: app.map(|a| a.sid.to_string()),
            sms_application_sid: None,
            settings: voice("https://number.example"),
            applications: app.into_iter().cloned().collect(),
        }
        .decide(None)
        .unwrap_or_default()
    }

    /// A store holding one number with its own URLs (`+15551230000`) and one answered by
    /// an application (`+15551230001`).
    async fn store() -> (ProjectionStore, Application, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let store = ProjectionStore::connect(&url).await.expect("store");
        let app_sid = Sid::from_u128(SidPrefix::Application, 9);
        let app_created = CreateApplication {
            sid: app_sid.clone(),
            friendly_name: Some("IVR".into()),
            settings: voice("https://app.example"),
            message_status_callback: None,
            sms_status_callback: None,
            public_application_connect_enabled: None,
        }
        .decide(None)
        .unwrap_or_default();
        let app = switchboard_events::application::evolve(
            None,
            &app_sid,
            &account(),
            chrono::DateTime::from_timestamp_millis(1_000).unwrap_or_default(),
            &app_created[0],
        )
        .expect("app");
        let envelopes = vec![
            envelope(&app_sid, 1, app_created[0].clone()),
            envelope(
                &Sid::from_u128(SidPrefix::PhoneNumber, 1),
                2,
                create_number(1, "+15551230000", None).remove(0),
            ),
            envelope(
                &Sid::from_u128(SidPrefix::PhoneNumber, 2),
                3,
                create_number(2, "+15551230001", Some(&app)).remove(0),
            ),
        ];
        let mut tx = store.begin_write().await.expect("tx");
        for e in &envelopes {
            switchboard_projections::numbers::Numbers
                .apply(&mut tx, e)
                .await
                .expect("applied");
        }
        tx.commit().await.expect("commit");
        (store, app, dir)
    }

    #[tokio::test]
    async fn the_store_routes_a_number_with_or_without_its_plus_to_its_own_urls() {
        let (store, _, _dir) = store().await;
        let directory = StoreDirectory::new(store);
        let expected = VoiceRoute {
            account_sid: account(),
            phone_number_sid: Sid::from_u128(SidPrefix::PhoneNumber, 1).to_string(),
            phone_number: "+15551230000".into(),
            application_sid: None,
            voice_url: Some("https://number.example".into()),
            voice_method: "GET".into(),
            voice_fallback_url: Some("https://number.example/fallback".into()),
            voice_fallback_method: "POST".into(),
            status_callback: Some("https://number.example/status".into()),
            status_callback_method: "POST".into(),
        };
        for called in ["+15551230000", "15551230000", " +1-555-123-0000"] {
            assert_eq!(
                directory.route(called).await,
                Ok(Some(expected.clone())),
                "{called}"
            );
        }
        for unowned in ["+15559999999", "alice", "", "+"] {
            assert_eq!(directory.route(unowned).await, Ok(None), "{unowned}");
        }
    }

    #[tokio::test]
    async fn a_number_with_an_application_is_routed_to_the_applications_urls() {
        let (store, app, _dir) = store().await;
        let route = StoreDirectory::new(store)
            .route("15551230001")
            .await
            .expect("read")
            .expect("owned");
        assert_eq!(route.application_sid, Some(app.sid.to_string()));
        assert_eq!(route.voice_url.as_deref(), Some("https://app.example"));
        assert_eq!(
            route.voice_fallback_url.as_deref(),
            Some("https://app.example/fallback")
        );
        assert_eq!(
            route.status_callback.as_deref(),
            Some("https://app.example/status")
        );
        assert_eq!(route.phone_number, "+15551230001");
    }

    #[tokio::test]
    async fn the_memory_directory_answers_as_the_store_does() {
        let (store, _, _dir) = store().await;
        let from_store = StoreDirectory::new(store)
            .route("+15551230000")
            .await
            .expect("read")
            .expect("owned");
        let memory = MemoryDirectory::new();
        memory.insert(from_store.clone());
        assert_eq!(memory.route("15551230000").await, Ok(Some(from_store)));
        memory.remove("+15551230000");
        assert_eq!(memory.route("+15551230000").await, Ok(None));
    }
}
