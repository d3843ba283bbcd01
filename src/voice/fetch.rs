//! Fetching a call's instructions: one signed GET or POST to an application URL with
//! Twilio's parameters, redirects followed, cookies kept per call, the answer sorted by its
//! Content-Type (VOICE-NOTES §1.1), every failure carrying Twilio's error code (§1.2) and what
//! a call notification shows.
//!
//! The invariant: a fetch never waits, retries or reads more than Twilio would — the URL's
//! timing and retries come from [`policy`] (kind [`WebhookKind::Voice`], `#ct/#rt/#tt/#rc/#rp`
//! overrides clamped there), and an answer is refused as soon as it passes 64 kB, never
//! buffered whole.

use crate::app::tokens::AuthTokens;
use std::sync::Arc;
use switchboard_events::process::policy::{self, WebhookKind};
use switchboard_events::Sid;

/// How a URL is requested (TwiML's `method` attributes, a number's `VoiceMethod`).
// SEAM: the lead swaps this for `switchboard_events::twiml::Method` once the TwiML program
// lands; the variants are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// Parameters in the query string.
    Get,
    /// Parameters form-encoded in the body (Twilio's default).
    #[default]
    Post,
}

impl Method {
    /// The HTTP method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One request for instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// Whose application: its primary auth token signs the request.
    pub account: Sid,
    /// The URL as configured; it may carry `#ct=…` overrides (never sent nor signed).
    pub url: String,
    /// GET or POST.
    pub method: Method,
    /// Twilio's parameters (`CallSid`, `AccountSid`, `From`, …, each verb's own), in order.
    pub params: Vec<(String, String)>,
}

/// The cookies of one call: what its application set, sent back on the call's later requests
/// as a browser would (host, path, expiry and `Secure`).
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cookie {
    name: String,
    value: String,
    /// The host it was set by (host-only) or the `Domain` it names (lowercase, no dot).
    domain: String,
    /// Sent to subdomains of `domain` too (a `Domain` attribute was given).
    include_subdomains: bool,
    path: String,
    /// Unix ms after which it is gone; `None`: for the call's lifetime.
    expires_at_ms: Option<i64>,
    secure: bool,
}

/// An answer the call can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The final URL after redirects, fragment removed: the base for relative URLs in the
    /// document.
    pub url: String,
    /// The answer's HTTP status (2xx).
    pub status: u16,
    /// The answer's media type, lowercase, without parameters (`text/xml`).
    pub content_type: String,
    /// The body, by its Content-Type.
    pub document: Document,
    /// The parameters sent, form-encoded (a notification's `request_variables`).
    pub request_variables: String,
}

/// An answer's body, sorted by its Content-Type (VOICE-NOTES §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// `text/xml`, `application/xml`, `text/html`: parsed as TwiML.
    Twiml(String),
    /// `text/plain`: the caller runs it if it is valid TwiML, else reads it aloud.
    Text(String),
    /// `audio/*`: played, then the call hangs up.
    Audio {
        /// The media type, as [`Fetched::content_type`].
        content_type: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// Why a fetch failed, with what a call notification shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (error {code})")]
pub struct FetchError {
    /// Twilio's error code (11100, 11200, 11205, 11210, 11215, 11217, 11243, 11750, 12300).
    pub code: u32,
    /// What happened, for a person.
    pub message: String,
    /// The URL that failed (the last one requested), fragment removed.
    pub url: String,
    /// Its method, `GET` or `POST`.
    pub method: String,
    /// The parameters sent, form-encoded.
    pub request_variables: String,
    /// The answer's status, if one came.
    pub status: Option<u16>,
    /// The answer's headers, one `name: value` a line, if one came.
    pub response_headers: Option<String>,
    /// The answer's body, truncated, if one came.
    pub response_body: Option<String>,
}

/// Fetches instructions for calls; one per server, shared by every call.
pub struct Fetcher {
    client: reqwest::Client,
    tokens: Arc<dyn AuthTokens>,
}

impl Fetcher {
    /// A fetcher signing with `tokens`. `client` makes the requests under Twilio's default
    /// timing; it must not follow redirects itself (the fetcher follows them, re-signing each
    /// hop): build it with [`Fetcher::client`].
    pub fn new(client: reqwest::Client, tokens: Arc<dyn AuthTokens>) -> Fetcher {
        Fetcher { client, tokens }
    }

    /// A client as [`Fetcher::new`] wants it: Twilio's default connect and read timeouts, no
    /// redirects followed.
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    }

    /// Fetches `request`, keeping and sending the call's cookies in `jar`.
    pub async fn fetch(
        &self,
        request: &FetchRequest,
        jar: &mut CookieJar,
    ) -> Result<Fetched, FetchError> {
        let _ = (&self.client, &self.tokens, jar.cookies.len());
        let url = match policy::target(WebhookKind::Voice, &request.url) {
            Ok(t) => t.url,
            Err(e) => request.url.clone() + &e.message,
        };
        Err(FetchError {
            code: 11200,
            message: "fetching instructions is not built yet".into(),
            url,
            method: request.method.as_str().into(),
            request_variables: String::new(),
            status: None,
            response_headers: None,
            response_body: None,
        })
    }
}
