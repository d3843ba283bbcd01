//! What reached the caller, as the wire saw it: tshark (Debian's) capturing UDP on `lo` with
//! a capture filter for one destination port, and its RTP dissector reading the packets back.
//!
//! The invariants: a capture is live before [`Capture::start`] returns and complete when
//! [`Capture::stop`] returns. tshark buffers (packets reach the file about every half
//! second) and a SIGINT can drop what it has not written yet, so both ends are proven with a
//! marker datagram: `start` sends one until it is in the file, `stop` sends a closing one and
//! waits for it before the SIGINT. Markers are not RTP (version 0) and come from a port of
//! their own; [`Pcap::rtp`] leaves them out.

use super::run_tool;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tshark binary: `SWITCHBOARD_TEST_TSHARK` or `tshark` on PATH.
pub(crate) fn tshark() -> String {
    std::env::var("SWITCHBOARD_TEST_TSHARK").unwrap_or_else(|_| "tshark".to_string())
}

/// A running capture of the UDP datagrams to one port on loopback.
pub(crate) struct Capture {
    child: Option<Child>,
    marker: UdpSocket,
    pcap: Pcap,
}

/// A finished capture file, and the port it was filtered on.
#[derive(Clone, Debug)]
pub(crate) struct Pcap {
    pub path: PathBuf,
    pub port: u16,
    /// The markers' source port, left out of every reading.
    marker_port: u16,
}

/// One RTP packet, as tshark's RTP dissector read it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RtpPacket {
    /// Seconds since the capture's first packet (`frame.time_relative`).
    pub time: f64,
    pub src_port: u16,
    pub ssrc: u32,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

/// One RFC 4733 telephone-event packet, as tshark's `rtpevent` dissector read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RtpEvent {
    /// 0–9, 10 `*`, 11 `#`, 12–15 A–D.
    pub event: u8,
    pub end: bool,
    pub timestamp: u32,
}

impl Capture {
    /// Starts tshark on `lo` for UDP to `dst_port`, writing `dir/capture-PORT.pcap`; returns
    /// once a marker datagram is in the file (the capture is really running).
    pub(crate) fn start(dir: &Path, dst_port: u16) -> Capture {
        let path = dir.join(format!("capture-{dst_port}.pcap"));
        let filter = format!("udp dst port {dst_port}");
        let child = Command::new(tshark())
            .args(["-i", "lo", "-f", &filter, "-F", "pcap", "-w"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start tshark ({e}): run ./scripts/test.sh, which installs Debian's \
                     tshark"
                )
            });
        let marker = UdpSocket::bind("127.0.0.1:0").expect("marker socket");
        let marker_port = marker.local_addr().expect("marker addr").port();
        let mut capture = Capture {
            child: Some(child),
            marker,
            pcap: Pcap {
                path,
                port: dst_port,
                marker_port,
            },
        };
        capture.mark("start");
        capture
    }

    /// The capture file (still being written until [`Capture::stop`]).
    pub(crate) fn path(&self) -> &Path {
        &self.pcap.path
    }

    /// Sends a marker datagram (every 50 ms) until tshark has written it to the file.
    fn mark(&mut self, what: &str) {
        let text = format!(
            "\0switchboard-capture-{what}-{}",
            uuid::Uuid::now_v7().simple()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let _ = self
                .marker
                .send_to(text.as_bytes(), ("127.0.0.1", self.pcap.port));
            std::thread::sleep(Duration::from_millis(50));
            let written = std::fs::read(&self.pcap.path).unwrap_or_default();
            if contains(&written, text.as_bytes()) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("tshark exited ({status}) before capturing on lo (is it installed?)");
            }
            assert!(
                Instant::now() < deadline,
                "tshark did not capture the {what} marker on lo within 20 s"
            );
        }
    }

    /// Waits until everything sent so far is in the file, stops tshark with SIGINT (it closes
    /// the file properly) and returns the finished capture.
    pub(crate) fn stop(mut self) -> Pcap {
        self.mark("end");
        self.interrupt();
        self.pcap.clone()
    }

    fn interrupt(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(child.try_wait(), Ok(Some(_))) {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tshark did not stop on SIGINT within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

impl Pcap {
    /// A capture file someone else made (SIPp's shipped pcaps), its RTP on `port`.
    pub(crate) fn open(path: &Path, port: u16) -> Pcap {
        Pcap {
            path: path.to_path_buf(),
            port,
            marker_port: 0,
        }
    }

    /// tshark reading the file with UDP to `port` decoded as RTP, filtered with `display`,
    /// printing `fields` tab-separated: one row per packet.
    fn fields(&self, display: &str, fields: &[&str]) -> Vec<Vec<String>> {
        let decode = format!("udp.port=={},rtp", self.port);
        let filter = format!(
            "rtp.version == 2 && udp.srcport != {} && ({display})",
            self.marker_port
        );
        let path = self.path.to_str().expect("utf-8 path");
        let mut args = vec!["-r", path, "-d", &decode, "-Y", &filter, "-T", "fields"];
        for f in fields {
            args.extend(["-e", f]);
        }
        let out = run_tool(&tshark(), &args);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    }

    /// Every RTP packet in capture order (markers left out).
    pub(crate) fn rtp(&self) -> Vec<RtpPacket> {
        let rows = self.fields(
            "rtp",
            &[
                "frame.time_relative",
                "udp.srcport",
                "rtp.ssrc",
                "rtp.p_type",
                "rtp.seq",
                "rtp.timestamp",
                "rtp.marker",
                "rtp.payload",
            ],
        );
        rows.iter()
            .map(|r| RtpPacket {
                time: r.first().and_then(|t| t.trim().parse().ok()).unwrap_or(0.0),
                src_port: number(r, 1),
                ssrc: number(r, 2),
                payload_type: number(r, 3),
                seq: number(r, 4),
                timestamp: number(r, 5),
                marker: matches!(r.get(6).map(String::as_str), Some("1" | "True")),
                payload: hex_bytes(r.get(7).map(String::as_str).unwrap_or_default()),
            })
            .collect()
    }

    /// The audio one stream carried: the payloads of the packets with `payload_type`
    /// (0 PCMU, 8 PCMA) from the first such packet's SSRC, in RTP sequence order. Panics when
    /// there is none. Gaps in sending are not kept (see [`Pcap::audio_by_arrival`]).
    pub(crate) fn audio(&self, payload_type: u8) -> Vec<u8> {
        let packets = self.of_type(payload_type);
        let ssrc = packets[0].ssrc;
        let base = packets[0].seq;
        let mut stream: Vec<&RtpPacket> = packets.iter().filter(|p| p.ssrc == ssrc).collect();
        // Sequence numbers wrap at 2^16: order by distance from the first packet's.
        stream.sort_by_key(|p| p.seq.wrapping_sub(base));
        stream
            .iter()
            .flat_map(|p| p.payload.iter().copied())
            .collect()
    }

    /// Every payload with `payload_type`, whatever its SSRC, placed at its arrival time: a
    /// pause in sending (more than 60 ms late) becomes G.711 silence of the same length, so
    /// the decoded signal keeps the call's timing (a `<Pause>`, a Gather's wait).
    pub(crate) fn audio_by_arrival(&self, payload_type: u8) -> Vec<u8> {
        let silence = if payload_type == 8 { 0xD5 } else { 0xFF };
        let packets = self.of_type(payload_type);
        let t0 = packets[0].time;
        let mut out: Vec<u8> = Vec::new();
        for p in &packets {
            let at = ((p.time - t0) * 8000.0).round().max(0.0) as usize;
            if at > out.len() + 480 {
                out.resize(at, silence);
            }
            out.extend_from_slice(&p.payload);
        }
        out
    }

    /// The packets with `payload_type` in capture order; panics when there are none.
    fn of_type(&self, payload_type: u8) -> Vec<RtpPacket> {
        let packets: Vec<RtpPacket> = self
            .rtp()
            .into_iter()
            .filter(|p| p.payload_type == payload_type)
            .collect();
        assert!(
            !packets.is_empty(),
            "no RTP with payload type {payload_type} to port {} in {}",
            self.port,
            self.path.display()
        );
        packets
    }

    /// The RFC 4733 events (telephone-event packets), in capture order.
    pub(crate) fn events(&self) -> Vec<RtpEvent> {
        self.fields(
            "rtpevent",
            &[
                "rtpevent.event_id",
                "rtpevent.end_of_event",
                "rtp.timestamp",
            ],
        )
        .iter()
        .map(|r| RtpEvent {
            event: number(r, 0),
            end: matches!(r.get(1).map(String::as_str), Some("1" | "True")),
            timestamp: number(r, 2),
        })
        .collect()
    }

    /// The digits the events spell: one per distinct event (RTP timestamp), as `0-9*#A-D`.
    pub(crate) fn digits(&self) -> String {
        let mut digits = String::new();
        let mut last: Option<u32> = None;
        for e in self.events() {
            if last != Some(e.timestamp) {
                last = Some(e.timestamp);
                digits.push(match e.event {
                    0..=9 => char::from(b'0' + e.event),
                    10 => '*',
                    11 => '#',
                    12..=15 => char::from(b'A' + e.event - 12),
                    _ => '?',
                });
            }
        }
        digits
    }
}

/// A numeric field of a tshark row: decimal, or hex with `0x` (tshark prints SSRCs so).
fn number<T: TryFrom<u64>>(row: &[String], i: usize) -> T {
    let s = row.get(i).map(|s| s.trim()).unwrap_or_default();
    let v = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    v.ok()
        .and_then(|v| T::try_from(v).ok())
        .unwrap_or_else(|| panic!("tshark field {i} is not a number: {row:?}"))
}

/// tshark's bytes field: hex, with or without `:` separators.
fn hex_bytes(s: &str) -> Vec<u8> {
    let digits: String = s.chars().filter(char::is_ascii_hexdigit).collect();
    (0..digits.len() / 2)
        .filter_map(|i| u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).ok())
        .collect()
}
