//! Any bytes as an SDP offer: parsing, negotiating and answering never panic, and an answer
//! that is produced parses again and agrees with what was negotiated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use switchboard_telephony::sdp::{answer, negotiate, LocalMedia, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(offer) = SessionDescription::parse(&text) else {
        return;
    };
    let local = LocalMedia {
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        rtp_port: 20_000,
        session_id: 1,
        session_version: 1,
    };
    let negotiated = negotiate(&offer);
    match answer(&offer, &local) {
        Ok(a) => {
            assert!(negotiated.is_ok(), "answered what did not negotiate");
            let again = SessionDescription::parse(&a.sdp);
            assert!(
                again.is_ok(),
                "our own answer does not parse: {:?}",
                again.err()
            );
        }
        Err(_) => assert!(negotiated.is_err(), "negotiated but could not answer"),
    }
});
