//! The voice harness: what the call router's tests run on, and the proof that it works.
//!
//! A voice test plays every part with a tool switchboard did not write, so a bug in the
//! project cannot hide behind the same bug in its test:
//! - the application is `tests/voice/app.py` ([`app`]), TwiML built with the official twilio
//!   library's `VoiceResponse`, every webhook checked with its `RequestValidator`;
//! - the caller is SIPp ([`sipp`]), sending RFC 4733 digits from the captures Debian's
//!   `sip-tester` ships;
//! - what reached the caller is captured by tshark on loopback and its RTP payload extracted
//!   by tshark's own RTP dissector ([`capture`]);
//! - that payload is decoded by sox, the speech it should carry is made by espeak-ng itself,
//!   and the two are compared in plain Rust by length and correlation ([`audio`]), never with
//!   the project's G.711 decoder or WAV reader. Silence, white noise and another sentence must
//!   fail the comparison, and tests here check that they do.
//!
//! `harness` proves the tools themselves (a played WAV, the controls); `voice_app.rs` runs the
//! must-show scenario through the call router.
//! The tools fail a test (never skip it) when missing: `scripts/test.sh` installs them.

// The call router's tests (the lead's) use more of these helpers than `harness` does.
#[allow(dead_code)]
pub(crate) mod app;
#[allow(dead_code)]
pub(crate) mod audio;
#[allow(dead_code)]
pub(crate) mod capture;
mod harness;
mod router;
#[allow(dead_code)]
pub(crate) mod sipp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `tests/voice/NAME`: the non-Rust assets (the application, SIPp scenarios).
pub(crate) fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/voice")
        .join(name)
}

/// Runs a tool to completion, panicking with what it printed when it fails or is missing
/// (with how to install it: these tests never skip).
pub(crate) fn run_tool(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): run ./scripts/test.sh, which installs it")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
