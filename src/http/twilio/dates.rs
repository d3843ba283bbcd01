//! Dates as Twilio's APIs write them: ISO 8601 in UTC to the second in the v1 APIs
//! (TaskRouter, the supervisor reads), RFC 2822 in the 2010-04-01 API (accounts, calls).
//! Parsing a date parameter is [`super::Params::date`].

use chrono::{DateTime, Utc};

/// ISO 8601, `2024-05-01T12:00:00Z`, as the v1 APIs write dates.
pub fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// [`iso`] of milliseconds since the Unix epoch (as the read models keep time); a value
/// outside chrono's range is the epoch.
pub fn iso_ms(ms: i64) -> String {
    iso(DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default())
}

/// RFC 2822, `Wed, 01 May 2024 12:00:00 +0000`, as the 2010-04-01 API writes dates.
pub fn rfc2822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}
