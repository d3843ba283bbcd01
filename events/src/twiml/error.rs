//! What can go wrong with a TwiML document, with Twilio's codes (VOICE-NOTES §1.2).
//!
//! Invariant: a [`ParseError`] stops the document (the caller goes to the fallback URL), a
//! [`Warning`] never does; both carry the code Twilio would log as a call notification.

use serde::{Deserialize, Serialize};

/// 11100: a URL that cannot be used (relative with no document URL, no valid host, …).
pub const INVALID_URL: u32 = 11100;
/// 12100: the document is not well-formed XML, has no root, or breaks a limit.
pub const PARSE_FAILURE: u32 = 12100;
/// 12102: the root element is not `<Response>`.
pub const ROOT_NOT_RESPONSE: u32 = 12102;
/// 12200: a schema warning (unknown verb, attribute or value, nesting); execution goes on.
pub const SCHEMA_WARNING: u32 = 12200;

/// The document cannot run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("TwiML error {code}: {message}")]
pub struct ParseError {
    /// [`PARSE_FAILURE`] or [`ROOT_NOT_RESPONSE`].
    pub code: u32,
    pub message: String,
}

impl ParseError {
    pub fn failure(message: impl Into<String>) -> Self {
        ParseError {
            code: PARSE_FAILURE,
            message: message.into(),
        }
    }
}

/// Something in the document was skipped or defaulted; the rest runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// [`SCHEMA_WARNING`].
    pub code: u32,
    pub message: String,
}

impl Warning {
    pub fn schema(message: impl Into<String>) -> Self {
        Warning {
            code: SCHEMA_WARNING,
            message: message.into(),
        }
    }
}

/// Why a URL in a document cannot be fetched; every case is Twilio's 11100.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum UrlError {
    #[error("the URL is empty")]
    Empty,
    #[error("relative URL {0:?} with no document URL to resolve it against")]
    NoBase(String),
    #[error("the document URL {0:?} is not an absolute http(s) URL")]
    BadBase(String),
    #[error("URL {0:?}: only http and https can be fetched")]
    Scheme(String),
    #[error("URL {0:?} has no valid host name")]
    Host(String),
    #[error("URL {0:?} contains a space or control character")]
    Character(String),
}

impl UrlError {
    /// The Twilio code for every URL failure.
    pub fn code(&self) -> u32 {
        INVALID_URL
    }
}
