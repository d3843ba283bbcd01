//! Task queues: `GET`/`POST /v1/Workspaces/{WS}/TaskQueues` (filter `FriendlyName`) and
//! `GET`/`POST`/`DELETE /v1/Workspaces/{WS}/TaskQueues/{WQ}`. A queue's statistics, the list
//! `TaskQueues/Statistics` and the bulk `TaskQueues/RealTimeStatistics` are
//! [`super::statistics`].

use super::resource::{create, delete, fetch, list, update, Resource};
use super::{order, Ctx};
use crate::http::twilio::{iso, ApiError, Params};
use crate::http::AppState;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::taskrouter::events::{QueueOrder, TaskQueueUpdated};
use switchboard_events::taskrouter::state::{TaskQueue, Workspace};
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues",
            get(list::<TaskQueues>).post(create::<TaskQueues>),
        )
        .route(
            "/v1/Workspaces/{workspace_sid}/TaskQueues/{task_queue_sid}",
            get(fetch::<TaskQueues>)
                .post(update::<TaskQueues>)
                .delete(delete::<TaskQueues>),
        )
}

/// See the module doc.
pub(super) struct TaskQueues;

impl Resource for TaskQueues {
    const LIST: &'static str = "TaskQueues";
    const KEY: &'static str = "task_queues";
    const PREFIX: SidPrefix = SidPrefix::TaskQueue;

    fn render(c: &Ctx, ws: &Workspace, sid: &Sid) -> Option<Value> {
        ws.queues.get(sid).map(|q| queue_json(c, ws, q))
    }

    fn select(c: &Ctx, ws: &Workspace, p: &Params) -> Vec<Value> {
        ws.queues
            .values()
            .filter(|q| p.allows("FriendlyName", &q.friendly_name))
            .map(|q| queue_json(c, ws, q))
            .collect()
    }

    fn create(params: &Params) -> Result<Command, ApiError> {
        let friendly_name = params.required("FriendlyName")?;
        let s = Settings::parse(params)?;
        Ok(Command::CreateTaskQueue {
            friendly_name,
            target_workers: s.target_workers,
            task_order: s.task_order,
            max_reserved_workers: s.max_reserved_workers,
            reservation_activity_sid: s.reservation_activity_sid,
            assignment_activity_sid: s.assignment_activity_sid,
        })
    }

    fn update(sid: Sid, _: &HeaderMap, params: &Params) -> Result<Command, ApiError> {
        let friendly_name = params.get("FriendlyName").map(str::to_string);
        let s = Settings::parse(params)?;
        Ok(Command::UpdateTaskQueue(TaskQueueUpdated {
            sid,
            friendly_name,
            target_workers: s.target_workers,
            task_order: s.task_order,
            max_reserved_workers: s.max_reserved_workers,
            reservation_activity_sid: s.reservation_activity_sid,
            assignment_activity_sid: s.assignment_activity_sid,
        }))
    }

    fn delete(sid: Sid, _: &HeaderMap) -> Result<Command, ApiError> {
        Ok(Command::DeleteTaskQueue { sid })
    }
}

/// What a create and an update both may set, besides the name (read in this order, so the
/// first bad one is the one reported).
struct Settings {
    target_workers: Option<String>,
    task_order: Option<QueueOrder>,
    max_reserved_workers: Option<u32>,
    reservation_activity_sid: Option<Sid>,
    assignment_activity_sid: Option<Sid>,
}

impl Settings {
    fn parse(params: &Params) -> Result<Settings, ApiError> {
        Ok(Settings {
            target_workers: params.get("TargetWorkers").map(str::to_string),
            task_order: order(params, "TaskOrder")?,
            max_reserved_workers: params.u32("MaxReservedWorkers", 1000)?,
            reservation_activity_sid: params.sid("ReservationActivitySid", SidPrefix::Activity)?,
            assignment_activity_sid: params.sid("AssignmentActivitySid", SidPrefix::Activity)?,
        })
    }
}

fn queue_json(c: &Ctx, ws: &Workspace, q: &TaskQueue) -> Value {
    let url = format!("{}/TaskQueues/{}", c.ws_url(ws), q.sid);
    let name = |a: &Option<Sid>| a.as_ref().and_then(|a| ws.activity_name(a));
    json!({
        "account_sid": c.account,
        "assignment_activity_sid": q.assignment_activity_sid,
        "assignment_activity_name": name(&q.assignment_activity_sid),
        "date_created": iso(q.date_created), "date_updated": iso(q.date_updated),
        "friendly_name": q.friendly_name, "max_reserved_workers": q.max_reserved_workers,
        "reservation_activity_sid": q.reservation_activity_sid,
        "reservation_activity_name": name(&q.reservation_activity_sid),
        "sid": q.sid, "target_workers": q.target_workers, "task_order": q.task_order.as_str(),
        "url": url, "workspace_sid": ws.sid,
        "links": {
            "statistics": format!("{url}/Statistics"),
            "real_time_statistics": format!("{url}/RealTimeStatistics"),
            "cumulative_statistics": format!("{url}/CumulativeStatistics"),
            "workspace": c.ws_url(ws),
        }
    })
}
