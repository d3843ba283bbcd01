//! Alerts: a delivery to an application that failed for good, recorded once, in the fields of
//! Twilio's Monitor Alert resource (`GET /v1/Alerts/{NO…}`). Each alert is its own stream
//! (`NO…`) holding exactly one `alert.raised`; the SID is derived from the delivery's key by
//! the shell, so raising the same failure twice meets an existing stream and records nothing
//! (the invariant: one alert per delivery, however often the sender retries its bookkeeping).
//!
//! What an alert carries is bounded here ([`MAX_BODY`], [`MAX_TEXT`]): an application's
//! answer can be large, and the log keeps every alert forever, so the decider truncates
//! (at a character boundary) rather than trusting the sender.

use crate::event::Event;
use crate::sid::Sid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest request form, response body or header block kept, bytes (Twilio's own body limit).
pub const MAX_BODY: usize = 64 * 1024;
/// Longest alert text or URL kept, bytes.
pub const MAX_TEXT: usize = 4 * 1024;

/// Twilio's alert log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Something failed (every final delivery failure).
    Error,
    /// Something may be wrong.
    Warning,
    /// Worth knowing.
    Notice,
    /// Detail.
    Debug,
}

impl LogLevel {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warning => "warning",
            LogLevel::Notice => "notice",
            LogLevel::Debug => "debug",
        }
    }

    /// Parses the wire value.
    pub fn parse(s: &str) -> Option<LogLevel> {
        match s {
            "error" => Some(LogLevel::Error),
            "warning" => Some(LogLevel::Warning),
            "notice" => Some(LogLevel::Notice),
            "debug" => Some(LogLevel::Debug),
            _ => None,
        }
    }
}

/// `alert.raised`: the Monitor fields that are facts of the failure. The SID is the stream,
/// the account and `date_created` are the envelope's; `url` is derived when served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRaised {
    /// The outbox row's key (what makes raising idempotent).
    pub delivery_id: String,
    /// Twilio's error code (11200, 11205, …).
    pub error_code: u32,
    /// Always `error` for a final delivery failure today.
    pub log_level: LogLevel,
    /// What happened.
    pub alert_text: String,
    /// The API version the webhook belongs to (`v1` for TaskRouter; empty when none).
    pub api_version: String,
    /// Twilio's page about the error.
    pub more_info: String,
    /// When the sender gave up (Monitor's `date_generated`).
    pub date_generated: DateTime<Utc>,
    /// `GET` or `POST`.
    pub request_method: String,
    /// The last URL tried, without its fragment.
    pub request_url: String,
    /// The form sent, form-encoded.
    pub request_variables: String,
    /// The request's headers, when the sender kept them.
    pub request_headers: Option<String>,
    /// The last answer's body.
    pub response_body: Option<String>,
    /// The last answer's headers.
    pub response_headers: Option<String>,
    /// The resource the webhook was about (a reservation, a task, …).
    pub resource_sid: Option<Sid>,
    /// The service it belongs to (the workspace).
    pub service_sid: Option<Sid>,
}

/// An alert, folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Its SID (the stream).
    pub sid: Sid,
    /// Whose it is.
    pub account_sid: Sid,
    /// When it was recorded.
    pub date_created: DateTime<Utc>,
    /// The facts.
    pub raised: AlertRaised,
}

/// Why an alert was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// The stream already holds this alert (the delivery was reported before).
    #[error("alert {0} was already raised")]
    AlreadyRaised(Sid),
    /// The method is not one Twilio requests with.
    #[error("request method must be GET or POST, got {0:?}")]
    Method(String),
}

/// Record a failed delivery as an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaiseAlert {
    /// The alert's SID, derived from the delivery's key.
    pub sid: Sid,
    /// What to record (the decider bounds its sizes).
    pub raised: AlertRaised,
}

impl RaiseAlert {
    /// Decides against the alert's stream, which must be empty.
    pub fn decide(&self, state: Option<&Alert>) -> Result<Vec<Event>, AlertError> {
        if state.is_some() {
            return Err(AlertError::AlreadyRaised(self.sid.clone()));
        }
        let method = self.raised.request_method.to_ascii_uppercase();
        if method != "GET" && method != "POST" {
            return Err(AlertError::Method(self.raised.request_method.clone()));
        }
        let r = &self.raised;
        let body = |s: &Option<String>| s.as_deref().map(|s| truncate(s, MAX_BODY));
        Ok(vec![Event::AlertRaised(AlertRaised {
            delivery_id: truncate(&r.delivery_id, MAX_TEXT),
            alert_text: truncate(&r.alert_text, MAX_TEXT),
            api_version: truncate(&r.api_version, 32),
            more_info: truncate(&r.more_info, MAX_TEXT),
            request_method: method,
            request_url: truncate(&r.request_url, MAX_TEXT),
            request_variables: truncate(&r.request_variables, MAX_BODY),
            request_headers: body(&r.request_headers),
            response_body: body(&r.response_body),
            response_headers: body(&r.response_headers),
            ..r.clone()
        })])
    }
}

/// Folds one event into an alert (nothing but its creation changes one).
pub fn evolve(
    state: Option<Alert>,
    sid: &Sid,
    account_sid: &Sid,
    occurred_at: DateTime<Utc>,
    event: &Event,
) -> Option<Alert> {
    match (state, event) {
        (None, Event::AlertRaised(raised)) => Some(Alert {
            sid: sid.clone(),
            account_sid: account_sid.clone(),
            date_created: occurred_at,
            raised: raised.clone(),
        }),
        (state, _) => state,
    }
}

/// Twilio's page for an error code.
pub fn more_info(code: u32) -> String {
    format!("https://www.twilio.com/docs/errors/{code}")
}

/// `s` cut to at most `max` bytes at a character boundary.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sid::SidPrefix;

    fn raised() -> AlertRaised {
        AlertRaised {
            delivery_id: "d-1".into(),
            error_code: 11205,
            log_level: LogLevel::Error,
            alert_text: "connection refused".into(),
            api_version: "v1".into(),
            more_info: more_info(11205),
            date_generated: DateTime::from_timestamp_millis(5_000).unwrap_or_default(),
            request_method: "post".into(),
            request_url: "https://app.example/cb".into(),
            request_variables: "EventType=task.created".into(),
            request_headers: None,
            response_body: None,
            response_headers: None,
            resource_sid: Some(Sid::from_u128(SidPrefix::Task, 3)),
            service_sid: Some(Sid::from_u128(SidPrefix::Workspace, 2)),
        }
    }

    fn command() -> RaiseAlert {
        RaiseAlert {
            sid: Sid::from_u128(SidPrefix::Alert, 1),
            raised: raised(),
        }
    }

    #[test]
    fn given_no_alert_when_raised_then_alert_raised_is_recorded_with_its_method_uppercased() {
        let events = command().decide(None).expect("decided");
        let [Event::AlertRaised(e)] = events.as_slice() else {
            panic!("one alert.raised: {events:?}");
        };
        assert_eq!(e.request_method, "POST");
        assert_eq!(e.error_code, 11205);
        assert_eq!(e.more_info, "https://www.twilio.com/docs/errors/11205");
    }

    #[test]
    fn given_a_raised_alert_when_raised_again_then_it_already_exists() {
        let c = command();
        let account = Sid::from_u128(SidPrefix::Account, 9);
        let at = DateTime::from_timestamp_millis(6_000).unwrap_or_default();
        let state = c
            .decide(None)
            .unwrap_or_default()
            .iter()
            .fold(None, |s, e| evolve(s, &c.sid, &account, at, e))
            .expect("folded");
        assert_eq!(state.account_sid, account);
        assert_eq!(state.date_created, at);
        assert_eq!(
            c.decide(Some(&state)),
            Err(AlertError::AlreadyRaised(c.sid.clone()))
        );
    }

    #[test]
    fn a_method_twilio_never_uses_is_refused() {
        let mut c = command();
        c.raised.request_method = "DELETE".into();
        assert_eq!(c.decide(None), Err(AlertError::Method("DELETE".into())));
    }

    #[test]
    fn large_bodies_and_texts_are_cut_at_a_character_boundary() {
        let mut c = command();
        c.raised.response_body = Some("é".repeat(MAX_BODY));
        c.raised.alert_text = "x".repeat(MAX_TEXT + 10);
        let events = c.decide(None).unwrap_or_default();
        let Some(Event::AlertRaised(e)) = events.first() else {
            panic!("recorded");
        };
        let body = e.response_body.as_deref().unwrap_or_default();
        assert_eq!(body.len(), MAX_BODY, "é is two bytes: exactly half fit");
        assert_eq!(e.alert_text.len(), MAX_TEXT);
        assert_eq!(truncate("aé", 2), "a", "never splits a character");
    }

    #[test]
    fn log_levels_round_trip_their_wire_values() {
        for l in [
            LogLevel::Error,
            LogLevel::Warning,
            LogLevel::Notice,
            LogLevel::Debug,
        ] {
            assert_eq!(LogLevel::parse(l.as_str()), Some(l));
        }
        assert_eq!(LogLevel::parse("fatal"), None);
    }
}
