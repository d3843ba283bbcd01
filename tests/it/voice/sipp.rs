//! The caller of the voice tests: SIPp running `tests/voice/uac_dtmf.xml` (answered: digits
//! from sip-tester's RFC 4733 captures after a pause, then the server's BYE) or
//! `tests/voice/uac_refused.xml` (exactly one final status, never a 200), with tshark
//! capturing what reaches SIPp's media port from before the INVITE until SIPp exits.
//!
//! The invariant: the capture is live before the first INVITE leaves (the media port is
//! chosen first, the capture started on it, and only then SIPp), so no audio is missed.

use super::asset;
use super::capture::{Capture, Pcap};
use crate::sip::{free_sip_port, free_udp_port, sipp};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The digit `dtmf_2833_1.pcap` carries, found with tshark itself:
/// `tshark -r /usr/share/sip-tester/dtmf_2833_1.pcap -d udp.port==10000,rtp -T fields -e
/// rtpevent.event_id` prints `1` on all ten packets (seven updates, three end packets; one
/// RTP timestamp, so one event). `harness` checks every shipped digit capture the same way.
pub(crate) const PCAP_DIGIT: char = '1';
/// The UDP port the shipped digit captures were taken on (their RTP's destination).
pub(crate) const PCAP_RTP_PORT: u16 = 10000;

/// Where Debian's sip-tester keeps its captures (`SWITCHBOARD_TEST_SIPP_PCAPS` overrides).
pub(crate) fn pcap_dir() -> PathBuf {
    std::env::var("SWITCHBOARD_TEST_SIPP_PCAPS")
        .unwrap_or_else(|_| "/usr/share/sip-tester".to_string())
        .into()
}

/// The shipped RFC 4733 capture of one key: `dtmf_2833_{0..9,star,pound}.pcap`.
pub(crate) fn digit_pcap(digit: char) -> PathBuf {
    let name = match digit {
        '0'..='9' => digit.to_string(),
        '*' => "star".to_string(),
        '#' => "pound".to_string(),
        other => panic!("sip-tester ships no capture for {other:?} (only 0-9, * and #)"),
    };
    pcap_dir().join(format!("dtmf_2833_{name}.pcap"))
}

/// What the call must end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// 200, ACK, the digits, then the server's BYE (answered 200).
    Answered,
    /// Exactly this final response (486 busy, 404 unowned number), ACKed; a 200 fails.
    Refused(u16),
}

/// One call SIPp places.
#[derive(Clone, Debug)]
pub(crate) struct CallSpec {
    /// The Request-URI and To user: the dialled number (`+15551230000`).
    pub to: String,
    /// Keys sent as RFC 4733 events, one shipped capture each, 500 ms apart (`""`: silent).
    pub digits: String,
    /// How long after the ACK the first digit goes (let the prompts before the Gather play).
    /// A BYE before the digits went fails the call (SIPp: "unexpected BYE"): keep it shorter
    /// than what the server plays before it hangs up.
    pub digits_after: Duration,
    pub expect: Expect,
    /// How long SIPp waits for the server's BYE, and the whole run's limit (plus 20 s).
    pub timeout: Duration,
}

impl CallSpec {
    /// An answered call to `to` sending `digits` after `digits_after`, ended by the server.
    pub(crate) fn answered(to: &str, digits: &str, digits_after: Duration) -> CallSpec {
        CallSpec {
            to: to.to_string(),
            digits: digits.to_string(),
            digits_after,
            expect: Expect::Answered,
            timeout: Duration::from_secs(60),
        }
    }

    /// A call to `to` that must get `status` and never a 200.
    pub(crate) fn refused(to: &str, status: u16) -> CallSpec {
        CallSpec {
            to: to.to_string(),
            digits: String::new(),
            digits_after: Duration::ZERO,
            expect: Expect::Refused(status),
            timeout: Duration::from_secs(30),
        }
    }

    /// The scenario file for this call, written into `dir`.
    fn scenario(&self, dir: &Path) -> PathBuf {
        let (template, out) = match self.expect {
            Expect::Answered => ("uac_dtmf.xml", dir.join("uac_dtmf.xml")),
            Expect::Refused(_) => ("uac_refused.xml", dir.join("uac_refused.xml")),
        };
        let text = std::fs::read_to_string(asset(template))
            .unwrap_or_else(|e| panic!("tests/voice/{template}: {e}"));
        let mut digits = String::new();
        for d in self.digits.chars() {
            digits.push_str(&format!(
                "<nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  \
                 <pause milliseconds=\"500\"/>\n  ",
                digit_pcap(d).display()
            ));
        }
        let status = match self.expect {
            Expect::Refused(s) => s.to_string(),
            Expect::Answered => String::new(),
        };
        let text = text
            .replace(
                "@DIGITS_AFTER_MS@",
                &self.digits_after.as_millis().to_string(),
            )
            .replace("@BYE_TIMEOUT_MS@", &self.timeout.as_millis().to_string())
            .replace("@STATUS@", &status)
            .replace("<!--DIGITS-->", &digits);
        std::fs::write(&out, text).expect("write scenario");
        out
    }
}

/// A call in progress: SIPp running, tshark capturing its media port.
pub(crate) struct VoiceCall {
    child: Option<Child>,
    capture: Option<Capture>,
    dir: PathBuf,
    timeout: Duration,
    /// SIPp's SIP port on 127.0.0.1.
    pub sip_port: u16,
    /// SIPp's media port: the RTP address in its SDP, and the captured port.
    pub media_port: u16,
}

/// What a finished call did.
#[derive(Debug)]
pub(crate) struct CallResult {
    /// SIPp's exit code: 0 when the scenario ran as written (`None`: killed at the timeout).
    pub code: Option<i32>,
    /// SIPp's `-trace_msg` log: every message sent and received.
    pub messages: String,
    pub stdout: String,
    pub stderr: String,
    /// What reached SIPp's media port.
    pub pcap: Pcap,
}

impl CallResult {
    /// Panics with SIPp's output unless the scenario ran as written.
    pub(crate) fn assert_ok(&self) {
        assert_eq!(self.code, Some(0), "{}", self.describe());
    }

    /// How many received messages start with `first_line` (`SIP/2.0 200`, `BYE `).
    pub(crate) fn received(&self, first_line: &str) -> usize {
        crate::sip::received(&self.messages, first_line)
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "sipp exit {:?}\nstdout:\n{}\nstderr:\n{}\nmessages:\n{}",
            self.code, self.stdout, self.stderr, self.messages
        )
    }
}

/// Places one call to `target` (`127.0.0.1:PORT`) and waits for it to end; SIPp's files and
/// the capture go in `dir`.
pub(crate) fn call(target: &str, spec: &CallSpec, dir: &Path) -> CallResult {
    start_call(target, spec, dir).wait()
}

/// Starts the capture, then SIPp; returns while the call runs.
pub(crate) fn start_call(target: &str, spec: &CallSpec, dir: &Path) -> VoiceCall {
    let sip_port = free_sip_port();
    let media_port = free_udp_port();
    let capture = Capture::start(dir, media_port);
    let scenario = spec.scenario(dir);
    let child = Command::new(sipp())
        .arg(target)
        .arg("-sf")
        .arg(&scenario)
        .args(["-s", &spec.to, "-m", "1"])
        .args(["-i", "127.0.0.1", "-p", &sip_port.to_string()])
        .args(["-mp", &media_port.to_string()])
        .args(["-nostdin", "-trace_msg", "-message_file", "messages.log"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp starts");
    VoiceCall {
        child: Some(child),
        capture: Some(capture),
        dir: dir.to_path_buf(),
        timeout: spec.timeout + Duration::from_secs(20),
        sip_port,
        media_port,
    }
}

impl VoiceCall {
    /// Waits for SIPp to exit (killing it at the spec's timeout plus 20 s), then stops the
    /// capture and collects both.
    pub(crate) fn wait(mut self) -> CallResult {
        let mut child = self.child.take().expect("a running sipp");
        let deadline = Instant::now() + self.timeout;
        let code = loop {
            if let Some(status) = child.try_wait().expect("wait for sipp") {
                break status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = child.wait_with_output().expect("sipp output");
        let pcap = self.capture.take().expect("a running capture").stop();
        CallResult {
            code,
            messages: std::fs::read_to_string(self.dir.join("messages.log")).unwrap_or_default(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            pcap,
        }
    }
}

impl Drop for VoiceCall {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
