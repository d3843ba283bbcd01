//! Records one call's events on its stream (`CA…`) without holding up the signalling.
//!
//! The call task hands each fact to a [`CallRecorder`] the moment it happens (the time is
//! taken then, not when the append commits); a task per call appends them in order, one
//! append per fact, expecting the version it wrote last. SIP answers therefore never wait
//! for a log commit, and the stream still holds the call's history in the order it
//! happened. The engine waits for every recorder to drain before the log closes, so a
//! shutdown loses no acknowledged call fact.
//!
//! A call stream has a single writer (this node's call task), so a version conflict means
//! the stream was written by someone else: it is logged and the rest of the call's events
//! are dropped rather than interleaved with a stranger's.

use crate::commands::Commands;
use switchboard_events::{Event, ExpectedVersion, Metadata, NewEvent, Sid};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tracing::{error, warn};
use uuid::Uuid;

/// The sending half: cheap to clone, never blocks.
#[derive(Clone)]
pub struct CallRecorder {
    tx: mpsc::UnboundedSender<(Metadata, Event)>,
    commands: Commands,
    account: Sid,
    correlation_id: Uuid,
}

impl CallRecorder {
    /// Starts the appending task for call `call_sid` of `account` (tracked by `tracker`).
    pub fn start(
        commands: Commands,
        tracker: &TaskTracker,
        account: Sid,
        call_sid: Sid,
    ) -> CallRecorder {
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
        CallRecorder {
            tx,
            commands,
            account,
            correlation_id: Uuid::now_v7(),
        }
    }

    /// The account the call belongs to.
    pub fn account(&self) -> &Sid {
        &self.account
    }

    /// Records `event` as having happened now.
    pub fn record(&self, event: Event) {
        let meta = self
            .commands
            .metadata(self.account.clone(), self.correlation_id);
        if self.tx.send((meta, event)).is_err() {
            warn!("call recorder already stopped; event dropped");
        }
    }
}
