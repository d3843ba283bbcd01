//! Any datagram as RTP: header parsing, RFC 4733 payloads and the DTMF detector never panic,
//! and a parsed packet written back parses to the same header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_telephony::rtp::{DtmfDetector, RtpPacket, TelephoneEvent};

fuzz_target!(|data: &[u8]| {
    let mut detector = DtmfDetector::new(101);
    let _ = detector.on_datagram(data);
    let _ = TelephoneEvent::parse(data);
    if let Ok(packet) = RtpPacket::parse(data) {
        if let Ok(bytes) = packet.to_bytes() {
            let again = RtpPacket::parse(&bytes).expect("our own packet parses");
            assert_eq!(again.header, packet.header);
            assert_eq!(again.payload, packet.payload);
        }
    }
});
