//! Reading an application's answer without ever holding more than 64 kB of it, and naming
//! what went wrong as the policy's [`Outcome`] (whose Twilio code the policy knows).

use switchboard_events::process::policy::Outcome;

/// Largest answer read; a larger one is Twilio's 11750.
pub const MAX_ANSWER: usize = 64 * 1024;

/// An answer's body as far as it was read.
pub struct Body {
    /// At most [`MAX_ANSWER`] bytes.
    pub bytes: Vec<u8>,
    /// The answer was longer than [`MAX_ANSWER`]: `bytes` is its start (or nothing, when its
    /// Content-Length said so before any was read).
    pub too_large: bool,
}

/// Reads `response`'s body, stopping as soon as it passes [`MAX_ANSWER`]: a Content-Length
/// over the limit is refused before reading, a body without one (chunked) while reading.
pub async fn read_capped(response: &mut reqwest::Response) -> Result<Body, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER as u64)
    {
        return Ok(Body {
            bytes: Vec::new(),
            too_large: true,
        });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ANSWER - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(Body {
                bytes,
                too_large: true,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body {
        bytes,
        too_large: false,
    })
}

/// A transport error as the policy sees it.
pub fn classify(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() && !e.is_connect() {
        return Outcome::Timeout;
    }
    // reqwest has no typed resolver error: hyper-util's resolver wraps the resolver's
    // io::Error whose text is the only mark of a name that did not resolve.
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return Outcome::Dns;
        }
        source = s.source();
    }
    if e.is_connect() || e.is_request() {
        Outcome::Connect
    } else if e.is_timeout() {
        Outcome::Timeout
    } else {
        Outcome::Connect
    }
}

/// What `outcome` of a request to `url` means, for a person.
pub fn describe(outcome: Outcome, url: &str) -> String {
    match outcome {
        Outcome::Delivered { status } => format!("delivered to {url} ({status})"),
        Outcome::Dns => format!("the host of {url} did not resolve"),
        Outcome::Connect => format!("no connection to {url}"),
        Outcome::Timeout => format!("{url} did not answer in time"),
        Outcome::Status(s) => format!("{url} answered HTTP {s}"),
        Outcome::TooLarge => format!("the answer of {url} was larger than 64 kB"),
    }
}
