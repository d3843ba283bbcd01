//! How each kind of webhook is timed and retried, and the Twilio error code of a final
//! failure. Pure: the sender in `src/app/` reports each attempt's [`Outcome`] and asks
//! [`next`] what to do.
//!
//! SEAM (issue 12): the types and signatures below are shared by the outbox sender and this
//! module's owner; the bodies here are Twilio's defaults only and are completed (fragment
//! overrides, error 11243, the README table) by the owner of this file.

/// The kinds of webhook, each with its own defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookKind {
    /// TaskRouter's assignment callback: 5 s, then the fallback URL.
    AssignmentCallback,
    /// A workspace's event callback: 15 s, in per-workspace order.
    EventCallback,
}

impl WebhookKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::AssignmentCallback => "assignment_callback",
            WebhookKind::EventCallback => "event_callback",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<WebhookKind> {
        match s {
            "assignment_callback" => Some(WebhookKind::AssignmentCallback),
            "event_callback" => Some(WebhookKind::EventCallback),
            _ => None,
        }
    }
}

/// Which failures are retried (Twilio's `rp` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryOn {
    /// `ct`: the connection could not be made (the default).
    pub connect: bool,
    /// `rt`: the answer did not come in time.
    pub read: bool,
    /// `4xx`.
    pub status_4xx: bool,
    /// `5xx`.
    pub status_5xx: bool,
}

/// The timing and retries of one URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `ct`: longest a connection may take, ms.
    pub connect_timeout_ms: u32,
    /// `rt`: longest the answer may take once connected, ms.
    pub read_timeout_ms: u32,
    /// `tt`: longest one attempt may take in all, ms.
    pub total_timeout_ms: u32,
    /// `rc`: retries after the first attempt.
    pub retry_count: u8,
    /// `rp`.
    pub retry_on: RetryOn,
}

/// A URL as configured, split into what is requested and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL without its fragment (the fragment is never sent, and is not signed).
    pub url: String,
    /// Its policy: the kind's defaults with the fragment's overrides.
    pub policy: Policy,
}

/// Why a URL's overrides are refused (Twilio error 11243 for `rp`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// Twilio's error code.
    pub code: u32,
    /// What is wrong.
    pub message: String,
}

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// The name did not resolve.
    Dns,
    /// No connection (refused, unreachable, connect timeout, TLS).
    Connect,
    /// Connected, but the answer did not come within the read or total timeout.
    Timeout,
    /// A non-2xx answer.
    Status(u16),
    /// The answer was larger than 64 kB.
    TooLarge,
}

/// What the sender does after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Done: delivered.
    Delivered,
    /// Try the same URL again after this many ms.
    Retry {
        /// The wait.
        after_ms: u32,
    },
    /// This URL has failed for good: try the next one (the fallback), or raise an alert with
    /// this Twilio error code when there is none.
    Failed {
        /// Twilio's code (11200, 11205, 11210, 11215, 11217, 11750, …).
        code: u32,
    },
}

/// The kind's defaults with `url`'s fragment overrides.
pub fn target(kind: WebhookKind, url: &str) -> Result<Target, PolicyError> {
    let (bare, _fragment) = url.split_once('#').unwrap_or((url, ""));
    let policy = match kind {
        WebhookKind::AssignmentCallback => Policy {
            connect_timeout_ms: 5_000,
            read_timeout_ms: 5_000,
            total_timeout_ms: 5_000,
            retry_count: 0,
            retry_on: RetryOn {
                connect: true,
                ..RetryOn::default()
            },
        },
        WebhookKind::EventCallback => Policy {
            connect_timeout_ms: 5_000,
            read_timeout_ms: 15_000,
            total_timeout_ms: 15_000,
            retry_count: 1,
            retry_on: RetryOn {
                connect: true,
                ..RetryOn::default()
            },
        },
    };
    Ok(Target {
        url: bare.to_string(),
        policy,
    })
}

/// What to do after attempt number `attempt` (0 for the first) of a URL under `policy`.
pub fn next(policy: &Policy, attempt: u32, outcome: Outcome) -> Next {
    let code = match outcome {
        Outcome::Delivered { .. } => return Next::Delivered,
        Outcome::Dns => 11210,
        Outcome::Connect => 11205,
        Outcome::Timeout => 11200,
        Outcome::Status(_) => 11200,
        Outcome::TooLarge => 11750,
    };
    let retried = match outcome {
        Outcome::Connect | Outcome::Dns => policy.retry_on.connect,
        Outcome::Timeout => policy.retry_on.read,
        Outcome::Status(s) if (400..500).contains(&s) => policy.retry_on.status_4xx,
        Outcome::Status(s) if s >= 500 => policy.retry_on.status_5xx,
        _ => false,
    };
    if retried && attempt < u32::from(policy.retry_count) {
        Next::Retry { after_ms: 1_000 }
    } else {
        Next::Failed { code }
    }
}
