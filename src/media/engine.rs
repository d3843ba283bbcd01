//! The session's task (the handle and the command/event types are in `session.rs`): one
//! loop that owns the leg's socket and runs one [`Job`] at a time from a queue.
//!
//! The loop waits on six things, in this priority: the session's stop, a moved remote
//! address, a datagram, a command, the 20 ms pacer (only while a job runs), and the relay
//! partner's frames. Each wake is handled with the whole state at hand, so a key press seen
//! on the socket reaches the running Gather before the pacer's next tick: barge-in stops a
//! prompt within one packet.
//!
//! Every command gets exactly one terminal event (see [`MediaEvent`]), including those still
//! queued when the session stops, so a controller waiting on an id is never left hanging.
//! A send error (peer's port closed, ICMP) does not end anything: the signalling decides.

use super::jobs::Job;
use super::relay::{FrameKind, RelayFrame};
use super::session::{MediaCommand, MediaEvent, SessionSummary};
use super::stream::OutStream;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switchboard_telephony::rtp::{DtmfDetector, RtpPacket};
use switchboard_telephony::sdp::NegotiatedAudio;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Largest datagram read; anything longer is truncated by the kernel and then ignored.
const MAX_DATAGRAM: usize = 2048;
/// RTP packet interval.
pub(crate) const PTIME: Duration = Duration::from_millis(20);

/// Why the loop woke.
enum Wake {
    Stop,
    Remote(SocketAddr),
    RemoteGone,
    Command(Option<MediaCommand>),
    Tick,
    Datagram(usize, SocketAddr),
    Relay(Option<RelayFrame>),
    Nothing,
}

/// The session's state (see the module doc).
pub(crate) struct Engine {
    socket: UdpSocket,
    audio: NegotiatedAudio,
    remote: SocketAddr,
    detector: Option<DtmfDetector>,
    out: OutStream,
    events: mpsc::UnboundedSender<MediaEvent>,
    queue: VecDeque<MediaCommand>,
    job: Option<Job>,
    ticker: tokio::time::Interval,
    summary: SessionSummary,
}

/// Runs the session until `stop` is cancelled, or `commands` is closed with nothing left.
pub(crate) async fn run(
    socket: UdpSocket,
    audio: NegotiatedAudio,
    mut remote_rx: watch::Receiver<SocketAddr>,
    stop: CancellationToken,
    mut commands: mpsc::UnboundedReceiver<MediaCommand>,
    events: mpsc::UnboundedSender<MediaEvent>,
) -> SessionSummary {
    let mut ticker = tokio::time::interval(PTIME);
    // After a stall the pacer catches up, so the packets' timestamps and the wall clock
    // stay in step over a long file.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut engine = Engine {
        remote: audio.remote,
        detector: audio.telephone_event.map(DtmfDetector::new),
        socket,
        audio,
        out: OutStream::new(Instant::now()),
        events,
        queue: VecDeque::new(),
        job: None,
        ticker,
        summary: SessionSummary::default(),
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut commands_open = true;
    let mut remote_open = true;
    loop {
        let wake = tokio::select! {
            // In this order: a key press already on the socket is handled before the pacer
            // sends another prompt packet (barge-in within one packet).
            biased;
            _ = stop.cancelled() => Wake::Stop,
            changed = remote_rx.changed(), if remote_open => match changed {
                Ok(()) => Wake::Remote(*remote_rx.borrow_and_update()),
                // The leg dropped its sender: the address stays as it is.
                Err(_) => Wake::RemoteGone,
            },
            received = engine.socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => Wake::Datagram(n, from),
                Err(_) => Wake::Nothing,
            },
            command = commands.recv(), if commands_open => Wake::Command(command),
            _ = engine.ticker.tick(), if engine.job.is_some() => Wake::Tick,
            frame = relay_frame(&mut engine.job) => Wake::Relay(frame),
        };
        match wake {
            Wake::Stop => {
                engine.hang_up();
                return engine.summary;
            }
            Wake::Remote(addr) => engine.remote = addr,
            Wake::RemoteGone => remote_open = false,
            Wake::Command(Some(command)) => engine.command(command).await,
            Wake::Command(None) => commands_open = false,
            Wake::Tick => engine.tick().await,
            Wake::Datagram(n, from) => engine.datagram(&buf[..n], from).await,
            Wake::Relay(frame) => engine.relayed(frame).await,
            Wake::Nothing => {}
        }
        if !commands_open && engine.job.is_none() && engine.queue.is_empty() {
            return engine.summary;
        }
    }
}

/// The relay partner's next frame, or never when no relay runs.
async fn relay_frame(job: &mut Option<Job>) -> Option<RelayFrame> {
    match job {
        Some(Job::Relay { port, .. }) => port.from_peer.recv().await,
        _ => std::future::pending().await,
    }
}

impl Engine {
    fn emit(&self, event: MediaEvent) {
        // A controller that stopped listening is going away; the session ends with `stop`.
        let _ = self.events.send(event);
    }

    async fn send(&mut self, packet: &[u8]) {
        // An unspecified address is the old way to put a call on hold.
        if !self.remote.ip().is_unspecified() {
            let _ = self.socket.send_to(packet, self.remote).await;
        }
        self.summary.packets_sent += 1;
    }

    /// Sends one frame of linear audio in the leg's law.
    async fn send_frame(&mut self, frame: &[i16]) {
        let codes = self.audio.law.encode_samples(frame);
        let packet = self
            .out
            .audio(Instant::now(), self.audio.payload_type, &codes);
        self.send(&packet).await;
    }

    async fn command(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Stop => {
                self.stop_current();
                self.start_next().await;
            }
            MediaCommand::StopAll => {
                self.stop_current();
                while let Some(queued) = self.queue.pop_front() {
                    self.stop_queued(queued);
                }
            }
            other => {
                self.queue.push_back(other);
                self.start_next().await;
            }
        }
    }

    /// Starts queued commands until one keeps running (some end at once: empty audio).
    async fn start_next(&mut self) {
        while self.job.is_none() {
            let Some(command) = self.queue.pop_front() else {
                return;
            };
            let now = Instant::now();
            match Job::from_command(command, &self.audio, now) {
                Ok(mut job) => {
                    if let Job::Digits { base, .. } = &mut job {
                        // The events are timed from the talkspurt they start.
                        *base = self.out.begin(now);
                    }
                    self.job = Some(job);
                    // The first packet goes now, not a tick later.
                    self.ticker.reset_immediately();
                }
                Err(event) => self.emit(event),
            }
        }
    }

    /// Ends the running job as stopped.
    fn stop_current(&mut self) {
        if let Some(job) = self.job.take() {
            self.out.end();
            self.emit(job.stopped("stop"));
        }
    }

    fn stop_queued(&self, command: MediaCommand) {
        if let Some(id) = command_id(&command) {
            self.emit(MediaEvent::Stopped { id });
        }
    }

    /// The session stops (hang-up, shutdown): the running job and the queue end.
    fn hang_up(&mut self) {
        if let Some(job) = self.job.take() {
            self.emit(job.stopped("hangup"));
        }
        while let Some(queued) = self.queue.pop_front() {
            self.stop_queued(queued);
        }
    }

    /// Ends the running job with `event` and starts the next.
    async fn finish(&mut self, event: MediaEvent) {
        self.job = None;
        self.out.end();
        self.emit(event);
        self.start_next().await;
    }

    async fn tick(&mut self) {
        let now = Instant::now();
        let Some(job) = self.job.as_mut() else {
            return;
        };
        let step = job.tick(now);
        let base = match job {
            Job::Digits { base, .. } => Some(*base),
            _ => None,
        };
        if let Some(frame) = step.frame {
            self.send_frame(&frame).await;
        }
        if let (Some(pt), Some(base)) = (self.audio.telephone_event, base) {
            for packet in step.events {
                // All packets of one event share its timestamp; the duration field grows.
                let bytes = self.out.packet(
                    pt,
                    packet.marker,
                    base.wrapping_add(packet.timestamp),
                    &packet.event.to_bytes(),
                    0,
                );
                self.send(&bytes).await;
            }
        }
        if step.silent {
            self.out.end();
        }
        if let Some(event) = step.done {
            self.finish(event).await;
        }
    }

    async fn datagram(&mut self, datagram: &[u8], from: SocketAddr) {
        self.summary.packets_received += 1;
        // Symmetric RTP: latch onto where the peer's packets come from.
        self.remote = from;
        let Ok(packet) = RtpPacket::parse(datagram) else {
            return;
        };
        let pt = packet.header.payload_type;
        if let Some(Ok(Some(digit))) = self.detector.as_mut().map(|d| d.on_packet(&packet)) {
            self.emit(MediaEvent::Digit(digit.digit));
            self.digit(digit.digit).await;
        }
        let kind = if pt == self.audio.payload_type {
            FrameKind::Audio(self.audio.law)
        } else if Some(pt) == self.audio.telephone_event {
            FrameKind::Event
        } else {
            return;
        };
        match &mut self.job {
            Some(Job::Record(record)) if kind != FrameKind::Event => {
                if let Some(event) = record.on_audio(self.audio.law, packet.payload, Instant::now())
                {
                    self.finish(event).await;
                }
            }
            Some(Job::Relay { port, .. }) => port.send(RelayFrame {
                kind,
                marker: packet.header.marker,
                timestamp: packet.header.timestamp,
                ssrc: packet.header.ssrc,
                payload: packet.payload.to_vec(),
            }),
            _ => {}
        }
    }

    /// A key press reaches the running job (Gather, Record).
    async fn digit(&mut self, digit: char) {
        let now = Instant::now();
        let done = match &mut self.job {
            Some(Job::Collect(collect)) => {
                let was_prompting = collect.prompting();
                let done = collect.on_digit(digit, now);
                if was_prompting {
                    // Barge-in: the prompt stops here; the next packet starts a new talkspurt.
                    self.out.end();
                }
                done
            }
            Some(Job::Record(record)) => record.on_digit(digit),
            _ => None,
        };
        if let Some(event) = done {
            self.finish(event).await;
        }
    }

    /// A frame from the relay partner, or the partner gone (`None`).
    async fn relayed(&mut self, frame: Option<RelayFrame>) {
        let Some(Job::Relay { id, retimer, .. }) = &mut self.job else {
            return;
        };
        let Some(frame) = frame else {
            let id = *id;
            self.finish(MediaEvent::RelayEnded { id }).await;
            return;
        };
        let (pt, payload, advance) = match frame.kind {
            FrameKind::Audio(law) => {
                let payload = super::relay::transcode(law, &frame.payload, self.audio.law);
                let advance = payload.len() as u32;
                (self.audio.payload_type, payload, advance)
            }
            FrameKind::Event => match self.audio.telephone_event {
                Some(pt) => (pt, frame.payload.clone(), 0),
                // This leg has no telephone-event: the key cannot be passed on as one.
                None => return,
            },
        };
        let (timestamp, anchored) = retimer.map(&frame, self.out.next_timestamp());
        let packet = self
            .out
            .packet(pt, frame.marker || anchored, timestamp, &payload, advance);
        self.send(&packet).await;
    }
}

/// The id a command reports under (Stop and StopAll have none).
pub(crate) fn command_id(command: &MediaCommand) -> Option<u64> {
    match command {
        MediaCommand::Play { id, .. }
        | MediaCommand::Silence { id, .. }
        | MediaCommand::SendDigits { id, .. }
        | MediaCommand::Collect { id, .. }
        | MediaCommand::Record { id, .. }
        | MediaCommand::Relay { id, .. } => Some(*id),
        MediaCommand::Stop | MediaCommand::StopAll => None,
    }
}
