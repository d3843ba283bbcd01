//! `POST /Calls.json`'s parameters, checked as Twilio checks them (VOICE-NOTES §2.1), into the
//! call router's [`PlaceCall`]. Nothing here touches the log: a refusal is a 400 before any
//! call exists.
//!
//! - `To` and `From` are required (21201, 21213); exactly one of `Url`, `Twiml`,
//!   `ApplicationSid` (`Twiml` is ignored when `Url` is given); `Twiml` ≤ 4,000 characters.
//! - `Method`, `FallbackMethod`, `StatusCallbackMethod`: `GET` or `POST`, `POST` by default.
//! - `StatusCallbackEvent`: repeated, or several in one value separated by spaces (as some
//!   clients send it); `completed` alone when none is given.
//! - `Timeout` 1–600 s (60), `TimeLimit` 1–86,400 s (four hours), `SendDigits` ≤ 32 of
//!   `0-9 A-D # * w W`.
//! - With `ApplicationSid` (21218 when it is not one of the account's), `Method`, `Fallback*`
//!   and `StatusCallback*` are ignored: the application's voice URLs and status callback are
//!   used, with `completed` as its only event.
//!
//! Twilio's code where it has a documented one (21201 To missing, 21213 From missing, 21205 a
//! URL that is not one, 21218 ApplicationSid), its generic 20001 otherwise.

use crate::http::twilio::{ApiError, Params};
use crate::voice::calls::{
    PlaceCall, DEFAULT_TIMEOUT_SECS, DEFAULT_TIME_LIMIT_SECS, MAX_TIMEOUT_SECS, MAX_TWIML_CHARS,
};
use axum::http::StatusCode;
use std::time::Duration;
use switchboard_events::application::Application;
use switchboard_events::call::{CallRouted, HttpMethod, StatusCallbackEvent};
use switchboard_events::Sid;

/// The longest `TimeLimit` Twilio allows (24 hours), seconds.
pub const MAX_TIME_LIMIT_SECS: u32 = 86_400;
/// The most `SendDigits` keys.
pub const MAX_SEND_DIGITS: usize = 32;

fn bad(code: u32, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// What drives the call once answered, as the request named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `Url` (with `Method`).
    Url(String),
    /// `Twiml`.
    Twiml(String),
    /// `ApplicationSid`: resolved by the caller (the applications read model).
    Application(Sid),
}

/// A checked create request: everything but the application's URLs (see [`Request::place`]).
#[derive(Debug, Clone)]
pub struct Request {
    /// `To`.
    pub to: String,
    /// `From`.
    pub from: String,
    /// `Url`, `Twiml` or `ApplicationSid`.
    pub source: Source,
    method: HttpMethod,
    fallback_url: Option<String>,
    fallback_method: HttpMethod,
    status_callback: Option<String>,
    status_callback_method: HttpMethod,
    status_callback_events: Vec<StatusCallbackEvent>,
    timeout: u32,
    time_limit: u32,
    send_digits: Option<String>,
}

/// An HTTP method parameter (`GET`/`POST`, any case), `POST` when absent.
pub fn method(params: &Params, name: &str) -> Result<HttpMethod, ApiError> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(HttpMethod::Post),
        Some(v) => HttpMethod::parse(v)
            .ok_or_else(|| bad(20001, format!("{name} must be GET or POST, got {v:?}"))),
    }
}

/// An absolute `http`/`https` URL parameter (21205 otherwise); empty is none.
pub fn url(params: &Params, name: &str) -> Result<Option<String>, ApiError> {
    let Some(v) = params.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match reqwest::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(Some(v.to_string()))
        }
        _ => Err(bad(21205, format!("{name} is not a valid URL: {v}"))),
    }
}

/// Inline TwiML within Twilio's limit.
pub fn twiml(v: &str) -> Result<String, ApiError> {
    let chars = v.chars().count();
    if chars > MAX_TWIML_CHARS {
        return Err(bad(
            20001,
            format!("Twiml is {chars} characters; at most {MAX_TWIML_CHARS} are accepted"),
        ));
    }
    Ok(v.to_string())
}

/// Every `StatusCallbackEvent` value (repeated, or space-separated in one), in order, each
/// once; `completed` alone when none is given.
fn events(params: &Params) -> Result<Vec<StatusCallbackEvent>, ApiError> {
    let mut events = Vec::new();
    let values = params
        .0
        .iter()
        .filter(|(k, _)| k == "StatusCallbackEvent")
        .flat_map(|(_, v)| v.split([' ', ',']));
    for v in values.filter(|v| !v.is_empty()) {
        let event = StatusCallbackEvent::parse(v).ok_or_else(|| {
            bad(
                20001,
                format!(
                "StatusCallbackEvent must be initiated, ringing, answered or completed, got {v:?}"
            ),
            )
        })?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        events.push(StatusCallbackEvent::Completed);
    }
    Ok(events)
}

fn send_digits(params: &Params) -> Result<Option<String>, ApiError> {
    let Some(v) = params.get("SendDigits").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let fits = v.len() <= MAX_SEND_DIGITS
        && v.chars()
            .all(|c| matches!(c, '0'..='9' | 'A'..='D' | '#' | '*' | 'w' | 'W'));
    if !fits {
        return Err(bad(
            20001,
            format!(
                "SendDigits must be at most {MAX_SEND_DIGITS} of 0-9, A-D, #, *, w, W; got {v:?}"
            ),
        ));
    }
    Ok(Some(v.to_string()))
}

fn seconds(params: &Params, name: &str, max: u32, default: u32) -> Result<u32, ApiError> {
    Ok(params
        .int(name, 1..=i64::from(max))?
        .map_or(default, |v| v as u32))
}

impl Request {
    /// Checks the parameters (module doc).
    pub fn parse(params: &Params) -> Result<Request, ApiError> {
        let to = params
            .get("To")
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| bad(21201, "No 'To' number is specified"))?;
        let from = params
            .get("From")
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| bad(21213, "No 'From' number is specified"))?;
        let given = |name: &str| params.get(name).filter(|v| !v.is_empty());
        let source = match (url(params, "Url")?, given("Twiml"), given("ApplicationSid")) {
            (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => {
                return Err(bad(
                    20001,
                    "Give exactly one of Url, Twiml or ApplicationSid",
                ))
            }
            // Twilio: on create, `Twiml` is ignored when `Url` is given.
            (Some(u), _, None) => Source::Url(u),
            (None, Some(t), None) => Source::Twiml(twiml(t)?),
            (None, None, Some(a)) => Source::Application(
                params
                    .sid("ApplicationSid", switchboard_events::SidPrefix::Application)
                    .map_err(|_| bad(21218, format!("ApplicationSid {a:?} is invalid")))?
                    .ok_or_else(|| bad(21218, "ApplicationSid is invalid"))?,
            ),
            (None, None, None) => {
                return Err(bad(
                    20001,
                    "Either Url, Twiml or ApplicationSid is required",
                ))
            }
        };
        Ok(Request {
            to: to.trim().to_string(),
            from: from.trim().to_string(),
            source,
            method: method(params, "Method")?,
            fallback_url: url(params, "FallbackUrl")?,
            fallback_method: method(params, "FallbackMethod")?,
            status_callback: url(params, "StatusCallback")?,
            status_callback_method: method(params, "StatusCallbackMethod")?,
            status_callback_events: events(params)?,
            timeout: seconds(params, "Timeout", MAX_TIMEOUT_SECS, DEFAULT_TIMEOUT_SECS)?,
            time_limit: seconds(
                params,
                "TimeLimit",
                MAX_TIME_LIMIT_SECS,
                DEFAULT_TIME_LIMIT_SECS,
            )?,
            send_digits: send_digits(params)?,
        })
    }

    /// The call to place for `account`; `application` is the one `ApplicationSid` named
    /// (looked up by the caller, already checked to be the account's).
    pub fn place(
        &self,
        account: &Sid,
        application: Option<&Application>,
    ) -> Result<PlaceCall, ApiError> {
        let routed = match (&self.source, application) {
            (Source::Application(sid), Some(app)) => application_route(sid, app)?,
            (Source::Application(sid), None) => {
                return Err(bad(21218, format!("ApplicationSid {sid} is invalid")))
            }
            (Source::Url(url), _) => self.route(url.clone(), None),
            (Source::Twiml(twiml), _) => self.route(String::new(), Some(twiml.clone())),
        };
        Ok(PlaceCall {
            account_sid: account.clone(),
            to: self.to.clone(),
            from: self.from.clone(),
            routed,
            timeout: Duration::from_secs(u64::from(self.timeout)),
            time_limit: Duration::from_secs(u64::from(self.time_limit)),
            send_digits: self.send_digits.clone(),
        })
    }

    fn route(&self, voice_url: String, twiml: Option<String>) -> CallRouted {
        CallRouted {
            phone_number_sid: None,
            application_sid: None,
            voice_url,
            voice_method: self.method,
            voice_fallback_url: self.fallback_url.clone(),
            voice_fallback_method: self.fallback_method,
            status_callback: self.status_callback.clone(),
            status_callback_method: self.status_callback_method,
            status_callback_events: self.status_callback_events.clone(),
            twiml,
        }
    }
}

/// The route an application gives: its voice URLs and status callback (Twilio ignores the
/// request's `Method`, `Fallback*` and `StatusCallback*` then).
fn application_route(sid: &Sid, app: &Application) -> Result<CallRouted, ApiError> {
    let s = &app.settings;
    let voice_url = s
        .voice_url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| bad(21218, format!("Application {sid} has no VoiceUrl")))?;
    let m = |v: &str| HttpMethod::parse(v).unwrap_or(HttpMethod::Post);
    Ok(CallRouted {
        phone_number_sid: None,
        application_sid: Some(sid.to_string()),
        voice_url,
        voice_method: m(&s.voice_method),
        voice_fallback_url: s.voice_fallback_url.clone().filter(|u| !u.is_empty()),
        voice_fallback_method: m(&s.voice_fallback_method),
        status_callback: s.status_callback.clone().filter(|u| !u.is_empty()),
        status_callback_method: m(&s.status_callback_method),
        status_callback_events: vec![StatusCallbackEvent::Completed],
        twiml: None,
    })
}

#[cfg(test)]
mod tests;
