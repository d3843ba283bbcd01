//! `switchboard bench router`: SIPp callers through the whole call router, next to SIPp's own
//! `uas` measured in the same run (signalling only, the baseline).
//!
//! Each call: INVITE → numbers lookup → signed webhook → TwiML (`<Play>` of a WAV, then
//! `<Hangup/>`) → 200 → ACK → the WAV's RTP → BYE from switchboard. The TwiML and the WAV are
//! served by [`super::static_responder`] in a child process of its own.
//!
//! (The measurement is built in the next commit; this one fixes the command's interface.)

use crate::config::RouterBenchArgs;

/// Runs the benchmark (blocking: it drives child processes).
pub fn run(options: RouterBenchArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "bench router at {} calls/s: the measurement is not built yet",
        options.rate
    )
}
