//! A call in Twilio's JSON shape: every property of the OpenAPI `api.v2010.account.call`,
//! with Twilio's types (RFC 2822 dates, `duration` and `queue_time` as strings). What
//! switchboard does not model (prices, answering-machine detection, trunks, groups) is the
//! value a call without it has: `null`, and `price_unit` `USD`.

use crate::http::twilio::rfc2822;
use chrono::DateTime;
use serde_json::{json, Value};
use switchboard_events::call::params::{direction, API_VERSION};
use switchboard_projections::calls::CallRow;

/// The subresources Twilio lists for a call (`subresource_uris`), by key and path segment.
const SUBRESOURCES: [(&str, &str); 9] = [
    ("events", "Events"),
    ("notifications", "Notifications"),
    ("payments", "Payments"),
    ("recordings", "Recordings"),
    ("siprec", "Siprec"),
    ("streams", "Streams"),
    ("transcriptions", "Transcriptions"),
    (
        "user_defined_message_subscriptions",
        "UserDefinedMessageSubscriptions",
    ),
    ("user_defined_messages", "UserDefinedMessages"),
];

fn date(ms: i64) -> String {
    rfc2822(DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

/// A party for display: `(415) 867-5309` for a North American number, anything else as it is.
pub fn formatted(party: &str) -> String {
    let digits = party.strip_prefix("+1").unwrap_or_default();
    if digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()) {
        format!("({}) {}-{}", &digits[..3], &digits[3..6], &digits[6..])
    } else {
        party.to_string()
    }
}

/// Seconds of a call for `duration`: rounded to the nearest second; `None` while it is live.
pub fn duration_secs(row: &CallRow) -> Option<String> {
    if row.is_live() {
        return None;
    }
    let ms = row.duration_ms.unwrap_or(0).max(0);
    Some(((ms + 500) / 1000).to_string())
}

/// The call's URI.
pub fn call_uri(row: &CallRow) -> String {
    format!(
        "/2010-04-01/Accounts/{}/Calls/{}.json",
        row.account_sid, row.sid
    )
}

/// The call in Twilio's shape (see the module doc).
pub fn call_json(row: &CallRow) -> Value {
    let base = format!("/2010-04-01/Accounts/{}/Calls/{}", row.account_sid, row.sid);
    let subresources: serde_json::Map<String, Value> = SUBRESOURCES
        .iter()
        .map(|(key, segment)| (key.to_string(), json!(format!("{base}/{segment}.json"))))
        .collect();
    let (to, from) = (row.to(), row.from());
    json!({
        "account_sid": row.account_sid,
        "answered_by": null,
        "api_version": API_VERSION,
        "caller_name": row.caller_name,
        "date_created": date(row.created_at_ms),
        "date_updated": date(row.updated_at_ms),
        "direction": direction(row.direction),
        "duration": duration_secs(row),
        "end_time": row.end_time_ms.map(date),
        "forwarded_from": row.forwarded_from,
        "from": from,
        "from_formatted": formatted(&from),
        "group_sid": null,
        "parent_call_sid": row.parent_call_sid,
        "phone_number_sid": row.phone_number_sid,
        // Switchboard prices nothing itself (billing reads call.completed).
        "price": null,
        "price_unit": "USD",
        "queue_time": row.queue_time_ms.to_string(),
        "sid": row.sid,
        "start_time": row.start_time_ms.map(date),
        "status": row.status.as_str(),
        "subresource_uris": subresources,
        "to": to,
        "to_formatted": formatted(&to),
        "trunk_sid": null,
        "uri": call_uri(row),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn north_american_numbers_are_formatted_and_others_kept() {
        assert_eq!(formatted("+14158675309"), "(415) 867-5309");
        assert_eq!(formatted("+442071838750"), "+442071838750");
        assert_eq!(formatted("sip:alice@example.com"), "sip:alice@example.com");
        assert_eq!(formatted("+1415867530"), "+1415867530");
    }
}
