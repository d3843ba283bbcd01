//! Changing an application's fields. Only the caller's live application changes; a change to
//! nothing records nothing (an idempotent retry appends no event).

use super::SettingsChange;
use super::{check_friendly_name, live, Application, ApplicationError, ApplicationUpdated};
use crate::event::Event;
use crate::sid::Sid;

/// Change an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateApplication {
    /// The application.
    pub sid: Sid,
    /// The caller (only its own application changes).
    pub account_sid: Sid,
    /// New friendly name.
    pub friendly_name: Option<String>,
    /// Changed webhook fields.
    pub settings: SettingsChange,
    /// New message status callback (`""` clears).
    pub message_status_callback: Option<String>,
    /// New SMS status callback (`""` clears).
    pub sms_status_callback: Option<String>,
    /// New public-connect flag.
    pub public_application_connect_enabled: Option<bool>,
}

impl UpdateApplication {
    /// Decides against the application's current state.
    pub fn decide(&self, state: Option<&Application>) -> Result<Vec<Event>, ApplicationError> {
        let app = live(state, &self.sid, &self.account_sid)?;
        if let Some(name) = &self.friendly_name {
            if !check_friendly_name(name) {
                return Err(ApplicationError::FriendlyName);
            }
        }
        let settings = app.settings.difference(&self.settings.checked()?);
        let callback = |field, v: &Option<String>, current: &Option<String>| {
            v.as_deref()
                .map(|v| super::settings::url(field, v))
                .transpose()
                .map(|v| v.filter(|v| super::settings::url_value(v) != *current))
        };
        let update = ApplicationUpdated {
            friendly_name: self
                .friendly_name
                .clone()
                .filter(|n| *n != app.friendly_name),
            settings,
            message_status_callback: callback(
                "MessageStatusCallback",
                &self.message_status_callback,
                &app.message_status_callback,
            )?,
            sms_status_callback: callback(
                "SmsStatusCallback",
                &self.sms_status_callback,
                &app.sms_status_callback,
            )?,
            public_application_connect_enabled: self
                .public_application_connect_enabled
                .filter(|f| *f != app.public_application_connect_enabled),
        };
        if update.is_empty() {
            return Ok(vec![]);
        }
        Ok(vec![Event::ApplicationUpdated(update)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::{evolve, CreateApplication};
    use crate::sid::SidPrefix;
    use chrono::DateTime;

    fn account() -> Sid {
        Sid::from_u128(SidPrefix::Account, 1)
    }

    fn existing() -> Application {
        let c = CreateApplication {
            sid: Sid::from_u128(SidPrefix::Application, 1),
            friendly_name: None,
            settings: SettingsChange::default(),
            message_status_callback: None,
            sms_status_callback: None,
            public_application_connect_enabled: None,
        };
        let at = DateTime::from_timestamp_millis(5).unwrap_or_default();
        c.decide(None)
            .unwrap_or_default()
            .iter()
            .fold(None, |s, e| evolve(s, &c.sid, &account(), at, e))
            .expect("created")
    }

    fn update(account_sid: Sid) -> UpdateApplication {
        UpdateApplication {
            sid: Sid::from_u128(SidPrefix::Application, 1),
            account_sid,
            friendly_name: Some("Renamed".into()),
            settings: SettingsChange {
                voice_url: Some("https://b.example/".into()),
                ..Default::default()
            },
            message_status_callback: None,
            sms_status_callback: None,
            public_application_connect_enabled: Some(false),
        }
    }

    #[test]
    fn an_update_records_what_changed_and_a_repeat_records_nothing() {
        let app = existing();
        let u = update(account());
        let events = u.decide(Some(&app)).expect("decided");
        let [Event::ApplicationUpdated(e)] = events.as_slice() else {
            panic!("one update: {events:?}");
        };
        assert_eq!(
            e.public_application_connect_enabled, None,
            "unchanged flag left out"
        );
        let at = DateTime::from_timestamp_millis(9).unwrap_or_default();
        let after = events
            .iter()
            .try_fold(app, |s, e| evolve(Some(s), &u.sid, &account(), at, e))
            .expect("exists");
        assert_eq!(after.friendly_name, "Renamed");
        assert_eq!(after.date_updated, at);
        assert_eq!(u.decide(Some(&after)), Ok(vec![]));
    }

    #[test]
    fn another_accounts_application_is_not_found() {
        let other = Sid::from_u128(SidPrefix::Account, 2);
        assert_eq!(
            update(other).decide(Some(&existing())),
            Err(ApplicationError::NotFound(Sid::from_u128(
                SidPrefix::Application,
                1
            )))
        );
    }
}
