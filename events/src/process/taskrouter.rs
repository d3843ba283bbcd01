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
use crate::call::HttpMethod;
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
        method: HttpMethod::Post,
        form: pairs(form),
        acts_on: Some(ActsOn {
            workspace: ws.sid.clone(),
            reservation: r.sid.clone(),
            task: r.task_sid.clone(),
        }),
    })
}

/// The resource an event is about: (type, SID), from the one table of what each event names
/// ([`refs`](crate::taskrouter::refs)).
pub fn resource(event: &Event) -> Option<(&'static str, &Sid)> {
    crate::taskrouter::refs::refs(event).resource()
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
        "task" => {
            queue_fields(ws, event, &sid, &mut form);
            (Some(sid.clone()), None)
        }
        "worker" => {
            channel_fields(ws, event, &sid, &mut form);
            (None, Some(sid.clone()))
        }
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
        method: HttpMethod::Post,
        form: pairs(form),
        acts_on: None,
    })
}

/// A task event's queue (`TaskQueueSid`, `TaskQueueName`, as Twilio sends them): the one a
/// `task-queue.*` event names (the queue left, for `task-queue.moved`), else the queue the
/// task waits in.
fn queue_fields(ws: &Workspace, event: &Event, task: &Sid, form: &mut Vec<(&'static str, String)>) {
    let queue = match event {
        Event::TaskQueueEntered(e) | Event::TaskQueueTimeout(e) => Some(&e.task_queue_sid),
        Event::TaskQueueMoved(e) => Some(&e.task_queue_sid),
        Event::WorkflowSkipped(e) => Some(&e.task_queue_sid),
        _ => ws
            .tasks
            .get(task)
            .and_then(|t| t.step.as_ref())
            .map(|s| &s.queue_sid),
    };
    if let Some(q) = queue {
        form.push(("TaskQueueSid", q.to_string()));
        if let Some(queue) = ws.queues.get(q) {
            form.push(("TaskQueueName", queue.friendly_name.clone()));
        }
    }
}

/// A worker channel event's channel fields, as Twilio sends them with
/// `worker.capacity.update` and `worker.channel.availability.update`.
fn channel_fields(
    ws: &Workspace,
    event: &Event,
    worker: &Sid,
    form: &mut Vec<(&'static str, String)>,
) {
    let (channel, previous) = match event {
        Event::WorkerCapacityUpdated(e) => (&e.task_channel_sid, e.previous_capacity),
        Event::WorkerChannelAvailabilityUpdated(e) => (&e.task_channel_sid, None),
        _ => return,
    };
    form.push(("TaskChannelSid", channel.to_string()));
    if let Some(c) = ws.channels.get(channel) {
        form.push(("TaskChannelUniqueName", c.unique_name.clone()));
    }
    if let Some(c) = ws.workers.get(worker).and_then(|w| w.channels.get(channel)) {
        form.push(("WorkerChannelAvailable", c.available.to_string()));
        form.push((
            "WorkerChannelAvailableCapacity",
            c.capacity.saturating_sub(c.busy).to_string(),
        ));
        form.push(("WorkerChannelTaskCount", c.busy.to_string()));
    }
    if let Some(p) = previous {
        form.push(("WorkerChannelPreviousCapacity", p.to_string()));
    }
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
