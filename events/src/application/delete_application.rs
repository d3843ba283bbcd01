//! Deleting an application. Numbers that named it keep the SID; the router then finds no
//! live application and answers with the number's own voice fields.

use super::{live, Application, ApplicationDeleted, ApplicationError};
use crate::event::Event;
use crate::sid::Sid;

/// Delete an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteApplication {
    /// The application.
    pub sid: Sid,
    /// The caller (only its own application goes).
    pub account_sid: Sid,
}

impl DeleteApplication {
    /// Decides against the application's current state: a deleted or missing one is not
    /// found (Twilio answers a second DELETE with 404).
    pub fn decide(&self, state: Option<&Application>) -> Result<Vec<Event>, ApplicationError> {
        live(state, &self.sid, &self.account_sid)?;
        Ok(vec![Event::ApplicationDeleted(ApplicationDeleted {})])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::{evolve, CreateApplication, SettingsChange};
    use crate::sid::SidPrefix;
    use chrono::DateTime;

    #[test]
    fn a_deleted_application_is_gone_for_every_later_command() {
        let sid = Sid::from_u128(SidPrefix::Application, 3);
        let account = Sid::from_u128(SidPrefix::Account, 1);
        let create = CreateApplication {
            sid: sid.clone(),
            friendly_name: None,
            settings: SettingsChange::default(),
            message_status_callback: None,
            sms_status_callback: None,
            public_application_connect_enabled: None,
        };
        let at = DateTime::from_timestamp_millis(5).unwrap_or_default();
        let fold = |s, events: Vec<Event>| {
            events
                .iter()
                .fold(s, |s, e| evolve(s, &sid, &account, at, e))
        };
        let app = fold(None, create.decide(None).unwrap_or_default());
        let delete = DeleteApplication {
            sid: sid.clone(),
            account_sid: account.clone(),
        };
        let gone = fold(app.clone(), delete.decide(app.as_ref()).expect("deleted"));
        assert!(gone.as_ref().is_some_and(|a| a.deleted));
        assert_eq!(
            delete.decide(gone.as_ref()),
            Err(ApplicationError::NotFound(sid.clone()))
        );
        assert!(
            create.decide(gone.as_ref()).is_err(),
            "the SID is not reused"
        );
    }
}
