//! Alerts: a delivery that finally fails becomes an `alert`-stream event with Twilio's error
//! code, listed in Twilio's Monitor shape (`GET /v1/Alerts`, `/v1/Alerts/{NO…}`).
//!
//! Idempotent per delivery: the alert's SID is derived from the outbox row's key
//! ([`alert_sid`]) and the event is appended expecting no stream, so a sender that raises the
//! same failure again after a crash meets the existing stream and gets the same SID back,
//! with nothing written twice. The decider ([`RaiseAlert`]) bounds what is recorded.
//!
//! SEAM (issue 12): the signature of [`raise`] is shared by the outbox sender (which calls
//! it) and this module's owner (who builds the event, its projection and the API).

use crate::log::{AppendError, EventLog};
use chrono::{DateTime, Utc};
use switchboard_events::alert::{more_info, AlertRaised, LogLevel, RaiseAlert};
use switchboard_events::{ExpectedVersion, Metadata, NewEvent, Position, Sid, SidPrefix};
use uuid::Uuid;

/// The region stamped by [`raise`], which is not told the node's (`--region`'s default).
pub const DEFAULT_REGION: &str = "local";

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
    /// The headers the last attempt sent, one `name: value` a line (as `response_headers`):
    /// `X-Twilio-Signature` is among them, as Twilio's Monitor shows it; the auth token that
    /// made it never is. `None` when the sender no longer knows them (an alert recorded late,
    /// after the log was unavailable).
    pub request_headers: Option<String>,
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
    raise_in(log, DEFAULT_REGION, failed).await.map(|r| r.sid)
}

/// What [`raise_in`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    /// The alert.
    pub sid: Sid,
    /// Where its event landed; `None` when it had been raised before.
    pub position: Option<Position>,
}

/// [`raise`], stamping the events with `region` and telling where the event landed (a read
/// that waits for that position sees the alert).
pub async fn raise_in(
    log: &dyn EventLog,
    region: &str,
    failed: FailedDelivery,
) -> Result<Raised, AppendError> {
    let sid = alert_sid(&failed.delivery_id);
    let meta = Metadata {
        occurred_at: crate::commands::now_ms(),
        account_sid: failed.account_sid.clone(),
        // The delivery has no request of its own: the chain it belongs to is the event's.
        correlation_id: failed.causation_id,
        causation_id: Some(failed.causation_id),
        region: region.to_string(),
    };
    let command = RaiseAlert {
        sid: sid.clone(),
        raised: alert_raised(failed),
    };
    // The stream is new by construction; "already raised" is the append's conflict below.
    let events = command
        .decide(None)
        .map_err(|e| AppendError::Invalid(e.to_string()))?;
    let new: Vec<NewEvent> = events
        .iter()
        .map(|e| NewEvent::new(Uuid::now_v7(), &meta, e))
        .collect();
    match log
        .append(sid.as_str(), ExpectedVersion::NoStream, new)
        .await
    {
        Ok(appended) => Ok(Raised {
            sid,
            position: Some(appended.position),
        }),
        Err(AppendError::Conflict(_)) => Ok(Raised {
            sid,
            position: None,
        }),
        Err(e) => Err(e),
    }
}

/// The alert SID of a delivery: `NO` and the first 128 bits of SHA-256 of its key, so every
/// node and every retry of the sender names the same alert.
pub fn alert_sid(delivery_id: &str) -> Sid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"switchboard alert\0")
        .chain_update(delivery_id.as_bytes())
        .finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    Sid::from_u128(SidPrefix::Alert, u128::from_be_bytes(first))
}

/// The Monitor fields of a failed delivery.
fn alert_raised(f: FailedDelivery) -> AlertRaised {
    // TaskRouter's webhooks (the only ones today) belong to its v1 API; Monitor leaves the
    // version empty for anything without one.
    let api_version = match f.service_sid.as_ref().map(Sid::prefix) {
        Some(SidPrefix::Workspace) => "v1",
        _ => "",
    };
    AlertRaised {
        delivery_id: f.delivery_id,
        error_code: f.error_code,
        log_level: LogLevel::Error,
        alert_text: f.alert_text,
        api_version: api_version.to_string(),
        more_info: more_info(f.error_code),
        date_generated: f.occurred_at,
        request_method: f.request_method,
        request_url: f.request_url,
        request_variables: f.request_variables,
        request_headers: f.request_headers,
        response_body: f.response_body,
        response_headers: f.response_headers,
        resource_sid: f.resource_sid,
        service_sid: f.service_sid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::memory::MemoryLog;
    use switchboard_events::Event;

    fn failed(delivery_id: &str) -> FailedDelivery {
        FailedDelivery {
            account_sid: Sid::from_u128(SidPrefix::Account, 1),
            error_code: 11205,
            alert_text: "connection refused".into(),
            request_url: "https://app.example/events".into(),
            request_method: "POST".into(),
            request_variables: "EventType=task.created".into(),
            request_headers: Some("user-agent: TwilioProxy/1.1".into()),
            response_body: None,
            response_headers: None,
            resource_sid: Some(Sid::from_u128(SidPrefix::Task, 2)),
            service_sid: Some(Sid::from_u128(SidPrefix::Workspace, 3)),
            occurred_at: crate::commands::now_ms(),
            causation_id: Uuid::from_u128(7),
            delivery_id: delivery_id.into(),
        }
    }

    #[tokio::test]
    async fn raising_one_delivery_twice_records_one_alert_under_one_sid() {
        let log = MemoryLog::default();
        let first = raise(&log, failed("d-1")).await.expect("raised");
        let again = raise(&log, failed("d-1")).await.expect("raised again");
        let other = raise(&log, failed("d-2")).await.expect("another");
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert_eq!(first.prefix(), SidPrefix::Alert);
        let stream = log.read_stream(first.as_str()).await.expect("read");
        assert_eq!(stream.len(), 1, "one event, however often it is raised");
        let envelope = stream[0].decode().expect("decodes");
        assert_eq!(envelope.account_sid, Sid::from_u128(SidPrefix::Account, 1));
        assert_eq!(envelope.causation_id, Some(Uuid::from_u128(7)));
        let Event::AlertRaised(a) = envelope.event else {
            panic!("alert.raised");
        };
        assert_eq!((a.error_code, a.api_version.as_str()), (11205, "v1"));
        assert_eq!(a.more_info, "https://www.twilio.com/docs/errors/11205");
        assert_eq!(
            a.request_headers.as_deref(),
            Some("user-agent: TwilioProxy/1.1"),
            "the request's headers are recorded"
        );
    }

    #[tokio::test]
    async fn the_sid_depends_on_the_delivery_only_and_a_bad_method_is_refused() {
        assert_eq!(alert_sid("x"), alert_sid("x"));
        assert_ne!(alert_sid("x"), alert_sid("y"));
        let log = MemoryLog::default();
        let mut bad = failed("d-3");
        bad.request_method = "PUT".into();
        assert!(matches!(
            raise(&log, bad).await,
            Err(AppendError::Invalid(_))
        ));
    }
}
