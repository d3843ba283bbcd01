//! Fetching a call's instructions: one signed GET or POST to an application URL with
//! Twilio's parameters, redirects followed, cookies kept per call, the answer sorted by its
//! Content-Type (VOICE-NOTES §1.1), every failure carrying Twilio's error code (§1.2) and what
//! a call notification shows.
//!
//! The invariant: a fetch never waits, retries or reads more than Twilio would — the URL's
//! timing and retries come from [`policy`] (kind [`WebhookKind::Voice`], `#ct/#rt/#tt/#rc/#rp`
//! overrides clamped there), and an answer is refused as soon as it passes 64 kB, never
//! buffered whole.

mod cookies;

pub use cookies::CookieJar;

use crate::app::tokens::AuthTokens;
use crate::app::webhook::answer::{classify, describe, read_capped};
use crate::app::webhook::clients::{self, Clients, Timing, UnsignedWarnings};
use crate::app::webhook::request::{form_encoded, header_lines, with_twilio_headers};
use reqwest::Url;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::process::policy::{self, Next, Outcome, Policy, WebhookKind};
use switchboard_events::Sid;
use tracing::warn;
use uuid::Uuid;

/// How a URL is requested (TwiML's `method` attributes, a number's `VoiceMethod`): the
/// program's own type, so an action's method goes to the fetcher unchanged.
pub use switchboard_events::twiml::Method;

/// reqwest's spelling of a TwiML method.
fn http_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
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
    /// Clients by timing, none following redirects.
    clients: Clients,
    tokens: Arc<dyn AuthTokens>,
    unsigned: UnsignedWarnings,
}

/// Redirects followed; one more is 11215 (VOICE-NOTES §1.1).
pub const MAX_REDIRECTS: u32 = 10;

/// Most of an answer's body and headers a [`FetchError`] keeps: a notification is an event in
/// the log, and its first few kB say what went wrong.
pub const NOTIFIED_BYTES: usize = 4096;

/// Twilio's error code for a URL that cannot be requested.
pub const INVALID_URL: u32 = 11100;
/// Twilio's error code for a Content-Type it cannot run.
pub const INVALID_CONTENT_TYPE: u32 = 12300;

/// The timing of a URL without overrides.
fn default_timing() -> Timing {
    timing(&WebhookKind::Voice.defaults())
}

fn timing(policy: &Policy) -> Timing {
    Timing {
        connect_ms: policy.connect_timeout_ms,
        read_ms: Some(policy.read_timeout_ms),
    }
}

impl Fetcher {
    /// A fetcher signing with `tokens`. `client` makes the requests of URLs without timing
    /// overrides (a URL with `#ct`/`#rt` gets a client of its own, built like
    /// [`Fetcher::client`]); it must not follow redirects itself, since the fetcher follows
    /// them, re-signing each hop: build it with [`Fetcher::client`].
    pub fn new(client: reqwest::Client, tokens: Arc<dyn AuthTokens>) -> Fetcher {
        let clients = Clients::new(false);
        clients.insert(default_timing(), client);
        Fetcher {
            clients,
            tokens,
            unsigned: UnsignedWarnings::default(),
        }
    }

    /// A client as [`Fetcher::new`] wants it: Twilio's default connect and read timeouts for
    /// a voice URL, no redirects followed.
    pub fn client() -> reqwest::Client {
        clients::build(default_timing(), false)
    }

    /// Fetches `request`, keeping and sending the call's cookies in `jar`: redirects followed
    /// (each hop signed for its own URL), failures retried as the URL's policy says, the
    /// answer sorted by its Content-Type.
    pub async fn fetch(
        &self,
        request: &FetchRequest,
        jar: &mut CookieJar,
    ) -> Result<Fetched, FetchError> {
        let variables = form_encoded(&request.params);
        let mut hop = Hop {
            url: bare(&request.url),
            method: request.method,
            with_params: true,
        };
        let fail = |hop: &Hop, code: u32, message: String| FetchError {
            code,
            message,
            url: hop.url.clone(),
            method: hop.method.as_str().into(),
            request_variables: variables.clone(),
            status: None,
            response_headers: None,
            response_body: None,
        };
        let target = policy::target(WebhookKind::Voice, &request.url)
            .map_err(|e| fail(&hop, e.code, e.message))?;
        let token = self.token(&request.account).await;
        let exchange = Exchange {
            policy: target.policy,
            started: Instant::now(),
            token: token.as_deref(),
            params: &request.params,
            variables: &variables,
            // One token for the whole fetch, retries and hops included: it names this one
            // request for instructions, so a receiver can tell a retry from a new request.
            idempotency: Uuid::now_v7().to_string(),
        };
        let mut redirects = 0;
        loop {
            let url = Url::parse(&hop.url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                .ok_or_else(|| {
                    fail(&hop, INVALID_URL, format!("{} is not an HTTP URL", hop.url))
                })?;
            match self.attempts(&exchange, &hop, &url, jar).await? {
                Answered::Redirect { status, location } => {
                    redirects += 1;
                    if redirects > MAX_REDIRECTS {
                        return Err(fail(
                            &hop,
                            policy::error_code(Outcome::Status(status)).unwrap_or(11215),
                            format!(
                                "more than {MAX_REDIRECTS} redirects, the last from {}",
                                hop.url
                            ),
                        ));
                    }
                    hop = hop
                        .redirected(status, &url, &location)
                        .map_err(|message| fail(&hop, INVALID_URL, message))?;
                }
                Answered::Body(answer) => return document(&hop, &variables, answer),
            }
        }
    }

    /// The account's token; `None` sends the request unsigned. Unlike the outbox, which keeps
    /// a row until a token can be had, a call is live and cannot wait: an application that
    /// validates refuses the unsigned request (an 11217, then the fallback URL — what the
    /// caller would hear anyway), and one that does not keeps working.
    async fn token(&self, account: &Sid) -> Option<String> {
        match self.tokens.auth_token(account).await {
            Ok(Some(token)) => Some(token),
            Ok(None) => {
                self.unsigned.warn(account);
                None
            }
            Err(e) => {
                warn!(account_sid = %account, cause = %e, "cannot sign a call's request for instructions: sent unsigned");
                None
            }
        }
    }

    /// Requests one hop, retrying as the policy says within `tt` (counted from the fetch's
    /// start, redirects included): a 2xx with its body, a 3xx with a Location, or the
    /// final failure.
    async fn attempts(
        &self,
        exchange: &Exchange<'_>,
        hop: &Hop,
        url: &Url,
        jar: &mut CookieJar,
    ) -> Result<Answered, FetchError> {
        let (requested, body_params) = hop.prepared(url, exchange.params);
        let client = self.clients.get(timing(&exchange.policy));
        let mut attempt = 0;
        loop {
            let limit = policy::attempt_ms(&exchange.policy, exchange.elapsed());
            let (outcome, answer) = if limit == 0 {
                // The budget is spent (by earlier hops or retries): no request is made.
                (Outcome::Timeout, None)
            } else {
                let request = client
                    .request(http_method(hop.method), requested.clone())
                    .timeout(Duration::from_millis(u64::from(limit)));
                let request = match hop.method {
                    Method::Post => request.body(form_encoded(body_params)),
                    Method::Get => request,
                };
                let request = match jar.header(&requested) {
                    Some(cookies) => request.header(reqwest::header::COOKIE, cookies),
                    None => request,
                };
                let request = with_twilio_headers(
                    request,
                    exchange.token,
                    requested.as_str(),
                    body_params,
                    &exchange.idempotency,
                );
                match once(request, &requested, jar).await {
                    Tried::Answered(answered) => return Ok(answered),
                    Tried::Failed(outcome, answer) => (outcome, answer),
                }
            };
            let spent = exchange.elapsed();
            match policy::next_within(&exchange.policy, attempt, outcome, spent) {
                Next::Retry { after_ms } => {
                    tokio::time::sleep(Duration::from_millis(u64::from(after_ms))).await;
                    attempt += 1;
                }
                next => {
                    let code = match next {
                        Next::Failed { code } => code,
                        _ => policy::error_code(outcome).unwrap_or(11200),
                    };
                    let mut message = describe(outcome, &hop.url);
                    if attempt > 0 {
                        message.push_str(&format!(" ({} attempts)", attempt + 1));
                    }
                    return Err(exchange.error(hop, code, message, answer));
                }
            }
        }
    }
}

/// What one fetch shares across its hops and retries.
struct Exchange<'a> {
    policy: Policy,
    started: Instant,
    token: Option<&'a str>,
    params: &'a [(String, String)],
    variables: &'a str,
    idempotency: String,
}

impl Exchange<'_> {
    /// Ms since the fetch began.
    fn elapsed(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn error(&self, hop: &Hop, code: u32, message: String, answer: Option<Answer>) -> FetchError {
        FetchError {
            code,
            message,
            url: hop.url.clone(),
            method: hop.method.as_str().into(),
            request_variables: self.variables.to_string(),
            status: answer.as_ref().map(|a| a.status),
            response_headers: answer.as_ref().map(|a| truncated(a.headers.as_bytes())),
            response_body: answer.as_ref().map(|a| truncated(&a.body)),
        }
    }
}

/// One URL of a fetch: the first, or where a redirect led.
struct Hop {
    /// The URL, fragment removed, without the parameters a GET appends.
    url: String,
    method: Method,
    /// Whether the request's parameters go with it (in the query for a GET, the body for a
    /// POST). A redirect's Location is a whole URL: a GET there carries no more than it says.
    with_params: bool,
}

impl Hop {
    /// The URL to request and the parameters to send in the body (and sign with it).
    fn prepared<'p>(
        &self,
        url: &Url,
        params: &'p [(String, String)],
    ) -> (Url, &'p [(String, String)]) {
        match self.method {
            Method::Get if self.with_params && !params.is_empty() => {
                let mut with_query = url.clone();
                let query = match url.query() {
                    Some(q) if !q.is_empty() => format!("{q}&{}", form_encoded(params)),
                    _ => form_encoded(params),
                };
                with_query.set_query(Some(&query));
                (with_query, &[])
            }
            Method::Post if self.with_params => (url.clone(), params),
            _ => (url.clone(), &[]),
        }
    }

    /// Where a `status` redirect from `from` to `location` leads: 301, 302 and 303 become a GET
    /// without a body (so a Gather's `Digits` are lost, as Twilio's note says), 307 and 308
    /// keep the method and body.
    fn redirected(&self, status: u16, from: &Url, location: &str) -> Result<Hop, String> {
        let mut next = from.join(location).map_err(|e| {
            format!(
                "the redirect from {} to {location:?} is not a URL: {e}",
                self.url
            )
        })?;
        next.set_fragment(None);
        let keeps = matches!(status, 307 | 308);
        Ok(Hop {
            url: next.to_string(),
            method: if keeps { self.method } else { Method::Get },
            with_params: keeps && self.method == Method::Post && self.with_params,
        })
    }
}

/// An answer as far as it was read.
struct Answer {
    status: u16,
    headers: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// What a hop's request came to, when it did not fail.
enum Answered {
    /// A 3xx with a Location.
    Redirect { status: u16, location: String },
    /// A 2xx, its body whole.
    Body(Answer),
}

/// One attempt: answered, or failed (with what came back, if anything).
enum Tried {
    Answered(Answered),
    Failed(Outcome, Option<Answer>),
}

/// Sends `request` to `url` once, keeping the cookies its answer sets.
async fn once(request: reqwest::RequestBuilder, url: &Url, jar: &mut CookieJar) -> Tried {
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Tried::Failed(classify(&e), None),
    };
    let headers = response.headers();
    jar.store(
        url,
        headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let status = response.status().as_u16();
    if (300..400).contains(&status) {
        if let Some(location) = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        {
            return Tried::Answered(Answered::Redirect {
                status,
                location: location.to_string(),
            });
        }
    }
    let mut answer = Answer {
        status,
        headers: header_lines(headers),
        content_type: headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: Vec::new(),
    };
    let body = match read_capped(&mut response).await {
        Ok(body) => body,
        Err(e) => return Tried::Failed(classify(&e), Some(answer)),
    };
    answer.body = body.bytes;
    if body.too_large {
        Tried::Failed(Outcome::TooLarge, Some(answer))
    } else if (200..300).contains(&status) {
        Tried::Answered(Answered::Body(answer))
    } else {
        Tried::Failed(Outcome::Status(status), Some(answer))
    }
}

/// A 2xx answer sorted by its Content-Type (VOICE-NOTES §1.1); one the call cannot run is
/// Twilio's 12300.
// The error is the interface's `FetchError`, made at most once per fetch: boxing it here
// would only be unboxed again by `fetch`.
#[allow(clippy::result_large_err)]
fn document(hop: &Hop, variables: &str, answer: Answer) -> Result<Fetched, FetchError> {
    let media = answer
        .content_type
        .as_deref()
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let text = |body: &[u8]| String::from_utf8_lossy(body).into_owned();
    let document = match media.as_str() {
        "text/xml" | "application/xml" | "text/html" => Document::Twiml(text(&answer.body)),
        "text/plain" => Document::Text(text(&answer.body)),
        m if m.starts_with("audio/") && m.len() > "audio/".len() => Document::Audio {
            content_type: media.clone(),
            bytes: answer.body,
        },
        _ => {
            let said = answer.content_type.as_deref().unwrap_or("no Content-Type");
            return Err(FetchError {
                code: INVALID_CONTENT_TYPE,
                message: format!(
                    "{} answered with {said:?}, which is not TwiML, text or audio",
                    hop.url
                ),
                url: hop.url.clone(),
                method: hop.method.as_str().into(),
                request_variables: variables.to_string(),
                status: Some(answer.status),
                response_headers: Some(truncated(answer.headers.as_bytes())),
                response_body: Some(truncated(&answer.body)),
            });
        }
    };
    Ok(Fetched {
        url: hop.url.clone(),
        status: answer.status,
        content_type: media,
        document,
        request_variables: variables.to_string(),
    })
}

/// At most [`NOTIFIED_BYTES`] of `bytes` as text, cut at a character boundary.
fn truncated(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(NOTIFIED_BYTES)]);
    // A multi-byte character cut in two shows as U+FFFD at the end; drop it.
    text.trim_end_matches('\u{FFFD}').to_string()
}

/// `url` without its fragment.
fn bare(url: &str) -> String {
    url.split_once('#').map_or(url, |(u, _)| u).to_string()
}

#[cfg(test)]
mod tests;
