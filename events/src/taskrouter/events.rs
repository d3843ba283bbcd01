//! The events of a workspace stream (`WS…`). Their wire names follow Twilio's TaskRouter event
//! types where Twilio has one (`reservation.accepted`, `worker.activity.update`, …), so the
//! workspace event callback can carry them as they are.

use crate::sid::Sid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// FIFO or LIFO, as Twilio spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum QueueOrder {
    /// Oldest first.
    #[default]
    #[serde(rename = "FIFO")]
    Fifo,
    /// Newest first.
    #[serde(rename = "LIFO")]
    Lifo,
}

impl QueueOrder {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueOrder::Fifo => "FIFO",
            QueueOrder::Lifo => "LIFO",
        }
    }
}

/// `workspace.created`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceCreated {
    /// Human name.
    pub friendly_name: String,
    /// Where workspace events are POSTed.
    pub event_callback_url: Option<String>,
    /// Comma-separated event types the callback gets (all when absent).
    pub events_filter: Option<String>,
    /// Whether workers take several tasks at once.
    pub multi_task_enabled: bool,
    /// Order of queues when a worker is in several.
    pub prioritize_queue_order: QueueOrder,
}

/// `workspace.updated`: only what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WorkspaceUpdated {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// New callback URL (empty string clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_callback_url: Option<String>,
    /// New events filter (empty string clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_filter: Option<String>,
    /// New multitasking setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_task_enabled: Option<bool>,
    /// New queue order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prioritize_queue_order: Option<QueueOrder>,
    /// The activity new workers start in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_activity_sid: Option<Sid>,
    /// The activity a worker moves to when a reservation times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_activity_sid: Option<Sid>,
}

/// `workspace.deleted`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WorkspaceDeleted {}

/// A resource identified only by its SID (deletions, reservation transitions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The resource.
    pub sid: Sid,
}

/// `activity.created`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCreated {
    /// The activity.
    pub sid: Sid,
    /// Its name (unique in the workspace).
    pub friendly_name: String,
    /// Whether workers in it take work.
    pub available: bool,
}

/// `activity.updated`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityUpdated {
    /// The activity.
    pub sid: Sid,
    /// New name.
    pub friendly_name: String,
}

/// `task-channel.created`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskChannelCreated {
    /// The channel.
    pub sid: Sid,
    /// Its unique name (`default`, `voice`, …).
    pub unique_name: String,
    /// Its human name.
    pub friendly_name: String,
    /// Prefer the longest-idle worker across queues.
    pub channel_optimized_routing: bool,
}

/// `task-channel.updated`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskChannelUpdated {
    /// The channel.
    pub sid: Sid,
    /// New human name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// New routing setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_optimized_routing: Option<bool>,
}

/// `worker.created`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCreated {
    /// The worker.
    pub sid: Sid,
    /// Its name (unique in the workspace, case-insensitive).
    pub friendly_name: String,
    /// Its attributes, a JSON object as text.
    pub attributes: String,
    /// The activity it starts in.
    pub activity_sid: Sid,
}

/// `worker.updated`: the friendly name changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRenamed {
    /// The worker.
    pub sid: Sid,
    /// New name.
    pub friendly_name: String,
}

/// `worker.activity.update`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerActivityUpdated {
    /// The worker.
    pub sid: Sid,
    /// Its new activity.
    pub activity_sid: Sid,
}

/// `worker.attributes.update`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerAttributesUpdated {
    /// The worker.
    pub sid: Sid,
    /// New attributes, a JSON object as text.
    pub attributes: String,
}

/// `worker.capacity.update`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCapacityUpdated {
    /// The worker.
    pub sid: Sid,
    /// The channel.
    pub task_channel_sid: Sid,
    /// Tasks it may hold at once on that channel (0–50).
    pub capacity: u32,
    /// The capacity before this change (since schema v2; `None` for events written as v1,
    /// which did not record it).
    pub previous_capacity: Option<u32>,
}

/// `worker.channel.availability.update`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerChannelAvailabilityUpdated {
    /// The worker.
    pub sid: Sid,
    /// The channel.
    pub task_channel_sid: Sid,
    /// Whether it takes work on that channel.
    pub available: bool,
}

/// `task-queue.created`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskQueueCreated {
    /// The queue.
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// Which workers it serves (an expression over worker attributes).
    pub target_workers: String,
    /// FIFO or LIFO within a priority.
    pub task_order: QueueOrder,
    /// Reservations one task may hold at once (1–50).
    pub max_reserved_workers: u32,
    /// Activity a worker moves to when reserved.
    pub reservation_activity_sid: Option<Sid>,
    /// Activity a worker moves to when it accepts.
    pub assignment_activity_sid: Option<Sid>,
}

/// `task-queue.updated`: only what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskQueueUpdated {
    /// The queue.
    pub sid: Sid,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// New target workers expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_workers: Option<String>,
    /// New order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_order: Option<QueueOrder>,
    /// New reservation limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_reserved_workers: Option<u32>,
    /// New reservation activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_activity_sid: Option<Sid>,
    /// New assignment activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_activity_sid: Option<Sid>,
}

/// `workflow.created`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowCreated {
    /// The workflow.
    pub sid: Sid,
    /// Its name.
    pub friendly_name: String,
    /// The configuration document, as given (validated).
    pub configuration: String,
    /// Where reservations are announced.
    pub assignment_callback_url: Option<String>,
    /// Tried when the assignment callback fails.
    pub fallback_assignment_callback_url: Option<String>,
    /// Seconds a reservation stays pending before it times out.
    pub task_reservation_timeout: u32,
}

/// `workflow.updated`: only what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowUpdated {
    /// The workflow.
    pub sid: Sid,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// New configuration document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    /// New assignment callback URL (empty clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_callback_url: Option<String>,
    /// New fallback URL (empty clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_assignment_callback_url: Option<String>,
    /// New reservation timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_reservation_timeout: Option<u32>,
}

/// `task.created`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCreated {
    /// The task.
    pub sid: Sid,
    /// Its attributes, a JSON object as text.
    pub attributes: String,
    /// Its priority (0–2,147,483,647).
    pub priority: i64,
    /// Seconds until it is canceled if not completed (its TTL).
    pub timeout: u32,
    /// Its channel.
    pub task_channel_sid: Sid,
    /// The workflow that routes it.
    pub workflow_sid: Sid,
    /// When its age counts from, if not its creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_start_time: Option<DateTime<Utc>>,
}

/// `task.updated`: only what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskUpdated {
    /// The task.
    pub sid: Sid,
    /// New attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<String>,
    /// New priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

/// `task.canceled`, `task.wrapup`, `task.completed`: a task's status changed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskClosed {
    /// The task.
    pub sid: Sid,
    /// Why (given by the caller, or the reason TaskRouter did it).
    pub reason: String,
}

/// `workflow.target-matched`: a task entered a queue through a workflow step (on creation,
/// after a target timed out, or after the workflow changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetMatched {
    /// The task.
    pub task_sid: Sid,
    /// The workflow.
    pub workflow_sid: Sid,
    /// Index of the filter that matched; `None` for the default filter.
    pub filter_index: Option<u32>,
    /// The filter's name (`default` for the default filter).
    pub filter_name: String,
    /// Index of the target within the filter.
    pub target_index: u32,
    /// The queue the task waits in now.
    pub task_queue_sid: Sid,
    /// The target's priority override, if any.
    pub priority: Option<i64>,
    /// Seconds until the next target, if any.
    pub timeout: Option<u64>,
}

/// `workflow.timeout`: a task's last workflow target timed out and no later filter took it, so
/// the workflow gave up on it. Recorded just before the `task.canceled` (reason `Workflow
/// Timeout`) it causes: a timeout is its own fact, so statistics never count one from a reason
/// text that a caller may also send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowTimeout {
    /// The task.
    pub task_sid: Sid,
    /// The workflow it timed out of.
    pub workflow_sid: Sid,
}

/// Why a reservation was made: the routing decision, for supervisors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    /// The workflow filter (`default` for the default filter).
    pub filter: String,
    /// The target within it.
    pub target_index: u32,
    /// How the worker was chosen among the eligible ones.
    pub ordering: String,
    /// How many workers were eligible.
    pub eligible: u32,
}

/// `reservation.created`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationCreated {
    /// The reservation.
    pub sid: Sid,
    /// The task offered.
    pub task_sid: Sid,
    /// The worker it is offered to.
    pub worker_sid: Sid,
    /// The queue it came through.
    pub task_queue_sid: Sid,
    /// Why.
    pub routing: RoutingDecision,
}

/// `reservation.rejected`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationRejected {
    /// The reservation.
    pub sid: Sid,
    /// The activity the worker moves to, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_sid: Option<Sid>,
}

/// `workflow.entered`: a task entered its workflow (it is routed by it from now on). Recorded
/// once per task, just before the workflow's first matching target puts it in a queue (or
/// before the `task.canceled` of a task no filter takes); the workflow's `tasks_entered`
/// counts from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowEntered {
    /// The task.
    pub task_sid: Sid,
    /// The workflow.
    pub workflow_sid: Sid,
}

/// `task-queue.entered` and `task-queue.timeout`: a task entered a queue (the queue's
/// `tasks_entered` counts from it), or its workflow target's timeout ran out while it waited
/// in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInQueue {
    /// The task.
    pub task_sid: Sid,
    /// The queue.
    pub task_queue_sid: Sid,
}

/// `task-queue.moved`: a task left one queue for another (a target timed out or was skipped,
/// or its workflow re-evaluated it); the old queue's `tasks_moved` counts from it. The
/// `task-queue.entered` of the new queue follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskQueueMoved {
    /// The task.
    pub task_sid: Sid,
    /// The queue it left.
    pub task_queue_sid: Sid,
    /// The queue it moves to.
    pub to_task_queue_sid: Sid,
}

/// `task-queue.expression.updated`: a queue's `target_workers` expression changed (recorded
/// after the `task-queue.updated` that carries the change; the fold reads that one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskQueueExpressionUpdated {
    /// The queue.
    pub sid: Sid,
    /// The new expression.
    pub target_workers: String,
}

/// `workflow.skipped`: a task skipped a workflow target because the target's `skip_if` held
/// when it entered and no reservation was made. The next target's events follow; on the
/// last target there is none, and the task stays waiting where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowSkipped {
    /// The task.
    pub task_sid: Sid,
    /// The workflow.
    pub workflow_sid: Sid,
    /// The filter's name (`default` for the default filter).
    pub filter_name: String,
    /// The skipped target's index within the filter.
    pub target_index: u32,
    /// The skipped target's queue.
    pub task_queue_sid: Sid,
}
