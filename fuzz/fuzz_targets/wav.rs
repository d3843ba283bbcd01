//! Any bytes as a WAV file: reading never panics, and G.711 audio that reads can be written
//! and read back to the same samples.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_telephony::g711::Law;
use switchboard_telephony::wav;

fuzz_target!(|data: &[u8]| {
    if let Ok(audio) = wav::read(data) {
        let ulaw = audio.to_g711(Law::Ulaw);
        if let Ok(bytes) = wav::write_g711(Law::Ulaw, &ulaw) {
            let back = wav::read(&bytes).expect("our own WAV reads");
            assert_eq!(back.to_g711(Law::Ulaw), ulaw);
        }
    }
});
