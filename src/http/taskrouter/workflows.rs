//! Workflows: `GET`/`POST /v1/Workspaces/{WS}/Workflows` (filter `FriendlyName`) and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/Workflows/{WW}` (an update may re-evaluate the
//! workflow's tasks). A workflow's statistics are [`super::statistics`].

use super::resource::{create, delete, fetch, list, update, Resource};
use super::Ctx;
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::events::WorkflowUpdated;
use switchboard_events::taskrouter::state::{WorkflowState, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows",
            get(list::<Workflows>).post(create::<Workflows>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/Workflows/{workflow_sid}",
            get(fetch::<Workflows>)
                .post(update::<Workflows>)
                .delete(delete::<Workflows>),
        )
}

/// See the module doc.
pub(super) struct Workflows;

impl Resource for Workflows {
    const LIST: &'static str = "Workflows";
    const KEY: &'static str = "workflows";
    const PREFIX: SidPrefix = SidPrefix::Workflow;

    fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
        ws.workflows.get(sid).map(|x| workflow_json(c, ws, x))
    }

    fn select(c: &Ctx, ws: &Workspace, p: &Params) -> Vec<Value> {
        ws.workflows
            .values()
            .filter(|x| p.allows("FriendlyName", &x.friendly_name))
            .map(|x| workflow_json(c, ws, x))
            .collect()
    }

    fn create(params: &Params) -> Result<Command, ApiError> {
        let friendly_name = params.required("FriendlyName")?;
        let configuration = params.required("Configuration")?;
        let s = Callbacks::parse(params)?;
        Ok(Command::CreateWorkflow {
            friendly_name,
            configuration,
            assignment_callback_url: s.assignment_callback_url,
            fallback_assignment_callback_url: s.fallback_assignment_callback_url,
            task_reservation_timeout: s.task_reservation_timeout,
        })
    }

    fn update(sid: Sid, _: &HeaderMap, params: &Params) -> Result<Command, ApiError> {
        let friendly_name = params.get("FriendlyName").map(str::to_string);
        let configuration = params.get("Configuration").map(str::to_string);
        let s = Callbacks::parse(params)?;
        Ok(Command::UpdateWorkflow {
            change: WorkflowUpdated {
                sid,
                friendly_name,
                configuration,
                assignment_callback_url: s.assignment_callback_url,
                fallback_assignment_callback_url: s.fallback_assignment_callback_url,
                task_reservation_timeout: s.task_reservation_timeout,
            },
            re_evaluate_tasks: params.flag("ReEvaluateTasks")?.unwrap_or(false),
        })
    }

    fn delete(sid: Sid, _: &HeaderMap) -> Result<Command, ApiError> {
        Ok(Command::DeleteWorkflow { sid })
    }
}

/// The assignment settings a create and an update both may set.
struct Callbacks {
    assignment_callback_url: Option<String>,
    fallback_assignment_callback_url: Option<String>,
    task_reservation_timeout: Option<u32>,
}

impl Callbacks {
    fn parse(params: &Params) -> Result<Callbacks, ApiError> {
        Ok(Callbacks {
            assignment_callback_url: params.get("AssignmentCallbackUrl").map(str::to_string),
            fallback_assignment_callback_url: params
                .get("FallbackAssignmentCallbackUrl")
                .map(str::to_string),
            task_reservation_timeout: params.u32("TaskReservationTimeout", 1_000_000)?,
        })
    }
}

fn workflow_json(c: &Ctx, ws: &Workspace, w: &WorkflowState) -> Value {
    let url = format!("{}/Workflows/{}", c.ws_url(ws), w.sid);
    json!({
        "account_sid": c.account, "assignment_callback_url": w.assignment_callback_url,
        "configuration": w.configuration, "date_created": iso(w.date_created),
        "date_updated": iso(w.date_updated), "document_content_type": "application/json",
        "fallback_assignment_callback_url": w.fallback_assignment_callback_url,
        "friendly_name": w.friendly_name, "sid": w.sid,
        "task_reservation_timeout": w.task_reservation_timeout, "workspace_sid": ws.sid,
        "url": url,
        "links": {
            "statistics": format!("{url}/Statistics"),
            "real_time_statistics": format!("{url}/RealTimeStatistics"),
            "cumulative_statistics": format!("{url}/CumulativeStatistics"),
            "workspace": c.ws_url(ws),
        }
    })
}
