//! The assignment callback, a process manager: for every new reservation whose workflow names
//! an `AssignmentCallbackUrl`, POST Twilio's parameters there (5 s by default,
//! `--taskrouter-assignment-callback-timeout-ms`), then to the fallback URL if that failed;
//! an `accept` or `reject` instruction in a 200 JSON answer becomes the reservation update it
//! names. Idempotent: the update is a command with the reservation's own transition rules, so
//! a repeated or late instruction changes nothing.

use super::{Engine, TaskRouterLimits};
use std::time::Duration;
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::state::Workspace;
use switchboard_events::{Event, Metadata, Sid, SidPrefix};
use tracing::{info, warn};
use uuid::Uuid;

/// One callback to make.
pub struct Call {
    workspace: Sid,
    account: Sid,
    reservation: Sid,
    task: Sid,
    urls: Vec<String>,
    form: Vec<(&'static str, String)>,
}

/// The HTTP clients callbacks go out on, each with its request timeout from
/// [`TaskRouterLimits`]; one pair per engine, so connections to a receiver are reused.
#[derive(Clone)]
pub struct Clients {
    /// Assignment callbacks.
    pub assignment: reqwest::Client,
    /// Workspace event callbacks.
    pub event: reqwest::Client,
}

impl Clients {
    /// Clients within `limits`.
    pub fn new(limits: &TaskRouterLimits) -> Clients {
        let client = |timeout: Duration| {
            reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap_or_default()
        };
        Clients {
            assignment: client(limits.assignment_callback_timeout),
            event: client(limits.event_callback_timeout),
        }
    }
}

/// The callbacks `events` (just committed) call for.
pub fn calls(ws: &Workspace, account: &Sid, events: &[Event]) -> Vec<Call> {
    let now = crate::commands::now_ms();
    events
        .iter()
        .filter_map(|e| match e {
            Event::ReservationCreated(r) => Some(r),
            _ => None,
        })
        .filter_map(|r| {
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
            Some(Call {
                workspace: ws.sid.clone(),
                account: account.clone(),
                reservation: r.sid.clone(),
                task: r.task_sid.clone(),
                urls,
                form: vec![
                    ("Timestamp", now.timestamp().to_string()),
                    ("AccountSid", account.to_string()),
                    ("WorkspaceSid", ws.sid.to_string()),
                    ("WorkflowSid", workflow.sid.to_string()),
                    ("TaskQueueSid", r.task_queue_sid.to_string()),
                    ("WorkerSid", worker.sid.to_string()),
                    ("WorkerAttributes", worker.attributes.clone()),
                    ("TaskSid", task.sid.to_string()),
                    ("TaskAttributes", task.attributes.clone()),
                    (
                        "TaskAge",
                        (now - task.date_created).num_seconds().max(0).to_string(),
                    ),
                    ("TaskPriority", task.effective_priority().to_string()),
                    ("ReservationSid", r.sid.to_string()),
                ],
            })
        })
        .collect()
}

/// Makes the call and carries out its instruction.
pub async fn assignment(engine: Engine, call: Call) {
    let mut instruction = None;
    for url in &call.urls {
        match engine
            .callbacks
            .assignment
            .post(url)
            .form(&call.form)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                instruction = Some(r.json::<serde_json::Value>().await.unwrap_or_default());
                break;
            }
            Ok(r) => {
                warn!(%url, status = %r.status(), reservation = %call.reservation, "assignment callback refused")
            }
            Err(e) => {
                warn!(%url, cause = %e, reservation = %call.reservation, "assignment callback failed")
            }
        }
    }
    let Some(body) = instruction else {
        return;
    };
    let (status, activity) = match body["instruction"].as_str() {
        Some("accept") => ("accepted", None),
        Some("reject") => (
            "rejected",
            body["activity_sid"]
                .as_str()
                .and_then(|a| Sid::parse_as(a, SidPrefix::Activity).ok()),
        ),
        Some(other) => {
            warn!(instruction = other, reservation = %call.reservation, "assignment instruction not supported here");
            return;
        }
        None => return,
    };
    let meta = Metadata {
        occurred_at: crate::commands::now_ms(),
        account_sid: call.account.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        region: "assignment-callback".into(),
    };
    let command = Command::UpdateReservation {
        sid: call.reservation.clone(),
        via: call.task.clone(),
        status: status.into(),
        activity_sid: activity,
        if_match: None,
    };
    match engine
        .execute(&call.workspace, command, meta, |_, _| ())
        .await
    {
        Ok(_) => {
            info!(reservation = %call.reservation, status, "assignment instruction carried out")
        }
        Err(e) => {
            warn!(reservation = %call.reservation, cause = %e, "assignment instruction not carried out")
        }
    }
}

/// One workspace event to POST to the workspace's `EventCallbackUrl`.
pub struct Notice {
    url: String,
    form: Vec<(&'static str, String)>,
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
        Event::TaskDeleted(e) | Event::TaskSystemDeleted(e) => ("task", &e.sid),
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

/// The workspace event callbacks `events` call for, filtered by `EventsFilter`, with the
/// task, worker and reservation fields Twilio sends (as of the state after the commit).
pub fn notices<'a>(
    ws: &Workspace,
    account: &Sid,
    events: impl Iterator<Item = &'a Event>,
) -> Vec<Notice> {
    let Some(url) = ws.event_callback_url.clone() else {
        return Vec::new();
    };
    let filter: Option<Vec<&str>> = ws.events_filter.as_deref().map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    let now = crate::commands::now_ms();
    let mut out = Vec::new();
    for event in events {
        let event_type = event.type_name();
        if filter.as_ref().is_some_and(|f| !f.contains(&event_type)) {
            continue;
        }
        let mut form = vec![
            ("EventType", event_type.to_string()),
            ("AccountSid", account.to_string()),
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
            form.push((
                "TaskAge",
                (now - t.date_created).num_seconds().max(0).to_string(),
            ));
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
        out.push(Notice {
            url: url.clone(),
            form,
        });
    }
    out
}

/// Delivers a workspace's event callbacks in order, one at a time on `client` (15 s each by
/// default, as Twilio allows), until the workspace's actor goes away.
pub async fn deliver(client: reqwest::Client, mut rx: tokio::sync::mpsc::Receiver<Notice>) {
    while let Some(notice) = rx.recv().await {
        match client.post(&notice.url).form(&notice.form).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => warn!(url = %notice.url, status = %r.status(), "event callback refused"),
            Err(e) => warn!(url = %notice.url, cause = %e, "event callback failed"),
        }
    }
}
