//! How each kind of webhook is timed and retried, and the Twilio error code of a final
//! failure. Pure: the sender in `src/app/` reports each attempt's [`Outcome`] and asks
//! [`next_within`] what to do, with the time spent since the URL's first attempt (kept in the
//! outbox row, so a restart of the sender does not reset it): every attempt is cut to what is
//! left of `tt` ([`attempt_ms`]) and no retry starts once it is spent. [`next`] counts
//! retries only.
//!
//! Twilio's rules, from `shared/reference/VOICE-NOTES.md` §1.2 ("Connection overrides",
//! "Default timing") and `TWILIO-API-NOTES.md` (callback deadlines):
//!
//! | kind | `ct` | `rt` | `tt` | `rc` | `rp` | then |
//! |---|---|---|---|---|---|---|
//! | assignment callback | 5 s | 5 s | 5 s | 0 | `ct` | the fallback URL, then an alert |
//! | event callback | 5 s | 15 s | 15 s | 1 | `ct` | an alert (no fallback); per-workspace order |
//! | voice URL (a call's instructions) | 5 s | 15 s | 15 s | 1 | `ct` | the fallback URL, then "an application error has occurred" |
//! | status callback (a call's progress) | 5 s | 15 s | 15 s | 1 | `ct` | an alert, 15003 for a non-2xx answer (no fallback); per-call order |
//!
//! Twilio documents no timing of its own for status callbacks, so they get its general
//! defaults (the `ct`/`rt`/`tt`/`rc`/`rp` defaults of VOICE-NOTES §1.2 "Connection
//! overrides"), which a `StatusCallback` URL's fragment may override like any other. There is
//! no fallback URL for them (Twilio has none: `StatusCallback` and its method only). A final
//! non-2xx answer is Twilio's 15003 ("Call Progress: Warning Response to Callback URL", the
//! debugger's code for a status callback the application did not take); a failure to reach
//! the application keeps its 112xx code, which says more ([`WebhookKind::final_code`]).
//!
//! Any URL may override these in its fragment (`https://h/x#ct=2000&rt=5000&rc=3&rp=ct,rt`),
//! which is never sent nor signed: [`target`] strips it. The invariant this module protects:
//! whatever a URL's fragment says, an attempt and its retries stay inside Twilio's ranges, so
//! an application cannot make the sender wait longer or retry more than Twilio would.
//!
//! SEAM (issue 12): the types and signatures below are shared by the outbox sender and this
//! module's owner.

/// The kinds of webhook, each with its own defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookKind {
    /// TaskRouter's assignment callback: 5 s, then the fallback URL.
    AssignmentCallback,
    /// A workspace's event callback: 15 s, in per-workspace order.
    EventCallback,
    /// A call's instructions (`VoiceUrl`, an `action`, a `<Redirect>`): 10 s to connect as two
    /// 5 s attempts, 15 s for the whole exchange, then the fallback URL.
    Voice,
    /// A call's status callback (`StatusCallback`): Twilio's general defaults, no fallback,
    /// in per-call order.
    StatusCallback,
}

impl WebhookKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::AssignmentCallback => "assignment_callback",
            WebhookKind::EventCallback => "event_callback",
            WebhookKind::Voice => "voice",
            WebhookKind::StatusCallback => "status_callback",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<WebhookKind> {
        match s {
            "assignment_callback" => Some(WebhookKind::AssignmentCallback),
            "event_callback" => Some(WebhookKind::EventCallback),
            "voice" => Some(WebhookKind::Voice),
            "status_callback" => Some(WebhookKind::StatusCallback),
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
    /// `tt`: longest the whole exchange with this URL may take, retries included, ms (Twilio:
    /// "the whole HTTP exchange gets 15 s including connect"). [`next_within`] keeps it; one
    /// attempt's own limit is [`remaining_ms`].
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

impl WebhookKind {
    /// Whether a failure of the URL moves on to a second, fallback URL (TaskRouter's
    /// `FallbackAssignmentCallbackUrl`, a number's `VoiceFallbackUrl`); the event callback has
    /// none.
    pub fn has_fallback(self) -> bool {
        matches!(self, WebhookKind::AssignmentCallback | WebhookKind::Voice)
    }

    /// Whether deliveries of this kind keep their order per key (Twilio sends a workspace's
    /// events in the order they happened, and one call's status callbacks in the order of its
    /// progress; assignments are independent).
    pub fn ordered(self) -> bool {
        matches!(
            self,
            WebhookKind::EventCallback | WebhookKind::StatusCallback
        )
    }

    /// The Twilio error code an alert carries when `code` ended this kind's last URL: a
    /// status callback answered with a non-2xx status (11217) is Twilio's 15003; every other
    /// code stands as the policy gave it.
    pub fn final_code(self, code: u32) -> u32 {
        match (self, code) {
            (WebhookKind::StatusCallback, 11217) => STATUS_CALLBACK_REFUSED,
            _ => code,
        }
    }

    /// Twilio's defaults for this kind, before a URL's overrides.
    pub fn defaults(self) -> Policy {
        let connect_only = RetryOn {
            connect: true,
            ..RetryOn::default()
        };
        match self {
            // "The application must answer within 5 s … otherwise TaskRouter calls
            // FallbackAssignmentCallbackUrl": the whole budget of the primary URL is 5 s and
            // the fallback, not a retry, is the second chance.
            WebhookKind::AssignmentCallback => Policy {
                connect_timeout_ms: 5_000,
                read_timeout_ms: 5_000,
                total_timeout_ms: 5_000,
                retry_count: 0,
                retry_on: connect_only,
            },
            // Twilio's general defaults: ct 5000, rt/tt 15000, rc 1, rp ct ("a TCP connect gets
            // about 10 s (two 5 s attempts), and the whole HTTP exchange gets 15 s including
            // connect. After that the fallback URL is used", err:11205 — said of the voice URL).
            WebhookKind::EventCallback | WebhookKind::Voice | WebhookKind::StatusCallback => {
                Policy {
                    connect_timeout_ms: 5_000,
                    read_timeout_ms: 15_000,
                    total_timeout_ms: 15_000,
                    retry_count: 1,
                    retry_on: connect_only,
                }
            }
        }
    }
}

/// Twilio's ranges of the numeric overrides.
pub const CONNECT_TIMEOUT_MS: std::ops::RangeInclusive<u32> = 100..=10_000;
/// `rt`'s range.
pub const READ_TIMEOUT_MS: std::ops::RangeInclusive<u32> = 100..=15_000;
/// `tt`'s range.
pub const TOTAL_TIMEOUT_MS: std::ops::RangeInclusive<u32> = 100..=15_000;
/// `rc`'s range.
pub const RETRY_COUNT: std::ops::RangeInclusive<u32> = 0..=5;

/// Twilio's 15003: a status callback answered with something other than 2xx.
pub const STATUS_CALLBACK_REFUSED: u32 = 15003;

/// Twilio's error code for an invalid `rp` override.
pub const INVALID_RETRY_POLICY: u32 = 11243;

/// The first back-off; each further retry waits twice as long, up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: u32 = 250;
/// The longest back-off between two attempts.
pub const MAX_BACKOFF_MS: u32 = 4_000;

/// The kind's defaults with `url`'s fragment overrides, and the URL without its fragment.
///
/// What a fragment value can do, decided from the facts (VOICE-NOTES §1.2):
/// - an invalid `rp` is refused with Twilio's 11243, the one refusal Twilio documents;
/// - a number outside its range is clamped to the range's nearest end: Twilio documents the
///   ranges as the limits of each setting, not as errors, and clamping keeps the promise that
///   no URL makes an attempt longer or more frequent than Twilio allows, while still
///   delivering rather than losing the webhook over a typo;
/// - a value that is not a number, a key Twilio does not define, or a fragment that is not
///   `key=value` pairs at all (an application's own `#anchor`) is ignored: the fragment is the
///   application's part of its URL, Twilio never sends it, and only `rp` has a documented
///   error. `e` (egress edge) and `sni` are Twilio's but have no meaning for one server: ignored.
/// - a key given twice: the last one counts (as query parameters are read).
pub fn target(kind: WebhookKind, url: &str) -> Result<Target, PolicyError> {
    let (bare, fragment) = url.split_once('#').unwrap_or((url, ""));
    let mut policy = kind.defaults();
    for pair in fragment.split('&').filter(|p| !p.is_empty()) {
        let Some((key, raw)) = pair.split_once('=') else {
            continue;
        };
        let value = percent_decode(raw);
        match key {
            "ct" => set_clamped(&mut policy.connect_timeout_ms, &value, CONNECT_TIMEOUT_MS),
            "rt" => set_clamped(&mut policy.read_timeout_ms, &value, READ_TIMEOUT_MS),
            "tt" => set_clamped(&mut policy.total_timeout_ms, &value, TOTAL_TIMEOUT_MS),
            "rc" => {
                let mut count = u32::from(policy.retry_count);
                set_clamped(&mut count, &value, RETRY_COUNT);
                policy.retry_count = u8::try_from(count).unwrap_or(u8::MAX);
            }
            "rp" => policy.retry_on = retry_policy(&value)?,
            _ => {}
        }
    }
    Ok(Target {
        url: bare.to_string(),
        policy,
    })
}

/// `value` parsed and clamped into `range`; a value that is not a number leaves `slot` as is.
fn set_clamped(slot: &mut u32, value: &str, range: std::ops::RangeInclusive<u32>) {
    // Parse wide so a huge number is clamped rather than read as garbage.
    if let Ok(n) = value.trim().parse::<u64>() {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        *slot = n.clamp(*range.start(), *range.end());
    }
}

/// Parses `rp`: a comma-separated list of `ct`, `rt`, `4xx`, `5xx`, `all`. The list replaces
/// the default (`rp=rt` retries read timeouts only); an empty list or an unknown item is 11243.
pub fn retry_policy(value: &str) -> Result<RetryOn, PolicyError> {
    let invalid = || PolicyError {
        code: INVALID_RETRY_POLICY,
        message: format!(
            "invalid retry policy rp={value:?}: use ct, rt, 4xx, 5xx or all, comma-separated"
        ),
    };
    let mut on = RetryOn::default();
    if value.is_empty() {
        return Err(invalid());
    }
    for item in value.split(',') {
        match item.trim().to_ascii_lowercase().as_str() {
            "ct" => on.connect = true,
            "rt" => on.read = true,
            "4xx" => on.status_4xx = true,
            "5xx" => on.status_5xx = true,
            "all" => {
                on = RetryOn {
                    connect: true,
                    read: true,
                    status_4xx: true,
                    status_5xx: true,
                }
            }
            _ => return Err(invalid()),
        }
    }
    Ok(on)
}

/// Decodes `%XX` escapes (a fragment may carry `rp=ct%2Crt`); anything else is kept as is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Twilio's error code for an attempt that failed this way (VOICE-NOTES §1.2): 11210 DNS,
/// 11205 connection, 11217 a 4xx/5xx from the application (429 too: "Twilio's webhooks do
/// not support rate limiting"), 11215 a redirect left over (the sender follows ten; an 3xx
/// reaching here is the eleventh), 11750 a body over 64 kB, 11200 anything else (a timeout
/// after connecting, a 1xx). `None` for a delivery.
pub fn error_code(outcome: Outcome) -> Option<u32> {
    Some(match outcome {
        Outcome::Delivered { .. } => return None,
        Outcome::Dns => 11210,
        Outcome::Connect => 11205,
        Outcome::Timeout => 11200,
        Outcome::Status(s) if (400..600).contains(&s) => 11217,
        Outcome::Status(s) if (300..400).contains(&s) => 11215,
        Outcome::Status(_) => 11200,
        Outcome::TooLarge => 11750,
    })
}

/// Whether `policy` retries a failure of this kind (`rp`): DNS and connection failures under
/// `ct`, timeouts after connecting under `rt`, answers under `4xx`/`5xx`; a body over 64 kB
/// and any other answer never (no `rp` value names them).
fn retried(policy: &Policy, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Connect | Outcome::Dns => policy.retry_on.connect,
        Outcome::Timeout => policy.retry_on.read,
        Outcome::Status(s) if (400..500).contains(&s) => policy.retry_on.status_4xx,
        Outcome::Status(s) if (500..600).contains(&s) => policy.retry_on.status_5xx,
        _ => false,
    }
}

/// The wait before retry number `attempt + 1`: 250 ms, doubling, at most 4 s. Deterministic
/// (no jitter) so a replay of the outbox decides the same; the budget `tt` bounds the sum.
pub fn backoff_ms(attempt: u32) -> u32 {
    FIRST_BACKOFF_MS
        .checked_shl(attempt.min(16))
        .unwrap_or(MAX_BACKOFF_MS)
        .min(MAX_BACKOFF_MS)
}

/// What to do after attempt number `attempt` (0 for the first) of a URL under `policy`,
/// counting retries only (no clock): [`next_within`] also keeps the `tt` budget.
pub fn next(policy: &Policy, attempt: u32, outcome: Outcome) -> Next {
    let Some(code) = error_code(outcome) else {
        return Next::Delivered;
    };
    if retried(policy, outcome) && attempt < u32::from(policy.retry_count) {
        Next::Retry {
            after_ms: backoff_ms(attempt),
        }
    } else {
        Next::Failed { code }
    }
}

/// [`next`], when `elapsed_ms` have passed since the URL's first attempt began: a retry that
/// would start after the `tt` budget is spent is a final failure instead.
pub fn next_within(policy: &Policy, attempt: u32, outcome: Outcome, elapsed_ms: u64) -> Next {
    match next(policy, attempt, outcome) {
        Next::Retry { after_ms }
            if elapsed_ms + u64::from(after_ms) >= u64::from(policy.total_timeout_ms) =>
        {
            Next::Failed {
                code: error_code(outcome).unwrap_or(11200),
            }
        }
        other => other,
    }
}

/// How long the next attempt at a URL may take in all, connect included, when `elapsed_ms`
/// of its `tt` budget are spent: `ct + rt`, cut to what is left of `tt`. 0: the budget is
/// spent and no attempt may start (the sender reports it as a [`Outcome::Timeout`], 11200,
/// without a request: a retry that came due late, after a restart, is not made).
pub fn attempt_ms(policy: &Policy, elapsed_ms: u64) -> u32 {
    let left = u64::from(policy.total_timeout_ms).saturating_sub(elapsed_ms);
    let whole = u64::from(policy.connect_timeout_ms) + u64::from(policy.read_timeout_ms);
    u32::try_from(left.min(whole)).unwrap_or(u32::MAX)
}

/// How long the next attempt may take when `elapsed_ms` of the `tt` budget are spent: the
/// read timeout, cut to what is left of the budget (0: nothing left).
pub fn remaining_ms(policy: &Policy, elapsed_ms: u64) -> u32 {
    let left = u64::from(policy.total_timeout_ms).saturating_sub(elapsed_ms);
    u32::try_from(left)
        .unwrap_or(u32::MAX)
        .min(policy.read_timeout_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: WebhookKind = WebhookKind::EventCallback;
    const ASSIGNMENT: WebhookKind = WebhookKind::AssignmentCallback;

    fn policy(kind: WebhookKind, url: &str) -> Policy {
        match target(kind, url) {
            Ok(t) => t.policy,
            Err(e) => panic!("{url}: {e}"),
        }
    }

    /// (ct, rt, tt, rc) of a policy.
    type Timing = (u32, u32, u32, u8);

    fn timing(p: &Policy) -> Timing {
        (
            p.connect_timeout_ms,
            p.read_timeout_ms,
            p.total_timeout_ms,
            p.retry_count,
        )
    }

    #[test]
    fn each_kind_starts_from_twilios_defaults() {
        // VOICE-NOTES §1.2 "Connection overrides" (defaults) and TWILIO-API-NOTES "Callback
        // deadlines": the event callback has 15 s, the assignment callback 5 s then fallback.
        let table = [
            (EVENT, (5_000, 15_000, 15_000, 1), false, true),
            (ASSIGNMENT, (5_000, 5_000, 5_000, 0), true, false),
            (WebhookKind::Voice, (5_000, 15_000, 15_000, 1), true, false),
            (
                WebhookKind::StatusCallback,
                (5_000, 15_000, 15_000, 1),
                false,
                true,
            ),
        ];
        for (kind, expected, fallback, ordered) in table {
            let p = policy(kind, "https://app.example/cb");
            assert_eq!(timing(&p), expected, "{kind:?}");
            assert_eq!(
                p.retry_on,
                RetryOn {
                    connect: true,
                    ..RetryOn::default()
                },
                "rp defaults to ct"
            );
            assert_eq!(kind.has_fallback(), fallback, "{kind:?}");
            assert_eq!(kind.ordered(), ordered, "{kind:?}");
            assert_eq!(WebhookKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn fragment_overrides_apply_within_twilios_ranges() {
        // The reference's table: ct 100–10000, rt 100–15000, tt 100–15000, rc 0–5. Out of
        // range clamps to the range's end; not a number or an unknown key is ignored.
        let table: &[(&str, Timing)] = &[
            ("ct=2000&rt=5000&rc=3", (2_000, 5_000, 15_000, 3)),
            ("tt=100", (5_000, 15_000, 100, 1)),
            ("ct=100&rt=100&tt=15000&rc=0", (100, 100, 15_000, 0)),
            ("ct=10000&rt=15000&rc=5", (10_000, 15_000, 15_000, 5)),
            ("ct=99&rt=0&tt=1", (100, 100, 100, 1)),
            (
                "ct=10001&rt=15001&tt=99999999999&rc=6",
                (10_000, 15_000, 15_000, 5),
            ),
            ("rc=255", (5_000, 15_000, 15_000, 5)),
            ("ct=abc&rt=-5&rc=", (5_000, 15_000, 15_000, 1)),
            ("ct=2000&ct=3000", (3_000, 15_000, 15_000, 1)),
            ("e=dublin,tokyo&sni=n&x=1", (5_000, 15_000, 15_000, 1)),
            ("top", (5_000, 15_000, 15_000, 1)),
            ("", (5_000, 15_000, 15_000, 1)),
        ];
        for (fragment, expected) in table {
            let url = format!("https://app.example/cb?x=1#{fragment}");
            assert_eq!(timing(&policy(EVENT, &url)), *expected, "#{fragment}");
        }
        assert_eq!(
            timing(&policy(ASSIGNMENT, "https://a.example/x#rc=2&tt=9000")),
            (5_000, 5_000, 9_000, 2),
            "an assignment callback's overrides start from its own defaults"
        );
    }

    #[test]
    fn the_retry_policy_names_what_is_retried_and_anything_else_is_error_11243() {
        let on = |connect, read, status_4xx, status_5xx| RetryOn {
            connect,
            read,
            status_4xx,
            status_5xx,
        };
        let valid = [
            ("ct", on(true, false, false, false)),
            ("rt", on(false, true, false, false)),
            ("4xx", on(false, false, true, false)),
            ("5xx", on(false, false, false, true)),
            ("ct,rt", on(true, true, false, false)),
            ("ct%2C5xx", on(true, false, false, true)),
            ("4XX,5xx", on(false, false, true, true)),
            ("all", on(true, true, true, true)),
        ];
        for (rp, expected) in valid {
            let url = format!("https://app.example/cb#rp={rp}");
            assert_eq!(policy(EVENT, &url).retry_on, expected, "rp={rp}");
        }
        for rp in ["", "none", "ct,", "ct,,rt", "3xx", "ct;rt", "timeout"] {
            let url = format!("https://app.example/cb#ct=2000&rp={rp}");
            let err = target(EVENT, &url).expect_err(rp);
            assert_eq!(err.code, INVALID_RETRY_POLICY, "rp={rp}");
        }
    }

    #[test]
    fn the_fragment_is_never_requested_nor_signed() {
        let table = [
            ("https://a.example/cb#ct=2000", "https://a.example/cb"),
            (
                "https://a.example/cb?x=1&y=2#rc=3&rp=all",
                "https://a.example/cb?x=1&y=2",
            ),
            ("https://a.example/cb", "https://a.example/cb"),
            ("https://a.example/cb#", "https://a.example/cb"),
            ("https://a.example/cb#a#b", "https://a.example/cb"),
        ];
        for (configured, requested) in table {
            let t = target(EVENT, configured).expect("valid");
            assert_eq!(t.url, requested, "{configured}");
        }
    }

    #[test]
    fn each_final_failure_carries_twilios_code() {
        // VOICE-NOTES §1.2's table.
        let table = [
            (Outcome::Dns, 11210),
            (Outcome::Connect, 11205),
            (Outcome::Timeout, 11200),
            (Outcome::Status(404), 11217),
            (Outcome::Status(429), 11217),
            (Outcome::Status(500), 11217),
            (Outcome::Status(503), 11217),
            (Outcome::Status(302), 11215),
            (Outcome::Status(101), 11200),
            (Outcome::TooLarge, 11750),
        ];
        let no_retries = policy(EVENT, "https://a.example/#rc=0&rp=all");
        for (outcome, code) in table {
            assert_eq!(error_code(outcome), Some(code), "{outcome:?}");
            assert_eq!(
                next(&no_retries, 0, outcome),
                Next::Failed { code },
                "{outcome:?}"
            );
        }
        assert_eq!(error_code(Outcome::Delivered { status: 204 }), None);
        assert_eq!(
            next(&no_retries, 0, Outcome::Delivered { status: 200 }),
            Next::Delivered
        );
    }

    #[test]
    fn only_what_rp_names_is_retried_and_only_rc_times() {
        // (fragment, outcome, attempts retried before the final failure)
        let table = [
            ("", Outcome::Connect, 1),
            ("", Outcome::Dns, 1),
            ("", Outcome::Timeout, 0),
            ("", Outcome::Status(503), 0),
            ("rc=3", Outcome::Connect, 3),
            ("rc=0", Outcome::Connect, 0),
            ("rp=rt", Outcome::Connect, 0),
            ("rp=rt&rc=2", Outcome::Timeout, 2),
            ("rp=5xx&rc=2", Outcome::Status(503), 2),
            ("rp=5xx&rc=2", Outcome::Status(429), 0),
            ("rp=4xx&rc=2", Outcome::Status(429), 2),
            ("rp=all&rc=5", Outcome::TooLarge, 0),
            ("rp=all&rc=5", Outcome::Status(302), 0),
        ];
        for (fragment, outcome, retries) in table {
            let p = policy(EVENT, &format!("https://a.example/#{fragment}"));
            let mut attempt = 0;
            while let Next::Retry { after_ms } = next(&p, attempt, outcome) {
                assert_eq!(after_ms, backoff_ms(attempt));
                attempt += 1;
                assert!(attempt <= 5, "retries are bounded by rc");
            }
            assert_eq!(attempt, retries, "#{fragment} {outcome:?}");
            assert!(matches!(next(&p, attempt, outcome), Next::Failed { .. }));
        }
        assert_eq!(
            next(
                &policy(ASSIGNMENT, "https://a.example/"),
                0,
                Outcome::Connect
            ),
            Next::Failed { code: 11205 },
            "an assignment callback goes to its fallback at once"
        );
    }

    #[test]
    fn back_off_doubles_to_a_cap_and_the_total_budget_ends_retries() {
        let waits: Vec<u32> = (0..8).map(backoff_ms).collect();
        assert_eq!(waits, [250, 500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000]);
        assert_eq!(backoff_ms(u32::MAX), MAX_BACKOFF_MS);

        let p = policy(EVENT, "https://a.example/#rc=5&tt=3000");
        assert_eq!(
            next_within(&p, 0, Outcome::Connect, 0),
            Next::Retry { after_ms: 250 }
        );
        assert_eq!(
            next_within(&p, 0, Outcome::Connect, 2_750),
            Next::Failed { code: 11205 },
            "the retry would start when the budget is spent"
        );
        assert_eq!(remaining_ms(&p, 0), 3_000);
        assert_eq!(remaining_ms(&p, 2_000), 1_000);
        assert_eq!(remaining_ms(&p, 9_000), 0);
        let long = policy(EVENT, "https://a.example/#rt=2000");
        assert_eq!(remaining_ms(&long, 0), 2_000, "an attempt is at most rt");
    }

    #[test]
    fn an_attempt_is_cut_to_what_is_left_of_tt() {
        let p = policy(EVENT, "https://a.example/#ct=1000&rt=2000&tt=5000");
        let table = [
            (0, 3_000),
            (2_500, 2_500),
            (4_999, 1),
            (5_000, 0),
            (60_000, 0),
        ];
        for (elapsed, limit) in table {
            assert_eq!(attempt_ms(&p, elapsed), limit, "{elapsed} ms spent");
        }
        assert_eq!(
            attempt_ms(&policy(ASSIGNMENT, "https://a.example/"), 0),
            5_000,
            "the assignment callback's whole exchange is 5 s"
        );
    }

    /// Plays an exchange with a URL that fails every attempt with `outcome`, each attempt
    /// taking `took` ms (or its limit, if less): the start of every attempt, ms after the
    /// first, and how the exchange ended.
    fn play(p: &Policy, outcome: Outcome, took: u64) -> (Vec<u64>, Next) {
        let (mut at, mut starts) = (0u64, Vec::new());
        for attempt in 0..=u32::from(p.retry_count) {
            let limit = attempt_ms(p, at);
            assert!(limit > 0, "no attempt starts once tt is spent");
            starts.push(at);
            at += took.min(u64::from(limit));
            match next_within(p, attempt, outcome, at) {
                Next::Retry { after_ms } => at += u64::from(after_ms),
                other => return (starts, other),
            }
        }
        panic!("more than rc retries: {starts:?}")
    }

    #[test]
    fn a_voice_url_gets_two_5_s_connects_within_15_s_and_no_read_retry() {
        // VOICE-NOTES §1.1 "Default timing": "a TCP connect gets about 10 s (two 5 s
        // attempts), and the whole HTTP exchange gets 15 s including connect".
        let p = policy(WebhookKind::Voice, "https://app.example/voice");
        let (starts, end) = play(&p, Outcome::Connect, 5_000);
        assert_eq!(starts, [0, 5_250]);
        assert_eq!(end, Next::Failed { code: 11205 });
        let (starts, end) = play(&p, Outcome::Timeout, 60_000);
        assert_eq!(starts, [0], "an answer that never comes is not asked again");
        assert_eq!(end, Next::Failed { code: 11200 });
        assert_eq!(attempt_ms(&p, 0), 15_000, "the whole exchange is 15 s");
    }

    #[test]
    fn retries_stop_when_the_total_time_is_spent_whatever_rc_says() {
        // (fragment, outcome, each attempt's time, attempts started, the final code)
        let table = [
            // 250 + 500 ms of back-off fit in 1.5 s; the next 1 s wait would not.
            ("tt=1500&rc=5&rp=5xx", Outcome::Status(500), 5, 3, 11217),
            ("tt=15000&rc=5&rp=5xx", Outcome::Status(500), 5, 6, 11217),
            ("tt=1000&rc=5&rp=5xx", Outcome::Status(503), 300, 2, 11217),
            // An attempt that hangs is cut at what is left, and nothing is left after it.
            ("tt=1000&rc=5&rp=rt", Outcome::Timeout, 60_000, 1, 11200),
            ("tt=100&rc=5", Outcome::Connect, 0, 1, 11205),
            ("rc=1", Outcome::Connect, 5_000, 2, 11205),
        ];
        for (fragment, outcome, took, attempts, code) in table {
            let p = policy(EVENT, &format!("https://a.example/#{fragment}"));
            let (starts, end) = play(&p, outcome, took);
            assert_eq!(starts.len(), attempts, "#{fragment}: {starts:?}");
            assert_eq!(end, Next::Failed { code }, "#{fragment}");
            let tt = u64::from(p.total_timeout_ms);
            assert!(starts.iter().all(|s| *s < tt), "#{fragment}: {starts:?}");
        }
        // Without the budget, the same URL would be tried rc + 1 = 6 times.
        let p = policy(EVENT, "https://a.example/#tt=1500&rc=5&rp=5xx");
        let retries = (0..)
            .take_while(|a| matches!(next(&p, *a, Outcome::Status(500)), Next::Retry { .. }))
            .count();
        assert_eq!(retries + 1, 6);
    }
}
