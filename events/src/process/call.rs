//! A call's status callbacks (VOICE-NOTES §2.4): which points of a call's progress are sent
//! to its `StatusCallback`, with which parameters, as outbox deliveries.
//!
//! The invariant: a call's callbacks are numbered `SequenceNumber` 0, 1, 2, … without gaps,
//! counting only callbacks actually produced, and a call with a status callback subscribed to
//! `completed` gets exactly one `completed`, unless it was canceled while still queued (then
//! it gets none). Both follow from the fold: [`mark`] runs inside
//! [`crate::call::evolve`] and records on the [`Call`] what the event just folded calls for
//! ([`Call::callbacks_due`]) and how many callbacks came before ([`Call::status_callbacks`]);
//! [`react`] only turns that into deliveries. Replaying a stream therefore yields the same
//! callbacks with the same numbers and ids, and an event the fold steps over (anything after
//! `call.completed`) yields none.
//!
//! # The rules
//! - Where, how and what: the call's `call.routed` (`status_callback`, its method, and
//!   `status_callback_events`; a v1 event is lifted to `completed` only, which is also what a
//!   number's `StatusCallback` gets). No URL (or an empty one): no callback, and none is owed
//!   later. A point of progress reached before `call.routed` was recorded is not sent
//!   afterwards, with one exception, `initiated` (next item).
//! - `initiated`: only for calls switchboard places (`outbound-api`, `outbound-dial`), when
//!   the call is both on the wire ([`Call::dialled`]) and routed. The lead records an
//!   outbound call's `call.initiated` as its INVITE is about to be sent, and `call.routed`
//!   right after it, so today `initiated` is sent at `call.routed`, timestamped then.
//! - `ringing` at `call.ringing`; `answered` at `call.answered`, sent as
//!   `CallStatus=in-progress`; `completed` at `call.completed` for any terminal status, with
//!   that status in `CallStatus`.
//! - No callback at all for a call canceled while queued. "Queued" here means: not yet on
//!   the wire — the call ended `canceled` and [`Call::dialled`] never became true. That is
//!   Twilio's rule ("cancelling a queued call fires no status callbacks": a call canceled
//!   before it was dialled), and it is NOT the fold's `status == queued`, which today also
//!   covers a placed call whose INVITE is out but has not rung (that call was dialled, got its
//!   `initiated`, and gets its `completed` with `canceled`). Today every call stream starts
//!   dialled, so the rule never fires; the CPS queue of issue 19 makes it real by recording a
//!   queued call whose `dialled` stays false until it leaves the queue (an event of its own,
//!   folded in `evolve` to set `dialled`). Nothing here needs to change for that: `initiated`
//!   then follows the event that sets `dialled`, and a cancel before it sends nothing.
//!
//! # The parameters
//! The standard set ([`webhook_params`]) with `CallStatus` as above, then `Timestamp`
//! (RFC 2822, the event's `occurred_at`), `CallbackSource=call-progress-events`,
//! `SequenceNumber`; on `completed` also `CallDuration` (whole seconds from the answer,
//! rounded up; 0 when never answered), `Duration` (billable minutes, `CallDuration` rounded up
//! to the minute) and `SipResponseCode` (the SIP status that ended the call). `ParentCallSid`
//! (child legs) and `Direction` are in the standard set.
//!
//! # The deliveries
//! One per callback, kind [`WebhookKind::StatusCallback`], id [`Delivery::id_for`] (the
//! event, the kind, the callback's index among that event's), ordered by the call SID so one
//! call's callbacks go out one at a time in the order of its progress, signed with the
//! account's auth token by the outbox; with `GET` the parameters go in the query string.

use super::policy::WebhookKind;
use super::reaction::{Delivery, Reaction};
use crate::call::{webhook_params, Call, CallDirection, CallStatus, StatusCallbackEvent};
use crate::envelope::Envelope;
use crate::sid::Sid;
use chrono::{DateTime, Utc};

/// `CallbackSource` of every status callback.
pub const CALLBACK_SOURCE: &str = "call-progress-events";

/// One status callback an event produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackDue {
    /// The point of progress it reports.
    pub event: StatusCallbackEvent,
    /// Its `SequenceNumber`.
    pub sequence: u32,
}

/// The points of progress a call has reached, as far as status callbacks care. [`mark`]
/// compares them before and after an event: what changed is what the event reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reached {
    initiated: bool,
    ringing: bool,
    answered: bool,
    ended: bool,
}

impl Reached {
    /// What `call` has reached.
    pub fn of(call: &Call) -> Reached {
        Reached {
            // Only a call switchboard places is initiated (inbound calls start at ringing),
            // and only once it is both on the wire and routed (module doc).
            initiated: call.direction != CallDirection::Inbound
                && call.dialled
                && call.routed.is_some(),
            ringing: call.rang,
            answered: call.answered_at_ms.is_some(),
            ended: call.is_ended(),
        }
    }
}

/// Records on `call` (just folded; `before` is what it had reached before the event) the
/// status callbacks the event produced, numbering them from [`Call::status_callbacks`].
/// Called by [`crate::call::evolve`] only; `callbacks_due` is empty when it is called.
pub fn mark(before: Reached, call: &mut Call) {
    let now = Reached::of(call);
    let Some(routed) = &call.routed else {
        return;
    };
    if routed
        .status_callback
        .as_deref()
        .is_none_or(|url| url.trim().is_empty())
    {
        return;
    }
    // Canceled before it was dialled: Twilio's "queued" call, which gets no callback.
    let canceled_queued = call.status == CallStatus::Canceled && !call.dialled;
    let points = [
        (
            StatusCallbackEvent::Initiated,
            before.initiated,
            now.initiated,
        ),
        (StatusCallbackEvent::Ringing, before.ringing, now.ringing),
        (StatusCallbackEvent::Answered, before.answered, now.answered),
        (
            StatusCallbackEvent::Completed,
            before.ended,
            now.ended && !canceled_queued,
        ),
    ];
    for (event, was, is) in points {
        if !was && is && routed.status_callback_events.contains(&event) {
            call.callbacks_due.push(CallbackDue {
                event,
                sequence: call.status_callbacks,
            });
            call.status_callbacks += 1;
        }
    }
}

/// The status callbacks `envelope` calls for, `call` being the call as folded after it.
pub fn react(call: &Call, envelope: &Envelope) -> Reaction {
    let Some(routed) = &call.routed else {
        return Reaction::default();
    };
    let Some(url) = routed.status_callback.as_ref() else {
        return Reaction::default();
    };
    let deliveries = call
        .callbacks_due
        .iter()
        .enumerate()
        .map(|(index, due)| Delivery {
            id: Delivery::id_for(envelope.id, WebhookKind::StatusCallback, index),
            kind: WebhookKind::StatusCallback,
            account_sid: envelope.account_sid.clone(),
            order_key: Sid::parse(&call.sid).ok(),
            urls: vec![url.clone()],
            method: routed.status_callback_method,
            form: params(call, *due, envelope.occurred_at),
            acts_on: None,
        })
        .collect();
    Reaction {
        issued: Vec::new(),
        deliveries,
    }
}

/// `CallStatus` of a callback for `event`.
fn call_status(call: &Call, event: StatusCallbackEvent) -> &'static str {
    match event {
        StatusCallbackEvent::Initiated => "initiated",
        StatusCallbackEvent::Ringing => CallStatus::Ringing.as_str(),
        StatusCallbackEvent::Answered => CallStatus::InProgress.as_str(),
        StatusCallbackEvent::Completed => call.status.as_str(),
    }
}

/// The form of one callback (module doc, "The parameters").
pub fn params(call: &Call, due: CallbackDue, at: DateTime<Utc>) -> Vec<(String, String)> {
    let status = call_status(call, due.event);
    let mut form = webhook_params(call);
    for (name, value) in &mut form {
        if name == "CallStatus" {
            *value = status.to_string();
        }
    }
    let mut add = |name: &str, value: String| form.push((name.to_string(), value));
    add("Timestamp", rfc2822(at));
    add("CallbackSource", CALLBACK_SOURCE.to_string());
    add("SequenceNumber", due.sequence.to_string());
    if due.event == StatusCallbackEvent::Completed {
        let seconds = call_duration_secs(call.duration_ms.unwrap_or(0));
        add("CallDuration", seconds.to_string());
        add("Duration", seconds.div_ceil(60).to_string());
        add("SipResponseCode", call.sip_code.unwrap_or(0).to_string());
    }
    form
}

/// Whole seconds of a call that lasted `ms` from its answer, rounded up (a call answered for
/// any time at all lasted at least a second, as a billed call does).
pub fn call_duration_secs(ms: u64) -> u64 {
    ms.div_ceil(1_000)
}

/// Twilio's RFC 2822 form (`Tue, 31 Aug 2010 20:36:28 +0000`).
fn rfc2822(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

#[cfg(test)]
mod tests;
