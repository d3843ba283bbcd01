//! Changing a number's name, applications or webhook fields (the number itself never
//! changes: a different number is a different resource). Only the caller's live number
//! changes; a change to nothing records nothing.

use super::{application, live, IncomingPhoneNumber, IncomingPhoneNumberUpdated, NumberError};
use crate::application::{check_friendly_name, Application, SettingsChange};
use crate::event::Event;
use crate::sid::Sid;

/// Change a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateIncomingPhoneNumber {
    /// The number.
    pub sid: Sid,
    /// The caller.
    pub account_sid: Sid,
    /// New friendly name.
    pub friendly_name: Option<String>,
    /// New `VoiceApplicationSid` (`""` clears).
    pub voice_application_sid: Option<String>,
    /// New `SmsApplicationSid` (`""` clears).
    pub sms_application_sid: Option<String>,
    /// Changed webhook fields.
    pub settings: SettingsChange,
    /// The caller's applications the request names, as loaded.
    pub applications: Vec<Application>,
}

impl UpdateIncomingPhoneNumber {
    /// Decides against the number's current state.
    pub fn decide(&self, state: Option<&IncomingPhoneNumber>) -> Result<Vec<Event>, NumberError> {
        let n = live(state, &self.sid, &self.account_sid)?;
        if let Some(name) = &self.friendly_name {
            if !check_friendly_name(name) {
                return Err(NumberError::FriendlyName);
            }
        }
        let app = |field, v: &Option<String>, current: &Option<Sid>| match v {
            None => Ok(None),
            Some(v) => application(field, v, &self.account_sid, &self.applications).map(|sid| {
                (sid != *current).then(|| sid.map(|s| s.to_string()).unwrap_or_default())
            }),
        };
        let update = IncomingPhoneNumberUpdated {
            friendly_name: self.friendly_name.clone().filter(|f| *f != n.friendly_name),
            voice_application_sid: app(
                "VoiceApplicationSid",
                &self.voice_application_sid,
                &n.voice_application_sid,
            )?,
            sms_application_sid: app(
                "SmsApplicationSid",
                &self.sms_application_sid,
                &n.sms_application_sid,
            )?,
            settings: n.settings.difference(&self.settings.checked()?),
        };
        if update == IncomingPhoneNumberUpdated::default() {
            return Ok(vec![]);
        }
        Ok(vec![Event::IncomingPhoneNumberUpdated(update)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::{evolve, CreateIncomingPhoneNumber};
    use crate::sid::SidPrefix;
    use chrono::DateTime;

    fn account(n: u128) -> Sid {
        Sid::from_u128(SidPrefix::Account, n)
    }

    fn existing() -> IncomingPhoneNumber {
        let c = CreateIncomingPhoneNumber {
            sid: Sid::from_u128(SidPrefix::PhoneNumber, 1),
            account_sid: account(1),
            phone_number: "+15551230000".into(),
            friendly_name: Some("Main line".into()),
            voice_application_sid: None,
            sms_application_sid: None,
            settings: SettingsChange::default(),
            applications: vec![],
        };
        let at = DateTime::from_timestamp_millis(1).unwrap_or_default();
        c.decide(None)
            .unwrap_or_default()
            .iter()
            .fold(None, |s, e| evolve(s, &c.sid, &c.account_sid, at, e))
            .expect("created")
    }

    fn update(caller: u128) -> UpdateIncomingPhoneNumber {
        UpdateIncomingPhoneNumber {
            sid: Sid::from_u128(SidPrefix::PhoneNumber, 1),
            account_sid: account(caller),
            friendly_name: Some("Main line".into()),
            voice_application_sid: Some(String::new()),
            sms_application_sid: None,
            settings: SettingsChange {
                voice_url: Some("https://new.example/voice".into()),
                voice_method: Some("GET".into()),
                ..Default::default()
            },
            applications: vec![],
        }
    }

    #[test]
    fn an_update_records_only_what_changed_and_folds_it() {
        let n = existing();
        let u = update(1);
        let events = u.decide(Some(&n)).expect("decided");
        let [Event::IncomingPhoneNumberUpdated(e)] = events.as_slice() else {
            panic!("one update: {events:?}");
        };
        assert_eq!(e.friendly_name, None, "same name left out");
        assert_eq!(e.voice_application_sid, None, "clearing nothing left out");
        let at = DateTime::from_timestamp_millis(2).unwrap_or_default();
        let after = events
            .iter()
            .try_fold(n, |s, e| evolve(Some(s), &u.sid, &u.account_sid, at, e))
            .expect("exists");
        assert_eq!(
            after.settings.voice_url.as_deref(),
            Some("https://new.example/voice")
        );
        assert_eq!(after.settings.voice_method, "GET");
        assert_eq!(u.decide(Some(&after)), Ok(vec![]));
    }

    #[test]
    fn another_accounts_number_is_not_found() {
        assert_eq!(
            update(2).decide(Some(&existing())),
            Err(NumberError::NotFound(Sid::from_u128(
                SidPrefix::PhoneNumber,
                1
            )))
        );
    }
}
