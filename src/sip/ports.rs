//! Admission and RTP ports: a call gets a [`CallSlot`] before anything is answered, or the
//! INVITE is refused with `503 Service Unavailable` and `Retry-After`.
//!
//! A slot holds one of at most `--max-calls` places and a pair of UDP ports from
//! `--rtp-ports`: an even RTP port (bound here) and the odd RTCP port above it (reserved, so
//! the range is sized at two ports per call as RFC 3550 §11 expects). Both go back when the
//! slot is dropped, whatever way the call ended: the invariant this file protects is that a
//! finished call never keeps a place or a port.
//!
//! A port another process holds (a second switchboard on the same host, a test) is skipped,
//! not fatal: the allocator tries the next pair, and only a range with no bindable pair left
//! refuses the call.

use crate::config::PortRange;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;

/// Why a call cannot be admitted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// `--max-calls` calls are up.
    #[error("at capacity: {0} calls in progress")]
    AtCapacity(usize),
    /// No RTP port pair in the range could be bound.
    #[error("no free RTP port pair in the configured range")]
    NoPorts,
}

/// The node's call places and RTP port range.
pub struct Slots {
    ip: IpAddr,
    range: PortRange,
    max_calls: usize,
    state: Mutex<State>,
}

struct State {
    calls: usize,
    /// Even RTP ports in use.
    in_use: HashSet<u16>,
    /// Where the next search starts (round robin, so a just-freed port rests a while and
    /// late packets of the old call do not land in a new one).
    next: u16,
}

impl Slots {
    /// Places for `max_calls` calls, RTP bound on `ip` within `range`.
    pub fn new(ip: IpAddr, range: PortRange, max_calls: usize) -> Arc<Slots> {
        Arc::new(Slots {
            ip,
            range,
            max_calls,
            state: Mutex::new(State {
                calls: 0,
                in_use: HashSet::new(),
                next: first_even(range.first),
            }),
        })
    }

    /// How many port pairs the range holds.
    pub fn pairs(&self) -> usize {
        let first = first_even(self.range.first);
        if first >= self.range.last {
            return 0;
        }
        // Ports first..=last with `first` even: ⌈(last − first) / 2⌉ pairs.
        usize::from((self.range.last - first).div_ceil(2))
    }

    /// Calls in progress.
    pub fn calls(&self) -> usize {
        self.lock().calls
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counters half-updated (each
        // update is one statement), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place and binds an RTP port, or says why not.
    pub fn admit(self: &Arc<Self>) -> Result<CallSlot, Refused> {
        let first = first_even(self.range.first);
        let pairs = self.pairs();
        let mut state = self.lock();
        if state.calls >= self.max_calls {
            return Err(Refused::AtCapacity(state.calls));
        }
        // Bind while holding the lock: binding is a quick syscall, and it keeps two calls
        // from racing for the same port.
        for _ in 0..pairs {
            let port = state.next;
            state.next = if port.saturating_add(2) > self.range.last.saturating_sub(1) {
                first
            } else {
                port + 2
            };
            if state.in_use.contains(&port) {
                continue;
            }
            let Ok(socket) = bind(SocketAddr::new(self.ip, port)) else {
                continue;
            };
            state.in_use.insert(port);
            state.calls += 1;
            return Ok(CallSlot {
                slots: self.clone(),
                port,
                socket: Some(socket),
            });
        }
        Err(Refused::NoPorts)
    }
}

fn first_even(port: u16) -> u16 {
    port.saturating_add(port % 2)
}

fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// One admitted call: its place and its RTP socket. Dropping it frees both.
pub struct CallSlot {
    slots: Arc<Slots>,
    port: u16,
    socket: Option<UdpSocket>,
}

impl CallSlot {
    /// The RTP port (even; RTCP would be the next one).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound RTP socket, once (the media task owns it afterwards).
    pub fn take_socket(&mut self) -> Option<UdpSocket> {
        self.socket.take()
    }
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        state.in_use.remove(&self.port);
        state.calls = state.calls.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// Where the tests of this process look for ports next (each run it hands out is
    /// disjoint from every other one, so tests running in parallel never share a port).
    static NEXT: std::sync::Mutex<u16> = std::sync::Mutex::new(0);

    /// Ports the OS hands out for `bind(…:0)` are never in the run a test probes: the runs
    /// lie below Linux's ephemeral range (32768–60999) and above the default `--rtp-ports`
    /// (20000–20999) the integration tests' servers use.
    const LOW: u16 = 21_000;
    const HIGH: u16 = 32_000;

    /// A run of `len` consecutive ports (starting even) that the OS lets this process bind
    /// now: every port of it is bound once and released, and a run with a port someone else
    /// holds is passed over. Each call gets a run no other call in this process gets; the
    /// first starts at an offset from the process id, so test processes running side by side
    /// (other checkouts on the same host) start their search apart too.
    fn free_range(len: u16) -> PortRange {
        let mut next = NEXT.lock().unwrap_or_else(|p| p.into_inner());
        if *next == 0 {
            let spread = (HIGH - LOW) / 2;
            *next = LOW + (std::process::id() % u32::from(spread)) as u16 * 2;
        }
        for _ in 0..(HIGH - LOW) {
            let first = if *next + len > HIGH { LOW } else { *next };
            let probe: Result<Vec<std::net::UdpSocket>, u16> = (first..first + len)
                .map(|port| {
                    std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).map_err(|_| port)
                })
                .collect();
            match probe {
                Ok(_released_on_drop) => {
                    *next = first + len + len % 2;
                    return PortRange {
                        first,
                        last: first + len - 1,
                    };
                }
                // Start again after the port that is taken (on an even port).
                Err(taken) => *next = taken + 1 + (taken + 1) % 2,
            }
        }
        panic!("no {len} consecutive free UDP ports between {LOW} and {HIGH}");
    }

    #[test]
    fn free_ranges_are_disjoint_bindable_and_skip_a_port_in_use() {
        let a = free_range(6);
        let b = free_range(6);
        assert!(a.last < b.first || b.last < a.first, "{a:?} {b:?}");
        assert_eq!((a.first % 2, a.last - a.first), (0, 5));
        // A port held elsewhere is never inside the run handed out.
        let held = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, b.last + 3)).expect("held");
        let c = free_range(6);
        let held_port = b.last + 3;
        assert!(
            !(c.first..=c.last).contains(&held_port),
            "{c:?} holds {held_port}"
        );
        drop(held);
    }

    #[tokio::test]
    async fn a_call_over_max_calls_is_refused_and_a_dropped_slot_is_reused() {
        let slots = Slots::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_range(20), 2);
        let a = slots.admit().expect("first");
        let b = slots.admit().expect("second");
        assert_ne!(a.port(), b.port());
        assert_eq!(a.port() % 2, 0);
        assert_eq!(slots.admit().err(), Some(Refused::AtCapacity(2)));
        drop(a);
        assert_eq!(slots.calls(), 1);
        assert!(slots.admit().is_ok());
    }

    #[tokio::test]
    async fn an_exhausted_range_refuses_with_no_ports() {
        // Four ports: two pairs.
        let slots = Slots::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_range(4), 10);
        assert_eq!(slots.pairs(), 2);
        let _a = slots.admit().expect("first");
        let _b = slots.admit().expect("second");
        assert_eq!(slots.admit().err(), Some(Refused::NoPorts));
    }
}
