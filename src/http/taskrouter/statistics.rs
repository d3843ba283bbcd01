//! The Statistics family: `Statistics`, `RealTimeStatistics` and `CumulativeStatistics` of the
//! workspace, a queue, a workflow and the workers; a worker's `Statistics`; the list
//! `TaskQueues/Statistics`; the bulk `POST TaskQueues/RealTimeStatistics`.
//!
//! Real-time figures come from the workspace's state (exact at the moment of the request).
//! Cumulative figures come from the `taskrouter` projection's per-minute counters, after the
//! projection has caught up with the log (bounded by `--read-wait-ms`): a window covers the
//! whole minutes from `StartDate` (or `Minutes` ago; 15 by default, as Twilio) to `EndDate`.
//! `TaskChannel` narrows both to one channel; `SplitByWaitTime` adds, per threshold, the
//! accepted reservations and canceled tasks that waited less than it and at least as long.
//!
//! Each path has a route of its own in [`routes`].

use super::{path_sid, read, Ctx};
use crate::http::twilio::{iso, page, ApiError, Params};
use crate::http::AppState;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use switchboard_events::taskrouter::expression::Context;
use switchboard_events::taskrouter::state::{Task, TaskQueue, Worker, Workspace};
use switchboard_events::{Sid, SidPrefix};
use switchboard_projections::taskrouter::{self as projection, counter, Counter, Summed};

mod routes;
pub(super) use routes::router;

/// Whose statistics.
#[derive(Debug, Clone)]
pub(super) enum Scope {
    /// The workspace.
    Workspace,
    /// One queue.
    Queue(Sid),
    /// One workflow.
    Workflow(Sid),
    /// Every worker.
    Workers,
    /// One worker (cumulative only, as Twilio).
    Worker(Sid),
}

/// Which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// `{realtime, cumulative}`.
    Combined,
    /// Real-time only.
    RealTime,
    /// Cumulative only.
    Cumulative,
}

impl Form {
    /// Its path segment: `Statistics`, `RealTimeStatistics` or `CumulativeStatistics`.
    pub(super) fn segment(self) -> &'static str {
        match self {
            Form::Combined => "Statistics",
            Form::RealTime => "RealTimeStatistics",
            Form::Cumulative => "CumulativeStatistics",
        }
    }
}

/// The window and filters of a request.
#[derive(Debug, Clone)]
struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    channel: Option<String>,
    split: Vec<i64>,
}

impl Window {
    fn parse(params: &Params) -> Result<Window, ApiError> {
        let now = crate::commands::now_ms();
        let end = params.date("EndDate")?.unwrap_or(now);
        let start = match (
            params.date("StartDate")?,
            params.int("Minutes", 1..=43_200)?,
        ) {
            (Some(d), _) => d,
            (None, Some(m)) => end - chrono::Duration::minutes(m),
            (None, None) => end - chrono::Duration::minutes(15),
        };
        if start > end {
            return Err(ApiError::bad_parameter(format!(
                "StartDate {} is after EndDate {}",
                iso(start),
                iso(end)
            )));
        }
        let mut split = Vec::new();
        if let Some(s) = params.get("SplitByWaitTime") {
            for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match part.parse::<i64>() {
                    Ok(n) if (0..=86_400 * 30).contains(&n) => split.push(n),
                    _ => {
                        return Err(ApiError::bad_parameter(format!(
                            "SplitByWaitTime must be a comma-separated list of seconds, got {s:?}"
                        )))
                    }
                }
            }
            split.sort_unstable();
            split.dedup();
        }
        Ok(Window {
            start,
            end,
            now,
            channel: params.get("TaskChannel").map(str::to_string),
            split,
        })
    }

    fn minutes(&self) -> (i64, i64) {
        (
            self.start.timestamp_millis().div_euclid(60_000),
            self.end.timestamp_millis().div_euclid(60_000),
        )
    }
}

fn counts<'a>(items: impl Iterator<Item = &'a str>) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for k in items {
        let n = m.get(k).and_then(Value::as_u64).unwrap_or(0) + 1;
        m.insert(k.to_string(), json!(n));
    }
    m
}

/// Tasks by status, by priority, the longest waiting, and their number.
fn task_figures(tasks: &[&Task], now: DateTime<Utc>) -> serde_json::Map<String, Value> {
    let mut by_status = serde_json::Map::new();
    for s in ["pending", "reserved", "assigned", "wrapping"] {
        by_status.insert(
            s.into(),
            json!(tasks.iter().filter(|t| t.status.as_str() == s).count()),
        );
    }
    let priorities: Vec<String> = tasks
        .iter()
        .map(|t| t.effective_priority().to_string())
        .collect();
    let waiting = tasks
        .iter()
        .filter(|t| t.status.routable())
        .min_by_key(|t| (t.age_from(), t.sid.clone()));
    let mut m = serde_json::Map::new();
    m.insert(
        "longest_task_waiting_age".into(),
        json!(waiting.map_or(0, |t| (now - t.age_from()).num_seconds().max(0))),
    );
    m.insert(
        "longest_task_waiting_sid".into(),
        json!(waiting.map(|t| &t.sid)),
    );
    m.insert(
        "tasks_by_priority".into(),
        Value::Object(counts(priorities.iter().map(String::as_str))),
    );
    m.insert("tasks_by_status".into(), Value::Object(by_status));
    m.insert("total_tasks".into(), json!(tasks.len()));
    m
}

fn activity_statistics(w: &Workspace, workers: &[&Worker]) -> Vec<Value> {
    w.activities
        .values()
        .map(|a| {
            json!({"friendly_name": a.friendly_name, "sid": a.sid,
                   "workers": workers.iter().filter(|x| x.activity_sid == a.sid).count()})
        })
        .collect()
}

/// The channel a `TaskChannel` parameter names (SID or unique name).
fn channel_sid(w: &Workspace, given: Option<&str>) -> Result<Option<Sid>, ApiError> {
    match given {
        None => Ok(None),
        Some(name) => w
            .channel_named(name)
            .map(|c| Some(c.sid.clone()))
            .ok_or_else(|| {
                ApiError::bad_parameter(format!(
                    "TaskChannel {name:?} is not a task channel of this workspace"
                ))
            }),
    }
}

fn open_tasks<'a>(
    w: &'a Workspace,
    channel: Option<&Sid>,
    keep: impl Fn(&Task) -> bool,
) -> Vec<&'a Task> {
    w.tasks
        .values()
        .filter(|t| !t.status.closed())
        .filter(|t| channel.is_none_or(|c| t.task_channel_sid == *c))
        .filter(|t| keep(t))
        .collect()
}

/// Real-time statistics of a queue.
fn queue_realtime(
    c: &Ctx,
    w: &Workspace,
    q: &TaskQueue,
    channel: Option<&Sid>,
    now: DateTime<Utc>,
) -> Value {
    let tasks = open_tasks(w, channel, |t| {
        t.step.as_ref().is_some_and(|s| s.queue_sid == q.sid)
    });
    let workers: Vec<&Worker> = w
        .workers
        .values()
        .filter(|x| {
            q.target_expression
                .matches(&Context::document(&x.document).at(now))
        })
        .collect();
    let in_queue = tasks
        .iter()
        .filter(|t| t.status.routable())
        .min_by_key(|t| (t.step.as_ref().map(|s| s.entered_at), t.sid.clone()));
    let mut v = task_figures(&tasks, now);
    v.insert("account_sid".into(), json!(c.account));
    v.insert(
        "activity_statistics".into(),
        json!(activity_statistics(w, &workers)),
    );
    v.insert(
        "longest_relative_task_age_in_queue".into(),
        json!(in_queue
            .and_then(|t| t.step.as_ref())
            .map_or(0, |s| (now - s.entered_at).num_seconds().max(0))),
    );
    v.insert(
        "longest_relative_task_sid_in_queue".into(),
        json!(in_queue.map(|t| &t.sid)),
    );
    v.insert("task_queue_sid".into(), json!(q.sid));
    v.insert("total_eligible_workers".into(), json!(workers.len()));
    v.insert(
        "total_available_workers".into(),
        json!(workers.iter().filter(|x| w.worker_available(x)).count()),
    );
    v.insert("workspace_sid".into(), json!(w.sid));
    Value::Object(v)
}

/// Workers a `Workers/Statistics` request covers (its TaskQueueSid/TaskQueueName/FriendlyName).
fn workers_in_scope<'a>(
    w: &'a Workspace,
    params: &Params,
    now: DateTime<Utc>,
) -> Result<Vec<&'a Worker>, ApiError> {
    let queue = match (params.get("TaskQueueSid"), params.get("TaskQueueName")) {
        (Some(sid), _) => Some(
            w.queues
                .values()
                .find(|q| q.sid.as_str() == sid)
                .ok_or_else(|| {
                    ApiError::bad_parameter(format!("TaskQueueSid {sid} is not a queue here"))
                })?,
        ),
        (None, Some(name)) => Some(
            w.queues
                .values()
                .find(|q| q.friendly_name == name)
                .ok_or_else(|| {
                    ApiError::bad_parameter(format!("TaskQueueName {name:?} is not a queue here"))
                })?,
        ),
        (None, None) => None,
    };
    let name = params.get("FriendlyName");
    Ok(w.workers
        .values()
        .filter(|x| name.is_none_or(|n| x.friendly_name == n))
        .filter(|x| {
            queue.is_none_or(|q| {
                q.target_expression
                    .matches(&Context::document(&x.document).at(now))
            })
        })
        .collect())
}

/// What the state says, read before the counters: the real-time part, the resolved channel,
/// the activities, and the periods still running (activity, since) for worker scopes.
struct Snapshot {
    realtime: Option<Value>,
    channel: Option<Sid>,
    activities: Vec<(Sid, String)>,
    running: Vec<(Sid, DateTime<Utc>)>,
}

fn snapshot(
    c: &Ctx,
    w: &Workspace,
    scope: &Scope,
    params: &Params,
    window: &Window,
) -> Result<Snapshot, ApiError> {
    let now = window.now;
    let channel = channel_sid(w, window.channel.as_deref())?;
    let ch = channel.as_ref();
    let activities = w
        .activities
        .values()
        .map(|a| (a.sid.clone(), a.friendly_name.clone()))
        .collect();
    let (realtime, running) = match scope {
        Scope::Workspace => {
            let tasks = open_tasks(w, ch, |_| true);
            let workers: Vec<&Worker> = w.workers.values().collect();
            let mut v = task_figures(&tasks, now);
            v.insert("account_sid".into(), json!(c.account));
            v.insert(
                "activity_statistics".into(),
                json!(activity_statistics(w, &workers)),
            );
            v.insert("total_workers".into(), json!(workers.len()));
            v.insert("workspace_sid".into(), json!(w.sid));
            (Some(Value::Object(v)), Vec::new())
        }
        Scope::Queue(q) => {
            let q = w.queues.get(q).ok_or_else(|| ApiError::not_found(""))?;
            (Some(queue_realtime(c, w, q, ch, now)), Vec::new())
        }
        Scope::Workflow(f) => {
            let f = w.workflows.get(f).ok_or_else(|| ApiError::not_found(""))?;
            let tasks = open_tasks(w, ch, |t| t.workflow_sid == f.sid);
            let mut v = task_figures(&tasks, now);
            v.insert("account_sid".into(), json!(c.account));
            v.insert("workflow_sid".into(), json!(f.sid));
            v.insert("workspace_sid".into(), json!(w.sid));
            (Some(Value::Object(v)), Vec::new())
        }
        Scope::Workers => {
            let workers = workers_in_scope(w, params, now)?;
            let running = workers
                .iter()
                .map(|x| (x.activity_sid.clone(), x.date_status_changed))
                .collect();
            let v = json!({
                "account_sid": c.account,
                "activity_statistics": activity_statistics(w, &workers),
                "total_workers": workers.len(),
                "workspace_sid": w.sid,
            });
            (Some(v), running)
        }
        Scope::Worker(k) => {
            let x = w.workers.get(k).ok_or_else(|| ApiError::not_found(""))?;
            (None, vec![(x.activity_sid.clone(), x.date_status_changed)])
        }
    };
    Ok(Snapshot {
        realtime,
        channel,
        activities,
        running,
    })
}

fn wait_json(s: Summed) -> Value {
    json!({"avg": s.avg(), "min": s.min, "max": s.max, "total": s.total})
}

/// Time in each activity: finished periods from the counters, plus the periods still running
/// (clipped to the window) when the window reaches now.
fn activity_durations(window: &Window, n: &BTreeMap<String, Summed>, snap: &Snapshot) -> Value {
    let durations: Vec<Value> = snap
        .activities
        .iter()
        .map(|(sid, name)| {
            let mut s = n
                .get(&counter::activity(sid.as_str()))
                .copied()
                .unwrap_or_default();
            if window.end >= window.now {
                for (_, since) in snap.running.iter().filter(|(a, _)| a == sid) {
                    let d = (window.now - (*since).max(window.start))
                        .num_seconds()
                        .max(0);
                    s.min = if s.n == 0 { d } else { s.min.min(d) };
                    s.max = s.max.max(d);
                    s.n += 1;
                    s.total += d;
                }
            }
            json!({"sid": sid, "friendly_name": name, "avg": s.avg(), "min": s.min,
                   "max": s.max, "total": s.total})
        })
        .collect();
    json!(durations)
}

/// The cumulative part from the counters of `scope`.
#[allow(clippy::too_many_arguments)]
fn cumulative_json(
    c: &Ctx,
    ws: &Sid,
    scope: &Scope,
    window: &Window,
    n: &BTreeMap<String, Summed>,
    splits: Option<Value>,
    snap: &Snapshot,
) -> Value {
    let get = |k: Counter| n.get(k.name()).copied().unwrap_or_default();
    let mut v = json!({
        "account_sid": c.account,
        "start_time": iso(window.start),
        "end_time": iso(window.end),
        "reservations_created": get(Counter::ReservationsCreated).n,
        "reservations_accepted": get(Counter::ReservationsAccepted).n,
        "reservations_rejected": get(Counter::ReservationsRejected).n,
        "reservations_timed_out": get(Counter::ReservationsTimedOut).n,
        "reservations_canceled": get(Counter::ReservationsCanceled).n,
        "reservations_rescinded": get(Counter::ReservationsRescinded).n,
        "workspace_sid": ws,
    });
    if matches!(scope, Scope::Workers | Scope::Worker(_)) {
        v["activity_durations"] = activity_durations(window, n, snap);
        if let Scope::Worker(k) = scope {
            v["worker_sid"] = json!(k);
        }
        return v;
    }
    let accepted = get(Counter::WaitUntilAccepted);
    v["avg_task_acceptance_time"] = json!(accepted.avg());
    v["split_by_wait_time"] = splits.unwrap_or(Value::Null);
    v["wait_duration_until_accepted"] = wait_json(accepted);
    v["wait_duration_until_canceled"] = wait_json(get(Counter::WaitUntilCanceled));
    v["tasks_canceled"] = json!(get(Counter::TasksCanceled).n);
    v["tasks_completed"] = json!(get(Counter::TasksCompleted).n);
    v["tasks_deleted"] = json!(get(Counter::TasksDeleted).n);
    v["tasks_moved"] = json!(get(Counter::TasksMoved).n);
    match scope {
        Scope::Workspace => {
            v["tasks_created"] = json!(get(Counter::TasksCreated).n);
            v["tasks_timed_out_in_workflow"] = json!(get(Counter::TasksTimedOutInWorkflow).n);
        }
        Scope::Queue(q) => {
            v["task_queue_sid"] = json!(q);
            v["tasks_entered"] = json!(get(Counter::TasksEntered).n);
            v["wait_duration_in_queue_until_accepted"] =
                wait_json(get(Counter::WaitInQueueUntilAccepted));
        }
        Scope::Workflow(f) => {
            v["workflow_sid"] = json!(f);
            v["tasks_entered"] = json!(get(Counter::TasksEntered).n);
            v["tasks_timed_out_in_workflow"] = json!(get(Counter::TasksTimedOutInWorkflow).n);
        }
        Scope::Workers | Scope::Worker(_) => {}
    }
    v
}

/// The counters of `scope` over the window, after the projection caught up with the log.
async fn counters(
    state: &AppState,
    ws: &Sid,
    scope: &Scope,
    window: &Window,
    channel: Option<&Sid>,
) -> Result<(BTreeMap<String, Summed>, Option<Value>), ApiError> {
    if !state
        .projector()
        .wait_for_head("taskrouter", state.config().read_wait)
        .await
    {
        tracing::warn!(workspace_sid = %ws, "taskrouter read model behind the log; statistics from what it holds");
    }
    let key = match scope {
        Scope::Workspace | Scope::Workers => ws.as_str(),
        Scope::Queue(s) | Scope::Workflow(s) | Scope::Worker(s) => s.as_str(),
    };
    let (from, to) = window.minutes();
    let unavailable =
        |e: sqlx::Error| ApiError::unavailable(format!("Statistics cannot be read: {e}"));
    let mut conn = state.read_model().await?;
    let channel = channel.map(Sid::as_str);
    let n = projection::counters(&mut conn, ws.as_str(), key, channel, from, to)
        .await
        .map_err(unavailable)?;
    if window.split.is_empty() || matches!(scope, Scope::Workers | Scope::Worker(_)) {
        return Ok((n, None));
    }
    let mut splits = serde_json::Map::new();
    let accepted = projection::split_by_wait(
        &mut conn,
        ws.as_str(),
        key,
        channel,
        from,
        to,
        Counter::WaitUntilAccepted,
        &window.split,
    )
    .await
    .map_err(unavailable)?;
    let canceled = projection::split_by_wait(
        &mut conn,
        ws.as_str(),
        key,
        channel,
        from,
        to,
        Counter::WaitUntilCanceled,
        &window.split,
    )
    .await
    .map_err(unavailable)?;
    for ((t, acc_below, acc_above), (_, can_below, can_above)) in accepted.into_iter().zip(canceled)
    {
        splits.insert(
            t.to_string(),
            json!({
                "above": {"reservations_accepted": acc_above, "tasks_canceled": can_above},
                "below": {"reservations_accepted": acc_below, "tasks_canceled": can_below},
            }),
        );
    }
    Ok((n, Some(Value::Object(splits))))
}

/// One statistics resource of `scope` in `form`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn statistics(
    state: &AppState,
    caller: &Sid,
    ws: &Sid,
    scope: Scope,
    form: Form,
    path: &str,
    query: Option<&str>,
) -> Result<Value, ApiError> {
    let params = Params::from_query(query)?;
    let window = Window::parse(&params)?;
    let c = super::ctx(state, caller);
    let url = format!("{}{}", c.base, path);
    let not_found = ApiError::not_found(path);
    let snap = {
        let (c, scope, params, window) = (c.clone(), scope.clone(), params.clone(), window.clone());
        read(state, caller, ws, path, move |w| {
            snapshot(&c, w, &scope, &params, &window).map_err(|e| {
                if e.status == axum::http::StatusCode::NOT_FOUND {
                    not_found
                } else {
                    e
                }
            })
        })
        .await?
    };
    let cumulative = if form == Form::RealTime {
        None
    } else {
        let (n, splits) = counters(state, ws, &scope, &window, snap.channel.as_ref()).await?;
        Some(cumulative_json(&c, ws, &scope, &window, &n, splits, &snap))
    };
    let mut v = match (form, &scope) {
        (_, Scope::Worker(k)) => json!({
            "account_sid": c.account,
            "cumulative": cumulative,
            "worker_sid": k,
            "workspace_sid": ws,
        }),
        (Form::RealTime, _) => snap.realtime.clone().unwrap_or(Value::Null),
        (Form::Cumulative, _) => cumulative.unwrap_or(Value::Null),
        (Form::Combined, _) => {
            let mut v = json!({
                "account_sid": c.account,
                "realtime": snap.realtime,
                "cumulative": cumulative,
                "workspace_sid": ws,
            });
            match &scope {
                Scope::Queue(q) => v["task_queue_sid"] = json!(q),
                Scope::Workflow(f) => v["workflow_sid"] = json!(f),
                _ => {}
            }
            v
        }
    };
    v["url"] = json!(url);
    Ok(v)
}

/// `GET TaskQueues/Statistics`: every queue's combined statistics, a page at a time.
pub(super) async fn queues_statistics(
    state: &AppState,
    caller: &Sid,
    ws: &Sid,
    path: &str,
    query: Option<&str>,
) -> Result<Value, ApiError> {
    let params = Params::from_query(query)?;
    let name = params.get("FriendlyName").map(str::to_string);
    let queues: Vec<Sid> = read(state, caller, ws, path, move |w| {
        Ok(w.queues
            .values()
            .filter(|q| name.as_ref().is_none_or(|n| q.friendly_name == *n))
            .map(|q| q.sid.clone())
            .collect())
    })
    .await?;
    let base = state.config().public_url.clone();
    let mut items = Vec::with_capacity(queues.len());
    for q in queues {
        let queue_path = format!("/v1/Workspaces/{ws}/TaskQueues/{q}/Statistics");
        let mut v = statistics(
            state,
            caller,
            ws,
            Scope::Queue(q),
            Form::Combined,
            &queue_path,
            query,
        )
        .await?;
        if let Some(m) = v.as_object_mut() {
            m.remove("url");
        }
        items.push(v);
    }
    page(
        items,
        "task_queues_statistics",
        &format!("{base}{path}"),
        query,
    )
}

/// `POST TaskQueues/RealTimeStatistics`: real-time statistics of up to 50 queues named in the
/// body (a JSON array of SIDs, or `TaskQueueSids` as a JSON list or repeated form field).
pub(super) async fn bulk_realtime(
    state: &AppState,
    caller: &Sid,
    ws: &Sid,
    path: &str,
    params: &Params,
) -> Result<Value, ApiError> {
    let sids: Vec<String> = params
        .0
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "[]" | "TaskQueueSids" | "task_queue_sids"))
        .map(|(_, v)| v.clone())
        .collect();
    if sids.is_empty() {
        return Err(ApiError::bad_parameter(
            "the body must list the TaskQueue SIDs (a JSON array, up to 50)",
        ));
    }
    if sids.len() > 50 {
        return Err(ApiError::bad_parameter(format!(
            "at most 50 TaskQueue SIDs per request, got {}",
            sids.len()
        )));
    }
    let queues = sids
        .iter()
        .map(|s| path_sid(s, SidPrefix::TaskQueue, path))
        .collect::<Result<Vec<Sid>, ApiError>>()
        .map_err(|_| ApiError::bad_parameter("every item must be a TaskQueue SID (WQ…)"))?;
    let window = Window::parse(&Params::default())?;
    let c = super::ctx(state, caller);
    let url = format!("{}{}", c.base, path);
    let not_found = ApiError::not_found(path);
    read(state, caller, ws, path, move |w| {
        let mut data = Vec::with_capacity(queues.len());
        for q in &queues {
            let queue = w.queues.get(q).ok_or_else(|| {
                ApiError::new(
                    not_found.status,
                    20404,
                    format!("TaskQueue {q} was not found in workspace {}", w.sid),
                )
            })?;
            let mut v = queue_realtime(&c, w, queue, None, window.now);
            if let Some(m) = v.as_object_mut() {
                m.remove("account_sid");
                m.remove("workspace_sid");
            }
            data.push(v);
        }
        Ok(json!({
            "account_sid": c.account,
            "task_queue_data": data,
            "task_queue_response_count": queues.len(),
            "url": url,
            "workspace_sid": w.sid,
        }))
    })
    .await
}
