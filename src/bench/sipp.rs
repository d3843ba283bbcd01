//! What the SIPp benchmarks (`bench sip`, `bench router`) share: SIPp as the caller
//! ([`drive`], its statistics and per-call response times read back into [`LoadFigures`]),
//! the two kinds of responder ([`Responder`]: SIPp's own `uas`, or `switchboard serve` as a
//! child process with a number whose application is at a given URL), and the CPU a
//! responder spent (`/proc/PID/stat`).
//!
//! Invariant: both benchmarks count calls, failures, calls/s and setup times the same way
//! (from SIPp's own files), so their figures compare.

use super::fixtures::Scratch;
use super::measure::percentile;
use anyhow::{bail, Context};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchboard_telephony::Law;

/// One SIPp run's figures.
#[derive(Debug, Default, Clone)]
pub(super) struct LoadFigures {
    pub(super) successful: u64,
    pub(super) failed: u64,
    pub(super) retransmissions: u64,
    pub(super) elapsed: Duration,
    /// Each call's setup time (ms), sorted.
    pub(super) setup_ms: Vec<u64>,
    /// When each call was answered (ms since SIPp started), sorted.
    pub(super) answered_ms: Vec<f64>,
    pub(super) cpu: Duration,
}

impl LoadFigures {
    /// Calls answered per second: over the span from the first answer to the last (SIPp's
    /// per-call response times carry their date), so the calls' holding time at the end
    /// does not dilute the rate.
    pub(super) fn cps(&self) -> f64 {
        match (self.answered_ms.first(), self.answered_ms.last()) {
            (Some(first), Some(last)) if last > first && self.answered_ms.len() > 1 => {
                (self.answered_ms.len() - 1) as f64 * 1000.0 / (last - first)
            }
            _ => self.successful as f64 / self.elapsed.as_secs_f64().max(1e-9),
        }
    }

    pub(super) fn percentile(&self, p: f64) -> u64 {
        percentile(&self.setup_ms, p)
    }

    pub(super) fn cpu_ms_per_call(&self) -> f64 {
        let calls = (self.successful + self.failed).max(1);
        self.cpu.as_secs_f64() * 1000.0 / calls as f64
    }

    pub(super) fn cpu_share(&self) -> f64 {
        100.0 * self.cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What every load runs with: the SIPp binary, the scratch directory, our own executable.
pub(super) struct Rig<'a> {
    pub(super) sipp: &'a str,
    pub(super) scratch: &'a Scratch,
    pub(super) exe: &'a Path,
}

/// SIPp's version line (and proof that it runs).
pub(super) fn sipp_version(sipp: &str) -> anyhow::Result<String> {
    let version = Command::new(sipp).arg("-v").output().with_context(|| {
        format!(
            "cannot run SIPp ({sipp}): install Debian's sip-tester (apt-get install sip-tester) or pass --sipp"
        )
    })?;
    let version_text = String::from_utf8_lossy(&version.stdout);
    Ok(version_text
        .lines()
        .find(|l| l.contains("SIPp v"))
        .unwrap_or("SIPp")
        .trim()
        .to_string())
}

/// A port free on both UDP and TCP a moment ago (switchboard listens for SIP on both).
pub(super) fn free_sip_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no port free on both UDP and TCP in 100 tries")
}

/// The number switchboard's account owns in the benchmark; SIPp calls it (`-s`).
pub(super) const NUMBER: &str = "+15550100001";

/// SIPp's socket buffers (`-buff_size`, bytes), caller and `uas` alike. SIPp's default of
/// 64 KB overflows at a few hundred calls/s whenever SIPp is descheduled for a few tens of
/// milliseconds (seen on a loaded 2-core machine: `sipp -sn uac` against `sipp -sn uas` at
/// 300 calls/s lost 1 % of its calls, with the host's UDP receive-buffer errors rising); 4 MB
/// (the kernel's `net.core.rmem_max` here) lost none.
const SOCKET_BUFFER: &str = "4194304";

/// The process answering the calls (and, for switchboard, its number's application).
pub(super) struct Responder {
    child: Child,
    port: u16,
    data_dir: Option<PathBuf>,
    /// What must live as long as the responder (its application, in-process or a child).
    _app: Option<Box<dyn std::any::Any>>,
}

/// What switchboard recorded.
pub(super) struct Recorded {
    pub(super) completed: usize,
    pub(super) played: usize,
}

impl Responder {
    pub(super) fn sipp_uas(
        sipp: &str,
        scratch: &Scratch,
        extra: &[&str],
    ) -> anyhow::Result<Responder> {
        let port = free_sip_port()?;
        let child = Command::new(sipp)
            .args([
                "-sn",
                "uas",
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-nostdin",
                "-buff_size",
                SOCKET_BUFFER,
            ])
            .args(extra)
            .current_dir(scratch.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start sipp -sn uas")?;
        std::thread::sleep(Duration::from_millis(300));
        Ok(Responder {
            child,
            port,
            data_dir: None,
            _app: None,
        })
    }

    /// `switchboard serve` on the embedded defaults with `--max-calls max_calls` and
    /// `--rtp-ports rtp_ports`, whose account owns [`NUMBER`] with `voice_url` as its
    /// VoiceUrl; `app` (the application serving that URL) lives as long as the responder.
    pub(super) fn switchboard(
        exe: &Path,
        scratch: &Scratch,
        tag: &str,
        (max_calls, rtp_ports): (u64, &str),
        voice_url: &str,
        app: Box<dyn std::any::Any>,
    ) -> anyhow::Result<Responder> {
        let data_dir = scratch.path().join(format!("data-{tag}"));
        let data = data_dir.display().to_string();
        let account = super::fixtures::create_account(exe, &data)?;
        let sid = account["sid"].as_str().context("account sid")?.to_string();
        let token = account["auth_token"]
            .as_str()
            .context("auth token")?
            .to_string();
        let port = free_sip_port()?;
        let log = std::fs::File::create(scratch.path().join(format!("server-{tag}.log")))?;
        let (sip, calls) = (format!("127.0.0.1:{port}"), max_calls.to_string());
        let mut args = vec!["--data-dir", &data, "--http-addr", "127.0.0.1:0"];
        args.extend(["--sip-addr", &sip]);
        args.extend(["--max-calls", &calls, "--rtp-ports", rtp_ports]);
        let (child, http) =
            super::fixtures::spawn_serve(exe, &args, log, "switchboard listening on")?;
        let responder = Responder {
            child,
            port,
            data_dir: Some(data_dir),
            _app: Some(app),
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(own_number(&http, &sid, &token, voice_url))?;
        Ok(responder)
    }

    pub(super) fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(super) fn cpu(&self) -> Duration {
        process_cpu(self.child.id()).unwrap_or_default()
    }

    pub(super) fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (calls hang up, events are flushed), then counts the call events.
    pub(super) fn stop_and_count(mut self, exe: &Path) -> anyhow::Result<Recorded> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("kill -TERM")?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("switchboard serve exited with {status}");
        }
        let data = self.data_dir.take().context("a switchboard responder")?;
        let out = Command::new(exe)
            .args([
                "tail",
                "--topic",
                "switchboard.call",
                "--from-beginning",
                "--exit-at-end",
            ])
            .args(["--data-dir", &data.display().to_string()])
            .stderr(Stdio::null())
            .output()
            .context("switchboard tail")?;
        if !out.status.success() {
            bail!("switchboard tail found events that do not match their schemas");
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let count = |kind: &str| {
            let needle = format!("\"type\":\"{kind}\"");
            text.lines().filter(|l| l.contains(&needle)).count()
        };
        Ok(Recorded {
            completed: count("call.completed"),
            played: count("media.played"),
        })
    }
}

/// Buys [`NUMBER`] for the account on the server at `http` with `voice_url`, and waits until
/// the numbers read model has it (the SIP engine routes by it).
async fn own_number(http: &str, sid: &str, token: &str, voice_url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let path = format!("{http}/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json");
    let created = client
        .post(&path)
        .basic_auth(sid, Some(token))
        .form(&[("PhoneNumber", NUMBER), ("VoiceUrl", voice_url)])
        .send()
        .await
        .context("buy the benchmark's number")?;
    if !created.status().is_success() {
        bail!("buying the number answered {}", created.status());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed: serde_json::Value = client
            .get(&path)
            .basic_auth(sid, Some(token))
            .query(&[("PhoneNumber", NUMBER)])
            .send()
            .await?
            .json()
            .await?;
        if listed["incoming_phone_numbers"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the number never appeared in the numbers read model");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A process's user + system CPU time.
pub(super) fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // In clock ticks of USER_HZ, which Linux fixes at 100 for user space (proc(5)).
    Some(Duration::from_millis(ticks * 10))
}

/// Runs SIPp as the caller against `responder` and collects its figures.
pub(super) fn drive(
    sipp: &str,
    scratch: &Scratch,
    responder: &Responder,
    args: &[String],
    tag: &str,
) -> anyhow::Result<LoadFigures> {
    let work = scratch.path().join(tag);
    std::fs::create_dir_all(&work)?;
    let stats = work.join("stats.csv");
    let cpu_before = responder.cpu();
    let started = Instant::now();
    let status = Command::new(sipp)
        .arg(responder.target())
        .args(["-s", NUMBER])
        .args(["-i", "127.0.0.1", "-p", &free_sip_port()?.to_string()])
        .args([
            "-nostdin",
            "-timeout",
            "300s",
            "-trace_stat",
            "-fd",
            "1",
            "-trace_rtt",
            "-rtt_freq",
            "1",
            "-buff_size",
            SOCKET_BUFFER,
        ])
        .arg("-stf")
        .arg(&stats)
        .args(args)
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("run sipp")?;
    let elapsed = started.elapsed();
    let cpu = responder.cpu().saturating_sub(cpu_before);
    let csv = std::fs::read_to_string(&stats).context("SIPp's statistics file")?;
    let mut rows = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = rows.next().unwrap_or_default().split(';').collect();
    let last: Vec<&str> = rows.next_back().unwrap_or_default().split(';').collect();
    let stat = |name: &str| -> u64 {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| last.get(i))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let mut setup_ms = Vec::new();
    let mut answered_ms = Vec::new();
    for entry in std::fs::read_dir(&work)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with("_rtt.csv") {
            for line in std::fs::read_to_string(&path)?.lines().skip(1) {
                let mut fields = line.split(';').map(|v| v.trim().parse::<f64>().ok());
                if let (Some(Some(date)), Some(Some(ms))) = (fields.next(), fields.next()) {
                    answered_ms.push(date);
                    setup_ms.push(ms.round() as u64);
                }
            }
        }
    }
    let figures = LoadFigures {
        successful: stat("SuccessfulCall(C)"),
        failed: stat("FailedCall(C)"),
        retransmissions: stat("Retransmissions(C)"),
        elapsed,
        setup_ms: {
            setup_ms.sort_unstable();
            setup_ms
        },
        answered_ms: {
            answered_ms.sort_by(f64::total_cmp);
            answered_ms
        },
        cpu,
    };
    if figures.successful + figures.failed == 0 {
        bail!(
            "SIPp ({tag}) completed no call (exit {status}); its files are in {}",
            work.display()
        );
    }
    Ok(figures)
}

/// A µ-law 440 Hz tone of `seconds`.
pub(super) fn write_tone(path: &Path, seconds: u32) -> anyhow::Result<()> {
    let samples: Vec<u8> = (0..8000 * seconds)
        .map(|n| {
            let s = (f64::from(n) * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0;
            Law::Ulaw.encode(s as i16)
        })
        .collect();
    std::fs::write(
        path,
        switchboard_telephony::wav::write_g711(Law::Ulaw, &samples)?,
    )?;
    Ok(())
}

/// The INVITE of a SIPp caller's scenario, offering PCMU with `rtp_port` as its media port
/// (so the callee's RTP goes to the bench's receiver), and the optional 100 and 180 after
/// it: the first steps of `bench sip`'s audio caller and of `bench router`'s.
pub(super) fn invite_scenario_step(rtp_port: u16) -> String {
    format!(
        r#"  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio {rtp_port} RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
"#
    )
}
