//! Creating an incoming phone number: the number checked as E.164, its application SIDs
//! checked against the caller's live applications (loaded by the shell), its webhook fields
//! checked. Whether the number is free is decided on its claim stream ([`super::claim`]),
//! which the shell appends to first.

use super::{application, default_friendly_name, e164};
use super::{IncomingPhoneNumber, IncomingPhoneNumberCreated, NumberError};
use crate::application::{check_friendly_name, Application, Settings, SettingsChange};
use crate::event::Event;
use crate::sid::Sid;

/// Create a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIncomingPhoneNumber {
    /// The new number's SID (its stream).
    pub sid: Sid,
    /// The owner.
    pub account_sid: Sid,
    /// The number as given (E.164, the `+` optional).
    pub phone_number: String,
    /// Human name (`None`: Twilio's default, the number formatted).
    pub friendly_name: Option<String>,
    /// `VoiceApplicationSid` as given.
    pub voice_application_sid: Option<String>,
    /// `SmsApplicationSid` as given.
    pub sms_application_sid: Option<String>,
    /// The webhook fields given.
    pub settings: SettingsChange,
    /// The caller's applications the request names, as loaded (missing ones absent).
    pub applications: Vec<Application>,
}

impl CreateIncomingPhoneNumber {
    /// The number in E.164, or why not (the shell needs it before deciding: it names the
    /// claim stream).
    pub fn e164(&self) -> Result<String, NumberError> {
        e164(&self.phone_number)
            .ok_or_else(|| NumberError::InvalidNumber(self.phone_number.clone()))
    }

    /// Decides against the new number's stream (which must be empty).
    pub fn decide(&self, state: Option<&IncomingPhoneNumber>) -> Result<Vec<Event>, NumberError> {
        if state.is_some() {
            return Err(NumberError::AlreadyExists(self.sid.clone()));
        }
        let phone_number = self.e164()?;
        let friendly_name = self
            .friendly_name
            .clone()
            .unwrap_or_else(|| default_friendly_name(&phone_number));
        if !check_friendly_name(&friendly_name) {
            return Err(NumberError::FriendlyName);
        }
        let app = |field, v: &Option<String>| match v {
            None => Ok(None),
            Some(v) => application(field, v, &self.account_sid, &self.applications),
        };
        let voice_application_sid = app("VoiceApplicationSid", &self.voice_application_sid)?;
        let sms_application_sid = app("SmsApplicationSid", &self.sms_application_sid)?;
        let mut settings = Settings::default();
        settings.apply(&self.settings.checked()?);
        Ok(vec![Event::IncomingPhoneNumberCreated(
            IncomingPhoneNumberCreated {
                phone_number,
                friendly_name,
                voice_application_sid,
                sms_application_sid,
                settings,
            },
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::{self, CreateApplication};
    use crate::number::evolve;
    use crate::sid::SidPrefix;
    use chrono::DateTime;

    fn account(n: u128) -> Sid {
        Sid::from_u128(SidPrefix::Account, n)
    }

    fn app_of(owner: u128) -> Application {
        let c = CreateApplication {
            sid: Sid::from_u128(SidPrefix::Application, 7),
            friendly_name: None,
            settings: SettingsChange::default(),
            message_status_callback: None,
            sms_status_callback: None,
            public_application_connect_enabled: None,
        };
        let at = DateTime::from_timestamp_millis(1).unwrap_or_default();
        c.decide(None)
            .unwrap_or_default()
            .iter()
            .fold(None, |s, e| {
                application::evolve(s, &c.sid, &account(owner), at, e)
            })
            .expect("created")
    }

    pub(crate) fn create() -> CreateIncomingPhoneNumber {
        CreateIncomingPhoneNumber {
            sid: Sid::from_u128(SidPrefix::PhoneNumber, 1),
            account_sid: account(1),
            phone_number: "15551230000".into(),
            friendly_name: None,
            voice_application_sid: None,
            sms_application_sid: None,
            settings: SettingsChange {
                voice_url: Some("https://app.example/voice".into()),
                ..Default::default()
            },
            applications: vec![],
        }
    }

    #[test]
    fn a_created_number_is_e164_named_by_default_and_posts_by_default() {
        let c = create();
        let at = DateTime::from_timestamp_millis(1).unwrap_or_default();
        let n = c
            .decide(None)
            .expect("decided")
            .iter()
            .fold(None, |s, e| evolve(s, &c.sid, &c.account_sid, at, e))
            .expect("created");
        assert_eq!(n.phone_number, "+15551230000");
        assert_eq!(n.friendly_name, "(555) 123-0000");
        assert_eq!(n.settings.voice_method, "POST");
        assert_eq!(n.account_sid, account(1));
        assert_eq!(
            c.decide(Some(&n)),
            Err(NumberError::AlreadyExists(c.sid.clone()))
        );
    }

    #[test]
    fn the_voice_application_must_be_a_live_application_of_the_same_account() {
        let mut c = create();
        let app = app_of(1);
        c.voice_application_sid = Some(app.sid.to_string());
        assert!(c.decide(None).is_err(), "not loaded: unknown");
        c.applications = vec![app_of(2)];
        assert!(matches!(
            c.decide(None),
            Err(NumberError::Application {
                field: "VoiceApplicationSid",
                ..
            })
        ));
        c.applications = vec![app.clone()];
        let events = c.decide(None).unwrap_or_default();
        let [Event::IncomingPhoneNumberCreated(e)] = events.as_slice() else {
            panic!("created");
        };
        assert_eq!(e.voice_application_sid, Some(app.sid));
        c.voice_application_sid = Some("WS00000000000000000000000000000007".into());
        assert!(c.decide(None).is_err(), "wrong prefix");
    }

    #[test]
    fn a_malformed_number_or_setting_records_nothing() {
        let mut c = create();
        c.phone_number = "+1-555".into();
        assert_eq!(
            c.decide(None),
            Err(NumberError::InvalidNumber("+1-555".into()))
        );
        let mut c = create();
        c.settings.status_callback_method = Some("DELETE".into());
        assert!(matches!(c.decide(None), Err(NumberError::Settings(_))));
    }
}
