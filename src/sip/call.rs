//! The SIP side of an inbound call that the call router (`crate::voice::router`) builds on:
//! refusing an INVITE with a final response kept for retransmission until the ACK, the SDP
//! offer, the `call.initiated` fact, the `Warning` and `Retry-After` headers, and the key in
//! a SIP INFO. The router decides what to answer; these pieces say how it goes on the wire.
//!
//! The invariant: a refused INVITE's transaction lives (bounded by timer H) until the caller's
//! ACK, so a lost final response is retransmitted, never silently dropped.

use super::Shared;
use rsipstack::sip::headers::{RetryAfter, Warning};
use rsipstack::sip::{Header, HeadersExt, Request, StatusCode};
use rsipstack::transaction::Transaction;
use std::time::Duration;
use switchboard_events::call::{CallDirection, CallInitiated};
use switchboard_telephony::sdp::{self, SessionDescription};
use tracing::debug;

/// How long a refused INVITE's transaction is kept to retransmit the final response until
/// the ACK (RFC 3261 timer H is 64·T1 = 32 s; a loopback peer ACKs at once).
const REFUSAL_LINGER: Duration = Duration::from_secs(32);

/// Removes the dialog and lets the INVITE transaction finish (bounded).
pub(crate) async fn finish(
    shared: &Shared,
    dialog_id: &rsipstack::dialog::DialogId,
    invite: tokio::task::JoinHandle<()>,
) {
    shared.dialogs.remove_dialog(dialog_id);
    let abort = invite.abort_handle();
    if tokio::time::timeout(REFUSAL_LINGER, invite).await.is_err() {
        abort.abort();
    }
}

/// Answers the INVITE with a final refusal and keeps its transaction alive (bounded) so the
/// response is retransmitted until the caller's ACK.
pub(crate) async fn refuse(
    shared: &Shared,
    mut tx: Transaction,
    code: StatusCode,
    headers: Vec<Header>,
) {
    if let Err(e) = tx.reply_with(code, headers, None).await {
        debug!(cause = %e, "cannot send the refusal");
        return;
    }
    let linger = async { while tx.receive().await.is_some() {} };
    tokio::select! {
        _ = tokio::time::timeout(REFUSAL_LINGER, linger) => {}
        _ = shared.shutdown.cancelled() => {}
    }
}

/// `Retry-After` for a 503.
pub(crate) fn retry_after(shared: &Shared) -> Header {
    Header::RetryAfter(RetryAfter::new(shared.retry_after_secs.to_string()))
}

/// A `Warning: 399` header (RFC 3261 §20.43: 399 is "miscellaneous warning").
pub(crate) fn warning(text: &str) -> Header {
    let text: String = text
        .chars()
        .map(|c| if c == '"' || c.is_control() { '\'' } else { c })
        .take(200)
        .collect();
    Header::Warning(Warning::new(format!("399 switchboard \"{text}\"")))
}

/// The offer in the INVITE, or why it cannot be answered.
pub(crate) fn parse_offer(request: &Request) -> Result<SessionDescription, String> {
    if request.body.is_empty() {
        return Err("an SDP offer in the INVITE is required (no late offer)".into());
    }
    let text =
        std::str::from_utf8(&request.body).map_err(|_| "the SDP body is not UTF-8".to_string())?;
    let offer = SessionDescription::parse(text).map_err(|e| format!("bad SDP: {e}"))?;
    sdp::negotiate(&offer).map_err(|e| e.to_string())?;
    Ok(offer)
}

/// `call.initiated` from the INVITE.
pub(crate) fn initiated(tx: &Transaction) -> CallInitiated {
    let request = &tx.original;
    let remote_addr = tx
        .destination
        .as_ref()
        .map(|a| a.addr.to_string())
        .or_else(|| {
            // The top Via's sent-by: `SIP/2.0/UDP host:port;branch=…`.
            request
                .header_value("Via")
                .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
                .map(|s| s.split(';').next().unwrap_or_default().to_string())
        })
        .unwrap_or_default();
    CallInitiated {
        direction: CallDirection::Inbound,
        from: request
            .from_header()
            .ok()
            .and_then(|f| f.uri().ok())
            .map(|u| u.to_string())
            .unwrap_or_default(),
        to: request
            .to_header()
            .ok()
            .and_then(|t| t.uri().ok())
            .map(|u| u.to_string())
            .unwrap_or_default(),
        sip_call_id: request.header_value("Call-ID").unwrap_or_default(),
        remote_addr,
        parent_call_sid: None,
    }
}

/// The key in a SIP INFO: `application/dtmf-relay` (`Signal=5`) or `application/dtmf`
/// (the key alone).
pub(crate) fn info_digit(request: &Request) -> Option<char> {
    let content_type = request
        .header_value("Content-Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body = std::str::from_utf8(&request.body).ok()?;
    let value = if content_type.starts_with("application/dtmf-relay") {
        body.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| value.trim().to_string())
        })?
    } else if content_type.starts_with("application/dtmf") {
        body.trim().to_string()
    } else {
        return None;
    };
    parse_key(&value)
}

/// `5`, `*`, `#`, `A`–`D` (any case), or the event codes `10`/`11` some phones send for
/// `*`/`#`.
fn parse_key(value: &str) -> Option<char> {
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => switchboard_telephony::rtp::dtmf_event(c)
            .and_then(switchboard_telephony::rtp::dtmf_char),
        _ => value
            .parse::<u8>()
            .ok()
            .and_then(switchboard_telephony::rtp::dtmf_char),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(content_type: &str, body: &str) -> Request {
        let text = format!(
            "INFO sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>;tag=2\r\nCall-ID: x\r\nCSeq: 2 INFO\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Request::try_from(text.as_str()).expect("parses")
    }

    #[test]
    fn sip_info_dtmf_relay_and_dtmf_bodies_give_one_key() {
        assert_eq!(
            info_digit(&info(
                "application/dtmf-relay",
                "Signal=5\r\nDuration=160\r\n"
            )),
            Some('5')
        );
        assert_eq!(
            info_digit(&info(
                "application/dtmf-relay",
                "Signal= #\r\nDuration=160\r\n"
            )),
            Some('#')
        );
        assert_eq!(
            info_digit(&info("application/dtmf-relay", "Signal=11\r\n")),
            Some('#')
        );
        assert_eq!(info_digit(&info("application/dtmf", "b")), Some('B'));
        assert_eq!(
            info_digit(&info("application/dtmf-relay", "Signal=x\r\n")),
            None
        );
        assert_eq!(info_digit(&info("text/plain", "Signal=5")), None);
    }
}
