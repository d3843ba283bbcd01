//! Incoming phone numbers (`PN…`): a number an account owns and the webhooks that answer it.
//! Each number is its own stream; it may name an application (`AP…`, same account) whose
//! voice fields then answer its calls instead of its own.
//!
//! The invariant this module protects: **a number belongs to at most one account at a time,
//! across all accounts.** A read model cannot promise that (two creates can both read "free"
//! before either lands), so the write model does: every E.164 number has a claim stream
//! ([`claim`]) whose SID the shell derives from the number alone, so every writer of that
//! number meets in the same stream. A create first appends `phone-number.claimed` there with
//! the version it loaded (an empty stream: no stream yet), and only then the number's own
//! `incoming-phone-number.created`; of two concurrent creates one append conflicts, decides
//! again, and finds the number taken. A delete records `incoming-phone-number.deleted` and
//! then releases the claim. A claim whose holder never got created (its writer died between
//! the two appends) or was deleted without releasing is stale; the shell names such a holder
//! in [`ClaimNumber::stale_holder`] and the claim can then be taken over.
//!
//! ```text
//!   claim stream (NC…):  (free) ──claimed(PN1)──▶ held ──released(PN1)──▶ (free) ──claimed(PN2)──▶ …
//!   number stream (PN…): (none) ──created──▶ live ──updated──▶ live ──deleted──▶ gone (final)
//! ```

pub mod claim;
mod create_number;
mod delete_number;
mod update_number;

pub use claim::{ClaimNumber, NumberClaim, PhoneNumberClaimed, PhoneNumberReleased, ReleaseNumber};
pub use create_number::CreateIncomingPhoneNumber;
pub use delete_number::DeleteIncomingPhoneNumber;
pub use update_number::UpdateIncomingPhoneNumber;

use crate::application::{Application, Settings, SettingsChange, SettingsError, MAX_FRIENDLY_NAME};
use crate::event::Event;
use crate::sid::{Sid, SidPrefix};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `incoming-phone-number.created`: every field as it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingPhoneNumberCreated {
    /// The number, E.164.
    pub phone_number: String,
    /// Human name (Twilio's default: the number, formatted).
    pub friendly_name: String,
    /// The application answering its calls.
    pub voice_application_sid: Option<Sid>,
    /// The application answering its messages.
    pub sms_application_sid: Option<Sid>,
    /// Its own webhook fields.
    #[serde(flatten)]
    pub settings: Settings,
}

/// `incoming-phone-number.updated`: only what changed is present; `""` clears an application
/// SID or a URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingPhoneNumberUpdated {
    /// New friendly name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// New voice application (`""` clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_application_sid: Option<String>,
    /// New SMS application (`""` clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_application_sid: Option<String>,
    /// Changed webhook fields.
    #[serde(flatten)]
    pub settings: SettingsChange,
}

/// `incoming-phone-number.deleted`: the account released the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingPhoneNumberDeleted {
    /// The number released (so a reader of this event alone knows which).
    pub phone_number: String,
}

/// A number, folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingPhoneNumber {
    /// Its SID (the stream).
    pub sid: Sid,
    /// The owner (the creating command's account).
    pub account_sid: Sid,
    /// E.164.
    pub phone_number: String,
    /// Human name.
    pub friendly_name: String,
    /// The application answering its calls.
    pub voice_application_sid: Option<Sid>,
    /// The application answering its messages.
    pub sms_application_sid: Option<Sid>,
    /// Its own webhook fields.
    pub settings: Settings,
    /// When it was created.
    pub date_created: DateTime<Utc>,
    /// When it last changed.
    pub date_updated: DateTime<Utc>,
    /// Released: the stream is closed.
    pub deleted: bool,
}

/// Why a number command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Creating a number whose stream already exists.
    #[error("incoming phone number {0} already exists")]
    AlreadyExists(Sid),
    /// Changing a number that does not exist (or another account's).
    #[error("incoming phone number {0} was not found")]
    NotFound(Sid),
    /// Not an E.164 number.
    #[error("PhoneNumber {0:?} is not a valid E.164 number (+ and 2 to 15 digits)")]
    InvalidNumber(String),
    /// Another number (of any account) holds it.
    #[error("PhoneNumber {0} is not available: another incoming phone number holds it")]
    Taken(String),
    /// Friendly name too long.
    #[error("FriendlyName must be at most {MAX_FRIENDLY_NAME} characters")]
    FriendlyName,
    /// An application SID that is not one of the caller's live applications.
    #[error("{field} {value:?} is not an application of this account")]
    Application {
        /// `VoiceApplicationSid` or `SmsApplicationSid`.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// A webhook field is malformed.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// The E.164 form of `s`: `+` (optional in the input) and 2–15 digits, the first not 0.
pub fn e164(s: &str) -> Option<String> {
    let digits = s.trim().strip_prefix('+').unwrap_or(s.trim());
    let ok = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

/// Twilio's default friendly name of a number: `(555) 123-0000` for a NANP (`+1`) number,
/// the E.164 text otherwise.
pub fn default_friendly_name(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(d) if d.len() == 10 => format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..]),
        _ => e164.to_string(),
    }
}

/// Checks an application SID a request names (`""` clears): it must be one of `known`, the
/// caller's live applications the shell loaded for the request.
fn application(
    field: &'static str,
    value: &str,
    account_sid: &Sid,
    known: &[Application],
) -> Result<Option<Sid>, NumberError> {
    if value.is_empty() {
        return Ok(None);
    }
    let refused = || NumberError::Application {
        field,
        value: value.to_string(),
    };
    let sid = Sid::parse_as(value, SidPrefix::Application).map_err(|_| refused())?;
    if known
        .iter()
        .any(|a| a.sid == sid && !a.deleted && a.account_sid == *account_sid)
    {
        Ok(Some(sid))
    } else {
        Err(refused())
    }
}

fn live<'a>(
    state: Option<&'a IncomingPhoneNumber>,
    sid: &Sid,
    account_sid: &Sid,
) -> Result<&'a IncomingPhoneNumber, NumberError> {
    state
        .filter(|n| !n.deleted && n.account_sid == *account_sid)
        .ok_or_else(|| NumberError::NotFound(sid.clone()))
}

/// Folds one event into a number's state (folds cannot fail).
pub fn evolve(
    state: Option<IncomingPhoneNumber>,
    sid: &Sid,
    account_sid: &Sid,
    occurred_at: DateTime<Utc>,
    event: &Event,
) -> Option<IncomingPhoneNumber> {
    match (state, event) {
        (None, Event::IncomingPhoneNumberCreated(e)) => Some(IncomingPhoneNumber {
            sid: sid.clone(),
            account_sid: account_sid.clone(),
            phone_number: e.phone_number.clone(),
            friendly_name: e.friendly_name.clone(),
            voice_application_sid: e.voice_application_sid.clone(),
            sms_application_sid: e.sms_application_sid.clone(),
            settings: e.settings.clone(),
            date_created: occurred_at,
            date_updated: occurred_at,
            deleted: false,
        }),
        (Some(mut n), Event::IncomingPhoneNumberUpdated(e)) if !n.deleted => {
            if let Some(name) = &e.friendly_name {
                n.friendly_name.clone_from(name);
            }
            if let Some(app) = &e.voice_application_sid {
                n.voice_application_sid = Sid::parse(app).ok();
            }
            if let Some(app) = &e.sms_application_sid {
                n.sms_application_sid = Sid::parse(app).ok();
            }
            n.settings.apply(&e.settings);
            n.date_updated = occurred_at;
            Some(n)
        }
        (Some(mut n), Event::IncomingPhoneNumberDeleted(_)) => {
            n.deleted = true;
            n.date_updated = occurred_at;
            Some(n)
        }
        (state, _) => state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_takes_a_missing_plus_and_refuses_what_is_not_a_number() {
        assert_eq!(e164("+15551230000").as_deref(), Some("+15551230000"));
        assert_eq!(e164("15551230000").as_deref(), Some("+15551230000"));
        for bad in [
            "",
            "+",
            "+0123",
            "+1555abc",
            "+1234567890123456",
            "++1555",
            "1",
        ] {
            assert_eq!(e164(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_default_friendly_name_formats_nanp_numbers() {
        assert_eq!(default_friendly_name("+15551230000"), "(555) 123-0000");
        assert_eq!(default_friendly_name("+442071838750"), "+442071838750");
    }
}
