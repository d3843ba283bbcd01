//! TaskRouter's process managers: from a workspace event (and the workspace as it stands once
//! that event is folded) to the webhooks it calls for.
//!
//! - **Assignment callback**: every `reservation.created` whose task's workflow names an
//!   `AssignmentCallbackUrl` (and maybe a `FallbackAssignmentCallbackUrl`) is POSTed there
//!   with Twilio's parameters; the answer's `accept`/`reject` instruction acts on
//!   [`ActsOn`]. No order with other deliveries.
//! - **Workspace event callback**: every event of a workspace with an `EventCallbackUrl`,
//!   filtered by `EventsFilter`, as Twilio's form; ordered per workspace (the order key is the
//!   workspace SID).
//!
//! Deterministic: `Timestamp` and `TaskAge` come from the event's `occurred_at`, ids from the
//! event's id, so a replay gives the same deliveries byte for byte. TaskRouter issues no
//! commands to other streams yet ([`Reaction::issued`] stays empty).

use super::policy::WebhookKind;
use super::reaction::{ActsOn, Delivery, Reaction};
use crate::envelope::Envelope;
use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::state::Workspace;
use chrono::{DateTime, Utc};

/// What `envelope` (already folded into `ws`) calls for.
pub fn react(ws: &Workspace, envelope: &Envelope) -> Reaction {
    let mut deliveries = Vec::new();
    if let Some(call) = assignment_callback(ws, envelope) {
        deliveries.push(call);
    }
    if let Some(notice) = event_callback(ws, envelope) {
        deliveries.push(notice);
    }
    Reaction {
        issued: Vec::new(),
        deliveries,
    }
}

/// The EV… SID of an event, as `/Events` shows it.
pub fn event_sid(envelope: &Envelope) -> String {
    format!("EV{}", envelope.id.simple())
}

fn age(now: DateTime<Utc>, since: DateTime<Utc>) -> String {
    (now - since).num_seconds().max(0).to_string()
}

fn pairs(form: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    form.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The assignment callback a new reservation calls for, if its workflow names a URL.
pub fn assignment_callback(ws: &Workspace, envelope: &Envelope) -> Option<Delivery> {
    let Event::ReservationCreated(r) = &envelope.event else {
        return None;
    };
    let task = ws.tasks.get(&r.task_sid)?;
    let workflow = ws.workflows.get(&task.workflow_sid)?;
    let worker = ws.workers.get(&r.worker_sid)?;
    let urls: Vec<String> = [
        &workflow.assignment_callback_url,
        &workflow.fallback_assignment_callback_url,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    if urls.is_empty() {
        return None;
    }
    let now = envelope.occurred_at;
    let account = &envelope.account_sid;
    let form = vec![
        ("Timestamp", now.timestamp().to_string()),
        ("AccountSid", account.to_string()),
        ("WorkspaceSid", ws.sid.to_string()),
        ("WorkflowSid", workflow.sid.to_string()),
        ("TaskQueueSid", r.task_queue_sid.to_string()),
        ("WorkerSid", worker.sid.to_string()),
        ("WorkerAttributes", worker.attributes.clone()),
        ("TaskSid", task.sid.to_string()),
        ("TaskAttributes", task.attributes.clone()),
        ("TaskAge", age(now, task.date_created)),
        ("TaskPriority", task.effective_priority().to_string()),
        ("ReservationSid", r.sid.to_string()),
    ];
    Some(Delivery {
        id: Delivery::id_for(envelope.id, WebhookKind::AssignmentCallback, 0),
        kind: WebhookKind::AssignmentCallback,
        account_sid: account.clone(),
        order_key: None,
        urls,
        form: pairs(form),
        acts_on: Some(ActsOn {
            workspace: ws.sid.clone(),
            reservation: r.sid.clone(),
            task: r.task_sid.clone(),
        }),
    })
}

/// The resource an event is about: (type, SID).
pub fn resource(event: &Event) -> Option<(&'static str, &Sid)> {
    Some(match event {
        Event::WorkspaceCreated(_) | Event::WorkspaceUpdated(_) | Event::WorkspaceDeleted(_) => {
            return None
        }
        Event::ActivityCreated(e) => ("activity", &e.sid),
        Event::ActivityUpdated(e) => ("activity", &e.sid),
        Event::ActivityDeleted(e) => ("activity", &e.sid),
        Event::TaskChannelCreated(e) => ("task_channel", &e.sid),
        Event::TaskChannelUpdated(e) => ("task_channel", &e.sid),
        Event::TaskChannelDeleted(e) => ("task_channel", &e.sid),
        Event::WorkerCreated(e) => ("worker", &e.sid),
        Event::WorkerRenamed(e) => ("worker", &e.sid),
        Event::WorkerActivityUpdated(e) => ("worker", &e.sid),
        Event::WorkerAttributesUpdated(e) => ("worker", &e.sid),
        Event::WorkerCapacityUpdated(e) => ("worker", &e.sid),
        Event::WorkerChannelAvailabilityUpdated(e) => ("worker", &e.sid),
        Event::WorkerDeleted(e) => ("worker", &e.sid),
        Event::TaskQueueCreated(e) => ("task_queue", &e.sid),
        Event::TaskQueueUpdated(e) => ("task_queue", &e.sid),
        Event::TaskQueueDeleted(e) => ("task_queue", &e.sid),
        Event::WorkflowCreated(e) => ("workflow", &e.sid),
        Event::WorkflowUpdated(e) => ("workflow", &e.sid),
        Event::WorkflowDeleted(e) => ("workflow", &e.sid),
        Event::TaskCreated(e) => ("task", &e.sid),
        Event::TaskUpdated(e) => ("task", &e.sid),
        Event::TargetMatched(e) => ("task", &e.task_sid),
        Event::WorkflowTimeout(e) => ("task", &e.task_sid),
        Event::TaskCanceled(e) | Event::TaskWrapup(e) | Event::TaskCompleted(e) => ("task", &e.sid),
        Event::TaskDeleted(e) => ("task", &e.sid),
        Event::ReservationCreated(e) => ("reservation", &e.sid),
        Event::ReservationRejected(e) => ("reservation", &e.sid),
        Event::ReservationAccepted(e)
        | Event::ReservationTimeout(e)
        | Event::ReservationRescinded(e)
        | Event::ReservationCanceled(e)
        | Event::ReservationWrapup(e)
        | Event::ReservationCompleted(e) => ("reservation", &e.sid),
        _ => return None,
    })
}

/// The workspace event callback `envelope` calls for (unless `EventsFilter` leaves it out),
/// with the task, worker and reservation fields Twilio sends, as of the state after it.
pub fn event_callback(ws: &Workspace, envelope: &Envelope) -> Option<Delivery> {
    let url = ws.event_callback_url.clone()?;
    let event = &envelope.event;
    let event_type = event.type_name();
    if let Some(filter) = ws.events_filter.as_deref() {
        let mut wanted = filter.split(',').map(str::trim).filter(|s| !s.is_empty());
        if !wanted.any(|f| f == event_type) {
            return None;
        }
    }
    let now = envelope.occurred_at;
    let mut form = vec![
        ("Sid", event_sid(envelope)),
        ("EventType", event_type.to_string()),
        ("AccountSid", envelope.account_sid.to_string()),
        ("WorkspaceSid", ws.sid.to_string()),
        ("WorkspaceName", ws.friendly_name.clone()),
        ("Timestamp", now.timestamp().to_string()),
        (
            "EventDescription",
            format!("{event_type} in workspace {}", ws.friendly_name),
        ),
    ];
    let (kind, sid) = match resource(event) {
        Some((kind, sid)) => (kind, sid.clone()),
        None => ("workspace", ws.sid.clone()),
    };
    form.push(("ResourceType", kind.to_string()));
    form.push(("ResourceSid", sid.to_string()));
    let (task, worker) = match kind {
        "task" => (Some(sid.clone()), None),
        "worker" => (None, Some(sid.clone())),
        "reservation" => match ws.reservations.get(&sid) {
            Some(r) => {
                form.push(("ReservationSid", r.sid.to_string()));
                form.push(("TaskQueueSid", r.queue_sid.to_string()));
                (Some(r.task_sid.clone()), Some(r.worker_sid.clone()))
            }
            None => (None, None),
        },
        _ => (None, None),
    };
    if let Some(t) = task.as_ref().and_then(|t| ws.tasks.get(t)) {
        form.push(("TaskSid", t.sid.to_string()));
        form.push(("TaskAttributes", t.attributes.clone()));
        form.push(("TaskAge", age(now, t.date_created)));
        form.push(("TaskPriority", t.effective_priority().to_string()));
        form.push(("TaskAssignmentStatus", t.status.as_str().to_string()));
        form.push(("WorkflowSid", t.workflow_sid.to_string()));
        if let Some(reason) = &t.reason {
            match event {
                Event::TaskCanceled(_) => form.push(("TaskCanceledReason", reason.clone())),
                Event::TaskCompleted(_) => form.push(("TaskCompletedReason", reason.clone())),
                _ => {}
            }
        }
    }
    if let Some(w) = worker.as_ref().and_then(|w| ws.workers.get(w)) {
        form.push(("WorkerSid", w.sid.to_string()));
        form.push(("WorkerName", w.friendly_name.clone()));
        form.push(("WorkerAttributes", w.attributes.clone()));
        form.push(("WorkerActivitySid", w.activity_sid.to_string()));
        form.push((
            "WorkerActivityName",
            ws.activity_name(&w.activity_sid)
                .unwrap_or_default()
                .to_string(),
        ));
    }
    Some(Delivery {
        id: Delivery::id_for(envelope.id, WebhookKind::EventCallback, 0),
        kind: WebhookKind::EventCallback,
        account_sid: envelope.account_sid.clone(),
        order_key: Some(ws.sid.clone()),
        urls: vec![url],
        form: pairs(form),
        acts_on: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sid::SidPrefix;
    use crate::taskrouter::events::{WorkspaceCreated, WorkspaceUpdated};
    use crate::taskrouter::state::evolve;
    use crate::Position;
    use uuid::Uuid;

    fn envelope(ws: &Sid, n: u128, at_ms: i64, event: Event) -> Envelope {
        Envelope {
            id: Uuid::from_u128(n),
            stream: ws.to_string(),
            seq: n as u64,
            position: Position::embedded(n as u64),
            occurred_at: DateTime::from_timestamp_millis(at_ms).unwrap_or_default(),
            account_sid: Sid::from_u128(SidPrefix::Account, 7),
            correlation_id: Uuid::from_u128(99),
            causation_id: None,
            region: "test".into(),
            schema_version: event.schema_version(),
            event,
        }
    }

    fn created(url: Option<&str>) -> Event {
        Event::WorkspaceCreated(WorkspaceCreated {
            friendly_name: "Support".into(),
            event_callback_url: url.map(str::to_string),
            events_filter: None,
            multi_task_enabled: false,
            prioritize_queue_order: Default::default(),
        })
    }

    #[test]
    fn an_event_callback_is_a_function_of_the_event_and_the_state() {
        let ws_sid = Sid::from_u128(SidPrefix::Workspace, 1);
        let e = envelope(
            &ws_sid,
            1,
            1_764_000_000_000,
            created(Some("http://a/e#rc=3")),
        );
        let ws = evolve(None, &ws_sid, e.occurred_at, &e.event).expect("created");
        let once = react(&ws, &e);
        let again = react(&ws, &e);
        assert_eq!(once, again);
        assert!(once.issued.is_empty());
        let d = &once.deliveries[0];
        assert_eq!(d.kind, WebhookKind::EventCallback);
        assert_eq!(d.order_key.as_ref(), Some(&ws_sid));
        assert_eq!(
            d.urls,
            vec!["http://a/e#rc=3".to_string()],
            "fragments kept as configured"
        );
        assert_eq!(
            d.id,
            format!("{}:event_callback:0", Uuid::from_u128(1).simple())
        );
        let get = |k: &str| d.form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("Timestamp"),
            Some("1764000000"),
            "from occurred_at, not a clock"
        );
        assert_eq!(get("Sid"), Some(event_sid(&e).as_str()));
        assert_eq!(get("EventType"), Some("workspace.created"));
        assert_eq!(get("ResourceType"), Some("workspace"));
    }

    #[test]
    fn events_filter_leaves_out_what_it_does_not_name_and_no_url_means_no_callback() {
        let ws_sid = Sid::from_u128(SidPrefix::Workspace, 1);
        let e = envelope(&ws_sid, 1, 0, created(None));
        let ws = evolve(None, &ws_sid, e.occurred_at, &e.event).expect("created");
        assert!(react(&ws, &e).deliveries.is_empty());
        let update = WorkspaceUpdated {
            event_callback_url: Some("http://a/e".into()),
            events_filter: Some("task.created, task.completed".into()),
            ..WorkspaceUpdated::default()
        };
        let u = envelope(&ws_sid, 2, 0, Event::WorkspaceUpdated(update));
        let ws = evolve(Some(ws), &ws_sid, u.occurred_at, &u.event).expect("updated");
        assert!(
            react(&ws, &u).deliveries.is_empty(),
            "workspace.updated is filtered out"
        );
    }
}
