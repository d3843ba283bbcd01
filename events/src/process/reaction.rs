//! What a process manager returns for one event: commands for other streams ([`Issued`]) and
//! outgoing HTTP requests to applications ([`Delivery`]). Plain data: the runner in
//! `src/app/` carries the commands out and writes the deliveries to the outbox in the same
//! transaction as its checkpoint.
//!
//! The invariant: everything here is a function of the event and the state it was folded
//! into, never of a clock or a random source, so replaying the log after a crash produces the
//! same deliveries with the same ids (the outbox keeps one row per id).

use super::policy::WebhookKind;
use crate::call::HttpMethod;
use crate::sid::Sid;
use crate::taskrouter::decide::Command;
use crate::Position;
use uuid::Uuid;

/// What one event calls for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reaction {
    /// Commands for other streams, in order.
    pub issued: Vec<Issued>,
    /// Requests to applications, in order.
    pub deliveries: Vec<Delivery>,
}

/// A command a process manager issues to a stream because of an event. The decider of that
/// stream drops a causation it has already applied, so the runner may carry it out again
/// after a crash.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    /// The stream it goes to (a SID).
    pub stream: Sid,
    /// The command.
    pub command: IssuedCommand,
    /// The id of the event that caused it (its `causation_id`).
    pub causation_id: Uuid,
    /// Where that event sits (the deciders' watermark is per source partition).
    pub causation_position: Position,
}

/// The commands a process manager can issue, by the kind of stream they go to.
#[derive(Debug, Clone, PartialEq)]
pub enum IssuedCommand {
    /// A workspace stream's command.
    TaskRouter(Box<Command>),
}

/// One outgoing request, as the outbox keeps it until it is delivered (or its failure is
/// recorded as an alert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Deterministic: the source event's id, the kind and the index among that event's
    /// deliveries of that kind ([`Delivery::id_for`]).
    pub id: String,
    /// Which webhook it is (its retry policy follows).
    pub kind: WebhookKind,
    /// Whose application it is (its auth token signs the request).
    pub account_sid: Sid,
    /// Deliveries with the same key go out one at a time, in the log's order (the workspace
    /// SID for event callbacks); `None`: no order with any other delivery.
    pub order_key: Option<Sid>,
    /// The configured URLs in the order they are tried (primary, then fallback), each
    /// exactly as configured (a fragment carries its policy overrides).
    pub urls: Vec<String>,
    /// How the request is made: `POST` with the form in the body, or `GET` with the form
    /// appended to the URL's query (then signed as that full URL, with no body parameters).
    pub method: HttpMethod,
    /// The form parameters, in order.
    pub form: Vec<(String, String)>,
    /// For an assignment callback: what its `accept`/`reject` answer acts on.
    pub acts_on: Option<ActsOn>,
}

impl Delivery {
    /// The id of the `index`-th delivery of `kind` caused by event `source`.
    pub fn id_for(source: Uuid, kind: WebhookKind, index: usize) -> String {
        format!("{}:{}:{index}", source.simple(), kind.as_str())
    }
}

/// The reservation an assignment callback's answer updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActsOn {
    /// The workspace (the stream the update goes to).
    pub workspace: Sid,
    /// The reservation.
    pub reservation: Sid,
    /// Its task.
    pub task: Sid,
}
