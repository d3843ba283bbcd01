//! Alerts: a delivery that finally fails becomes an `alert`-stream event with Twilio's error
//! code, listed in Twilio's Monitor shape (`GET /v1/Alerts`, `/v1/Alerts/{NO…}`).
//!
//! SEAM (issue 12): the signature of [`raise`] is shared by the outbox sender (which calls
//! it) and this module's owner (who builds the event, its projection and the API).

use crate::log::{AppendError, EventLog};
use chrono::{DateTime, Utc};
use switchboard_events::Sid;
use uuid::Uuid;

/// A delivery that failed for good, as the sender saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedDelivery {
    /// Whose application it was (the alert belongs to this account).
    pub account_sid: Sid,
    /// Twilio's error code (11200, 11205, …).
    pub error_code: u32,
    /// What happened, for `alert_text`.
    pub alert_text: String,
    /// The last URL tried (without its fragment).
    pub request_url: String,
    /// `POST` or `GET`.
    pub request_method: String,
    /// The form sent, form-encoded.
    pub request_variables: String,
    /// The last answer's body, when there was one.
    pub response_body: Option<String>,
    /// The last answer's headers, when there was one.
    pub response_headers: Option<String>,
    /// The resource the webhook was about (a reservation, a task, …).
    pub resource_sid: Option<Sid>,
    /// The service it belongs to (the workspace).
    pub service_sid: Option<Sid>,
    /// When the sender gave up.
    pub occurred_at: DateTime<Utc>,
    /// The event that caused the delivery.
    pub causation_id: Uuid,
    /// The outbox row's key: raising twice for one key records one alert.
    pub delivery_id: String,
}

/// Records `failed` as an alert (idempotent per `delivery_id`); returns the alert's SID.
pub async fn raise(log: &dyn EventLog, failed: FailedDelivery) -> Result<Sid, AppendError> {
    let _ = (log, failed);
    Err(AppendError::Unavailable(
        "alerts are not recorded yet (issue 12 seam)".into(),
    ))
}
