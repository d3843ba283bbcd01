//! # The telephony engine: SIP signalling and RTP media
//!
//! Answers and places SIP calls over UDP, runs each call's media on a UDP port pair of its
//! own, and records every call fact on the call's stream (`CA…`). Until the call router
//! exists, an answered inbound call runs a built-in behaviour (`--inbound echo | play:PATH |
//! collect | bridge:URI`), and `switchboard call` places a call.
//!
//! ```text
//!        UDP+TCP --sip-addr                                   one task per call (call.rs)
//!  SIPp ──▶ rsipstack transport ─▶ transactions (RFC 3261 §17) ─▶ accept_transaction ──▶ ┌──────────────────────────┐
//!   ▲       (parse, retransmit,      │ INVITE, no To-tag ───────── admission (ports.rs) ─▶│ 180, SDP answer, 200     │
//!   │        timers A–K)             │ BYE/INFO/ACK, To-tag ─▶ dialog.handle ──states──▶ │ states, digits, BYE      │──▶ call_controller ──▶ EventLog
//!   │                                │ OPTIONS ─▶ 200    other ─▶ 405                    │ media.rs (RTP socket)    │        (call.* events)
//!   └──────────── RTP (symmetric) ◀───────────────────────────────────────────────────── └──────────────────────────┘
//! ```
//!
//! ## Why rsipstack
//! The card named `rsip`, a message parser frozen since 2022 with no transport, no
//! transactions and no dialogs. `rsipstack` (restsend, MIT) carries that parser forward
//! (vendored as `rsipstack::sip`) and adds what an answering UA must get right and what
//! interop bugs hide in: RFC 3261 client and server transactions with timers A–K and
//! retransmission, CANCEL matching, ACK absorption, dialog matching, and UDP/TCP/TLS/WS
//! transports. It carries rustpbx (a working Rust B2BUA), and answered SIPp's `uac` scenario
//! at about 2,000 calls/s with half a core and no failures on these machines
//! (`shared/reference/TELEPHONY-NOTES.md`). Hand-writing the transaction layer on `rsip`
//! would be the fallback if it failed in practice; it has not. Its API moves between minor
//! versions, so it is pinned to an exact version (`=0.7.14`) in `Cargo.toml`.
//!
//! What it does not do and this module adds: an admission limit (its internal channels are
//! unbounded, so overload would show as memory growth: `503` + `Retry-After` instead), a
//! `Content-Type` on SDP bodies, routing in-dialog requests by To-tag, removing finished
//! dialogs, and all of the media.
//!
//! ## Error answers
//! - no `--sip-account`: `480 Temporarily Unavailable` (logged at start and per call);
//! - at `--max-calls` or no RTP port pair free: `503 Service Unavailable` + `Retry-After`;
//! - SDP that does not parse, has no usable audio or no common codec: `488 Not Acceptable
//!   Here` with a `Warning: 399` header saying what was wrong;
//! - an in-dialog request for no known dialog: `481`;
//! - REGISTER, SUBSCRIBE, MESSAGE and the other known methods we do not serve: `405` with
//!   `Allow`. A method name the parser does not know, garbage, or a truncated message cannot
//!   be answered (there is no parsed request to answer) and is dropped by the transport.
//!
//! # Layout
//! - [`ports`]: admission (`--max-calls`) and the RTP port range.
//! - [`call`]: one inbound call from INVITE to its answer.
//! - [`outbound`]: placing a call (`switchboard call`, a bridge's second leg), to its answer.
//! - [`leg`]: an answered call of either direction: in-dialog requests (BYE, INFO, re-INVITE),
//!   running a behaviour, hanging up.
//! - [`bye`]: a BYE built from a recorded dialog, for a call a dead node left live.
//! - [`media`]: the RTP tasks (echo, playback, RFC 4733 detection, the two-leg relay).

pub mod bye;
pub mod call;
pub mod leg;
pub mod media;
pub mod outbound;
pub mod ports;

use crate::commands::Commands;
use crate::config::{CallBehaviour, PortRange};
use crate::voice::Voice;
use anyhow::Context;
use media::MediaBehaviour;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode};
use rsipstack::transaction::endpoint::EndpointOption;
use rsipstack::transaction::{Transaction, TransactionReceiver};
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::{udp::UdpConnection, TransportLayer};
use rsipstack::EndpointBuilder;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::Sid;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

/// The methods we answer, for `Allow` headers.
const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO";

/// How long a shutdown waits for calls to hang up and their events to be appended.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What the engine needs, from the `serve` flags.
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// Address to listen on, UDP and TCP (port 0 picks one).
    pub listen: SocketAddr,
    /// Address written into SDP and Contact; default the listen address.
    pub external: Option<IpAddr>,
    /// RTP ports.
    pub rtp_ports: PortRange,
    /// Calls at once.
    pub max_calls: usize,
    /// `Retry-After` seconds on 503.
    pub retry_after_secs: u32,
}

/// Shared by every call task.
pub(crate) struct Shared {
    pub commands: Commands,
    pub dialogs: Arc<DialogLayer>,
    pub slots: Arc<ports::Slots>,
    pub contact: rsipstack::sip::Uri,
    /// The Contact for dialogs that arrived over TCP (`;transport=tcp`).
    pub contact_tcp: rsipstack::sip::Uri,
    pub media_ip: IpAddr,
    /// The call router: numbers, the fetcher, the media resolver.
    pub voice: Arc<Voice>,
    pub retry_after_secs: u32,
    /// Cancelled at shutdown: calls hang up.
    pub shutdown: CancellationToken,
    /// Call tasks and call controllers, waited for at shutdown.
    pub tracker: TaskTracker,
    /// The calls a REST request may steer (`POST /Calls/{CA}`).
    pub live: Arc<crate::voice::placed::LiveCalls>,
}

impl Shared {
    /// Our side of a call's media on `slot`'s RTP port, with a fresh `o=` session id.
    pub(crate) fn local_media(
        &self,
        slot: &ports::CallSlot,
    ) -> switchboard_telephony::sdp::LocalMedia {
        switchboard_telephony::sdp::LocalMedia {
            address: self.media_ip,
            rtp_port: slot.port(),
            session_id: rand::random::<u32>().into(),
            session_version: 1,
        }
    }
}

/// A running engine.
pub struct SipEngine {
    /// The address SIP is bound to.
    pub local_addr: SocketAddr,
    task: JoinHandle<()>,
    shared: Arc<Shared>,
    calls_stop: CancellationToken,
    endpoint_stop: CancellationToken,
    tracker: TaskTracker,
}

impl SipEngine {
    /// Binds the SIP port, loads the playback file (if any) and starts serving.
    pub async fn start(
        config: SipConfig,
        commands: Commands,
        voice: Arc<Voice>,
    ) -> anyhow::Result<SipEngine> {
        let endpoint_stop = CancellationToken::new();
        let transport = TransportLayer::new(endpoint_stop.clone());
        // rsipstack writes the external address into the Via of requests we send (BYE); it
        // needs a port, which port 0 does not know yet.
        let external = config
            .external
            .filter(|_| config.listen.port() != 0)
            .map(|ip| SocketAddr::new(ip, config.listen.port()));
        // UDP and TCP on the same port. With port 0 the UDP socket picks it, and a port some
        // other process holds on TCP is given back and another one tried.
        let attempts = if config.listen.port() == 0 { 8 } else { 1 };
        let mut bound = None;
        for attempt in 1..=attempts {
            let cannot = |e: &dyn std::fmt::Display| {
                anyhow::anyhow!("cannot listen for SIP on udp://{}: {e}", config.listen)
            };
            let socket = bind_udp(config.listen).map_err(|e| cannot(&e))?;
            let connection = UdpConnection::from_socket(
                Arc::new(socket),
                external,
                Some(endpoint_stop.child_token()),
            )
            .await
            .map_err(|e| cannot(&e))?;
            let port = connection
                .get_addr()
                .get_socketaddr()
                .map_err(|e| anyhow::anyhow!("SIP socket has no address: {e}"))?
                .port();
            let tcp_addr = SocketAddr::new(config.listen.ip(), port);
            // rsipstack binds its TCP listener later and only logs a failure: try it here so
            // a taken port is an error at start.
            match std::net::TcpListener::bind(tcp_addr) {
                Ok(probe) => {
                    drop(probe);
                    bound = Some((connection, tcp_addr));
                    break;
                }
                Err(e) if attempt == attempts => {
                    anyhow::bail!("cannot listen for SIP on tcp://{tcp_addr}: {e}")
                }
                Err(_) => {
                    drop(connection);
                }
            }
        }
        let (connection, local_addr) =
            bound.ok_or_else(|| anyhow::anyhow!("no port free for SIP on UDP and TCP"))?;
        transport.add_transport(connection.into());
        let tcp_external = config
            .external
            .map(|ip| SocketAddr::new(ip, local_addr.port()));
        let tcp = TcpListenerConnection::new(local_addr, tcp_external)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for SIP on tcp://{local_addr}: {e}"))?;
        transport.add_transport(tcp.into());
        let option = EndpointOption {
            // t1x64 must move with t1; these are RFC 3261's defaults, spelled out.
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t1x64: Duration::from_millis(64 * 500),
            ..EndpointOption::default()
        };
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(endpoint_stop.clone())
            .with_transport_layer(transport)
            .with_user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .with_option(option)
            .build();
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| anyhow::anyhow!("SIP endpoint: {e}"))?;
        let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let media_ip = config.external.unwrap_or(config.listen.ip());
        if media_ip.is_unspecified() {
            anyhow::bail!(
                "--sip-addr {} is a wildcard address: set --sip-external-addr to the address peers reach this node at",
                config.listen
            );
        }
        let advertised = SocketAddr::new(media_ip, local_addr.port());
        let contact = rsipstack::sip::Uri::try_from(format!("sip:{advertised}").as_str())
            .map_err(|e| anyhow::anyhow!("contact URI for {advertised}: {e}"))?;
        let contact_tcp =
            rsipstack::sip::Uri::try_from(format!("sip:{advertised};transport=tcp").as_str())
                .map_err(|e| anyhow::anyhow!("contact URI for {advertised}: {e}"))?;
        let calls_stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let shared = Arc::new(Shared {
            commands,
            dialogs,
            slots: ports::Slots::new(config.listen.ip(), config.rtp_ports, config.max_calls),
            contact,
            contact_tcp,
            media_ip,
            voice,
            retry_after_secs: config.retry_after_secs,
            shutdown: calls_stop.clone(),
            tracker: tracker.clone(),
            live: Arc::default(),
        });
        if shared.slots.pairs() < config.max_calls {
            warn!(
                pairs = shared.slots.pairs(),
                max_calls = config.max_calls,
                "--rtp-ports holds fewer port pairs than --max-calls: calls past the pairs get 503"
            );
        }
        let stop = endpoint_stop.clone();
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = endpoint.serve() => {}
                _ = accept_transactions(accepting, incoming) => {}
                _ = stop.cancelled() => {}
            }
        });
        // rsipstack binds the TCP listener inside its serve task: wait for it, so the engine
        // takes TCP connections once `start` returns.
        let probe = if local_addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::from([127, 0, 0, 1]), local_addr.port())
        } else {
            local_addr
        };
        let mut listening = false;
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(probe).await.is_ok() {
                listening = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !listening {
            warn!(%local_addr, "the SIP TCP listener did not come up; SIP is served over UDP only");
        }
        info!(%local_addr, "sip listening");
        Ok(SipEngine {
            local_addr,
            task,
            shared,
            calls_stop,
            endpoint_stop,
            tracker,
        })
    }

    /// Places a call and runs `behaviour` on it once answered, until either side hangs up
    /// (`hang_up_after` bounds the call). Returns the call's SID and how it ended; every
    /// fact is on the call's stream.
    pub async fn place(
        &self,
        request: outbound::DialRequest,
        behaviour: &CallBehaviour,
        hang_up_after: Option<Duration>,
    ) -> anyhow::Result<PlacedCall> {
        let (media, source) = media_behaviour(behaviour)?;
        let shared = self.shared.clone();
        // Tracked, so a shutdown hangs the call up and waits for its events.
        let call = self.shared.tracker.spawn(async move {
            match outbound::dial(&shared, request, CancellationToken::new()).await {
                Ok(leg) => {
                    let call_sid = leg.call_sid.clone();
                    let end =
                        leg::run_behaviour(&shared, leg, &media, source.as_deref(), hang_up_after)
                            .await;
                    (call_sid, end, true)
                }
                Err(not) => (not.call_sid, not.end, false),
            }
        });
        let (call_sid, end, answered) = call.await?;
        Ok(PlacedCall {
            call_sid,
            answered,
            status: end.status,
            sip_code: end.sip_code,
            reason: end.reason,
        })
    }

    /// Sends BYEs outside the dialog layer, from recorded dialogs (restart recovery).
    pub fn byes(&self) -> bye::ByeSender {
        bye::ByeSender {
            endpoint: self.shared.dialogs.endpoint.clone(),
        }
    }

    /// The Calls API's port: places calls through this engine and finds the live ones.
    pub fn calls(&self) -> Arc<dyn crate::voice::calls::CallService> {
        Arc::new(crate::voice::placed::Placer {
            shared: self.shared.clone(),
        })
    }

    /// How many calls a REST request can reach now (inbound and placed).
    pub fn live_calls(&self) -> usize {
        self.shared.live.len()
    }

    /// Hangs up every call (BYE, or 503 to one still ringing), waits for their events to
    /// be appended (bounded), then closes the SIP socket.
    pub async fn stop(self) {
        self.calls_stop.cancel();
        self.tracker.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.tracker.wait())
            .await
            .is_err()
        {
            warn!("calls did not finish within the drain timeout; stopping anyway");
        }
        self.endpoint_stop.cancel();
        let _ = self.task.await;
    }
}

/// What [`SipEngine::place`] reports.
#[derive(Debug, Clone)]
pub struct PlacedCall {
    /// The call's stream.
    pub call_sid: Sid,
    /// Whether the callee answered.
    pub answered: bool,
    /// How it ended.
    pub status: switchboard_events::call::CallEndStatus,
    /// The SIP status that ended it.
    pub sip_code: u16,
    /// Why, in a few words.
    pub reason: String,
}

/// The media behaviour a placed call runs (`switchboard call --media`), with its file.
fn media_behaviour(behaviour: &CallBehaviour) -> anyhow::Result<(MediaBehaviour, Option<String>)> {
    Ok(match behaviour {
        CallBehaviour::Echo => (MediaBehaviour::Echo, None),
        CallBehaviour::Collect => (MediaBehaviour::Collect, None),
        CallBehaviour::Play(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the play file {}", path.display()))?;
            let wav = switchboard_telephony::wav::read(&bytes).with_context(|| {
                format!("the play file {} is not a telephony WAV", path.display())
            })?;
            (
                MediaBehaviour::Play(Arc::new(wav)),
                Some(path.display().to_string()),
            )
        }
    })
}

/// The transaction loop: routes each new server transaction.
async fn accept_transactions(shared: Arc<Shared>, mut incoming: TransactionReceiver) {
    while let Some(tx) = incoming.recv().await {
        let has_to_tag = tx
            .original
            .to_header()
            .ok()
            .and_then(|to| to.tag().ok().flatten())
            .is_some();
        let task_shared = shared.clone();
        // Every transaction runs on a task of its own: a dialog's `handle` waits for ACKs
        // and for the call task's answer to an INFO, and must not stall the loop. Tracked,
        // so a shutdown waits for calls to record their end.
        shared.tracker.spawn(async move {
            let shared = task_shared;
            if has_to_tag {
                in_dialog(&shared, tx).await;
            } else {
                out_of_dialog(shared, tx).await;
            }
        });
    }
}

async fn in_dialog(shared: &Shared, mut tx: Transaction) {
    match shared.dialogs.match_dialog(&tx) {
        Some(rsipstack::dialog::dialog::Dialog::Invite(mut dialog)) => {
            if let Err(e) = dialog.handle(&mut tx).await {
                debug!(cause = %e, method = %tx.original.method, "in-dialog request");
            }
        }
        Some(_) => {
            let _ = tx.reply(StatusCode::MethodNotAllowed).await;
        }
        None if tx.original.method == Method::Ack => {}
        None => {
            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
        }
    }
}

async fn out_of_dialog(shared: Arc<Shared>, mut tx: Transaction) {
    match tx.original.method {
        Method::Invite => crate::voice::router::inbound(shared, tx).await,
        Method::Options => {
            let _ = tx
                .reply_with(StatusCode::OK, vec![allow_header()], None)
                .await;
        }
        // An ACK outside a transaction (for a 2xx whose transaction is gone) needs nothing;
        // a stray CANCEL is answered 481 by the endpoint itself.
        Method::Ack | Method::Cancel => {}
        // BYE/INFO without a To-tag cannot belong to a dialog.
        Method::Bye | Method::Info => {
            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
        }
        _ => {
            let _ = tx
                .reply_with(StatusCode::MethodNotAllowed, vec![allow_header()], None)
                .await;
        }
    }
}

fn allow_header() -> Header {
    Header::Allow(rsipstack::sip::headers::Allow::new(ALLOW))
}

/// Receive and send buffer of the SIP UDP socket (bytes; the kernel caps it at
/// `net.core.rmem_max`/`wmem_max`). At 300 calls/s a node receives ~1,000 datagrams a
/// second; the default buffer (~200 KB, about a hundred datagrams) overflowed whenever the
/// process was descheduled for ~100 ms on a busy 2-core machine (`bench router`: the host's
/// UDP receive-buffer errors rose by 100–300 per 6,000 calls), and every datagram lost costs
/// its sender a 500 ms retransmission.
const SIP_SOCKET_BUFFER: usize = 4 << 20;

/// The SIP UDP socket, bound as rsipstack's `UdpConnection::create_connection` binds it
/// (non-blocking, no address reuse), with [`SIP_SOCKET_BUFFER`] buffers.
fn bind_udp(listen: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if listen.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    // A smaller buffer than asked for still works, only with less slack.
    let _ = socket.set_recv_buffer_size(SIP_SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SIP_SOCKET_BUFFER);
    socket.bind(&listen.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}
