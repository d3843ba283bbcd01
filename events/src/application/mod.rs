//! Applications (`AP…`): a named set of voice (and messaging) webhook URLs an account points
//! its numbers at, each application its own stream. A number with a `VoiceApplicationSid`
//! answers calls with its application's voice fields, not its own.
//!
//! [`settings`] holds the webhook fields applications and numbers share, and the one check of
//! them (methods `GET`/`POST`, absolute `http(s)` URLs), so both resources validate alike.
//!
//! ```text
//!          create              update (any field)
//!  (none) ────────▶ existing ◀──────────────────┐
//!                      │ └──────────────────────┘
//!                      └──────▶ deleted (final: the stream takes nothing after it)
//!                       delete
//! ```

mod create_application;
mod delete_application;
pub mod settings;
mod update_application;

pub use create_application::CreateApplication;
pub use delete_application::DeleteApplication;
pub use settings::{Settings, SettingsChange, SettingsError};
pub use update_application::UpdateApplication;

use crate::event::Event;
use crate::sid::Sid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest friendly name Twilio accepts for an application or a number.
pub const MAX_FRIENDLY_NAME: usize = 64;

/// `application.created`: every field as it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationCreated {
    /// A human name (may be empty).
    pub friendly_name: String,
    /// The webhook fields.
    #[serde(flatten)]
    pub settings: Settings,
    /// Where message status is posted.
    pub message_status_callback: Option<String>,
    /// Where SMS status is posted.
    pub sms_status_callback: Option<String>,
    /// Whether other accounts may `<Dial>` this application.
    pub public_application_connect_enabled: bool,
}

/// `application.updated`: only what changed is present; an empty URL clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationUpdated {
    /// New friendly name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// Changed webhook fields.
    #[serde(flatten)]
    pub settings: SettingsChange,
    /// New message status callback (`""` clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status_callback: Option<String>,
    /// New SMS status callback (`""` clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_status_callback: Option<String>,
    /// New public-connect flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_application_connect_enabled: Option<bool>,
}

impl ApplicationUpdated {
    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == ApplicationUpdated::default()
    }
}

/// `application.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationDeleted {}

/// An application, folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Its SID (the stream).
    pub sid: Sid,
    /// Whose it is (the creating command's account).
    pub account_sid: Sid,
    /// Human name.
    pub friendly_name: String,
    /// The webhook fields.
    pub settings: Settings,
    /// Where message status is posted.
    pub message_status_callback: Option<String>,
    /// Where SMS status is posted.
    pub sms_status_callback: Option<String>,
    /// Whether other accounts may `<Dial>` it.
    pub public_application_connect_enabled: bool,
    /// When it was created.
    pub date_created: DateTime<Utc>,
    /// When it last changed.
    pub date_updated: DateTime<Utc>,
    /// Deleted: the stream is closed, the resource gone.
    pub deleted: bool,
}

/// Why an application command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplicationError {
    /// Creating an application whose stream already exists.
    #[error("application {0} already exists")]
    AlreadyExists(Sid),
    /// Changing an application that does not exist (or another account's).
    #[error("application {0} was not found")]
    NotFound(Sid),
    /// The friendly name is too long.
    #[error("FriendlyName must be at most {MAX_FRIENDLY_NAME} characters")]
    FriendlyName,
    /// A webhook field is malformed.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// Folds one event into an application's state. An event that does not apply leaves the
/// state as it is (folds cannot fail).
pub fn evolve(
    state: Option<Application>,
    sid: &Sid,
    account_sid: &Sid,
    occurred_at: DateTime<Utc>,
    event: &Event,
) -> Option<Application> {
    match (state, event) {
        (None, Event::ApplicationCreated(e)) => Some(Application {
            sid: sid.clone(),
            account_sid: account_sid.clone(),
            friendly_name: e.friendly_name.clone(),
            settings: e.settings.clone(),
            message_status_callback: e.message_status_callback.clone(),
            sms_status_callback: e.sms_status_callback.clone(),
            public_application_connect_enabled: e.public_application_connect_enabled,
            date_created: occurred_at,
            date_updated: occurred_at,
            deleted: false,
        }),
        (Some(mut a), Event::ApplicationUpdated(e)) if !a.deleted => {
            if let Some(name) = &e.friendly_name {
                a.friendly_name.clone_from(name);
            }
            a.settings.apply(&e.settings);
            if let Some(url) = &e.message_status_callback {
                a.message_status_callback = settings::url_value(url);
            }
            if let Some(url) = &e.sms_status_callback {
                a.sms_status_callback = settings::url_value(url);
            }
            if let Some(flag) = e.public_application_connect_enabled {
                a.public_application_connect_enabled = flag;
            }
            a.date_updated = occurred_at;
            Some(a)
        }
        (Some(mut a), Event::ApplicationDeleted(_)) => {
            a.deleted = true;
            a.date_updated = occurred_at;
            Some(a)
        }
        (state, _) => state,
    }
}

/// The live application a command may act on: present, not deleted, the caller's.
fn live<'a>(
    state: Option<&'a Application>,
    sid: &Sid,
    account_sid: &Sid,
) -> Result<&'a Application, ApplicationError> {
    state
        .filter(|a| !a.deleted && a.account_sid == *account_sid)
        .ok_or_else(|| ApplicationError::NotFound(sid.clone()))
}

/// Friendly names: at most [`MAX_FRIENDLY_NAME`] characters.
pub fn check_friendly_name(name: &str) -> bool {
    name.chars().count() <= MAX_FRIENDLY_NAME
}
