//! `switchboard bench router`: SIPp callers through the whole call router, next to SIPp's own
//! `uas` measured in the same run with the same rate (signalling only, the baseline).
//!
//! A command of its own rather than a third load of `bench sip`: its figure is a different
//! one (INVITE → first RTP packet, from a fixed schedule), its application runs in another
//! process, and its load is shaped by the call's own end (switchboard hangs up), so it shares
//! `bench sip`'s SIPp driving ([`super::sipp`]) but none of its loads.
//!
//! Each switchboard call: INVITE → numbers lookup → signed webhook → TwiML `<Play>` of a
//! `--play-secs` WAV, then `<Hangup/>` → 200 → ACK → the WAV's RTP → BYE from switchboard,
//! which the caller answers. The TwiML and the WAV come from [`super::static_responder`], a
//! child process (our executable re-run), never the measured one; the resolver keeps the
//! decoded WAV after the first fetch (`src/media/resolver.rs`), so the steady state costs one
//! TwiML fetch per call. Every call's SDP points at one UDP receiver in this process
//! ([`super::first_packet`]), which times each stream's first packet.
//!
//! The baseline: SIPp's built-in `uac` (INVITE, 100, 180, 200, ACK, hold `--play-secs`, BYE)
//! against `sipp -sn uas`, same rate and count. Everything both runs need (WAV, TwiML,
//! scenario, receiver) is written before either starts, outside the timed windows.
//!
//! Exits non-zero when any switchboard call failed (SIPp's failed calls, or an answered call
//! whose RTP never arrived), after printing the figures: `scripts/test.sh` relies on it. A
//! baseline that failed calls is printed as a warning (the machine, not switchboard).

use super::first_packet::{self, CallLog, FirstPackets, Receiver};
use super::fixtures::Scratch;
use super::measure::{ms, Latencies};
use super::sipp::{drive, sipp_version, write_tone, LoadFigures, Responder};
use super::static_responder::{Spawned, WAV_PATH};
use crate::config::RouterBenchArgs;
use anyhow::{bail, Context};
use std::path::Path;
use std::time::Duration;

/// The application: the WAV, then hang up.
fn twiml() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Play>{WAV_PATH}</Play><Hangup/></Response>"#
    )
}

/// Runs the benchmark (blocking: it drives child processes).
pub fn run(options: RouterBenchArgs) -> anyhow::Result<()> {
    let sipp = options.sipp.as_str();
    let version = sipp_version(sipp)?;
    let scratch = Scratch::new("router")?;
    let exe = std::env::current_exe().context("own executable")?;
    let rate = options.rate.max(1);
    let calls = ((f64::from(rate) * options.seconds).round() as u64).max(1);
    let play_secs = options.play_secs.max(1);
    let max_calls = options
        .max_calls
        .map_or((u64::from(rate) * u64::from(play_secs + 3)).max(100), |m| {
            m as u64
        });
    let rtp_ports = format!("{}-{}", options.rtp_ports.first, options.rtp_ports.last);

    // Inputs for both runs, before either is timed.
    let wav = scratch.join("tone.wav");
    write_tone(&wav, play_secs)?;
    let document = scratch.join("play.xml");
    std::fs::write(&document, twiml())?;
    let receiver = Receiver::start()?;
    let scenario = scratch.join("router_uac.xml");
    std::fs::write(&scenario, uac_scenario(receiver.port, play_secs))?;
    let common = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["-r", &rate.to_string(), "-m", &calls.to_string()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["-l".into(), max_calls.to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let play_ms = (play_secs * 1000).to_string();
    let baseline_args = common(&["-sn", "uac", "-d", &play_ms]);
    let scenario_path = scenario.display().to_string();
    let router_args = common(&["-sf", &scenario_path, "-trace_logs"]);

    println!(
        "bench router: {version} on loopback, {calls} calls at {rate} calls/s ({} s), each playing {play_secs} s; \
         switchboard serve --max-calls {max_calls} --rtp-ports {rtp_ports}",
        options.seconds
    );
    println!("  machine load before (1/5/15 min): {}", loadavg());

    let baseline_drops = udp_receive_drops();
    let baseline = {
        let uas = Responder::sipp_uas(sipp, &scratch, &[])?;
        let figures = drive(sipp, &scratch, &uas, &baseline_args, "uas")?;
        uas.stop();
        figures
    };
    let baseline_drops = udp_receive_drops().saturating_sub(baseline_drops);

    let log = std::fs::File::create(scratch.join("static-responder.log"))?;
    let app = Spawned::start(&exe, &document, &wav, log)?;
    let app_pid = app.pid();
    let voice_url = format!("{}/voice", app.base);
    let server = Responder::switchboard(
        &exe,
        &scratch,
        "router",
        (max_calls, &rtp_ports),
        &voice_url,
        Box::new(app),
    )?;
    let app_cpu_before = super::sipp::process_cpu(app_pid).unwrap_or_default();
    let drops_before = udp_receive_drops();
    let routed = drive(sipp, &scratch, &server, &router_args, "router")?;
    let app_cpu = super::sipp::process_cpu(app_pid)
        .unwrap_or_default()
        .saturating_sub(app_cpu_before);
    let drops = udp_receive_drops().saturating_sub(drops_before);
    // The last calls' packets are in flight until their BYE: give them a moment.
    std::thread::sleep(Duration::from_millis(200));
    let streams = receiver.stop();
    let recorded = server.stop_and_count(&exe)?;
    println!("  machine load after: {}", loadavg());

    let call_log = read_call_log(&scratch.path().join("router"))?;
    let first = first_packet::measure(&call_log, &streams, f64::from(rate));
    print_figures(&baseline, &routed, &first, app_cpu);
    println!(
        "  UDP datagrams the host dropped for full receive buffers: {baseline_drops} during the baseline, {drops} during the switchboard run (any socket on the host)"
    );
    println!(
        "  switchboard recorded {} call.completed and {} media.played events for {} calls",
        recorded.completed,
        recorded.played,
        routed.successful + routed.failed
    );
    let p95 = first.from_schedule.percentile(0.95);
    let failures = routed.failed + first.without_packet as u64;
    if baseline.failed > 0 {
        println!(
            "  warning: the baseline itself failed {} calls: SIPp against SIPp could not carry this load cleanly on this machine now",
            baseline.failed
        );
    }
    println!(
        "  targets (2 cores): ≥ 300 calls/s with zero failures: {}; p95 INVITE → first packet < 50 ms: {}",
        if rate < 300 {
            "not tried (--rate below 300)"
        } else {
            verdict(routed.cps() >= 297.0 && failures == 0)
        },
        verdict(!first.from_schedule.is_empty() && p95 < Duration::from_millis(50))
    );
    if failures > 0 {
        bail!(
            "{failures} switchboard calls failed (SIPp's count {}, answered without RTP {})",
            routed.failed,
            first.without_packet,
        );
    }
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "not met"
    }
}

/// `/proc/loadavg`'s first three fields: other work on the machine shares its two cores.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The host's UDP `RcvbufErrors` so far (`/proc/net/snmp`): datagrams dropped because a
/// socket's receive buffer was full. 0 where it cannot be read.
fn udp_receive_drops() -> u64 {
    let Ok(snmp) = std::fs::read_to_string("/proc/net/snmp") else {
        return 0;
    };
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Every `*_logs.log` SIPp wrote in `dir` (its `-trace_logs` files).
fn read_call_log(dir: &Path) -> anyhow::Result<CallLog> {
    let mut log = CallLog::default();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with("_logs.log") {
            log.read(&std::fs::read_to_string(&path)?);
        }
    }
    if log.sent.is_empty() {
        bail!("SIPp logged no INVITE in {}", dir.display());
    }
    Ok(log)
}

fn line3(l: &Latencies) -> String {
    format!(
        "{:.1} / {:.1} / {:.1} ms",
        ms(l.percentile(0.50)),
        ms(l.percentile(0.95)),
        ms(l.percentile(0.99))
    )
}

fn print_figures(
    baseline: &LoadFigures,
    routed: &LoadFigures,
    first: &FirstPackets,
    app_cpu: Duration,
) {
    println!(
        "  {:<24} {:>7} {:>7} {:>8} {:>8} {:>20} {:>12} {:>7}",
        "responder",
        "calls",
        "failed",
        "retrans",
        "calls/s",
        "INVITE→200 p50/95/99",
        "CPU ms/call",
        "CPU %"
    );
    for (name, f) in [
        ("sipp -sn uas (baseline)", baseline),
        ("switchboard serve", routed),
    ] {
        println!(
            "  {:<24} {:>7} {:>7} {:>8} {:>8.1} {:>11} / {} / {} ms {:>9.3} {:>6.0}%",
            name,
            f.successful,
            f.failed,
            f.retransmissions,
            f.cps(),
            f.percentile(0.50),
            f.percentile(0.95),
            f.percentile(0.99),
            f.cpu_ms_per_call(),
            f.cpu_share()
        );
    }
    let calls = (routed.successful + routed.failed).max(1) as f64;
    println!(
        "  static responder (another process): {:.3} ms CPU per call",
        app_cpu.as_secs_f64() * 1000.0 / calls
    );
    println!(
        "  INVITE → first RTP packet at the bench's receiver, {} calls matched, {} answered without a packet:",
        first.matched, first.without_packet
    );
    println!(
        "    from the INVITE's scheduled time p50 / p95 / p99: {} (max {:.1} ms; SIPp sent at most {:.1} ms behind schedule)",
        line3(&first.from_schedule),
        ms(first.from_schedule.max()),
        ms(first.send_lag)
    );
    println!(
        "    from the INVITE's actual send   p50 / p95 / p99: {}",
        line3(&first.from_send)
    );
    let over = first
        .p95_by_second
        .iter()
        .filter(|p| **p >= Duration::from_millis(50))
        .count();
    let worst = first
        .p95_by_second
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| **p)
        .map_or((0, Duration::ZERO), |(i, p)| (i, *p));
    println!(
        "    per second of the schedule: {over} of {} seconds had p95 ≥ 50 ms; the worst, second {}, {:.1} ms",
        first.p95_by_second.len(),
        worst.0 + 1,
        ms(worst.1)
    );
    println!(
        "    packets {} ({} per call), sequence gaps {}",
        first.packets,
        first.packets / first.matched.max(1) as u64,
        first.lost
    );
    println!(
        "  (calls/s: answers per second from the first to the last; INVITE→200: SIPp's response time, 1 ms resolution; CPU: the responder process)"
    );
    println!(
        "  ratio switchboard / uas: calls/s {:.2}x, CPU per call {:.1}x, p95 INVITE→200 {} vs {} ms",
        routed.cps() / baseline.cps().max(1e-9),
        routed.cpu_ms_per_call() / baseline.cpu_ms_per_call().max(1e-9),
        routed.percentile(0.95),
        baseline.percentile(0.95)
    );
}

/// A caller whose SDP sends switchboard's RTP to `rtp_port` (this process's receiver), that
/// logs when it sends its INVITE and which RTP port the answer names, then waits for
/// switchboard's BYE (the application hangs up after `play_secs`) and answers it.
fn uac_scenario(rtp_port: u16, play_secs: u32) -> String {
    // The BYE comes after the play; a call that gets none within 10 s more fails.
    let bye_timeout = play_secs * 1000 + 10_000;
    let invite = super::sipp::invite_scenario_step(rtp_port);
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="router_uac">
  <nop>
    <action>
      <gettimeofday assign_to="sec,usec"/>
      <log message="sent [call_number] [$sec] [$usec]"/>
    </action>
  </nop>
{invite}  <recv response="200" rtd="true" rrs="true">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="mline,port"/>
      <log message="answered [call_number] [$port] ([$mline])"/>
    </action>
  </recv>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv request="BYE" timeout="{bye_timeout}"></recv>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500"/>
</scenario>
"#
    )
}
