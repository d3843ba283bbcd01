//! `switchboard bench sip`: the telephony engine under SIPp on loopback, next to a bare
//! answer-only responder (SIPp's own `uas`) measured in the same run with the same load.
//!
//! Two loads, each run first against `sipp -sn uas` and then against `switchboard serve`
//! (a child process on the embedded defaults: SQLite log, durability full, every call's
//! events appended as in production):
//!
//! 1. **Signalling only**: SIPp's built-in `uac` (INVITE, 100, 180, 200, ACK, pause, BYE) at
//!    `--rate` calls/s for `--calls` calls of `--call-ms`. switchboard routes each INVITE by
//!    its number and runs the number's TwiML application (served by this process,
//!    [`super::voice_app`]): `<Gather>` with a long timeout, so every call also costs a
//!    signed instruction fetch, an RTP port pair and a media session.
//! 2. **RTP playback**: `--concurrent` calls held for `--audio-secs`; switchboard plays a WAV
//!    into each (`<Play>`, fetched from this process), SIPp's uas only answers. Every call's SDP points at one
//!    UDP receiver in this process, which checks each stream (by SSRC): packets, sequence
//!    gaps, and how late each packet arrives against its RTP timestamp (its lateness is the
//!    arrival time minus the timestamp's time, minus the stream's best such offset). A packet
//!    more than one packet time (20 ms) behind is counted late.
//!
//! Printed per responder: calls, failures and retransmissions (SIPp's counters), calls/s
//! achieved, the p50/p95 call-setup time (SIPp's INVITE→200 response time, 1 ms
//! resolution), and the responder's CPU per call (from `/proc/PID/stat`). For switchboard,
//! the call events are read back from the log afterwards and counted.

use super::fixtures::Scratch;
use super::measure::{ms, Latencies};
use super::sipp::{drive, sipp_version, write_tone, LoadFigures, Recorded, Responder, Rig};
use super::voice_app::{Reply, TwimlApp};
use crate::config::SipBenchArgs;
use anyhow::Context;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the benchmark (blocking: it drives child processes).
pub fn run(options: SipBenchArgs) -> anyhow::Result<()> {
    let sipp_version = sipp_version(&options.sipp)?;
    let scratch = Scratch::new("sip")?;
    let exe = std::env::current_exe().context("own executable")?;
    let rig = Rig {
        sipp: &options.sipp,
        scratch: &scratch,
        exe: &exe,
    };
    println!("bench sip: {sipp_version} on loopback, responders measured one after the other");
    let max_calls = signalling(&rig, &options)?;
    playback(&rig, &options, max_calls)
}

/// One load against SIPp's uas, then against switchboard serve whose number's application
/// answers with `routes` (`between` runs in between): both responders' figures and what
/// switchboard recorded.
fn against_both(
    rig: &Rig,
    tag: &str,
    args: &[String],
    routes: &[(&str, Reply)],
    max_calls: u64,
    between: impl FnOnce(),
) -> anyhow::Result<(LoadFigures, LoadFigures, Recorded)> {
    let Rig { sipp, scratch, exe } = *rig;
    let baseline = {
        let uas = Responder::sipp_uas(sipp, scratch, &[])?;
        let figures = drive(sipp, scratch, &uas, args, &format!("{tag}-uas"))?;
        uas.stop();
        figures
    };
    between();
    let app = TwimlApp::start(routes).context("the benchmark's voice application")?;
    let voice_url = app.url("/voice");
    let server = Responder::switchboard(
        exe,
        scratch,
        tag,
        (max_calls, "20000-39999"),
        &voice_url,
        Box::new(app),
    )?;
    let figures = drive(sipp, scratch, &server, args, &format!("{tag}-sb"))?;
    let recorded = server.stop_and_count(exe)?;
    Ok((baseline, figures, recorded))
}

/// 1. Signalling only; returns the `--max-calls` both loads give switchboard.
fn signalling(rig: &Rig, options: &SipBenchArgs) -> anyhow::Result<u64> {
    let limit = (u64::from(options.rate) * (u64::from(options.call_ms) / 1000 + 3)).max(100);
    let uac_args = vec![
        "-sn".to_string(),
        "uac".into(),
        "-r".into(),
        options.rate.to_string(),
        "-m".into(),
        options.calls.to_string(),
        "-l".into(),
        limit.to_string(),
        "-d".into(),
        options.call_ms.to_string(),
    ];
    println!(
        "\nsignalling only: sipp -sn uac -r {} -m {} -l {limit} -d {} (INVITE, 100, 180, 200, ACK, {} ms, BYE)",
        options.rate, options.calls, options.call_ms, options.call_ms
    );
    let max_calls = limit * 2;
    let (baseline, switchboard, recorded) = against_both(
        rig,
        "sig",
        &uac_args,
        &[("/voice", Reply::twiml(WAIT))],
        max_calls,
        || {},
    )?;
    print_table(&baseline, &switchboard);
    println!(
        "  switchboard recorded {} call.completed events for {} calls (every call's events appended, durability full)",
        recorded.completed,
        switchboard.successful + switchboard.failed
    );
    Ok(max_calls)
}

/// 2. RTP playback, every stream checked at this process's receiver.
fn playback(rig: &Rig, options: &SipBenchArgs, max_calls: u64) -> anyhow::Result<()> {
    let receiver = Receiver::start()?;
    let wav = rig.scratch.join("playback.wav");
    write_tone(&wav, options.audio_secs + 5)?;
    let scenario = rig.scratch.join("uac_audio.xml");
    std::fs::write(
        &scenario,
        audio_uac_scenario(receiver.port, options.audio_secs),
    )?;
    let rate = options.concurrent.clamp(1, 100);
    let audio_args = vec![
        "-sf".to_string(),
        scenario.display().to_string(),
        "-r".into(),
        rate.to_string(),
        "-m".into(),
        options.concurrent.to_string(),
        "-l".into(),
        options.concurrent.to_string(),
    ];
    println!(
        "\nRTP playback: {} calls at {rate} calls/s, each held {} s; switchboard plays a µ-law WAV into each, SIPp's uas only answers",
        options.concurrent, options.audio_secs
    );
    let routes = [
        ("/voice", Reply::twiml(PLAY)),
        ("/tone.wav", Reply::wav(std::fs::read(&wav)?)),
    ];
    let (audio_baseline, audio, audio_recorded) =
        against_both(rig, "rtp", &audio_args, &routes, max_calls, || {
            receiver.reset()
        })?;
    let streams = receiver.stop();
    print_table(&audio_baseline, &audio);
    let report = StreamReport::new(&streams);
    println!(
        "  streams received: {} (peak {} at once), packets {}, lost {}, late (> 20 ms) {}, lateness p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        report.streams,
        report.peak,
        report.packets,
        report.lost,
        report.late,
        report.p50_ms,
        report.p99_ms,
        report.max_ms
    );
    println!(
        "  switchboard recorded {} call.completed and {} media.played events for {} calls",
        audio_recorded.completed,
        audio_recorded.played,
        audio.successful + audio.failed
    );
    Ok(())
}

fn print_table(baseline: &LoadFigures, switchboard: &LoadFigures) {
    println!(
        "  {:<20} {:>7} {:>7} {:>8} {:>8} {:>10} {:>10} {:>12} {:>7}",
        "responder",
        "calls",
        "failed",
        "retrans",
        "calls/s",
        "p50 setup",
        "p95 setup",
        "CPU ms/call",
        "CPU %"
    );
    for (name, f) in [
        ("sipp -sn uas", baseline),
        ("switchboard serve", switchboard),
    ] {
        println!(
            "  {:<20} {:>7} {:>7} {:>8} {:>8.0} {:>7} ms {:>7} ms {:>12.3} {:>6.0}%",
            name,
            f.successful,
            f.failed,
            f.retransmissions,
            f.cps(),
            f.percentile(0.50),
            f.percentile(0.95),
            f.cpu_ms_per_call(),
            f.cpu_share()
        );
    }
    println!(
        "  (setup: SIPp's INVITE→200 response time, 1 ms resolution; CPU: the responder process)"
    );
    println!(
        "  ratio switchboard / uas: calls/s {:.2}x, CPU per call {:.1}x",
        switchboard.cps() / baseline.cps().max(1e-9),
        switchboard.cpu_ms_per_call() / baseline.cpu_ms_per_call().max(1e-9)
    );
}

/// The signalling load's application: answer, then wait for the caller's BYE.
const WAIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather timeout="600" finishOnKey=""/></Response>"#;

/// The playback load's application: the tone, fetched relative to the document.
const PLAY: &str =
    r#"<?xml version="1.0" encoding="UTF-8"?><Response><Play>/tone.wav</Play></Response>"#;

/// A caller whose SDP sends the callee's RTP to `rtp_port` (this process's receiver), that
/// holds the call `seconds` and hangs up.
fn audio_uac_scenario(rtp_port: u16, seconds: u32) -> String {
    let ms = seconds * 1000;
    let invite = super::sipp::invite_scenario_step(rtp_port);
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uac_audio">
{invite}  <recv response="200" rtd="true"></recv>
  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
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
  <pause milliseconds="{ms}"/>
  <send retrans="500">
    <![CDATA[

      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"></recv>
  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500"/>
</scenario>
"#
    )
}

/// One RTP stream as received.
#[derive(Debug, Clone)]
struct Stream {
    first_arrival: Instant,
    last_arrival: Instant,
    first_timestamp: u32,
    highest_sequence: u16,
    packets: u64,
    lost: u64,
    /// Arrival minus the timestamp's time, per packet (ms, from the first packet).
    offsets_ms: Vec<f64>,
}

/// The UDP socket every call's RTP is sent to.
struct Receiver {
    port: u16,
    stop: Arc<AtomicBool>,
    reset: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<HashMap<u32, Stream>>,
}

impl Receiver {
    fn start() -> anyhow::Result<Receiver> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let port = socket.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let reset = Arc::new(AtomicBool::new(false));
        let (stopping, resetting) = (stop.clone(), reset.clone());
        let thread = std::thread::spawn(move || {
            let mut streams: HashMap<u32, Stream> = HashMap::new();
            let mut buf = [0u8; 2048];
            while !stopping.load(Ordering::Relaxed) {
                if resetting.swap(false, Ordering::Relaxed) {
                    streams.clear();
                }
                let Ok((n, _)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let now = Instant::now();
                let Ok(packet) = switchboard_telephony::rtp::RtpPacket::parse(&buf[..n]) else {
                    continue;
                };
                let h = packet.header;
                let stream = streams.entry(h.ssrc).or_insert_with(|| Stream {
                    first_arrival: now,
                    last_arrival: now,
                    first_timestamp: h.timestamp,
                    highest_sequence: h.sequence.wrapping_sub(1),
                    packets: 0,
                    lost: 0,
                    offsets_ms: Vec::new(),
                });
                let expected = stream.highest_sequence.wrapping_add(1);
                let ahead = h.sequence.wrapping_sub(expected);
                if ahead < 0x8000 {
                    stream.lost += u64::from(ahead);
                    stream.highest_sequence = h.sequence;
                }
                stream.packets += 1;
                stream.last_arrival = now;
                let media_ms = f64::from(h.timestamp.wrapping_sub(stream.first_timestamp)) / 8.0;
                let arrival_ms = (now - stream.first_arrival).as_secs_f64() * 1000.0;
                stream.offsets_ms.push(arrival_ms - media_ms);
            }
            streams
        });
        Ok(Receiver {
            port,
            stop,
            reset,
            thread,
        })
    }

    fn reset(&self) {
        self.reset.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(200));
    }

    fn stop(self) -> HashMap<u32, Stream> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// Figures over all received streams.
struct StreamReport {
    streams: usize,
    peak: usize,
    packets: u64,
    lost: u64,
    late: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl StreamReport {
    fn new(streams: &HashMap<u32, Stream>) -> StreamReport {
        let mut lateness: Vec<f64> = Vec::new();
        for stream in streams.values() {
            let best = stream
                .offsets_ms
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
            lateness.extend(stream.offsets_ms.iter().map(|o| o - best));
        }
        lateness.sort_by(f64::total_cmp);
        // Ranked as durations (to the nanosecond), like every benchmark's percentiles.
        let ranked: Latencies = lateness
            .iter()
            .map(|l| Duration::try_from_secs_f64(l / 1e3).unwrap_or_default())
            .collect();
        // Peak overlap of [first, last] arrival intervals.
        let mut edges: Vec<(Instant, i64)> = streams
            .values()
            .flat_map(|s| [(s.first_arrival, 1), (s.last_arrival, -1)])
            .collect();
        edges.sort();
        let (mut current, mut peak) = (0i64, 0i64);
        for (_, delta) in edges {
            current += delta;
            peak = peak.max(current);
        }
        StreamReport {
            streams: streams.len(),
            peak: usize::try_from(peak).unwrap_or(0),
            packets: streams.values().map(|s| s.packets).sum(),
            lost: streams.values().map(|s| s.lost).sum(),
            late: lateness.iter().filter(|l| **l > 20.0).count() as u64,
            p50_ms: ms(ranked.percentile(0.50)),
            p99_ms: ms(ranked.percentile(0.99)),
            max_ms: lateness.last().copied().unwrap_or(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_measured_against_each_streams_best_offset() {
        let t0 = Instant::now();
        let stream = |offsets: Vec<f64>| Stream {
            first_arrival: t0,
            last_arrival: t0 + Duration::from_secs(1),
            first_timestamp: 0,
            highest_sequence: 0,
            packets: offsets.len() as u64,
            lost: 0,
            offsets_ms: offsets,
        };
        let streams = HashMap::from([
            (1, stream(vec![0.0, 1.0, -2.0, 30.0])),
            (2, stream(vec![5.0, 5.0])),
        ]);
        let report = StreamReport::new(&streams);
        // Stream 1: best −2 → 2, 3, 0, 32; stream 2: 0, 0.
        assert_eq!(report.late, 1);
        assert_eq!(report.max_ms, 32.0);
        assert_eq!(report.peak, 2);
        assert_eq!(report.packets, 6);
    }
}
