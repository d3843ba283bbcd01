//! A call once answered, whichever side placed it: its dialog, its RTP slot, what was
//! negotiated, and the in-dialog requests every answered call handles the same way.
//!
//! An inbound call (`call.rs`, we are the UAS) and an outbound one (`outbound.rs`, we are the
//! UAC) both become a [`Leg`] at the answer. From there a leg runs a behaviour
//! ([`run_behaviour`]: echo, play, collect) or is bridged to another leg (`bridge.rs`).
//!
//! In-dialog requests, the same for both roles:
//! - BYE from the peer ends the leg (`call.completed`, hung up by the remote party);
//! - INFO with `application/dtmf-relay` or `application/dtmf` is one `dtmf.received`;
//! - a re-INVITE or UPDATE with an SDP offer is answered from the same RTP port, keeping the
//!   codec in use (488 when the new offer drops it); the media task sends to the new address
//!   from then on. One without an offer gets our current SDP as the offer in the 200;
//! - OPTIONS → 200; REFER, MESSAGE, NOTIFY, PUBLISH → 405.

use super::media::{self, MediaBehaviour};
use super::ports::CallSlot;
use super::Shared;
use crate::app::call_controller::CallController;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver, TerminatedReason};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::headers::ContentType;
use rsipstack::sip::uri::ParamsExt;
use rsipstack::sip::{Header, Request, StatusCode};
use rsipstack::sip::{HeadersExt, ToTypedHeader};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switchboard_events::call::{
    CallAnswered, CallCommand, CallCompleted, CallDialog, CallEndStatus, DialogRole, DtmfMethod,
    DtmfReceived, HungUpBy, MediaPlayed,
};
use switchboard_events::Sid;
use switchboard_telephony::sdp::{self, LocalMedia, NegotiatedAudio, SessionDescription};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

/// At shutdown, how long a BYE may wait for its 200.
const SHUTDOWN_BYE_WAIT: Duration = Duration::from_secs(2);

/// How a call ended.
#[derive(Debug, Clone)]
pub(crate) struct End {
    pub status: CallEndStatus,
    pub sip_code: u16,
    pub hung_up_by: HungUpBy,
    pub reason: String,
}

impl End {
    pub fn new(status: CallEndStatus, sip_code: u16, hung_up_by: HungUpBy, reason: &str) -> End {
        End {
            status,
            sip_code,
            hung_up_by,
            reason: reason.to_string(),
        }
    }

    /// A leg we end with a BYE.
    pub fn local(reason: &str) -> End {
        End::new(CallEndStatus::Completed, 200, HungUpBy::Local, reason)
    }
}

impl CallController {
    /// Records a fact the engine observed. A refusal means the engine's own bookkeeping
    /// went wrong (a fact reported twice, out of order): it is logged, and the call goes on.
    pub(crate) fn observe(&self, command: CallCommand) {
        let name = command.name();
        if let Err(e) = self.execute(command) {
            warn!(call_sid = %self.call_sid(), command = name, cause = %e, "call fact refused");
        }
    }

    /// Records `call.completed` for `end`, with the duration since `answered_at`.
    pub(crate) fn completed(&self, end: End, answered_at: Option<Instant>) {
        debug!(status = ?end.status, sip_code = end.sip_code, reason = %end.reason, "call ended");
        self.observe(CallCommand::Complete(CallCompleted {
            status: end.status,
            sip_code: end.sip_code,
            hung_up_by: end.hung_up_by,
            duration_ms: answered_at
                .map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0),
            reason: end.reason,
        }));
    }

    /// Records one key press.
    pub(crate) fn digit(&self, digit: char, method: DtmfMethod) {
        self.observe(CallCommand::RecordDigit(DtmfReceived {
            digit: digit.to_string(),
            method,
        }));
    }
}

/// Our role in the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// We answered (inbound call).
    Uas,
    /// We called (outbound call).
    Uac,
}

/// An answered call (see the module doc).
pub(crate) struct Leg {
    pub call_sid: Sid,
    pub controller: CallController,
    pub dialog: InviteDialog,
    pub states: DialogStateReceiver,
    pub slot: CallSlot,
    pub local: LocalMedia,
    pub audio: NegotiatedAudio,
    pub answered_at: Instant,
    pub role: Role,
    /// Where the media task sends; moved by a re-INVITE.
    pub remote_rtp: watch::Sender<SocketAddr>,
}

/// A call at the moment of its answer, before it becomes a [`Leg`].
pub(crate) struct Answered {
    pub call_sid: Sid,
    pub controller: CallController,
    pub dialog: InviteDialog,
    pub states: DialogStateReceiver,
    pub slot: CallSlot,
    pub local: LocalMedia,
    pub audio: NegotiatedAudio,
}

impl Answered {
    /// Records `call.answered` and starts the leg's clock.
    pub fn into_leg(self, role: Role) -> Leg {
        let Answered {
            call_sid,
            controller,
            dialog,
            states,
            slot,
            local,
            audio,
        } = self;
        controller.observe(CallCommand::Answer(CallAnswered {
            codec: audio.law.encoding_name().to_string(),
            telephone_event: audio.telephone_event,
            local_rtp: SocketAddr::new(local.address, local.rtp_port).to_string(),
            remote_rtp: audio.remote.to_string(),
        }));
        let (remote_rtp, _) = watch::channel(audio.remote);
        Leg {
            call_sid,
            controller,
            dialog,
            states,
            slot,
            local,
            audio,
            answered_at: Instant::now(),
            role,
            remote_rtp,
        }
    }
}

impl Leg {
    /// Records `call.dialog.recorded`: what a BYE needs once this process is gone (the
    /// restart's recovery, `src/voice/recovery.rs`, sends it). Called once the dialog is
    /// confirmed (the ACK arrived, or we sent it); the decider refuses it before the answer.
    pub fn record_dialog(&self) {
        match dialog_of(&self.dialog, self.role) {
            Ok(dialog) => self.controller.observe(CallCommand::RecordDialog(dialog)),
            // The call goes on; only a restart's BYE is lost (the README says when).
            Err(why) => warn!(call_sid = %self.call_sid, %why, "dialog not recorded"),
        }
    }

    /// The RTP socket and the receiving end of the remote address, for a media task (once).
    pub fn media_socket(&mut self) -> Option<(tokio::net::UdpSocket, watch::Receiver<SocketAddr>)> {
        let socket = self.slot.take_socket()?;
        Some((socket, self.remote_rtp.subscribe()))
    }

    /// Handles one dialog state; returns the end when the dialog is over.
    pub async fn on_state(&mut self, state: Option<DialogState>) -> Option<End> {
        match state {
            Some(DialogState::Terminated(_, reason)) => Some(self.termination(&reason)),
            Some(DialogState::Info(_, request, handle)) => {
                if let Some(digit) = super::call::info_digit(&request) {
                    self.controller.digit(digit, DtmfMethod::SipInfo);
                }
                let _ = handle.reply(StatusCode::OK).await;
                None
            }
            Some(DialogState::Options(_, _, handle)) => {
                let _ = handle.reply(StatusCode::OK).await;
                None
            }
            Some(DialogState::Updated(_, request, handle)) => {
                let (code, body) = self.renegotiate(&request);
                let headers = body
                    .as_ref()
                    .map(|_| vec![Header::ContentType(ContentType::new("application/sdp"))]);
                let _ = handle.respond(code, headers, body).await;
                None
            }
            Some(DialogState::Refer(_, _, handle))
            | Some(DialogState::Message(_, _, handle))
            | Some(DialogState::Notify(_, _, handle))
            | Some(DialogState::Publish(_, _, handle)) => {
                let _ = handle.reply(StatusCode::MethodNotAllowed).await;
                None
            }
            Some(_) => None,
            None => Some(End::new(
                CallEndStatus::Failed,
                500,
                HungUpBy::Local,
                "dialog closed",
            )),
        }
    }

    /// The answer to a re-INVITE or UPDATE: 200 with our SDP, or 488.
    fn renegotiate(&mut self, request: &Request) -> (StatusCode, Option<Vec<u8>>) {
        self.local.session_version += 1;
        if request.body.is_empty() {
            // No offer: ours goes in the 200 (RFC 3261 §14.2), the codec in use first.
            let offer = sdp::Offer::new(&self.local, &[self.audio.law], self.audio.telephone_event);
            return (StatusCode::OK, Some(offer.sdp.into_bytes()));
        }
        let parsed = std::str::from_utf8(&request.body)
            .map_err(|_| "the SDP body is not UTF-8".to_string())
            .and_then(|text| SessionDescription::parse(text).map_err(|e| e.to_string()));
        let answer = parsed.and_then(|offer| {
            sdp::answer_with(&offer, &self.local, &[self.audio.law]).map_err(|e| e.to_string())
        });
        match answer {
            Ok(answer) => {
                debug!(call_sid = %self.call_sid, remote = %answer.audio.remote, "media renegotiated");
                self.audio = answer.audio;
                let _ = self.remote_rtp.send(answer.audio.remote);
                (StatusCode::OK, Some(answer.sdp.into_bytes()))
            }
            Err(why) => {
                debug!(call_sid = %self.call_sid, %why, "re-offer refused with 488");
                (StatusCode::NotAcceptableHere, None)
            }
        }
    }

    /// The end a termination means, for our role.
    fn termination(&self, reason: &TerminatedReason) -> End {
        let remote_bye = match self.role {
            Role::Uas => matches!(reason, TerminatedReason::UacBye),
            Role::Uac => matches!(reason, TerminatedReason::UasBye),
        };
        let local_bye = match self.role {
            Role::Uas => matches!(reason, TerminatedReason::UasBye),
            Role::Uac => matches!(reason, TerminatedReason::UacBye),
        };
        if remote_bye {
            End::new(
                CallEndStatus::Completed,
                200,
                HungUpBy::Remote,
                "remote party hung up",
            )
        } else if local_bye {
            End::local("we hung up")
        } else if matches!(reason, TerminatedReason::Timeout) {
            End::new(
                CallEndStatus::Failed,
                408,
                HungUpBy::Local,
                "no ACK for the 200 OK",
            )
        } else {
            End::new(
                CallEndStatus::Failed,
                500,
                HungUpBy::Local,
                &format!("terminated: {reason:?}"),
            )
        }
    }

    /// Records the end, frees the slot, and sends our BYE when `bye` (bounded at shutdown).
    pub async fn finish(self, shared: &Shared, end: End, bye: bool) {
        let Leg {
            call_sid,
            controller,
            dialog,
            slot,
            answered_at,
            ..
        } = self;
        controller.completed(end, Some(answered_at));
        drop(slot);
        if bye {
            // The BYE transaction retransmits until answered or timer F (32 s); a peer that
            // never answers must not hold a shutdown that long.
            let sent = dialog.bye();
            tokio::pin!(sent);
            tokio::select! {
                result = &mut sent => {
                    if let Err(e) = result {
                        debug!(call_sid = %call_sid, cause = %e, "BYE failed");
                    }
                }
                _ = async {
                    shared.shutdown.cancelled().await;
                    tokio::time::sleep(SHUTDOWN_BYE_WAIT).await;
                } => debug!(call_sid = %call_sid, "no answer to our BYE before shutdown"),
            }
        }
        shared.dialogs.remove_dialog(&dialog.id());
    }
}

/// What a BYE for `dialog` needs, from rsipstack's view of it (RFC 3261 §12.1: the tags,
/// the remote target, the route set, our CSeq).
fn dialog_of(dialog: &InviteDialog, role: Role) -> Result<CallDialog, String> {
    let snapshot = dialog.snapshot();
    let id = snapshot.id;
    if id.local_tag.is_empty() || id.remote_tag.is_empty() {
        return Err(format!("the dialog {id} lacks a tag"));
    }
    // rsipstack keeps the INVITE's From and To as they were sent: ours is the From as UAC,
    // the To as UAS.
    let (local_uri, remote_uri) = match role {
        Role::Uac => (snapshot.from.uri.to_string(), snapshot.to.uri.to_string()),
        Role::Uas => (snapshot.to.uri.to_string(), snapshot.from.uri.to_string()),
    };
    // The remote target: the peer's Contact (rsipstack moves `remote_uri` to it, from the
    // INVITE as UAS and from the 2xx as UAC).
    let target = snapshot.remote_uri;
    let initial = dialog.initial_request();
    let via_transport = initial
        .via_header()
        .ok()
        .and_then(|via| via.typed().ok())
        .map(|via| via.transport);
    let transport = target
        .transport()
        .cloned()
        .or(match role {
            // The INVITE's own Via says how the peer reached us.
            Role::Uas => via_transport,
            Role::Uac => None,
        })
        .unwrap_or_default();
    let transport = if transport == rsipstack::sip::Transport::Tcp {
        "tcp"
    } else {
        "udp"
    };
    let port = target.host_with_port.port.map(u16::from).unwrap_or(5060);
    let destination = match &target.host_with_port.host {
        rsipstack::sip::Host::IpAddr(ip) => SocketAddr::new(*ip, port).to_string(),
        rsipstack::sip::Host::Domain(domain) => format!("{domain}:{port}"),
    };
    Ok(CallDialog {
        role: match role {
            Role::Uas => DialogRole::Uas,
            Role::Uac => DialogRole::Uac,
        },
        call_id: id.call_id,
        local_tag: id.local_tag,
        remote_tag: id.remote_tag,
        local_uri,
        remote_uri,
        remote_target: target.to_string(),
        route_set: snapshot
            .route_set
            .iter()
            .map(|route| route.value().to_string())
            .collect(),
        local_cseq: snapshot.local_cseq,
        transport: transport.to_string(),
        destination,
    })
}

/// Runs `behaviour` on an answered leg until it ends: the peer hangs up, the playback is
/// over (then we hang up), `hang_up_after` passes, or the node shuts down.
pub(crate) async fn run_behaviour(
    shared: &Shared,
    mut leg: Leg,
    behaviour: &MediaBehaviour,
    source: Option<&str>,
    hang_up_after: Option<Duration>,
) -> End {
    let media_stop = tokio_util::sync::CancellationToken::new();
    let (digit_tx, mut digits) = mpsc::unbounded_channel::<char>();
    let mut media_task = leg.media_socket().map(|(socket, remote)| {
        tokio::spawn(media::run(
            socket,
            leg.audio,
            behaviour.clone(),
            digit_tx,
            remote,
            media_stop.clone(),
        ))
    });
    let playing = matches!(behaviour, MediaBehaviour::Play(_));
    let observe_played = |controller: &CallController, outcome: media::MediaOutcome| {
        if playing {
            controller.observe(CallCommand::RecordPlayed(MediaPlayed {
                source: source.unwrap_or_default().to_string(),
                packets: outcome.played_packets,
                duration_ms: outcome.played_packets * 20,
                completed: outcome.finished_playing,
            }));
        }
    };
    let limit = async {
        match hang_up_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(limit);

    let (end, bye) = loop {
        tokio::select! {
            state = leg.states.recv() => {
                if let Some(end) = leg.on_state(state).await {
                    break (end, false);
                }
            }
            Some(digit) = digits.recv() => leg.controller.digit(digit, DtmfMethod::Rfc4733),
            outcome = async {
                match media_task.as_mut() {
                    Some(task) => task.await.ok(),
                    None => std::future::pending().await,
                }
            } => {
                media_task = None;
                if let Some(outcome) = outcome {
                    observe_played(&leg.controller, outcome);
                }
                break (End::local("playback finished"), true);
            }
            _ = &mut limit => break (End::local("call length reached"), true),
            _ = shared.shutdown.cancelled() => break (End::local("server shutting down"), true),
        }
    };
    media_stop.cancel();
    if let Some(task) = media_task.take() {
        if let Ok(outcome) = task.await {
            observe_played(&leg.controller, outcome);
        }
    }
    // Digits detected just before the end are still recorded.
    while let Ok(digit) = digits.try_recv() {
        leg.controller.digit(digit, DtmfMethod::Rfc4733);
    }
    leg.finish(shared, end.clone(), bye).await;
    end
}
