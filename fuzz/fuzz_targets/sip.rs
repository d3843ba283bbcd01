//! Any datagram as SIP, the way the engine meets it: rsipstack's parser, then the header
//! accessors the engine uses to route a request (Via, From, To and its tag, Call-ID, CSeq),
//! then an INVITE body through SDP parsing and answering. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsipstack::sip::{HeadersExt, SipMessage};
use std::net::{IpAddr, Ipv4Addr};
use switchboard_telephony::sdp::{answer, LocalMedia, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = SipMessage::try_from(data) else {
        return;
    };
    let _ = message.via_header();
    let _ = message.from_header();
    let _ = message.call_id_header();
    let _ = message.cseq_header();
    if let Ok(to) = message.to_header() {
        let _ = to.tag();
    }
    let _ = message.to_string();
    if let SipMessage::Request(request) = message {
        let text = String::from_utf8_lossy(&request.body);
        if let Ok(offer) = SessionDescription::parse(&text) {
            let local = LocalMedia {
                address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                rtp_port: 20_000,
                session_id: 1,
                session_version: 1,
            };
            let _ = answer(&offer, &local);
        }
    }
});
