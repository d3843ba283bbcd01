//! One inbound call's program, from the first fetch to the end: the call router's loop.
//!
//! ```text
//!   INVITE routed (router.rs) ─▶ 180 ─▶ fetch VoiceUrl (CallStatus=ringing) ──fail──▶ VoiceFallbackUrl (+ErrorCode, ErrorUrl)
//!                                        │ TwiML                                       │ fail: answer, "an application error has occurred", BYE
//!                                        ▼                                             ▼
//!              ┌──────────── twiml::step(program, cursor, input) ─▶ action ◀───────────┘
//!              │  Reject ─▶ 486 / 603 (never answered)      Wait ─▶ sleep (before the answer: delays it)
//!              │  Answer ─▶ 200 + SDP, the media session starts on the leg's RTP socket
//!              │  Say / Play / SendDigits / Gather ─▶ resolver ─▶ media session ─▶ Played / Collected
//!              │  Fetch (Redirect, Gather action) ─▶ fetcher ─▶ a new program (errors: notification + fallback)
//!              │  Hangup / End ─▶ BYE                       Dial ─▶ a bridge to a <Sip> URI
//!              └─ input (Answered, Done, Gathered, NoInput) ◀┘
//!   every wait also watches the dialog: the caller's CANCEL or BYE ends the call at once
//! ```
//!
//! The call's facts go through its [`CallController`], the stream's only writer; every error
//! the application causes is a `call.notification.raised` with Twilio's code, which the
//! notifications read model lists under the call.
//!
//! The invariant: every path out of [`run`] ends the call on the wire (a final response, or a
//! BYE unless the caller's own BYE or CANCEL ended it) and records exactly one
//! `call.completed`.

mod documents;

use super::fetch::CookieJar;
use super::numbers::VoiceRoute;
use super::Voice;
use crate::app::call_controller::CallController;
use crate::media::resolver::MediaSource;
use crate::media::session::{self, CollectRules, MediaCommand, MediaEvent, MediaSession, Prompt};
use crate::sip::leg::{Answered, End, Leg, Role};
use crate::sip::ports::CallSlot;
use crate::sip::Shared;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::headers::ContentType;
use rsipstack::sip::{Header, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::call::{
    CallCommand, CallEndStatus, CallRequest, DtmfMethod, DtmfReceived, HttpMethod, HungUpBy,
    MediaPlayed, NotificationLevel,
};
use switchboard_events::twiml::{self, Action, Cursor, Input, Method, Program, RejectReason};
use switchboard_telephony::sdp::{LocalMedia, NegotiatedAudio};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// The call before its answer: what answering needs.
pub(crate) struct Early {
    pub dialog: InviteDialog,
    pub states: DialogStateReceiver,
    pub slot: CallSlot,
    pub local: LocalMedia,
    pub audio: NegotiatedAudio,
    pub sdp: String,
}

/// Where the call is.
enum Phase {
    Early(Early),
    Live { leg: Leg, session: MediaSession },
}

/// A document being executed.
struct Document_ {
    program: Program,
    /// The URL it came from: the base of relative URLs (`None` for inline TwiML).
    url: Option<String>,
    /// An audio answer instead of TwiML: played, then the call hangs up.
    audio: Option<crate::media::audio::Audio>,
}

/// Why the current document stops, as seen from the loop.
pub(crate) enum Over {
    /// The end is known and the call is done on the wire except for what `finish` does.
    End { end: End, bye: bool },
    /// The REST API redirected the live call (`Url` or `Twiml`): the current verb is cut
    /// short and the new document runs.
    Redirect(CallRequest),
}

/// The running call.
struct Flow<'a> {
    shared: &'a Arc<Shared>,
    voice: &'a Voice,
    controller: CallController,
    route: VoiceRoute,
    jar: CookieJar,
    phase: Option<Phase>,
    next_id: u64,
    /// The Play running now (its command id and what it plays): a call that ends during it
    /// still records how much was played (`media.played`, not completed).
    playing: Option<(u64, String)>,
    /// Documents fetched so far (bounded by `MAX_DOCUMENTS`: a Redirect loop ends).
    fetched: usize,
    /// What the REST API asks of the call (`POST /Calls/{CA}`), accepted by its controller.
    requests: mpsc::UnboundedReceiver<CallRequest>,
    /// When the call must end (`TimeLimit` of a placed call); `None`: no limit.
    deadline: Option<tokio::time::Instant>,
}

/// Runs an inbound call (see the module doc).
pub(crate) async fn run(
    shared: &Arc<Shared>,
    voice: &Voice,
    controller: CallController,
    route: VoiceRoute,
    early: Early,
) {
    // The router started this controller: nobody else owns its requests.
    let requests = controller
        .requests()
        .unwrap_or_else(|| mpsc::unbounded_channel().1);
    let mut flow = Flow::new(shared, voice, controller, route, requests);
    flow.phase = Some(Phase::Early(early));
    let over = flow.execute(First::Url).await;
    flow.finish(over).await;
}

/// What a call switchboard placed (`POST /Calls`) runs once the callee answered.
pub(crate) struct Placed {
    /// The answered leg.
    pub leg: Leg,
    /// The call's REST requests (the placing task took them from the controller).
    pub requests: mpsc::UnboundedReceiver<CallRequest>,
    /// `Twiml`: run instead of fetching the route's `voice_url`.
    pub twiml: Option<String>,
    /// `SendDigits`: sent before the first document is fetched.
    pub send_digits: Option<String>,
    /// `TimeLimit`: the call is hung up when it has lasted this long.
    pub time_limit: Duration,
}

/// Runs an answered call switchboard placed: its first document is requested with
/// `CallStatus=in-progress` (Twilio requests `Url` when the call connects).
pub(crate) async fn run_placed(
    shared: &Arc<Shared>,
    voice: &Voice,
    controller: CallController,
    route: VoiceRoute,
    placed: Placed,
) {
    let Placed {
        mut leg,
        requests,
        twiml,
        send_digits,
        time_limit,
    } = placed;
    let mut flow = Flow::new(shared, voice, controller, route, requests);
    flow.deadline = Some(tokio::time::Instant::now() + time_limit);
    let Some((socket, remote)) = leg.media_socket() else {
        let end = End::new(
            CallEndStatus::Completed,
            200,
            HungUpBy::Local,
            "no RTP socket",
        );
        leg.finish(shared, end, true).await;
        return;
    };
    let session = session::start(socket, leg.audio, remote, shared.shutdown.child_token());
    flow.phase = Some(Phase::Live { leg, session });
    let over = match send_digits {
        Some(digits) if !digits.is_empty() => flow.send_digits(digits).await.err(),
        _ => None,
    };
    let over = match over {
        Some(over) => over,
        None => {
            let first = match twiml {
                Some(twiml) => First::Inline(twiml),
                None => First::Url,
            };
            flow.execute(first).await
        }
    };
    flow.finish(over).await;
}

/// The first document of a call.
enum First {
    /// The route's `voice_url`.
    Url,
    /// Inline TwiML (`Twiml` of `POST /Calls`).
    Inline(String),
}

/// What the loop does after an action.
enum Next {
    /// Step the program with this input.
    Input(Input),
    /// Run this document from its start.
    Document(Document_),
    /// No document could be had (and no fallback): the caller hears the application error.
    Failed,
}

impl Next {
    fn document(doc: Option<Document_>) -> Next {
        match doc {
            Some(doc) => Next::Document(doc),
            None => Next::Failed,
        }
    }
}

impl<'a> Flow<'a> {
    fn new(
        shared: &'a Arc<Shared>,
        voice: &'a Voice,
        controller: CallController,
        route: VoiceRoute,
        requests: mpsc::UnboundedReceiver<CallRequest>,
    ) -> Flow<'a> {
        Flow {
            requests,
            shared,
            voice,
            controller,
            route,
            jar: CookieJar::default(),
            phase: None,
            next_id: 0,
            playing: None,
            fetched: 0,
            deadline: None,
        }
    }
}

impl Flow<'_> {
    async fn execute(&mut self, first: First) -> Over {
        let first = match first {
            First::Inline(twiml) => self.inline(twiml).await,
            First::Url => match self.route.voice_url.clone() {
                Some(url) => {
                    let method = method(&self.route.voice_method);
                    self.document(&url, method, Vec::new())
                        .await
                        .map(Next::document)
                }
                None => {
                    return self
                        .application_error(21_205, "the number has no VoiceUrl".into(), None)
                        .await
                }
            },
        };
        let mut document = match self.redirected(first).await {
            Ok(Next::Document(doc)) => doc,
            Ok(_) => return self.application_error_played().await,
            Err(over) => return over,
        };
        let mut cursor = Cursor::START;
        let mut input = Input::Begin;
        loop {
            if let Some(audio) = document.audio.take() {
                return self.play_audio_answer(audio).await;
            }
            let answered = matches!(self.phase, Some(Phase::Live { .. }));
            let ctx = twiml::Context {
                document_url: document.url.as_deref(),
                answered,
            };
            let step = twiml::step(&document.program, cursor, input, &ctx);
            debug!(call_sid = %self.controller.call_sid(), action = ?step.action, "twiml step");
            cursor = step.next;
            let next = self.act(step.action, document.url.clone()).await;
            input = match self.redirected(next).await {
                Ok(Next::Input(input)) => input,
                Ok(Next::Document(next)) => {
                    document = next;
                    cursor = Cursor::START;
                    Input::Begin
                }
                Ok(Next::Failed) => return self.application_error_played().await,
                Err(over) => return over,
            };
        }
    }

    /// Carries out one action of the program (`url`: the document's, for errors).
    async fn act(&mut self, action: Action, url: Option<String>) -> Result<Next, Over> {
        let input = match action {
            Action::Answer => self.answer().await.map(|()| Input::Answered),
            Action::Reject { reason } => Err(self.reject(reason).await),
            Action::Wait { ms } => self.wait(ms).await.map(|()| Input::Done),
            Action::Say { say } => {
                let source = MediaSource::Say {
                    text: say.text.clone(),
                    voice: say.voice.clone(),
                    language: say.language.clone(),
                };
                self.play(source, say.loops, "say")
                    .await
                    .map(|()| Input::Done)
            }
            Action::Play { url, loops } => self
                .play(MediaSource::Play { url: url.clone() }, loops, &url)
                .await
                .map(|()| Input::Done),
            Action::SendDigits { digits } => self.send_digits(digits).await.map(|()| Input::Done),
            Action::Gather { gather } => self.gather(&gather).await,
            Action::Fetch {
                url,
                method,
                params,
            } => {
                return self
                    .document(&url, method, params)
                    .await
                    .map(Next::document)
            }
            Action::Dial { dial } => self.dial(&dial).await,
            Action::Hangup | Action::End => Err(Over::End {
                end: End::local("the application hung up"),
                bye: true,
            }),
            Action::Error { code, message } => {
                self.notify(NotificationLevel::Error, code, message.clone(), None);
                return self.fallback(code, url).await.map(Next::document);
            }
        };
        input.map(Next::Input)
    }

    /// `next`, or — when the REST API redirected the call meanwhile — the redirect's
    /// document (the newest one when redirects come while one is fetched).
    async fn redirected(&mut self, mut next: Result<Next, Over>) -> Result<Next, Over> {
        loop {
            let request = match next {
                Err(Over::Redirect(request)) => request,
                other => return other,
            };
            self.stop_media().await;
            next = match request {
                CallRequest::Redirect { url, method } => self
                    .document(&url, twiml_method(method), Vec::new())
                    .await
                    .map(Next::document),
                CallRequest::RedirectTwiml { twiml } => self.inline(twiml).await,
                // Only redirects become `Over::Redirect` (see `on_request`).
                CallRequest::Cancel | CallRequest::Hangup => return Err(hung_up_by_api()),
            };
        }
    }

    /// Inline TwiML (`Twiml` of `POST /Calls` or of an update): parsed as a fetched document
    /// would be; an error is a notification, then the fallback URL.
    async fn inline(&mut self, twiml: String) -> Result<Next, Over> {
        match twiml::parse(&twiml) {
            Ok(parsed) => Ok(Next::Document(self.accept(parsed, None))),
            Err(e) => {
                self.notify(NotificationLevel::Error, e.code, e.message.clone(), None);
                self.fallback(e.code, None).await.map(Next::document)
            }
        }
    }

    /// What a REST request does to the verb running now: a redirect cuts it short; a hang-up
    /// or cancel ends the call (before the answer with `487`, the call `canceled`).
    fn on_request(&mut self, request: CallRequest) -> Over {
        match request {
            CallRequest::Redirect { .. } | CallRequest::RedirectTwiml { .. } => {
                Over::Redirect(request)
            }
            CallRequest::Cancel | CallRequest::Hangup => match self.phase.as_ref() {
                Some(Phase::Early(early)) => {
                    let _ = early
                        .dialog
                        .reject(Some(StatusCode::RequestTerminated), None);
                    Over::End {
                        end: End::new(
                            CallEndStatus::Canceled,
                            487,
                            HungUpBy::Local,
                            "canceled through the REST API",
                        ),
                        bye: false,
                    }
                }
                _ => hung_up_by_api(),
            },
        }
    }

    /// Stops what the media session is doing (a redirect cut it short), recording how much
    /// of an interrupted `<Play>` went out.
    async fn stop_media(&mut self) {
        let Some(Phase::Live { session, .. }) = self.phase.as_mut() else {
            return;
        };
        let _ = session.commands.send(MediaCommand::StopAll);
        let Some((id, source)) = self.playing.take() else {
            return;
        };
        // Bounded: the session answers a StopAll at once.
        let played = tokio::time::timeout(Duration::from_millis(500), async {
            while let Some(event) = session.events.recv().await {
                if let MediaEvent::Played {
                    id: done, packets, ..
                } = event
                {
                    if done == id {
                        return Some(packets);
                    }
                }
            }
            None
        })
        .await;
        if let Ok(Some(packets)) = played {
            self.controller
                .observe(CallCommand::RecordPlayed(MediaPlayed {
                    source,
                    packets,
                    duration_ms: packets * 20,
                    completed: false,
                }));
        }
    }
}

/// The REST API hung the call up (`Status=completed`).
fn hung_up_by_api() -> Over {
    Over::End {
        end: End::local("hung up through the REST API"),
        bye: true,
    }
}

/// The call's `TimeLimit` passed.
fn time_limit_reached() -> Over {
    Over::End {
        end: End::local("the call's TimeLimit was reached"),
        bye: true,
    }
}

/// The event's method as the program spells it.
fn twiml_method(method: HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::Get,
        HttpMethod::Post => Method::Post,
    }
}

/// The method a stored `VoiceMethod` names (POST unless it says GET).
pub(crate) fn method(name: &str) -> Method {
    if name.eq_ignore_ascii_case("GET") {
        Method::Get
    } else {
        Method::Post
    }
}

/// The event's spelling of a TwiML method.
fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
    }
}

/// The id a media event answers, if any.
fn event_id(event: &MediaEvent) -> Option<u64> {
    match event {
        MediaEvent::Digit(_) => None,
        MediaEvent::Played { id, .. }
        | MediaEvent::SilenceDone { id }
        | MediaEvent::DigitsSent { id }
        | MediaEvent::Collected { id, .. }
        | MediaEvent::Recorded { id, .. }
        | MediaEvent::RelayEnded { id }
        | MediaEvent::Stopped { id } => Some(*id),
    }
}

/// What a dialog state means before the answer: the caller's CANCEL (or a BYE) ends the call.
pub(super) fn early_end(state: Option<DialogState>) -> Option<End> {
    use rsipstack::dialog::dialog::TerminatedReason;
    match state {
        Some(DialogState::Terminated(_, TerminatedReason::UacCancel))
        | Some(DialogState::Terminated(_, TerminatedReason::UacBye)) => Some(End::new(
            CallEndStatus::Canceled,
            487,
            HungUpBy::Remote,
            "caller canceled",
        )),
        Some(DialogState::Terminated(_, other)) => Some(End::new(
            CallEndStatus::Failed,
            500,
            HungUpBy::Local,
            &format!("terminated while ringing: {other:?}"),
        )),
        Some(_) => None,
        None => Some(End::new(
            CallEndStatus::Failed,
            500,
            HungUpBy::Local,
            "dialog closed",
        )),
    }
}

impl Flow<'_> {
    /// Waits for `work` while watching the call: the caller's CANCEL or BYE, or a shutdown,
    /// ends the call first (`Err`). Digits detected meanwhile are recorded.
    async fn guarded<T>(&mut self, work: impl std::future::Future<Output = T>) -> Result<T, Over> {
        let shutdown = self.shared.shutdown.clone();
        let deadline = self.deadline;
        tokio::pin!(work);
        loop {
            let request = match self.phase.as_mut() {
                Some(Phase::Early(early)) => tokio::select! {
                    out = &mut work => return Ok(out),
                    state = early.states.recv() => {
                        if let Some(end) = early_end(state) {
                            return Err(Over::End { end, bye: false });
                        }
                        continue;
                    }
                    Some(request) = self.requests.recv() => request,
                    _ = shutdown.cancelled() => return Err(shutting_down()),
                },
                Some(Phase::Live { leg, session }) => tokio::select! {
                    out = &mut work => return Ok(out),
                    state = leg.states.recv() => {
                        if let Some(end) = leg.on_state(state).await {
                            return Err(Over::End { end, bye: false });
                        }
                        continue;
                    }
                    Some(event) = session.events.recv() => {
                        if let MediaEvent::Digit(digit) = event {
                            record_digit(&self.controller, digit);
                        }
                        continue;
                    }
                    Some(request) = self.requests.recv() => request,
                    _ = until(deadline) => return Err(time_limit_reached()),
                    _ = shutdown.cancelled() => return Err(shutting_down()),
                },
                None => return Ok(work.await),
            };
            return Err(self.on_request(request));
        }
    }

    /// Sends `command` (given its id) to the media session and waits for its answer.
    async fn media(
        &mut self,
        command: impl FnOnce(u64) -> MediaCommand,
    ) -> Result<MediaEvent, Over> {
        self.next_id += 1;
        let id = self.next_id;
        let shutdown = self.shared.shutdown.clone();
        let controller = &self.controller;
        let Some(Phase::Live { leg, session }) = self.phase.as_mut() else {
            return Err(Over::End {
                end: End::new(
                    CallEndStatus::Failed,
                    500,
                    HungUpBy::Local,
                    "media before the answer",
                ),
                bye: false,
            });
        };
        if session.commands.send(command(id)).is_err() {
            return Err(Over::End {
                end: End::new(
                    CallEndStatus::Failed,
                    500,
                    HungUpBy::Local,
                    "the media session stopped",
                ),
                bye: true,
            });
        }
        let deadline = self.deadline;
        let request = loop {
            tokio::select! {
                state = leg.states.recv() => {
                    if let Some(end) = leg.on_state(state).await {
                        return Err(Over::End { end, bye: false });
                    }
                }
                event = session.events.recv() => match event {
                    Some(MediaEvent::Digit(digit)) => record_digit(controller, digit),
                    Some(event) if event_id(&event) == Some(id) => return Ok(event),
                    Some(_) => {}
                    None => return Err(Over::End {
                        end: End::new(CallEndStatus::Failed, 500, HungUpBy::Local, "the media session stopped"),
                        bye: true,
                    }),
                },
                Some(request) = self.requests.recv() => break request,
                _ = until(deadline) => return Err(time_limit_reached()),
                _ = shutdown.cancelled() => return Err(shutting_down()),
            }
        };
        Err(self.on_request(request))
    }

    /// Answers the call: 200 with the SDP answer, then the media session takes the leg's
    /// RTP socket for the rest of the call.
    async fn answer(&mut self) -> Result<(), Over> {
        if !matches!(self.phase, Some(Phase::Early(_))) {
            return Ok(());
        }
        let Some(Phase::Early(early)) = self.phase.take() else {
            return Ok(());
        };
        let Early {
            dialog,
            states,
            slot,
            local,
            audio,
            sdp,
        } = early;
        let headers = vec![Header::ContentType(ContentType::new("application/sdp"))];
        if let Err(e) = dialog.accept(Some(headers), Some(sdp.into_bytes())) {
            warn!(call_sid = %self.controller.call_sid(), cause = %e, "cannot answer");
            return Err(Over::End {
                end: End::new(CallEndStatus::Failed, 500, HungUpBy::Local, "answer failed"),
                bye: false,
            });
        }
        let mut leg = Answered {
            call_sid: self.controller.call_sid().clone(),
            controller: self.controller.clone(),
            dialog,
            states,
            slot,
            local,
            audio,
        }
        .into_leg(Role::Uas);
        // The caller's ACK first: a BYE (an application that hangs up at once) must not
        // race it, and the leg's media starts on a confirmed dialog. Timer H bounds the wait
        // (the dialog then ends with a timeout).
        loop {
            match leg.states.recv().await {
                Some(DialogState::Confirmed(..)) => break,
                state => {
                    // Anything that ends the dialog here ends the call (the leg is dropped:
                    // its slot goes back; the router removes the dialog).
                    if let Some(end) = leg.on_state(state).await {
                        self.phase = None;
                        return Err(Over::End { end, bye: false });
                    }
                }
            }
        }
        leg.record_dialog();
        let Some((socket, remote)) = leg.media_socket() else {
            self.phase = None;
            return Err(Over::End {
                end: End::new(CallEndStatus::Failed, 500, HungUpBy::Local, "no RTP socket"),
                bye: true,
            });
        };
        let session = session::start(
            socket,
            leg.audio,
            remote,
            self.shared.shutdown.child_token(),
        );
        self.phase = Some(Phase::Live { leg, session });
        Ok(())
    }

    /// `<Reject>`: a final response, never a 200.
    async fn reject(&mut self, reason: RejectReason) -> Over {
        let (code, status, sip) = match reason {
            RejectReason::Busy => (StatusCode::BusyHere, CallEndStatus::Busy, 486),
            RejectReason::Rejected => (StatusCode::Decline, CallEndStatus::NoAnswer, 603),
        };
        if let Some(Phase::Early(early)) = &self.phase {
            let _ = early.dialog.reject(Some(code), None);
        }
        Over::End {
            end: End::new(status, sip, HungUpBy::Local, "rejected by the application"),
            bye: false,
        }
    }

    /// `<Pause>`: before the answer it delays the answer; after it, silence.
    async fn wait(&mut self, ms: u64) -> Result<(), Over> {
        self.guarded(tokio::time::sleep(Duration::from_millis(ms)))
            .await
    }

    /// `<Say>` or `<Play>`: resolve, then play `loops` times. A source that cannot be had is
    /// a notification and the call goes on with the next verb, as Twilio does.
    async fn play(&mut self, source: MediaSource, loops: u32, label: &str) -> Result<(), Over> {
        let resolver = self.voice.resolver.clone();
        let resolved = self
            .guarded(async move { resolver.resolve(&source).await })
            .await?;
        let audio = match resolved {
            Ok(audio) => audio,
            Err(e) => {
                self.notify(NotificationLevel::Error, e.code, e.message.clone(), None);
                return Ok(());
            }
        };
        self.playing = Some((self.next_id + 1, label.to_string()));
        let event = self
            .media(|id| MediaCommand::Play { id, audio, loops })
            .await?;
        self.playing = None;
        if let MediaEvent::Played {
            packets, completed, ..
        } = event
        {
            let _ = self
                .controller
                .execute(CallCommand::RecordPlayed(MediaPlayed {
                    source: label.to_string(),
                    packets,
                    duration_ms: packets * 20,
                    completed,
                }));
        }
        Ok(())
    }

    /// `<Dial>` ([`super::dial`]): every noun rung at once (the caller still unanswered with
    /// answerOnBridge, answered here when a child answers), the winner bridged.
    async fn dial(&mut self, dial: &twiml::Dial) -> Result<Input, Over> {
        use super::dial::{self as d, Bridged, Parent, Rung};
        let shared = self.shared;
        let (plan, refused) = {
            let caller = match self.phase.as_ref() {
                Some(Phase::Early(early)) => &early.dialog,
                Some(Phase::Live { leg, .. }) => &leg.dialog,
                None => return Ok(Input::Done),
            };
            d::Plan::new(dial, self.voice.trunk.as_ref(), caller, shared)
        };
        for no in refused {
            self.notify(NotificationLevel::Error, no.code, no.message, None);
        }
        let parent = match self.phase.as_mut() {
            Some(Phase::Early(early)) => Parent::Early(early),
            Some(Phase::Live { leg, session }) => Parent::Live { leg, session },
            None => return Ok(Input::Done),
        };
        let child = match d::ring(shared, parent, &plan, &self.controller, &mut self.requests).await
        {
            Rung::Answered(child) => *child,
            Rung::NotConnected(params) => return Ok(Input::Dialed { params }),
            Rung::Over { end, bye } => return Err(Over::End { end, bye }),
            Rung::Interrupted(request) => return Err(self.on_request(request)),
        };
        // answerOnBridge: the caller's 200 only now; a no-op for an answered caller.
        if let Err(over) = self.answer().await {
            child
                .abandon(shared, "the caller could not be answered")
                .await;
            return Err(over);
        }
        let Some(Phase::Live { leg, session }) = self.phase.as_mut() else {
            child.abandon(shared, "the caller is gone").await;
            return Ok(Input::Done);
        };
        let mut plan = plan;
        if let Some(at) = self.deadline {
            // The call's own TimeLimit (a placed call) bounds the bridge too, and ends the call.
            let left = at.saturating_duration_since(tokio::time::Instant::now());
            plan.time_limit = plan.time_limit.min(left);
        }
        match d::bridge(shared, leg, session, child, &plan, &mut self.requests).await {
            Bridged::Continue(_)
                if self
                    .deadline
                    .is_some_and(|at| at <= tokio::time::Instant::now()) =>
            {
                Err(time_limit_reached())
            }
            Bridged::Continue(params) => Ok(Input::Dialed { params }),
            Bridged::Over { end, bye } => Err(Over::End { end, bye }),
            Bridged::Interrupted(request) => Err(self.on_request(request)),
        }
    }

    /// A document that was audio: answer, play it once, hang up.
    async fn play_audio_answer(&mut self, audio: crate::media::audio::Audio) -> Over {
        if let Err(over) = self.answer().await {
            return over;
        }
        match self
            .media(|id| MediaCommand::Play {
                id,
                audio,
                loops: 1,
            })
            .await
        {
            Ok(MediaEvent::Played {
                packets, completed, ..
            }) => self
                .controller
                .observe(CallCommand::RecordPlayed(MediaPlayed {
                    source: "audio answer".into(),
                    packets,
                    duration_ms: packets * 20,
                    completed,
                })),
            Ok(_) => {}
            Err(over) => return over,
        }
        Over::End {
            end: End::local("the audio answer was played"),
            bye: true,
        }
    }

    /// `<Play digits>`.
    async fn send_digits(&mut self, digits: String) -> Result<(), Over> {
        self.media(|id| MediaCommand::SendDigits { id, digits })
            .await?;
        Ok(())
    }

    /// `<Gather>`: resolve every prompt first (Twilio fetches all before the first plays),
    /// then collect with the prompts as barge-in audio.
    async fn gather(&mut self, gather: &twiml::Gather) -> Result<Input, Over> {
        let mut prompts = Vec::new();
        for prompt in &gather.prompts {
            let (source, loops) = match prompt {
                twiml::Prompt::Say(say) => (
                    MediaSource::Say {
                        text: say.text.clone(),
                        voice: say.voice.clone(),
                        language: say.language.clone(),
                    },
                    say.loops,
                ),
                twiml::Prompt::Play(play) => match &play.url {
                    Some(url) => (MediaSource::Play { url: url.clone() }, play.loops),
                    None => continue,
                },
                twiml::Prompt::Pause(pause) => {
                    prompts.push(Prompt::Silence {
                        ms: u64::from(pause.length_secs) * 1000,
                    });
                    continue;
                }
            };
            let resolver = self.voice.resolver.clone();
            match self
                .guarded(async move { resolver.resolve(&source).await })
                .await?
            {
                Ok(audio) => prompts.push(Prompt::Audio { audio, loops }),
                Err(e) => self.notify(NotificationLevel::Error, e.code, e.message.clone(), None),
            }
        }
        let rules = CollectRules {
            num_digits: gather.num_digits,
            finish_on_key: gather.finish_on_key,
            timeout: Duration::from_secs(u64::from(gather.timeout_secs)),
        };
        let event = self
            .media(|id| MediaCommand::Collect { id, prompts, rules })
            .await?;
        Ok(match event {
            MediaEvent::Collected {
                digits,
                finished_on_key,
                ..
            } if !digits.is_empty() => Input::Gathered {
                digits,
                finished_on_key,
            },
            _ => Input::NoInput,
        })
    }

    /// Ends the call on the wire and records its end.
    async fn finish(mut self, over: Over) {
        let (end, bye) = match over {
            Over::End { end, bye } => (end, bye),
            // The loop runs a redirect before it stops; one here had nowhere to go.
            Over::Redirect(_) => (End::local("redirected as the call ended"), true),
        };
        match self.phase.take() {
            Some(Phase::Early(early)) => {
                let end = if bye {
                    // Never answered: a final response instead of a BYE (503 at shutdown, so
                    // the caller may try another node; 480 when the document ended first).
                    let (code, status, sip) = if self.shared.shutdown.is_cancelled() {
                        (StatusCode::ServiceUnavailable, CallEndStatus::Failed, 503)
                    } else {
                        (
                            StatusCode::TemporarilyUnavailable,
                            CallEndStatus::NoAnswer,
                            480,
                        )
                    };
                    let _ = early.dialog.reject(Some(code), None);
                    End::new(status, sip, HungUpBy::Local, &end.reason)
                } else {
                    end
                };
                self.controller.completed(end, None);
            }
            Some(Phase::Live { leg, session }) => {
                // Back in place for `stop_media`, which records an interrupted Play.
                self.phase = Some(Phase::Live { leg, session });
                self.stop_media().await;
                let Some(Phase::Live { leg, session }) = self.phase.take() else {
                    return;
                };
                drop(session.commands);
                session.task.abort();
                leg.finish(self.shared, end, bye).await;
            }
            None => self.controller.completed(end, None),
        }
    }
}

/// Waits until `deadline` (forever without one).
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The server is stopping: the call is hung up.
fn shutting_down() -> Over {
    Over::End {
        end: End::local("server shutting down"),
        bye: true,
    }
}

fn record_digit(controller: &CallController, digit: char) {
    let _ = controller.execute(CallCommand::RecordDigit(DtmfReceived {
        digit: digit.to_string(),
        method: DtmfMethod::Rfc4733,
    }));
}
