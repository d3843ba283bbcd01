//! Supervisor reads from the `taskrouter` read model, beside the TaskRouter API:
//!
//! - `GET /supervisor/v1/Workspaces/{WS}/QueuePositions` (`TaskQueueSid` to narrow): every
//!   waiting task's position in its queue — 1 is the task the queue offers next — with its
//!   effective priority, status, age and time in the queue.
//! - `GET /supervisor/v1/Workspaces/{WS}/WorkerAssignments` (`WorkerSid` to narrow): each
//!   worker's activity, its channels (capacity, capacity in use, availability) and the
//!   reservations it holds.
//!
//! Both answer from the projection after it has passed the caller's last write (bounded by
//! `--read-wait-ms`, as every read model read), in Twilio's list envelope; another account's
//! workspace is 404 like one that does not exist.

use super::auth::Caller;
use super::twilio::{iso_ms, ApiError, Params};
use super::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::{taskrouter, workspaces};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/supervisor/v1/Workspaces/{ws}/QueuePositions",
            get(queue_positions),
        )
        .route(
            "/supervisor/v1/Workspaces/{ws}/WorkerAssignments",
            get(worker_assignments),
        )
}

/// Waits for the caller's writes, checks the workspace is the caller's, and hands a
/// connection to the projection store.
async fn open(
    state: &AppState,
    caller: &Sid,
    ws: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, ApiError> {
    let ws = Sid::parse_as(ws, SidPrefix::Workspace).map_err(|_| ApiError::not_found(path))?;
    state.read_your_writes("taskrouter", caller, headers).await;
    let mut conn = state.read_model().await?;
    let row = workspaces::get(&mut conn, ws.as_str())
        .await
        .map_err(|e| ApiError::unavailable(format!("The read model cannot be read: {e}")))?;
    match row {
        Some(r) if r.account_sid == caller.as_str() => Ok(conn),
        _ => Err(ApiError::not_found(path)),
    }
}

fn page(
    state: &AppState,
    items: Vec<Value>,
    key: &str,
    path: &str,
    query: Option<&str>,
) -> Result<Value, ApiError> {
    let url = format!("{}{}", state.config().public_url, path);
    super::twilio::page(items, key, &url, query)
}

async fn queue_positions(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/supervisor/v1/Workspaces/{ws}/QueuePositions");
    let mut conn = open(&state, &caller.sid, &ws, &path, &headers).await?;
    let params = Params::from_query(query.as_deref())?;
    let rows = taskrouter::queue_positions(&mut conn, &ws, params.get("TaskQueueSid"))
        .await
        .map_err(|e| ApiError::unavailable(format!("The read model cannot be read: {e}")))?;
    let now = crate::commands::now_ms().timestamp_millis();
    let items = rows
        .into_iter()
        .map(|p| {
            json!({
                "task_queue_sid": p.task_queue_sid,
                "task_queue_friendly_name": p.task_queue_name,
                "task_sid": p.task_sid,
                "position": p.position,
                "priority": p.priority,
                "assignment_status": p.status,
                "task_channel_sid": p.task_channel_sid,
                "age": (now - p.age_ms).max(0) / 1000,
                "task_queue_entered_date": iso_ms(p.entered_ms),
                "workspace_sid": ws,
            })
        })
        .collect();
    Ok(Json(page(
        &state,
        items,
        "queue_positions",
        &path,
        query.as_deref(),
    )?))
}

async fn worker_assignments(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/supervisor/v1/Workspaces/{ws}/WorkerAssignments");
    let mut conn = open(&state, &caller.sid, &ws, &path, &headers).await?;
    let params = Params::from_query(query.as_deref())?;
    let rows = taskrouter::worker_assignments(&mut conn, &ws, params.get("WorkerSid"))
        .await
        .map_err(|e| ApiError::unavailable(format!("The read model cannot be read: {e}")))?;
    let items = rows
        .into_iter()
        .map(|w| {
            json!({
                "worker_sid": w.worker_sid,
                "friendly_name": w.friendly_name,
                "activity_sid": w.activity_sid,
                "activity_name": w.activity_name,
                "available": w.available,
                "date_status_changed": iso_ms(w.status_changed_ms),
                "channels": w.channels.iter().map(|c| json!({
                    "task_channel_sid": c.task_channel_sid,
                    "task_channel_unique_name": c.unique_name,
                    "configured_capacity": c.capacity,
                    "assigned_tasks": c.busy,
                    "available_capacity_percentage": if c.capacity > 0 {
                        (100 * (c.capacity - c.busy).max(0)) / c.capacity
                    } else { 0 },
                    "available": c.available,
                })).collect::<Vec<Value>>(),
                "reservations": w.reservations.iter().map(|r| json!({
                    "sid": r.sid,
                    "task_sid": r.task_sid,
                    "task_queue_sid": r.task_queue_sid,
                    "reservation_status": r.status,
                    "date_created": iso_ms(r.created_ms),
                })).collect::<Vec<Value>>(),
                "workspace_sid": ws,
            })
        })
        .collect();
    Ok(Json(page(
        &state,
        items,
        "worker_assignments",
        &path,
        query.as_deref(),
    )?))
}
