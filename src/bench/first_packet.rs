//! INVITE → first RTP packet, for `bench router`: one UDP receiver in the bench process that
//! every call's SDP points at, and the matching of what it received to SIPp's calls.
//!
//! What each figure counts:
//! - a call's **INVITE time** is SIPp's `gettimeofday` just before it sends the INVITE (its
//!   `-trace_logs` line `sent N SEC USEC`); the **first packet** is the wall-clock time at
//!   which the receiver read the first RTP packet of the call's stream (same clock, same host);
//! - a call's stream is the one whose source port is the RTP port of switchboard's 200 answer
//!   (`answered N PORT`: switchboard sends symmetric RTP from that port), the first such stream
//!   to begin after the INVITE was sent (ports are reused only after the whole range);
//! - **from schedule** measures from the time the fixed-rate schedule gave the call, not from
//!   when SIPp managed to send it, so a stall anywhere (SIPp's, the machine's) counts against
//!   the calls that waited for it instead of being omitted (coordinated omission): call N's
//!   slot is `anchor + (N − 1) / rate`, with the anchor the latest one no send precedes
//!   (`min(sent_N − (N − 1) / rate)`), so every slot is at or before its call's actual send;
//! - **from send** measures from the actual INVITE time.
//!
//! Invariant: every answered call is either matched to exactly one stream or counted as
//! answered without a packet; no stream serves two calls.

use super::measure::Latencies;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One RTP stream as received: keyed by (source port, SSRC).
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// When its first packet was read (seconds since the Unix epoch).
    pub first: f64,
    pub packets: u64,
    /// Sequence numbers skipped.
    pub lost: u64,
    highest_sequence: u16,
}

/// The streams, by (source port, SSRC).
pub type Streams = HashMap<(u16, u32), Seen>;

/// Seconds since the Unix epoch, as SIPp's `gettimeofday` gives them.
fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The UDP socket every call's RTP is sent to.
pub struct Receiver {
    /// Its port on 127.0.0.1.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Streams>,
}

impl Receiver {
    /// Binds a socket with a 4 MB receive buffer (the default ~200 KB holds ~10 ms of 300
    /// calls' packets: a descheduled bench would lose first packets and misread the next
    /// one as first) and reads it on a thread of its own.
    pub fn start() -> anyhow::Result<Receiver> {
        let socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        // The kernel caps it at net.core.rmem_max; smaller is still correct, only lossier.
        let _ = socket.set_recv_buffer_size(4 << 20);
        socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        let socket: UdpSocket = socket.into();
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let port = socket.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut streams = Streams::new();
            let mut buf = [0u8; 2048];
            while !stopping.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let now = epoch_now();
                let Ok(packet) = switchboard_telephony::rtp::RtpPacket::parse(&buf[..n]) else {
                    continue;
                };
                let h = packet.header;
                let seen = streams.entry((from.port(), h.ssrc)).or_insert(Seen {
                    first: now,
                    packets: 0,
                    lost: 0,
                    highest_sequence: h.sequence.wrapping_sub(1),
                });
                let ahead = h
                    .sequence
                    .wrapping_sub(seen.highest_sequence.wrapping_add(1));
                if ahead < 0x8000 {
                    seen.lost += u64::from(ahead);
                    seen.highest_sequence = h.sequence;
                }
                seen.packets += 1;
            }
            streams
        });
        Ok(Receiver { port, stop, thread })
    }

    /// Stops reading; everything received.
    pub fn stop(self) -> Streams {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// What SIPp's `-trace_logs` said of each call.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CallLog {
    /// Call number (from 1) → INVITE time (seconds since the epoch).
    pub sent: HashMap<u64, f64>,
    /// Call number → the RTP port of switchboard's answer.
    pub answered: HashMap<u64, u16>,
}

impl CallLog {
    /// Adds the `sent N SEC USEC` and `answered N PORT` lines of `text` (SIPp prints its
    /// variables as decimals, `1764617847.000000`); anything else is ignored.
    pub fn read(&mut self, text: &str) {
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let number = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
            match (fields.first().copied(), number(1)) {
                (Some("sent"), Some(call)) => {
                    if let (Some(sec), Some(usec)) = (number(2), number(3)) {
                        self.sent.insert(call as u64, sec + usec / 1e6);
                    }
                }
                (Some("answered"), Some(call)) => {
                    if let Some(port) = number(2).and_then(|p| u16::try_from(p as u64).ok()) {
                        self.answered.insert(call as u64, port);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The first-packet figures of one run.
#[derive(Debug, Default)]
pub struct FirstPackets {
    /// Answered calls matched to a stream.
    pub matched: usize,
    /// Answered calls with no stream at the receiver (counted as failures).
    pub without_packet: usize,
    /// Scheduled INVITE time → first packet, one per matched call.
    pub from_schedule: Latencies,
    /// Actual INVITE time → first packet.
    pub from_send: Latencies,
    /// How far behind its schedule SIPp sent its latest INVITE (the largest send − slot).
    pub send_lag: Duration,
    /// Each second of the schedule (calls by their slot) → its p95 from schedule.
    pub p95_by_second: Vec<Duration>,
    /// Packets and sequence gaps over the matched streams.
    pub packets: u64,
    pub lost: u64,
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or_default()
}

/// Matches each answered call to its stream (see the module doc) and measures.
pub fn measure(log: &CallLog, streams: &Streams, rate: f64) -> FirstPackets {
    let slot_of = |call: u64| (call.saturating_sub(1)) as f64 / rate.max(1e-9);
    let anchor = log
        .sent
        .iter()
        .map(|(call, at)| at - slot_of(*call))
        .fold(f64::INFINITY, f64::min);
    // Each port's streams, earliest first, each usable once.
    let mut by_port: HashMap<u16, Vec<(f64, &Seen)>> = HashMap::new();
    for ((port, _), seen) in streams {
        by_port.entry(*port).or_default().push((seen.first, seen));
    }
    for list in by_port.values_mut() {
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let mut calls: Vec<(u64, f64, u16)> = log
        .answered
        .iter()
        .filter_map(|(call, port)| log.sent.get(call).map(|at| (*call, *at, *port)))
        .collect();
    calls.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut next: HashMap<u16, usize> = HashMap::new();
    let (mut from_schedule, mut from_send) = (Vec::new(), Vec::new());
    let mut by_second: Vec<Vec<Duration>> = Vec::new();
    let mut out = FirstPackets {
        without_packet: log.answered.len() - calls.len(),
        ..FirstPackets::default()
    };
    for (call, at, port) in calls {
        let list = by_port.get(&port).map(Vec::as_slice).unwrap_or_default();
        let start = next.entry(port).or_insert(0);
        while *start < list.len() && list[*start].0 < at {
            *start += 1;
        }
        let Some((first, seen)) = list.get(*start) else {
            out.without_packet += 1;
            continue;
        };
        *start += 1;
        let slot = anchor + slot_of(call);
        from_schedule.push(secs(first - slot));
        let second = slot_of(call) as usize;
        if by_second.len() <= second {
            by_second.resize_with(second + 1, Vec::new);
        }
        by_second[second].push(secs(first - slot));
        from_send.push(secs(first - at));
        out.matched += 1;
        out.packets += seen.packets;
        out.lost += seen.lost;
    }
    out.send_lag = secs(
        log.sent
            .iter()
            .map(|(call, at)| at - (anchor + slot_of(*call)))
            .fold(0.0, f64::max),
    );
    out.p95_by_second = by_second
        .into_iter()
        .map(|samples| samples.into_iter().collect::<Latencies>().percentile(0.95))
        .collect();
    out.from_schedule = from_schedule.into_iter().collect();
    out.from_send = from_send.into_iter().collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(first: f64) -> Seen {
        Seen {
            first,
            packets: 50,
            lost: 0,
            highest_sequence: 0,
        }
    }

    #[test]
    fn sipp_log_lines_are_read() {
        let mut log = CallLog::default();
        log.read(
            "sent 1 1764617847.000000 250000.000000\nnoise\nanswered 1 20002\nsent 2 1764617847.000000 260000.000000\n",
        );
        assert_eq!(log.sent.len(), 2);
        assert!((log.sent[&1] - 1_764_617_847.25).abs() < 1e-6);
        assert_eq!(log.answered, HashMap::from([(1, 20002)]));
    }

    #[test]
    fn latency_counts_from_the_schedule_and_each_stream_serves_one_call() {
        // 10 calls/s: slots at 100.0, 100.1, 100.2, 100.3. Call 3 was sent 50 ms late
        // (SIPp stalled); call 4 reuses call 1's port.
        let log = CallLog {
            sent: HashMap::from([(1, 100.0), (2, 100.1), (3, 100.25), (4, 100.3)]),
            answered: HashMap::from([(1, 20000), (2, 20002), (3, 20004), (4, 20000)]),
        };
        let streams = Streams::from([
            ((20000, 1), seen(100.010)),
            ((20002, 2), seen(100.120)),
            ((20004, 3), seen(100.260)),
            ((20000, 9), seen(100.305)),
            // A stream from a port no call was answered on is nobody's.
            ((30000, 5), seen(100.011)),
        ]);
        let f = measure(&log, &streams, 10.0);
        assert_eq!((f.matched, f.without_packet), (4, 0));
        let ms = |d: Duration| (d.as_secs_f64() * 1000.0).round() as u64;
        // From schedule: 10, 20, 60 (50 of them SIPp's stall), 5.
        assert_eq!(ms(f.from_schedule.max()), 60);
        assert_eq!(ms(f.from_schedule.percentile(0.5)), 10);
        // From send: 10, 20, 10, 5.
        assert_eq!(ms(f.from_send.max()), 20);
        assert_eq!(ms(f.send_lag), 50);
        assert_eq!(f.packets, 200);
        // All four calls are in the schedule's first second.
        assert_eq!(f.p95_by_second.len(), 1);
        assert_eq!(ms(f.p95_by_second[0]), 60);
    }

    #[test]
    fn an_answered_call_without_a_stream_is_counted() {
        let log = CallLog {
            sent: HashMap::from([(1, 100.0), (2, 100.1)]),
            answered: HashMap::from([(1, 20000), (2, 20000)]),
        };
        // One stream on the port, begun before call 2 was sent: it is call 1's.
        let streams = Streams::from([((20000, 1), seen(100.01))]);
        let f = measure(&log, &streams, 10.0);
        assert_eq!((f.matched, f.without_packet), (1, 1));
    }
}
