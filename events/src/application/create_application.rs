//! Creating an application. The SID and the account arrive in the command; every webhook
//! field is checked before anything is recorded.

use super::{check_friendly_name, Application, ApplicationCreated, ApplicationError};
use super::{Settings, SettingsChange};
use crate::event::Event;
use crate::sid::Sid;

/// Create an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateApplication {
    /// The new application's SID (its stream).
    pub sid: Sid,
    /// Human name (`None`: empty).
    pub friendly_name: Option<String>,
    /// The webhook fields given; the rest take Twilio's defaults.
    pub settings: SettingsChange,
    /// Message status callback.
    pub message_status_callback: Option<String>,
    /// SMS status callback.
    pub sms_status_callback: Option<String>,
    /// Public connect flag.
    pub public_application_connect_enabled: Option<bool>,
}

impl CreateApplication {
    /// Decides against the new application's stream (which must be empty).
    pub fn decide(&self, state: Option<&Application>) -> Result<Vec<Event>, ApplicationError> {
        if state.is_some() {
            return Err(ApplicationError::AlreadyExists(self.sid.clone()));
        }
        let friendly_name = self.friendly_name.clone().unwrap_or_default();
        if !check_friendly_name(&friendly_name) {
            return Err(ApplicationError::FriendlyName);
        }
        let mut settings = Settings::default();
        settings.apply(&self.settings.checked()?);
        let callback = |field, v: &Option<String>| -> Result<Option<String>, ApplicationError> {
            match v {
                None => Ok(None),
                Some(v) => Ok(super::settings::url_value(&super::settings::url(field, v)?)),
            }
        };
        Ok(vec![Event::ApplicationCreated(ApplicationCreated {
            friendly_name,
            settings,
            message_status_callback: callback(
                "MessageStatusCallback",
                &self.message_status_callback,
            )?,
            sms_status_callback: callback("SmsStatusCallback", &self.sms_status_callback)?,
            public_application_connect_enabled: self
                .public_application_connect_enabled
                .unwrap_or(false),
        })])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::{evolve, SettingsError};
    use crate::sid::SidPrefix;
    use chrono::DateTime;

    pub(crate) fn create() -> CreateApplication {
        CreateApplication {
            sid: Sid::from_u128(SidPrefix::Application, 1),
            friendly_name: Some("IVR".into()),
            settings: SettingsChange {
                voice_url: Some("https://app.example/voice".into()),
                ..Default::default()
            },
            message_status_callback: None,
            sms_status_callback: None,
            public_application_connect_enabled: None,
        }
    }

    #[test]
    fn given_no_application_when_created_then_defaults_fill_what_was_not_given() {
        let c = create();
        let events = c.decide(None).expect("decided");
        let account = Sid::from_u128(SidPrefix::Account, 1);
        let at = DateTime::from_timestamp_millis(5).unwrap_or_default();
        let app = events
            .iter()
            .fold(None, |s, e| evolve(s, &c.sid, &account, at, e))
            .expect("created");
        assert_eq!(app.friendly_name, "IVR");
        assert_eq!(
            app.settings.voice_url.as_deref(),
            Some("https://app.example/voice")
        );
        assert_eq!(app.settings.voice_method, "POST");
        assert_eq!(app.settings.api_version, "2010-04-01");
        assert_eq!(app.account_sid, account);
        assert!(!app.public_application_connect_enabled);
        assert_eq!(
            c.decide(Some(&app)),
            Err(ApplicationError::AlreadyExists(c.sid.clone()))
        );
    }

    #[test]
    fn a_bad_method_or_url_records_nothing() {
        let mut c = create();
        c.settings.voice_method = Some("PATCH".into());
        assert!(matches!(
            c.decide(None),
            Err(ApplicationError::Settings(SettingsError::Method { .. }))
        ));
        let mut c = create();
        c.sms_status_callback = Some("not a url".into());
        assert!(matches!(
            c.decide(None),
            Err(ApplicationError::Settings(SettingsError::Url {
                field: "SmsStatusCallback",
                ..
            }))
        ));
        let mut c = create();
        c.friendly_name = Some("x".repeat(65));
        assert_eq!(c.decide(None), Err(ApplicationError::FriendlyName));
    }
}
