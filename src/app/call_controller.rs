//! The call controller: the single writer of one call's stream (`CA…`), as the workspace
//! actor is for a workspace. SIP, the call router and the REST API all change a call through
//! [`CallController::execute`], which decides against the call's folded state and records
//! what the decider returns, so no two of them can write a contradiction (a second end, an
//! answer after the end) into the log.
//!
//! Recording never holds up the signalling. `execute` decides and folds synchronously under
//! a std mutex (no await inside, so it is safe from any task) and queues the events, stamped
//! with the time they happened (not when the append commits); a task per call appends them in
//! order, one append per fact, expecting the version it wrote last. SIP answers therefore
//! never wait for a log commit, and the stream still holds the call's history in the order it
//! happened. The engine waits for every controller's task (tracked by the `TaskTracker` it was
//! started with) to drain before the log closes, so a shutdown loses no acknowledged call fact.
//!
//! A call stream has a single writer (this node's controller), so a version conflict means
//! the stream was written by someone else: it is logged and the rest of the call's events
//! are dropped rather than interleaved with a stranger's. The in-memory state still follows
//! every decision, so the call itself goes on consistently.
//!
//! A REST request the decider accepts (`Redirect`, `Cancel`, `Hangup`) records nothing by
//! itself: it is handed to whoever owns the call's signalling ([`CallController::requests`]),
//! whose BYE or CANCEL then ends the call through `Complete` with the real SIP outcome.

use crate::commands::Commands;
use std::sync::{Arc, Mutex, MutexGuard};
use switchboard_events::call::{decide, evolve, Call, CallCommand, CallError, CallRequest};
use switchboard_events::{Event, ExpectedVersion, Metadata, NewEvent, Sid};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, warn};
use uuid::Uuid;

/// One call's writer: cheap to clone, never blocks on I/O.
#[derive(Clone)]
pub struct CallController {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::UnboundedSender<(Metadata, Event)>,
    commands: Commands,
    account: Sid,
    call_sid: Sid,
    correlation_id: Uuid,
    state: Mutex<Option<Call>>,
    requests_tx: mpsc::UnboundedSender<CallRequest>,
    requests_rx: Mutex<Option<mpsc::UnboundedReceiver<CallRequest>>>,
}

impl CallController {
    /// Starts the appending task for call `call_sid` of `account` (tracked by `tracker`).
    pub fn start(
        commands: Commands,
        tracker: &TaskTracker,
        account: Sid,
        call_sid: Sid,
    ) -> CallController {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Metadata, Event)>();
        let log = commands.log().clone();
        let stream = call_sid.to_string();
        tracker.spawn(async move {
            let mut version = 0u64;
            while let Some((meta, event)) = rx.recv().await {
                let new = NewEvent::new(Uuid::now_v7(), &meta, &event);
                match log
                    .append(&stream, ExpectedVersion::after_load(version), vec![new])
                    .await
                {
                    Ok(appended) => version = appended.version,
                    Err(e) => {
                        error!(call_sid = %stream, cause = %e, event = event.type_name(),
                            "cannot record call event; dropping the rest of this call's events");
                        // Drain so senders never notice; nothing more is written.
                        while rx.recv().await.is_some() {}
                        return;
                    }
                }
            }
        });
        let (requests_tx, requests_rx) = mpsc::unbounded_channel();
        CallController {
            inner: Arc::new(Inner {
                tx,
                commands,
                account,
                call_sid,
                correlation_id: Uuid::now_v7(),
                state: Mutex::new(None),
                requests_tx,
                requests_rx: Mutex::new(Some(requests_rx)),
            }),
        }
    }

    /// The account the call belongs to.
    pub fn account(&self) -> &Sid {
        &self.inner.account
    }

    /// The call (its stream).
    pub fn call_sid(&self) -> &Sid {
        &self.inner.call_sid
    }

    /// The call as decided so far (`None` before `Initiate`).
    pub fn state(&self) -> Option<Call> {
        self.lock().clone()
    }

    /// Decides `command` now, folds and queues its events (see the module doc). A refusal
    /// records nothing and changes nothing.
    pub fn execute(&self, command: CallCommand) -> Result<(), CallError> {
        let mut state = self.lock();
        let events = decide(&command, state.as_ref())?;
        let stream = self.inner.call_sid.as_str();
        let account = self.inner.account.as_str();
        for event in events {
            let meta = self
                .inner
                .commands
                .metadata(self.inner.account.clone(), self.inner.correlation_id);
            *state = evolve(
                state.take(),
                meta.occurred_at.timestamp_millis(),
                account,
                stream,
                &event,
            );
            // Sent under the lock, so the log's order is the order of the decisions.
            if self.inner.tx.send((meta, event)).is_err() {
                warn!(call_sid = %stream, "call controller's appender already stopped; event dropped");
            }
        }
        drop(state);
        if let Some(request) = command.request() {
            debug!(call_sid = %stream, ?request, "call request accepted");
            // Nobody listening (a call without a router) just means nobody acts on it.
            let _ = self.inner.requests_tx.send(request);
        }
        Ok(())
    }

    /// The accepted REST requests, for the task that owns the call's signalling; `None`
    /// after the first call (there is one owner).
    pub fn requests(&self) -> Option<mpsc::UnboundedReceiver<CallRequest>> {
        self.inner
            .requests_rx
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Call>> {
        // A panic while holding the lock cannot leave a half-folded call: `evolve` returns
        // the whole next state, assigned in one step.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::memory::MemoryLog;
    use crate::log::EventLog;
    use switchboard_events::call::{
        CallCompleted, CallDirection, CallEndStatus, CallStatus, HttpMethod, HungUpBy,
    };
    use switchboard_events::SidPrefix;

    #[tokio::test]
    async fn the_controller_decides_folds_and_appends_in_order_and_hands_on_requests() {
        let log: Arc<dyn EventLog> = Arc::new(MemoryLog::default());
        let commands = Commands::new(log.clone(), "us1".into());
        let tracker = TaskTracker::new();
        let call = Sid::from_u128(SidPrefix::Call, 1);
        let account = Sid::from_u128(SidPrefix::Account, 2);
        let controller = CallController::start(commands, &tracker, account.clone(), call.clone());
        let mut requests = controller.requests().expect("the first owner");
        assert!(controller.requests().is_none(), "one owner");
        assert_eq!(controller.state(), None);
        assert_eq!(
            (controller.call_sid(), controller.account()),
            (&call, &account)
        );

        controller
            .execute(CallCommand::Initiate {
                direction: CallDirection::Inbound,
                from: "sip:+15551230000@h".into(),
                to: "sip:+15559870000@h".into(),
                sip_call_id: "x@h".into(),
                remote_addr: "127.0.0.1:5060".into(),
                parent_call_sid: None,
            })
            .expect("initiated");
        controller.execute(CallCommand::Ring).expect("rang");
        assert_eq!(
            controller.execute(CallCommand::Ring),
            Err(CallError::AlreadyRinging)
        );
        controller
            .execute(CallCommand::Cancel)
            .expect("a ringing call may be canceled");
        assert_eq!(requests.recv().await, Some(CallRequest::Cancel));
        assert!(controller
            .execute(CallCommand::Redirect {
                url: "https://a.example/".into(),
                method: HttpMethod::Post,
            })
            .is_err());
        let end = CallCompleted {
            status: CallEndStatus::Canceled,
            sip_code: 487,
            hung_up_by: HungUpBy::Remote,
            duration_ms: 0,
            reason: "caller canceled".into(),
        };
        controller
            .execute(CallCommand::Complete(end.clone()))
            .expect("ended");
        assert!(matches!(
            controller.execute(CallCommand::Complete(end)),
            Err(CallError::Ended { .. })
        ));
        let state = controller.state().expect("a call");
        assert_eq!(state.status, CallStatus::Canceled);
        assert_eq!(state.account_sid, account.as_str());

        // The appender drains once the last handle is gone (the engine's shutdown).
        drop(controller);
        tracker.close();
        tracker.wait().await;
        let stream = log.read_stream(call.as_str()).await.expect("read");
        let types: Vec<&str> = stream.iter().map(|e| e.event.event_type.as_str()).collect();
        assert_eq!(types, ["call.initiated", "call.ringing", "call.completed"]);
        assert!(stream.iter().all(|e| e.event.account_sid == account));
    }
}
