//! Deleting (releasing) a number. The number's stream records the deletion first; the shell
//! then releases the claim, so the number is never free while its resource still lives.

use super::{live, IncomingPhoneNumber, IncomingPhoneNumberDeleted, NumberError};
use crate::event::Event;
use crate::sid::Sid;

/// Delete a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteIncomingPhoneNumber {
    /// The number.
    pub sid: Sid,
    /// The caller.
    pub account_sid: Sid,
}

impl DeleteIncomingPhoneNumber {
    /// Decides against the number's state: a missing, deleted or foreign one is not found.
    pub fn decide(&self, state: Option<&IncomingPhoneNumber>) -> Result<Vec<Event>, NumberError> {
        let n = live(state, &self.sid, &self.account_sid)?;
        Ok(vec![Event::IncomingPhoneNumberDeleted(
            IncomingPhoneNumberDeleted {
                phone_number: n.phone_number.clone(),
            },
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::SettingsChange;
    use crate::number::{evolve, CreateIncomingPhoneNumber};
    use crate::sid::SidPrefix;
    use chrono::DateTime;

    #[test]
    fn a_deleted_number_is_gone_and_its_sid_is_not_reused() {
        let account = Sid::from_u128(SidPrefix::Account, 1);
        let c = CreateIncomingPhoneNumber {
            sid: Sid::from_u128(SidPrefix::PhoneNumber, 1),
            account_sid: account.clone(),
            phone_number: "+15551230000".into(),
            friendly_name: None,
            voice_application_sid: None,
            sms_application_sid: None,
            settings: SettingsChange::default(),
            applications: vec![],
        };
        let at = DateTime::from_timestamp_millis(1).unwrap_or_default();
        let fold = |s, events: Vec<Event>| {
            events
                .iter()
                .fold(s, |s, e| evolve(s, &c.sid, &account, at, e))
        };
        let n = fold(None, c.decide(None).unwrap_or_default());
        let d = DeleteIncomingPhoneNumber {
            sid: c.sid.clone(),
            account_sid: account.clone(),
        };
        let events = d.decide(n.as_ref()).expect("deleted");
        assert_eq!(
            events,
            vec![Event::IncomingPhoneNumberDeleted(
                IncomingPhoneNumberDeleted {
                    phone_number: "+15551230000".into()
                }
            )]
        );
        let gone = fold(n, events);
        assert!(gone.as_ref().is_some_and(|n| n.deleted));
        assert_eq!(
            d.decide(gone.as_ref()),
            Err(NumberError::NotFound(c.sid.clone()))
        );
        assert!(c.decide(gone.as_ref()).is_err());
    }
}
