//! The headers of a request to an application, as Twilio sends them: `User-Agent`, the
//! idempotency token, a form Content-Type, and `X-Twilio-Signature` over exactly the URL
//! requested and the form parameters in the body.

use crate::http::twilio::signature;

/// Twilio's user agent.
pub const USER_AGENT: &str = "TwilioProxy/1.1";

/// The header naming one webhook across its retries, so a receiver can drop a repeat.
pub const IDEMPOTENCY_TOKEN: &str = "I-Twilio-Idempotency-Token";

/// `params` form-encoded (`a=1&b=x+y`), as a body, a query or a notification's variables.
pub fn form_encoded(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish()
}

/// `builder` with Twilio's headers. `url` is exactly the URL requested (fragment removed,
/// a GET's parameters in its query) and `body_params` the form parameters in the body (none
/// for a GET); with `token` they are signed, without it the request goes unsigned.
pub fn with_twilio_headers(
    builder: reqwest::RequestBuilder,
    token: Option<&str>,
    url: &str,
    body_params: &[(String, String)],
    idempotency_token: &str,
) -> reqwest::RequestBuilder {
    let builder = builder
        .header("User-Agent", USER_AGENT)
        .header(IDEMPOTENCY_TOKEN, idempotency_token)
        .header("Content-Type", "application/x-www-form-urlencoded");
    match token {
        Some(token) => builder.header(
            signature::HEADER,
            signature::signature(token, url, body_params),
        ),
        None => builder,
    }
}

/// Headers one `name: value` a line, as Monitor and notifications show them.
pub fn header_lines(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("\n")
}
