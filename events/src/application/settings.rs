//! The webhook fields applications and numbers share, as they are stored
//! ([`Settings`]) and as a request changes them ([`SettingsChange`]), with the one check of a
//! method or a URL. The invariant: a stored method is `GET` or `POST` (uppercase), a stored
//! URL is an absolute `http(s)` URL; an empty URL in a request clears the field (Twilio's
//! convention), so "absent" and "cleared" stay distinct in an update.

use serde::{Deserialize, Serialize};

/// Longest URL accepted, bytes (Twilio documents no limit; this bounds what the log keeps).
pub const MAX_URL: usize = 4096;

/// The API version a TwiML session starts with when none is given.
pub const API_VERSION: &str = "2010-04-01";

/// The stored webhook fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The API version TwiML requests carry.
    pub api_version: String,
    /// Where the first TwiML request of a call goes.
    pub voice_url: Option<String>,
    /// `GET` or `POST` (default `POST`).
    pub voice_method: String,
    /// Where a failed fetch or parse goes instead.
    pub voice_fallback_url: Option<String>,
    /// `GET` or `POST`.
    pub voice_fallback_method: String,
    /// Where call status is posted.
    pub status_callback: Option<String>,
    /// `GET` or `POST`.
    pub status_callback_method: String,
    /// Whether the caller's CNAM is looked up (stored; no lookup is made).
    pub voice_caller_id_lookup: bool,
    /// Where an incoming SMS goes (stored; no messaging yet).
    pub sms_url: Option<String>,
    /// `GET` or `POST`.
    pub sms_method: String,
    /// Where a failed SMS request goes.
    pub sms_fallback_url: Option<String>,
    /// `GET` or `POST`.
    pub sms_fallback_method: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            api_version: API_VERSION.to_string(),
            voice_url: None,
            voice_method: "POST".into(),
            voice_fallback_url: None,
            voice_fallback_method: "POST".into(),
            status_callback: None,
            status_callback_method: "POST".into(),
            voice_caller_id_lookup: false,
            sms_url: None,
            sms_method: "POST".into(),
            sms_fallback_url: None,
            sms_fallback_method: "POST".into(),
        }
    }
}

/// What a request changes: each field absent (unchanged) or given; an empty URL clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsChange {
    /// New API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// New voice URL (`""` clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_url: Option<String>,
    /// New voice method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_method: Option<String>,
    /// New voice fallback URL (`""` clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_fallback_url: Option<String>,
    /// New fallback method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_fallback_method: Option<String>,
    /// New status callback (`""` clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback: Option<String>,
    /// New status callback method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback_method: Option<String>,
    /// New CNAM lookup flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_caller_id_lookup: Option<bool>,
    /// New SMS URL (`""` clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_url: Option<String>,
    /// New SMS method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_method: Option<String>,
    /// New SMS fallback URL (`""` clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_fallback_url: Option<String>,
    /// New SMS fallback method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_fallback_method: Option<String>,
}

/// A malformed webhook field, named as the request names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A method other than GET or POST.
    #[error("{field} must be GET or POST, got {value:?}")]
    Method {
        /// The parameter (`VoiceMethod`, …).
        field: &'static str,
        /// What it was.
        value: String,
    },
    /// Not an absolute http(s) URL, or too long.
    #[error(
        "{field} must be an absolute http or https URL of at most {MAX_URL} bytes, got {value:?}"
    )]
    Url {
        /// The parameter (`VoiceUrl`, …).
        field: &'static str,
        /// What it was.
        value: String,
    },
    /// An API version Twilio does not have.
    #[error("ApiVersion must be 2010-04-01 or 2008-08-01, got {0:?}")]
    ApiVersion(String),
}

/// A method as stored (uppercase), or why not.
pub fn method(field: &'static str, value: &str) -> Result<String, SettingsError> {
    let upper = value.trim().to_ascii_uppercase();
    if upper == "GET" || upper == "POST" {
        Ok(upper)
    } else {
        Err(SettingsError::Method {
            field,
            value: value.to_string(),
        })
    }
}

/// A URL as a request gives it: `""` (clear) or an absolute http(s) URL.
pub fn url(field: &'static str, value: &str) -> Result<String, SettingsError> {
    let v = value.trim();
    let scheme_ok = ["http://", "https://"].iter().any(|s| {
        v.get(..s.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(s) && v.len() > s.len())
    });
    if v.is_empty() || (scheme_ok && v.len() <= MAX_URL && !v.contains(char::is_whitespace)) {
        Ok(v.to_string())
    } else {
        Err(SettingsError::Url {
            field,
            value: value.to_string(),
        })
    }
}

/// A requested URL as stored: empty means none.
pub fn url_value(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

impl SettingsChange {
    /// The change with every method uppercased and every field checked.
    pub fn checked(&self) -> Result<SettingsChange, SettingsError> {
        let m =
            |f: &'static str, v: &Option<String>| v.as_deref().map(|v| method(f, v)).transpose();
        let u = |f: &'static str, v: &Option<String>| v.as_deref().map(|v| url(f, v)).transpose();
        let api_version = match self.api_version.as_deref().map(str::trim) {
            None => None,
            Some(v @ ("2010-04-01" | "2008-08-01")) => Some(v.to_string()),
            Some(v) => return Err(SettingsError::ApiVersion(v.to_string())),
        };
        Ok(SettingsChange {
            api_version,
            voice_url: u("VoiceUrl", &self.voice_url)?,
            voice_method: m("VoiceMethod", &self.voice_method)?,
            voice_fallback_url: u("VoiceFallbackUrl", &self.voice_fallback_url)?,
            voice_fallback_method: m("VoiceFallbackMethod", &self.voice_fallback_method)?,
            status_callback: u("StatusCallback", &self.status_callback)?,
            status_callback_method: m("StatusCallbackMethod", &self.status_callback_method)?,
            voice_caller_id_lookup: self.voice_caller_id_lookup,
            sms_url: u("SmsUrl", &self.sms_url)?,
            sms_method: m("SmsMethod", &self.sms_method)?,
            sms_fallback_url: u("SmsFallbackUrl", &self.sms_fallback_url)?,
            sms_fallback_method: m("SmsFallbackMethod", &self.sms_fallback_method)?,
        })
    }
}

impl Settings {
    /// Applies a (checked) change.
    pub fn apply(&mut self, c: &SettingsChange) {
        fn set(field: &mut String, v: &Option<String>) {
            if let Some(v) = v {
                field.clone_from(v);
            }
        }
        fn set_url(field: &mut Option<String>, v: &Option<String>) {
            if let Some(v) = v {
                *field = url_value(v);
            }
        }
        set(&mut self.api_version, &c.api_version);
        set_url(&mut self.voice_url, &c.voice_url);
        set(&mut self.voice_method, &c.voice_method);
        set_url(&mut self.voice_fallback_url, &c.voice_fallback_url);
        set(&mut self.voice_fallback_method, &c.voice_fallback_method);
        set_url(&mut self.status_callback, &c.status_callback);
        set(&mut self.status_callback_method, &c.status_callback_method);
        if let Some(flag) = c.voice_caller_id_lookup {
            self.voice_caller_id_lookup = flag;
        }
        set_url(&mut self.sms_url, &c.sms_url);
        set(&mut self.sms_method, &c.sms_method);
        set_url(&mut self.sms_fallback_url, &c.sms_fallback_url);
        set(&mut self.sms_fallback_method, &c.sms_fallback_method);
    }

    /// The part of a (checked) change that differs from these settings: what an update
    /// records, so a retry that changes nothing records nothing.
    pub fn difference(&self, c: &SettingsChange) -> SettingsChange {
        let s = |current: &str, v: &Option<String>| v.clone().filter(|v| v != current);
        let u = |current: &Option<String>, v: &Option<String>| {
            v.clone()
                .filter(|v| url_value(v).as_deref() != current.as_deref())
        };
        SettingsChange {
            api_version: s(&self.api_version, &c.api_version),
            voice_url: u(&self.voice_url, &c.voice_url),
            voice_method: s(&self.voice_method, &c.voice_method),
            voice_fallback_url: u(&self.voice_fallback_url, &c.voice_fallback_url),
            voice_fallback_method: s(&self.voice_fallback_method, &c.voice_fallback_method),
            status_callback: u(&self.status_callback, &c.status_callback),
            status_callback_method: s(&self.status_callback_method, &c.status_callback_method),
            voice_caller_id_lookup: c
                .voice_caller_id_lookup
                .filter(|f| *f != self.voice_caller_id_lookup),
            sms_url: u(&self.sms_url, &c.sms_url),
            sms_method: s(&self.sms_method, &c.sms_method),
            sms_fallback_url: u(&self.sms_fallback_url, &c.sms_fallback_url),
            sms_fallback_method: s(&self.sms_fallback_method, &c.sms_fallback_method),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_get_or_post_in_any_case_and_stored_uppercase() {
        assert_eq!(method("VoiceMethod", "get"), Ok("GET".into()));
        assert_eq!(method("VoiceMethod", "POST"), Ok("POST".into()));
        assert!(matches!(
            method("VoiceMethod", "PUT"),
            Err(SettingsError::Method {
                field: "VoiceMethod",
                ..
            })
        ));
    }

    #[test]
    fn urls_are_absolute_http_or_empty_to_clear() {
        assert_eq!(
            url("VoiceUrl", "https://a.example/x"),
            Ok("https://a.example/x".into())
        );
        assert_eq!(url("VoiceUrl", ""), Ok(String::new()));
        for bad in ["ftp://a", "/relative", "https://", "http://a b", "é"] {
            assert!(url("VoiceUrl", bad).is_err(), "{bad}");
        }
        assert!(url("VoiceUrl", &format!("https://a/{}", "x".repeat(MAX_URL))).is_err());
    }

    #[test]
    fn a_change_applies_clears_and_records_only_its_difference() {
        let mut s = Settings::default();
        let change = SettingsChange {
            voice_url: Some("https://a.example/v".into()),
            voice_method: Some("get".into()),
            ..Default::default()
        }
        .checked()
        .expect("valid");
        assert_eq!(s.difference(&change), change);
        s.apply(&change);
        assert_eq!(s.voice_url.as_deref(), Some("https://a.example/v"));
        assert_eq!(s.voice_method, "GET");
        assert_eq!(
            s.difference(&change),
            SettingsChange::default(),
            "nothing new"
        );
        let clear = SettingsChange {
            voice_url: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(s.difference(&clear), clear);
        s.apply(&clear);
        assert_eq!(s.voice_url, None);
        assert_eq!(s.difference(&clear), SettingsChange::default());
    }
}
