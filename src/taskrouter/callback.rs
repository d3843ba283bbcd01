//! The assignment callback, a process manager: for every new reservation whose workflow names
//! an `AssignmentCallbackUrl`, POST Twilio's parameters there (5 s), then to the fallback URL
//! if that failed; an `accept` or `reject` instruction in a 200 JSON answer becomes the
//! reservation update it names. Idempotent: the update is a command with the reservation's
//! own transition rules, so a repeated or late instruction changes nothing.

use super::Engine;
use std::sync::OnceLock;
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

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
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
        match client().post(url).form(&call.form).send().await {
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
