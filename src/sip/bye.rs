//! A BYE for a dialog this process never set up: the call was live on a node that died, and
//! its `call.dialog.recorded` is all that is left of the dialog (rsipstack's dialog layer in
//! this process knows nothing of it). The request is built from the record as RFC 3261
//! §12.2.1.1 says an in-dialog request is, and sent as a plain client transaction of the
//! endpoint (§17.1.2: retransmitted over UDP until answered or timer F).
//!
//! The invariant it protects: the peer can match the BYE to its dialog — the Call-ID, our
//! tag in `From`, its tag in `To`, the remote target as Request-URI, the route set as
//! `Route`, and a CSeq above every one we sent (the recorded one + 1; rsipstack may have sent
//! more after the record, which the peer then answers 500, logged like any failure).
//!
//! ```text
//!  CallDialog ─▶ BYE <remote_target> ─▶ first Route, else `destination` ─▶ 200 (or a failure, logged)
//! ```

use rsipstack::sip::headers::{CallId, MaxForwards, Route, UserAgent};
use rsipstack::sip::typed::CSeq;
use rsipstack::sip::{
    Header, Method, Request, SipMessage, StatusCodeKind, Transport, Uri, Version,
};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::Transaction;
use rsipstack::transport::SipAddr;
use std::net::SocketAddr;
use std::time::Duration;
use switchboard_events::call::CallDialog;

/// Why a BYE got no 2xx.
#[derive(Debug, thiserror::Error)]
pub enum ByeError {
    /// The record cannot make a request (a URI that does not parse).
    #[error("cannot build the BYE: {0}")]
    Build(String),
    /// The request could not be sent (no route to the peer, a dead TCP connection).
    #[error("cannot send the BYE: {0}")]
    Send(String),
    /// The peer answered with a failure (481: it no longer knows the dialog).
    #[error("the peer answered the BYE {0}")]
    Refused(u16),
    /// No final answer in time (the peer is gone, or timer F ran out).
    #[error("no answer to the BYE within {0:?}")]
    NoAnswer(Duration),
}

/// The SIP engine's endpoint, for BYEs outside its dialog layer ([`crate::sip::SipEngine::byes`]).
#[derive(Clone)]
pub struct ByeSender {
    pub(crate) endpoint: EndpointInnerRef,
}

impl ByeSender {
    /// [`send`] over this engine's transport.
    pub async fn send(&self, dialog: &CallDialog, wait: Duration) -> Result<u16, ByeError> {
        send(&self.endpoint, dialog, wait).await
    }
}

/// Sends the BYE `dialog` needs and waits up to `wait` for its final answer: its status
/// code when it was a 2xx.
pub async fn send(
    endpoint: &EndpointInnerRef,
    dialog: &CallDialog,
    wait: Duration,
) -> Result<u16, ByeError> {
    let (request, destination) = build(endpoint, dialog)?;
    let key = TransactionKey::from_request(&request, TransactionRole::Client)
        .map_err(|e| ByeError::Build(e.to_string()))?;
    let mut tx = Transaction::new_client(key, request, endpoint.clone(), None);
    tx.destination = destination;
    tx.send().await.map_err(|e| ByeError::Send(e.to_string()))?;
    let answer = async {
        while let Some(message) = tx.receive().await {
            if let SipMessage::Response(response) = message {
                if response.status_code.kind() == StatusCodeKind::Provisional {
                    continue;
                }
                return Some(response.status_code);
            }
        }
        None
    };
    match tokio::time::timeout(wait, answer).await {
        Ok(Some(code)) if code.kind() == StatusCodeKind::Successful => Ok(u16::from(code)),
        Ok(Some(code)) => Err(ByeError::Refused(u16::from(code))),
        // The transaction ended without a final answer (timer F).
        Ok(None) | Err(_) => Err(ByeError::NoAnswer(wait)),
    }
}

/// The BYE and where it goes: the first `Route` when there is a route set (loose routing,
/// RFC 3261 §12.2.1.1), else the recorded `destination`.
pub fn build(
    endpoint: &EndpointInnerRef,
    dialog: &CallDialog,
) -> Result<(Request, Option<SipAddr>), ByeError> {
    let target = Uri::try_from(dialog.remote_target.as_str())
        .map_err(|e| ByeError::Build(format!("remote target {:?}: {e}", dialog.remote_target)))?;
    let transport = if dialog.transport.eq_ignore_ascii_case("tcp") {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let destination = match dialog.route_set.first() {
        // The request's own first Route is where rsipstack sends it.
        Some(_) => None,
        None => dialog
            .destination
            .parse::<SocketAddr>()
            .ok()
            .map(|addr| SipAddr {
                r#type: Some(transport),
                addr: addr.into(),
            }),
    };
    // The Via names the transport the BYE leaves on (RFC 3261 §18.1.1): our listener of it.
    let listener = endpoint
        .transport_layer
        .get_listen_addrs()
        .into_iter()
        .find(|a| a.r#type.unwrap_or_default() == transport);
    let via = endpoint
        .get_via(listener, None)
        .map_err(|e| ByeError::Build(e.to_string()))?;
    let request = request(
        dialog,
        target,
        Header::Via(via.into()),
        &endpoint.user_agent,
    );
    Ok((request, destination))
}

/// The BYE itself (RFC 3261 §12.2.1.1), to `target` with `via` on top.
fn request(dialog: &CallDialog, target: Uri, via: Header, user_agent: &str) -> Request {
    let mut headers: Vec<Header> = vec![
        via,
        Header::CallId(CallId::new(dialog.call_id.clone())),
        Header::From(
            format!("<{}>;tag={}", dialog.local_uri, dialog.local_tag)
                .as_str()
                .into(),
        ),
        Header::To(
            format!("<{}>;tag={}", dialog.remote_uri, dialog.remote_tag)
                .as_str()
                .into(),
        ),
        Header::CSeq(
            CSeq {
                seq: dialog.local_cseq.saturating_add(1),
                method: Method::Bye,
            }
            .into(),
        ),
    ];
    headers.extend(
        dialog
            .route_set
            .iter()
            .map(|route| Header::Route(Route::new(route.clone()))),
    );
    headers.push(Header::MaxForwards(MaxForwards::from(70u32)));
    headers.push(Header::UserAgent(UserAgent::new(user_agent)));
    headers.push(Header::ContentLength(0u32.into()));
    Request {
        method: Method::Bye,
        uri: target,
        headers: headers.into(),
        body: Vec::new(),
        version: Version::V2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::call::DialogRole;

    fn dialog(route_set: Vec<String>) -> CallDialog {
        CallDialog {
            role: DialogRole::Uas,
            call_id: "abc@192.0.2.1".into(),
            local_tag: "ours".into(),
            remote_tag: "theirs".into(),
            local_uri: "sip:+15550100001@192.0.2.9".into(),
            remote_uri: "sip:alice@192.0.2.1".into(),
            remote_target: "sip:alice@192.0.2.1:5070".into(),
            route_set,
            local_cseq: 41,
            transport: "udp".into(),
            destination: "192.0.2.1:5070".into(),
        }
    }

    fn bye(dialog: &CallDialog) -> String {
        let target = Uri::try_from(dialog.remote_target.as_str()).expect("uri");
        let via = Header::Via("SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKx".into());
        request(dialog, target, via, "switchboard/test").to_string()
    }

    #[test]
    fn the_bye_is_built_from_the_recorded_dialog() {
        let text = bye(&dialog(vec![]));
        assert!(
            text.starts_with("BYE sip:alice@192.0.2.1:5070 SIP/2.0\r\n"),
            "{text}"
        );
        for line in [
            "Call-ID: abc@192.0.2.1",
            "From: <sip:+15550100001@192.0.2.9>;tag=ours",
            "To: <sip:alice@192.0.2.1>;tag=theirs",
            "CSeq: 42 BYE",
            "Max-Forwards: 70",
        ] {
            assert!(text.contains(&format!("{line}\r\n")), "{line} in {text}");
        }
        assert!(!text.contains("Route:"), "{text}");
    }

    #[test]
    fn the_route_set_becomes_route_headers_in_order() {
        let text = bye(&dialog(vec![
            "<sip:p1.example.com;lr>".into(),
            "<sip:p2.example.com;lr>".into(),
        ]));
        let first = text
            .find("Route: <sip:p1.example.com;lr>")
            .expect("first route");
        let second = text
            .find("Route: <sip:p2.example.com;lr>")
            .expect("second route");
        assert!(first < second, "{text}");
    }
}
