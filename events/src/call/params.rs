//! The standard parameters of every webhook about a call (VOICE-NOTES 1.1 "Request
//! parameters"): what an application reads to know which call it is handling, in Twilio's
//! names and values, so its existing code runs unchanged. A verb's own parameters (`Digits`,
//! `ErrorCode`, …) are added by whoever makes the request.

use super::state::Call;
use super::CallDirection;

/// Twilio's API version, sent with every voice webhook.
pub const API_VERSION: &str = "2010-04-01";

/// `CallSid`, `AccountSid`, `From`, `To`, `CallStatus`, `Direction`, `ApiVersion`, `Caller`,
/// `Called`, then `ParentCallSid`, `ForwardedFrom` and `CallerName` only when known.
///
/// `CallStatus` is the call's status now: `ringing` on an inbound call's first request,
/// `in-progress` once answered. `From`/`To` are the number (E.164 when the signalling gave
/// one) or the SIP URI's user part, as Twilio sends them for a call from a SIP peer.
pub fn webhook_params(call: &Call) -> Vec<(String, String)> {
    let from = party(&call.from);
    let to = party(&call.to);
    let mut params = vec![
        ("CallSid".to_string(), call.sid.clone()),
        ("AccountSid".to_string(), call.account_sid.clone()),
        ("From".to_string(), from.clone()),
        ("To".to_string(), to.clone()),
        ("CallStatus".to_string(), call.status.as_str().to_string()),
        (
            "Direction".to_string(),
            direction(call.direction).to_string(),
        ),
        ("ApiVersion".to_string(), API_VERSION.to_string()),
        ("Caller".to_string(), from),
        ("Called".to_string(), to),
    ];
    let optional = [
        ("ParentCallSid", &call.parent_call_sid),
        ("ForwardedFrom", &call.forwarded_from),
        ("CallerName", &call.caller_name),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            params.push((name.to_string(), value.clone()));
        }
    }
    params
}

/// Twilio's `Direction` value.
pub fn direction(direction: CallDirection) -> &'static str {
    match direction {
        CallDirection::Inbound => "inbound",
        CallDirection::OutboundApi => "outbound-api",
        CallDirection::OutboundDial => "outbound-dial",
    }
}

/// The party a `From`/`To` URI names: `sip:+15551234567@host;user=phone` → `+15551234567`,
/// `"Bob" <sip:bob@host>` → `bob`, `tel:+15551234567` → `+15551234567`. Anything that is not
/// a URI with a user part is passed on as it came (Twilio sends the raw caller-ID string when
/// it has no number).
pub fn party(uri: &str) -> String {
    let uri = uri.trim();
    // A name-addr: the URI is between the angle brackets.
    let uri = match (uri.find('<'), uri.rfind('>')) {
        (Some(open), Some(close)) if open < close => &uri[open + 1..close],
        _ => uri,
    };
    let lower = uri.to_ascii_lowercase();
    let rest = if lower.starts_with("sips:") {
        &uri[5..]
    } else if lower.starts_with("sip:") || lower.starts_with("tel:") {
        &uri[4..]
    } else {
        return uri.to_string();
    };
    let tel = lower.starts_with("tel:");
    let user = match rest.find('@') {
        Some(at) => &rest[..at],
        None if tel => rest,
        None => return uri.to_string(),
    };
    // User parameters (`;isub=…`, `;phone-context=…`) are not part of the number.
    let user = user.split(';').next().unwrap_or_default();
    if user.is_empty() {
        return uri.to_string();
    }
    percent_decode(user)
}

/// Decodes `%XX` escapes (a SIP user part may escape `+` as `%2B`); a malformed escape is
/// kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{evolve, CallInitiated, CallStatus};
    use crate::event::Event;

    fn inbound(from: &str, to: &str) -> Call {
        let event = Event::CallInitiated(CallInitiated {
            direction: CallDirection::Inbound,
            from: from.into(),
            to: to.into(),
            sip_call_id: "abc@host".into(),
            remote_addr: "127.0.0.1:5060".into(),
            parent_call_sid: None,
        });
        evolve(None, 1_000, "AC01", "CA01", &event).expect("initiated folds")
    }

    #[test]
    fn an_inbound_calls_first_request_carries_the_standard_set_with_ringing() {
        let call = inbound(
            "sip:+15551230000@10.0.0.1:5060",
            "sip:+15559870000@switchboard;user=phone",
        );
        let expected: Vec<(String, String)> = [
            ("CallSid", "CA01"),
            ("AccountSid", "AC01"),
            ("From", "+15551230000"),
            ("To", "+15559870000"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
            ("ApiVersion", "2010-04-01"),
            ("Caller", "+15551230000"),
            ("Called", "+15559870000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(webhook_params(&call), expected);
    }

    #[test]
    fn once_answered_the_status_is_in_progress_and_known_extras_follow() {
        let mut call = inbound("sip:alice@h", "sip:bob@h");
        call.status = CallStatus::InProgress;
        call.caller_name = Some("Alice".into());
        let params = webhook_params(&call);
        assert!(params.contains(&("CallStatus".into(), "in-progress".into())));
        assert!(params.contains(&("From".into(), "alice".into())));
        assert!(params.contains(&("CallerName".into(), "Alice".into())));
        assert!(!params.iter().any(|(k, _)| k == "ForwardedFrom"));
        assert!(!params.iter().any(|(k, _)| k == "ParentCallSid"));
    }

    #[test]
    fn a_party_is_the_uris_user_part() {
        assert_eq!(
            party("sip:+15551230000@h:5060;transport=udp"),
            "+15551230000"
        );
        assert_eq!(party("\"Bob\" <sips:bob@example.com>;tag=1"), "bob");
        assert_eq!(party("tel:+15551230000;phone-context=x"), "+15551230000");
        assert_eq!(party("sip:%2B4420@h"), "+4420");
        assert_eq!(party("sip:anonymous@anonymous.invalid"), "anonymous");
        assert_eq!(party("sip:example.com"), "sip:example.com");
        assert_eq!(party("+15551230000"), "+15551230000");
        assert_eq!(party("sip:50%zz@h"), "50%zz");
    }
}
