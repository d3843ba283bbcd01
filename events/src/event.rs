//! The [`Event`] enum: every event type switchboard records, with its stable dotted wire name
//! and schema version. One macro invocation lists them, so the name table, the encoder and the
//! decoder cannot drift apart; a contract test checks every entry against its JSON Schema in
//! `schemas/`, so a new type cannot land without one.
//!
//! Decoding takes the stored type name, schema version and JSON text separately (that is how
//! the log keeps them) and never panics: an unknown type (written by a newer switchboard), a
//! newer schema version, or damaged JSON each give a [`DecodeError`] that says which.
//!
//! Schema evolution: a published schema never changes (`events/tests/frozen_schemas.rs` holds
//! each by hash). A changed event gets the next version here and a new schema file, and an
//! older version is lifted one version at a time by the pure functions in
//! [`upcast`](crate::upcast) before it is deserialised, so the log is never rewritten and every
//! event ever stored still decodes to the current struct.

use crate::account::{
    AccountCreated, AccountUpdated, AuthTokenPromoted, SecondaryAuthTokenCreated,
    SecondaryAuthTokenDeleted,
};
use crate::alert::AlertRaised;
use crate::application::{ApplicationCreated, ApplicationDeleted, ApplicationUpdated};
use crate::call::{
    CallAnswered, CallCompleted, CallDeleted, CallDialog, CallInitiated, CallRinging, CallRouted,
    DtmfReceived, InstructionsFetched, MediaPlayed, NotificationRaised,
};
use crate::number::{
    IncomingPhoneNumberCreated, IncomingPhoneNumberDeleted, IncomingPhoneNumberUpdated,
    PhoneNumberClaimed, PhoneNumberReleased,
};
use crate::taskrouter::events::*;
use serde::{Deserialize, Serialize};

/// Why a recorded event could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The type name is not one this build knows (probably written by a newer version).
    #[error("unknown event type {0:?} (written by a newer version of switchboard?)")]
    UnknownType(String),
    /// The schema version is newer than this build understands.
    #[error(
        "event type {event_type:?} has schema version {found}, this build knows up to {known}"
    )]
    NewerSchema {
        /// The type.
        event_type: String,
        /// The stored version.
        found: u32,
        /// The newest version this build reads.
        known: u32,
    },
    /// The stored version is older than the current one and no upcaster lifts it (a version
    /// 0, or a gap in the upcaster table).
    #[error(
        "event type {event_type:?} has schema version {found} and nothing lifts it to {known}"
    )]
    NoUpcaster {
        /// The type.
        event_type: String,
        /// The version no upcaster starts from.
        found: u32,
        /// The current version.
        known: u32,
    },
    /// The data does not parse as the type's fields.
    #[error("event type {event_type:?} has malformed data: {reason}")]
    Malformed {
        /// The type.
        event_type: String,
        /// What serde said.
        reason: String,
    },
}

macro_rules! event_types {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal, version $ver:literal; )*) => {
        /// Every event type. Serialises adjacently tagged: `{"type": "...", "data": {...}}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "data")]
        pub enum Event {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($ty), )*
        }

        impl Event {
            /// Every wire name with its current schema version.
            pub const TYPES: &'static [(&'static str, u32)] = &[$(($name, $ver)),*];

            /// The dotted wire name.
            pub fn type_name(&self) -> &'static str {
                match self { $( Event::$variant(_) => $name, )* }
            }

            /// The current schema version of this type.
            pub fn schema_version(&self) -> u32 {
                match self { $( Event::$variant(_) => $ver, )* }
            }

            /// The event's data as JSON text (the `data` member of the envelope).
            pub fn data_json(&self) -> String {
                // Serialising plain structs of strings, numbers and enums cannot fail.
                let json = match self { $( Event::$variant(e) => serde_json::to_string(e), )* };
                json.unwrap_or_else(|_| "null".to_string())
            }

            /// Decodes stored data written at `schema_version`, lifting an older version through
            /// the upcasters ([`upcast::lift`](crate::upcast::lift)) first.
            pub fn decode(event_type: &str, schema_version: u32, data: &str) -> Result<Event, DecodeError> {
                match event_type {
                    $( $name => {
                        if schema_version > $ver {
                            return Err(DecodeError::NewerSchema {
                                event_type: event_type.to_string(), found: schema_version, known: $ver,
                            });
                        }
                        let malformed = |e: serde_json::Error| DecodeError::Malformed {
                            event_type: event_type.to_string(), reason: e.to_string(),
                        };
                        if schema_version == $ver {
                            // The current shape: straight from the text, no intermediate tree.
                            return serde_json::from_str::<$ty>(data).map(Event::$variant).map_err(malformed);
                        }
                        let old = serde_json::from_str::<serde_json::Value>(data).map_err(malformed)?;
                        let current = crate::upcast::lift(event_type, schema_version, $ver, old)?;
                        serde_json::from_value::<$ty>(current).map(Event::$variant).map_err(malformed)
                    } )*
                    other => Err(DecodeError::UnknownType(other.to_string())),
                }
            }
        }
    };
}

event_types! {
    /// An account (or a subaccount) was opened. v2 adds the sealed auth token.
    AccountCreated(AccountCreated) = "account.created", version 2;
    /// An account's friendly name or status changed.
    AccountUpdated(AccountUpdated) = "account.updated", version 1;
    /// A secondary auth token was made for an account.
    SecondaryAuthTokenCreated(SecondaryAuthTokenCreated) = "account.secondary-auth-token.created", version 1;
    /// An account's secondary auth token was deleted.
    SecondaryAuthTokenDeleted(SecondaryAuthTokenDeleted) = "account.secondary-auth-token.deleted", version 1;
    /// An account's secondary auth token became its primary one.
    AuthTokenPromoted(AuthTokenPromoted) = "account.auth-token.promoted", version 1;
    /// A TaskRouter workspace was created.
    WorkspaceCreated(WorkspaceCreated) = "workspace.created", version 1;
    /// A workspace's settings changed.
    WorkspaceUpdated(WorkspaceUpdated) = "workspace.updated", version 1;
    /// A workspace was deleted (with everything in it).
    WorkspaceDeleted(WorkspaceDeleted) = "workspace.deleted", version 1;
    /// An activity was created.
    ActivityCreated(ActivityCreated) = "activity.created", version 1;
    /// An activity was renamed.
    ActivityUpdated(ActivityUpdated) = "activity.updated", version 1;
    /// An activity was deleted.
    ActivityDeleted(ResourceRef) = "activity.deleted", version 1;
    /// A task channel was created.
    TaskChannelCreated(TaskChannelCreated) = "task-channel.created", version 1;
    /// A task channel changed.
    TaskChannelUpdated(TaskChannelUpdated) = "task-channel.updated", version 1;
    /// A task channel was deleted.
    TaskChannelDeleted(ResourceRef) = "task-channel.deleted", version 1;
    /// A worker was created.
    WorkerCreated(WorkerCreated) = "worker.created", version 1;
    /// A worker was renamed.
    WorkerRenamed(WorkerRenamed) = "worker.updated", version 1;
    /// A worker changed activity.
    WorkerActivityUpdated(WorkerActivityUpdated) = "worker.activity.update", version 1;
    /// A worker's attributes changed.
    WorkerAttributesUpdated(WorkerAttributesUpdated) = "worker.attributes.update", version 1;
    /// A worker's capacity on a channel changed. v2 adds `previous_capacity`.
    WorkerCapacityUpdated(WorkerCapacityUpdated) = "worker.capacity.update", version 2;
    /// A worker's availability on a channel changed.
    WorkerChannelAvailabilityUpdated(WorkerChannelAvailabilityUpdated) = "worker.channel.availability.update", version 1;
    /// A worker was deleted.
    WorkerDeleted(ResourceRef) = "worker.deleted", version 1;
    /// A task queue was created.
    TaskQueueCreated(TaskQueueCreated) = "task-queue.created", version 1;
    /// A task queue changed.
    TaskQueueUpdated(TaskQueueUpdated) = "task-queue.updated", version 1;
    /// A task queue was deleted.
    TaskQueueDeleted(ResourceRef) = "task-queue.deleted", version 1;
    /// A workflow was created.
    WorkflowCreated(WorkflowCreated) = "workflow.created", version 1;
    /// A workflow changed.
    WorkflowUpdated(WorkflowUpdated) = "workflow.updated", version 1;
    /// A workflow was deleted.
    WorkflowDeleted(ResourceRef) = "workflow.deleted", version 1;
    /// A task was created.
    TaskCreated(TaskCreated) = "task.created", version 1;
    /// A task's attributes or priority changed.
    TaskUpdated(TaskUpdated) = "task.updated", version 1;
    /// A task entered a queue through a workflow step.
    TargetMatched(TargetMatched) = "workflow.target-matched", version 1;
    /// A task's last workflow target timed out (a `task.canceled` follows).
    WorkflowTimeout(WorkflowTimeout) = "workflow.timeout", version 1;
    /// A task entered its workflow.
    WorkflowEntered(WorkflowEntered) = "workflow.entered", version 1;
    /// A task skipped a workflow target (its `skip_if` held).
    WorkflowSkipped(WorkflowSkipped) = "workflow.skipped", version 1;
    /// A task entered a task queue.
    TaskQueueEntered(TaskInQueue) = "task-queue.entered", version 1;
    /// A task's workflow target timed out while it waited in a queue.
    TaskQueueTimeout(TaskInQueue) = "task-queue.timeout", version 1;
    /// A task moved from one task queue to another.
    TaskQueueMoved(TaskQueueMoved) = "task-queue.moved", version 1;
    /// A task queue's target workers expression changed.
    TaskQueueExpressionUpdated(TaskQueueExpressionUpdated) = "task-queue.expression.updated", version 1;
    /// A task was canceled (by a caller, its TTL, or the end of its workflow).
    TaskCanceled(TaskClosed) = "task.canceled", version 1;
    /// A task moved to wrapping.
    TaskWrapup(TaskClosed) = "task.wrapup", version 1;
    /// A task was completed.
    TaskCompleted(TaskClosed) = "task.completed", version 1;
    /// A task was deleted.
    TaskDeleted(ResourceRef) = "task.deleted", version 1;
    /// A completed or canceled task was removed by the system once its retention ran out
    /// (Twilio's `task.system-deleted`); no caller asked, and no figure counts it.
    TaskSystemDeleted(ResourceRef) = "task.system-deleted", version 1;
    /// A task was offered to a worker.
    ReservationCreated(ReservationCreated) = "reservation.created", version 1;
    /// A worker accepted a reservation.
    ReservationAccepted(ResourceRef) = "reservation.accepted", version 1;
    /// A worker rejected a reservation.
    ReservationRejected(ReservationRejected) = "reservation.rejected", version 1;
    /// A reservation was not answered in time.
    ReservationTimeout(ResourceRef) = "reservation.timeout", version 1;
    /// A reservation was withdrawn because another worker accepted the task.
    ReservationRescinded(ResourceRef) = "reservation.rescinded", version 1;
    /// A reservation was withdrawn because its task was canceled.
    ReservationCanceled(ResourceRef) = "reservation.canceled", version 1;
    /// An accepted reservation moved to wrapping.
    ReservationWrapup(ResourceRef) = "reservation.wrapup", version 1;
    /// An accepted reservation's task was completed.
    ReservationCompleted(ResourceRef) = "reservation.completed", version 1;
    /// A call began: an INVITE arrived or was sent.
    CallInitiated(CallInitiated) = "call.initiated", version 1;
    /// A call is ringing (180).
    CallRinging(CallRinging) = "call.ringing", version 1;
    /// A call was answered (200 OK with SDP).
    CallAnswered(CallAnswered) = "call.answered", version 1;
    /// A call ended; the last event of every call stream.
    CallCompleted(CallCompleted) = "call.completed", version 1;
    /// The record of a finished call was deleted (`DELETE /Calls/{CA}`); after the end, once.
    CallDeleted(CallDeleted) = "call.deleted", version 1;
    /// A caller pressed a key (RFC 4733 or SIP INFO).
    DtmfReceived(DtmfReceived) = "dtmf.received", version 1;
    /// Audio finished playing into a call.
    MediaPlayed(MediaPlayed) = "media.played", version 1;
    /// The router chose the number, application and URLs that drive a call.
    CallRouted(CallRouted) = "call.routed", version 2;
    /// A call's SIP dialog is confirmed: what a BYE needs after a restart.
    CallDialogRecorded(CallDialog) = "call.dialog.recorded", version 1;
    /// An application answered a call's request for instructions.
    CallInstructionsFetched(InstructionsFetched) = "call.instructions.fetched", version 1;
    /// An error or warning while running a call's instructions (a call notification).
    CallNotificationRaised(NotificationRaised) = "call.notification.raised", version 1;
    /// A delivery to an application failed for good: a Monitor alert, on its own `NO…` stream.
    AlertRaised(AlertRaised) = "alert.raised", version 1;
    /// An account took an incoming phone number (`PN…` stream).
    IncomingPhoneNumberCreated(IncomingPhoneNumberCreated) = "incoming-phone-number.created", version 1;
    /// A number's name, applications or webhooks changed.
    IncomingPhoneNumberUpdated(IncomingPhoneNumberUpdated) = "incoming-phone-number.updated", version 1;
    /// An account released a number.
    IncomingPhoneNumberDeleted(IncomingPhoneNumberDeleted) = "incoming-phone-number.deleted", version 1;
    /// A number resource holds an E.164 number (on the number's `NC…` claim stream).
    PhoneNumberClaimed(PhoneNumberClaimed) = "phone-number.claimed", version 1;
    /// A number resource let its E.164 number go (on the claim stream).
    PhoneNumberReleased(PhoneNumberReleased) = "phone-number.released", version 1;
    /// An application was created (`AP…` stream).
    ApplicationCreated(ApplicationCreated) = "application.created", version 1;
    /// An application's fields changed.
    ApplicationUpdated(ApplicationUpdated) = "application.updated", version 1;
    /// An application was deleted.
    ApplicationDeleted(ApplicationDeleted) = "application.deleted", version 1;
}
