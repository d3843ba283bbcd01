//! Calls switchboard places for the Calls API (`POST /Calls`), and the live calls a REST
//! request can reach (`POST /Calls/{CA}`): the [`CallService`] the HTTP layer talks to.
//!
//! ```text
//!  place ─▶ To: sip URI as is, a number through --sip-trunk (else refused, nothing recorded)
//!    │      call.initiated (outbound-api, queued) + call.routed (v2), registered live
//!    ▼      ── the answer to POST /Calls is the call as decided here ──
//!  task: INVITE (sip/outbound.rs) ── REST Cancel / Hangup while it rings ─▶ CANCEL ─▶ canceled
//!    │ answered
//!    ▼
//!  flow::run_placed: SendDigits, then Twiml or Url (CallStatus=in-progress), TimeLimit
//! ```
//!
//! [`LiveCalls`] holds the controller of every call this node carries that a REST request may
//! steer (inbound calls and placed ones; a `<Dial>` child is steered through its parent), each
//! for exactly as long as the task that owns its signalling runs: the entry is removed by a
//! guard that task holds, so a request never reaches a controller nobody listens to.

use super::calls::{CallService, PlaceCall, PlaceError};
use super::flow::{self, Placed};
use super::numbers::VoiceRoute;
use crate::app::call_controller::CallController;
use crate::sip::outbound::{self, DialRequest};
use crate::sip::Shared;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use switchboard_events::call::{Call, CallCommand, CallDirection, CallRequest};
use switchboard_events::{Sid, SidPrefix};
use switchboard_telephony::g711::Law;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// The controllers of the calls this node carries, by call SID (see the module doc).
#[derive(Default)]
pub(crate) struct LiveCalls {
    calls: Mutex<HashMap<Sid, CallController>>,
}

/// Keeps one call in [`LiveCalls`] while it is held.
pub(crate) struct LiveGuard {
    calls: Arc<LiveCalls>,
    sid: Sid,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.calls.lock().remove(&self.sid);
    }
}

impl LiveCalls {
    /// Registers `controller`'s call until the guard is dropped.
    pub(crate) fn register(self: &Arc<Self>, controller: &CallController) -> LiveGuard {
        let sid = controller.call_sid().clone();
        self.lock().insert(sid.clone(), controller.clone());
        LiveGuard {
            calls: self.clone(),
            sid,
        }
    }

    /// The live call's controller.
    pub(crate) fn get(&self, sid: &Sid) -> Option<CallController> {
        self.lock().get(sid).cloned()
    }

    /// How many calls are registered.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Sid, CallController>> {
        // Every change is one insert or remove: a panic elsewhere cannot leave it half done.
        self.calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The Calls API's port on a node with a SIP engine.
pub(crate) struct Placer {
    pub shared: Arc<Shared>,
}

/// The `From` URI of a call placed from `from`: a SIP URI as given, else `from` (a number or
/// a name) as the user part at this node's address.
fn from_uri(from: &str, shared: &Shared) -> String {
    let from = from.trim();
    if from.starts_with("sip:") || from.starts_with("sips:") {
        return from.to_string();
    }
    let user = super::trunk::number(from).unwrap_or_else(|| {
        from.chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+-_.".contains(*c))
            .collect()
    });
    let user = if user.is_empty() {
        "switchboard".to_string()
    } else {
        user
    };
    format!("sip:{user}@{}", shared.contact.host_with_port)
}

/// The route a placed call's flow follows, from what `POST /Calls` recorded.
fn route_of(call: &PlaceCall) -> VoiceRoute {
    let routed = &call.routed;
    VoiceRoute {
        account_sid: call.account_sid.clone(),
        phone_number_sid: routed.phone_number_sid.clone().unwrap_or_default(),
        phone_number: call.to.clone(),
        application_sid: routed.application_sid.clone(),
        voice_url: Some(routed.voice_url.clone()).filter(|url| !url.is_empty()),
        voice_method: routed.voice_method.as_str().to_string(),
        voice_fallback_url: routed.voice_fallback_url.clone(),
        voice_fallback_method: routed.voice_fallback_method.as_str().to_string(),
        status_callback: routed.status_callback.clone(),
        status_callback_method: routed.status_callback_method.as_str().to_string(),
    }
}

#[async_trait]
impl CallService for Placer {
    async fn place(&self, call: PlaceCall) -> Result<Call, PlaceError> {
        let shared = &self.shared;
        if shared.shutdown.is_cancelled() {
            return Err(PlaceError::Unavailable(
                "this node is shutting down and places no calls".into(),
            ));
        }
        let to_uri =
            super::trunk::target(&call.to, shared.voice.trunk.as_ref()).map_err(PlaceError::To)?;
        let from = from_uri(&call.from, shared);
        let call_sid = crate::commands::new_sid(SidPrefix::Call);
        let controller = CallController::start(
            shared.commands.clone(),
            &shared.tracker,
            call.account_sid.clone(),
            call_sid.clone(),
        );
        let sip_call_id = outbound::new_call_id();
        // `to`/`from` as the API was given them (what the Calls resource shows); the wire
        // URIs are in the INVITE.
        controller
            .execute(CallCommand::Initiate {
                direction: CallDirection::OutboundApi,
                from: call.from.clone(),
                to: call.to.clone(),
                sip_call_id: sip_call_id.clone(),
                remote_addr: outbound::remote_addr(&to_uri),
                parent_call_sid: None,
            })
            .and_then(|()| controller.execute(CallCommand::Route(call.routed.clone())))
            .map_err(|e| PlaceError::Unavailable(e.to_string()))?;
        let state = controller
            .state()
            .ok_or_else(|| PlaceError::Unavailable("the call was not recorded".into()))?;
        let guard = shared.live.register(&controller);
        let requests = controller
            .requests()
            .unwrap_or_else(|| mpsc::unbounded_channel().1);
        let task_shared = shared.clone();
        let request = DialRequest {
            to: to_uri,
            from,
            account: call.account_sid.clone(),
            ring_timeout: call.timeout,
            codecs: vec![Law::Ulaw, Law::Alaw],
            parent: None,
        };
        shared.tracker.spawn(async move {
            let _guard = guard;
            run(
                task_shared,
                call,
                controller,
                request,
                sip_call_id,
                requests,
            )
            .await;
        });
        Ok(state)
    }

    fn live(&self, call_sid: &Sid) -> Option<CallController> {
        self.shared.live.get(call_sid)
    }
}

/// Rings the callee (a REST cancel or hang-up CANCELs it), then runs the call's flow.
async fn run(
    shared: Arc<Shared>,
    call: PlaceCall,
    controller: CallController,
    request: DialRequest,
    sip_call_id: String,
    mut requests: mpsc::UnboundedReceiver<CallRequest>,
) {
    let give_up = CancellationToken::new();
    let connecting = outbound::connect(
        &shared,
        request,
        controller.clone(),
        sip_call_id,
        give_up.clone(),
    );
    tokio::pin!(connecting);
    let connected = loop {
        tokio::select! {
            connected = &mut connecting => break connected,
            Some(request) = requests.recv() => {
                // The decider lets only a cancel or a hang-up through before the answer.
                debug!(call_sid = %controller.call_sid(), ?request, "REST request while ringing");
                if matches!(request, CallRequest::Cancel | CallRequest::Hangup) {
                    give_up.cancel();
                }
            }
        }
    };
    let Ok(leg) = connected else {
        // Not connected: `connect` recorded how it ended.
        return;
    };
    let voice = shared.voice.clone();
    let route = route_of(&call);
    let placed = Placed {
        leg,
        requests,
        twiml: call.routed.twiml.clone(),
        send_digits: call.send_digits.clone(),
        time_limit: call.time_limit,
    };
    flow::run_placed(&shared, &voice, controller, route, placed).await;
}
