//! `<Dial>`: the caller (leg A, the parent) is connected to the first of up to
//! `MAX_DIAL_TARGETS` calls placed at once (the children, each a call of its own:
//! `outbound-dial`, `parent_call_sid` = A), the two media sessions relaying to each other,
//! until one side hangs up.
//!
//! ```text
//!  A (answered, or still ringing with answerOnBridge) ─▶ INVITE every target (ring.rs)
//!     │ first 200 wins ─▶ CANCEL the others (their streams end `canceled`, 487)
//!     │ all fail ─▶ action gets the best outcome: busy > no-answer > failed
//!     │ A's BYE/CANCEL, a REST Hangup/Redirect, shutdown ─▶ CANCEL every child
//!     ▼ winner (answerOnBridge: now A gets its 200)
//!  child's session: sendDigits, then Relay(pa) to A, Relay(pb) to the child (bridge.rs)
//!  A's BYE ─▶ BYE to the child, the call is over    child's BYE ─▶ A goes on (action or next verb)
//!  timeLimit, A's `*` (hangupOnStar) ─▶ BYE to the child, A goes on
//!  REST Hangup ─▶ BYE to the child, A is hung up    REST Redirect ─▶ BYE, A runs the new document
//! ```
//!
//! Numbers (`<Number>`, plain text) go through the outbound trunk (`--sip-trunk`); without
//! one the noun is a 13224 notification and counts as `failed`.
//!
//! The invariant: no child outlives the dial — every way out of [`ring`] and [`bridge`] has
//! ended every child on the wire (BYE once answered, CANCEL while it rang) and recorded its
//! `call.completed`; at most one child is ever bridged.

#[path = "dial/bridge.rs"]
mod bridge_leg;
#[path = "dial/ring.rs"]
mod ring_legs;

pub(crate) use bridge_leg::bridge;
pub(crate) use ring_legs::ring;

use super::flow::Early;
use super::trunk::{self, Trunk};
use crate::media::session::{MediaEvent, MediaSession};
use crate::sip::leg::{End, Leg};
use crate::sip::Shared;
use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::HeadersExt;
use std::time::Duration;
use switchboard_events::call::{
    CallCommand, CallRequest, CallRouted, DtmfMethod, DtmfReceived, HttpMethod,
};
use switchboard_events::twiml::{self, DialTarget, Method};
use switchboard_telephony::g711::Law;

/// Twilio's code for a number `<Dial>` cannot call ("Dial: Twilio does not support calling
/// this number or the number is invalid"): here, a number with no trunk configured.
pub(crate) const NO_ROUTE_TO_NUMBER: u32 = 13_224;
/// Twilio's code for a `<Dial>` target that is not a phone number ("Dial: Invalid phone
/// number format"), and for a `<Client>`, which has no registrar to reach here.
pub(crate) const INVALID_TARGET: u32 = 13_223;

/// How the bridge ended for the caller.
pub(crate) enum Bridged {
    /// A is still up: these go to the Dial's `action` (or the next verb runs).
    Continue(Vec<(String, String)>),
    /// A is over (its BYE, or a shutdown): how.
    Over { end: End, bye: bool },
    /// The REST API asked something of A while it dialled or was bridged (a redirect, a
    /// hang-up): every child has been ended; the flow carries the request out.
    Interrupted(CallRequest),
}

/// One noun to ring, its address resolved.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The SIP URI the INVITE goes to.
    pub uri: String,
    /// A `<Sip>` noun: the action also gets `DialSipCallId` and `DialSipResponseCode`.
    pub sip: bool,
    /// `<Number sendDigits>`: sent to the child once it answers, before the bridge.
    pub send_digits: Option<String>,
    /// The noun's `statusCallback*`, as the child's `call.routed` (so its callbacks go out).
    pub routed: Option<CallRouted>,
}

/// What the whole `<Dial>` asks for.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub targets: Vec<Target>,
    /// `timeout`: how long each child may ring.
    pub ring_timeout: Duration,
    /// `timeLimit`: longest bridge.
    pub time_limit: Duration,
    /// The children's `From`.
    pub from: String,
    /// `hangupOnStar`.
    pub hangup_on_star: bool,
}

/// A noun that cannot be dialled: its notification.
pub(crate) struct Refused {
    pub code: u32,
    pub message: String,
}

impl Plan {
    /// The plan for `dial`: numbers through `trunk`, `callerId` as the children's `From`
    /// (else the caller's own). Nouns that cannot be dialled come back as notifications.
    pub(crate) fn new(
        dial: &twiml::Dial,
        trunk: Option<&Trunk>,
        caller: &InviteDialog,
        shared: &Shared,
    ) -> (Plan, Vec<Refused>) {
        let mut targets = Vec::new();
        let mut refused = Vec::new();
        for noun in &dial.targets {
            match target(noun, trunk) {
                Ok(target) => targets.push(target),
                Err(no) => refused.push(no),
            }
        }
        let plan = Plan {
            targets,
            ring_timeout: Duration::from_secs(u64::from(dial.timeout_secs)),
            time_limit: Duration::from_secs(u64::from(dial.time_limit_secs)),
            from: from(dial.caller_id.as_deref(), caller, shared),
            hangup_on_star: dial.hangup_on_star,
        };
        (plan, refused)
    }
}

/// One noun resolved to a SIP URI.
fn target(noun: &DialTarget, trunk: Option<&Trunk>) -> Result<Target, Refused> {
    let (to, sip, send_digits, url, method, callbacks) = match noun {
        DialTarget::Number {
            number,
            send_digits,
            url,
            method,
            callbacks,
        } => (number, false, send_digits.clone(), url, method, callbacks),
        DialTarget::Sip {
            uri,
            url,
            method,
            callbacks,
            ..
        } => (uri, true, None, url, method, callbacks),
        DialTarget::Client { identity } => {
            return Err(Refused {
                code: INVALID_TARGET,
                message: format!(
                    "<Dial><Client>{identity}</Client>: no client registrar on this node; skipped"
                ),
            })
        }
    };
    let uri = trunk::target(to, trunk).map_err(|why| Refused {
        code: if trunk::number(to).is_some() {
            NO_ROUTE_TO_NUMBER
        } else {
            INVALID_TARGET
        },
        message: format!("<Dial>: {why}"),
    })?;
    let routed = callbacks.url.as_ref().map(|callback| CallRouted {
        phone_number_sid: None,
        application_sid: None,
        voice_url: url.clone().unwrap_or_default(),
        voice_method: http_method(*method),
        voice_fallback_url: None,
        voice_fallback_method: HttpMethod::Post,
        status_callback: Some(callback.clone()),
        status_callback_method: http_method(callbacks.method),
        status_callback_events: callbacks.events.clone(),
        twiml: None,
    });
    Ok(Target {
        uri,
        sip,
        send_digits,
        routed,
    })
}

fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
    }
}

/// The children's `From`: `callerId` (a SIP URI as given, a number or name at our host), else
/// the caller's own `From` URI.
fn from(caller_id: Option<&str>, caller: &InviteDialog, shared: &Shared) -> String {
    if let Some(id) = caller_id.map(str::trim).filter(|id| !id.is_empty()) {
        if id.starts_with("sip:") || id.starts_with("sips:") {
            return id.to_string();
        }
        let user: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+-_.".contains(*c))
            .collect();
        if !user.is_empty() {
            return format!("sip:{user}@{}", shared.media_ip);
        }
    }
    caller
        .initial_request()
        .from_header()
        .ok()
        .and_then(|f| f.uri().ok())
        .map(|u| u.to_string())
        .unwrap_or_else(|| format!("sip:switchboard@{}", shared.media_ip))
}

/// A child that answered, before the bridge.
pub(crate) struct Child {
    pub(crate) leg: Leg,
    pub(crate) target: Target,
}

impl Child {
    /// Ends a child that will not be bridged (the caller could not be answered).
    pub(crate) async fn abandon(self, shared: &Shared, why: &str) {
        self.leg.finish(shared, End::local(why), true).await;
    }
}

/// How ringing ended.
pub(crate) enum Rung {
    /// A child answered; every other one has been (or is being) canceled.
    Answered(Box<Child>),
    /// Nobody answered: the action's parameters.
    NotConnected(Vec<(String, String)>),
    /// The caller is gone (its CANCEL or BYE), or the node is stopping.
    Over { end: End, bye: bool },
    /// A REST request stopped the dial; every child has been canceled.
    Interrupted(CallRequest),
}

/// The caller while its children ring or are bridged.
pub(crate) enum Parent<'a> {
    /// Not answered yet (answerOnBridge).
    Early(&'a mut Early),
    /// Answered: its dialog and media session.
    Live {
        leg: &'a mut Leg,
        session: &'a mut MediaSession,
    },
}

/// What the caller did.
// One value at a time, handled at once and never stored: boxing the dialog state would only
// add an allocation per in-dialog request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Heard {
    State(Option<DialogState>),
    Media(MediaEvent),
}

/// What it means.
pub(crate) enum Said {
    Ended(End),
    Digit(char),
    Nothing,
}

impl Parent<'_> {
    /// The codec the caller uses (the children are offered it first).
    pub(crate) fn law(&self) -> Law {
        match self {
            Parent::Early(early) => early.audio.law,
            Parent::Live { leg, .. } => leg.audio.law,
        }
    }

    pub(crate) fn answered(&self) -> bool {
        matches!(self, Parent::Live { .. })
    }

    /// The next thing the caller does (cancel-safe: only channel receives).
    pub(crate) async fn next(&mut self) -> Heard {
        match self {
            Parent::Early(early) => Heard::State(early.states.recv().await),
            Parent::Live { leg, session } => tokio::select! {
                state = leg.states.recv() => Heard::State(state),
                Some(event) = session.events.recv() => Heard::Media(event),
            },
        }
    }

    /// Handles it: in-dialog requests answered, digits recorded.
    pub(crate) async fn handle(&mut self, heard: Heard) -> Said {
        match (self, heard) {
            (Parent::Early(_), Heard::State(state)) => match super::flow::early_end(state) {
                Some(end) => Said::Ended(end),
                None => Said::Nothing,
            },
            (Parent::Live { leg, .. }, Heard::State(state)) => match leg.on_state(state).await {
                Some(end) => Said::Ended(end),
                None => Said::Nothing,
            },
            (Parent::Live { leg, .. }, Heard::Media(MediaEvent::Digit(digit))) => {
                record_digit(&leg.controller, digit);
                Said::Digit(digit)
            }
            _ => Said::Nothing,
        }
    }
}

/// Twilio's `DialCallStatus` for how a child ended.
fn dial_status(status: switchboard_events::call::CallEndStatus) -> &'static str {
    use switchboard_events::call::CallEndStatus;
    match status {
        CallEndStatus::Completed => "completed",
        CallEndStatus::Busy => "busy",
        CallEndStatus::NoAnswer => "no-answer",
        CallEndStatus::Canceled => "canceled",
        CallEndStatus::Failed => "failed",
    }
}

fn record_digit(controller: &crate::app::call_controller::CallController, digit: char) {
    controller.observe(CallCommand::RecordDigit(DtmfReceived {
        digit: digit.to_string(),
        method: DtmfMethod::Rfc4733,
    }));
}

/// The codecs a child is offered: the caller's first (no transcoding when it takes it).
fn codecs(law: Law) -> Vec<Law> {
    match law {
        Law::Ulaw => vec![Law::Ulaw, Law::Alaw],
        Law::Alaw => vec![Law::Alaw, Law::Ulaw],
    }
}
