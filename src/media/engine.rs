//! The session's task (see `session.rs`). Not built yet: every command is answered
//! `Stopped`, so a caller written against the interface sees a clear outcome.

use super::session::{MediaCommand, MediaEvent, SessionSummary};
use std::net::SocketAddr;
use switchboard_telephony::sdp::NegotiatedAudio;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Runs the session until `stop` is cancelled or the commands end.
pub(crate) async fn run(
    _socket: UdpSocket,
    _audio: NegotiatedAudio,
    _remote: watch::Receiver<SocketAddr>,
    stop: CancellationToken,
    mut commands: mpsc::UnboundedReceiver<MediaCommand>,
    events: mpsc::UnboundedSender<MediaEvent>,
) -> SessionSummary {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return SessionSummary::default(),
            command = commands.recv() => {
                let id = match command {
                    None => return SessionSummary::default(),
                    Some(MediaCommand::Play { id, .. } | MediaCommand::Silence { id, .. }
                        | MediaCommand::SendDigits { id, .. } | MediaCommand::Collect { id, .. }
                        | MediaCommand::Record { id, .. } | MediaCommand::Relay { id, .. }) => id,
                    Some(MediaCommand::Stop | MediaCommand::StopAll) => continue,
                };
                tracing::warn!(id, "media session engine not built yet: command stopped");
                let _ = events.send(MediaEvent::Stopped { id });
            }
        }
    }
}
