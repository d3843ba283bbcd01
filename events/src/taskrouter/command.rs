//! The commands a workspace takes ([`Command`]) and the templates a new workspace may start
//! from ([`Template`]). A command carries everything its decision needs, including the
//! caller's `If-Match`; time and new SIDs come beside it in the
//! [`Ctx`](super::routing::Ctx), so deciding one never reads a clock.

use super::events::{
    QueueOrder, TaskChannelUpdated, TaskQueueUpdated, WorkflowUpdated, WorkspaceUpdated,
};
use crate::sid::Sid;
use chrono::{DateTime, Utc};

/// Workspace templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Only the default activities and channels.
    None,
    /// Also a queue for everyone and a FIFO workflow into it.
    Fifo,
}

/// A command on a workspace.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create the workspace.
    CreateWorkspace {
        /// Name.
        friendly_name: String,
        /// Event callback URL.
        event_callback_url: Option<String>,
        /// Events filter.
        events_filter: Option<String>,
        /// Multitasking (default true).
        multi_task_enabled: Option<bool>,
        /// FIFO or LIFO.
        prioritize_queue_order: Option<QueueOrder>,
        /// Template.
        template: Template,
    },
    /// Change the workspace.
    UpdateWorkspace(WorkspaceUpdated),
    /// Delete the workspace.
    DeleteWorkspace,
    /// Create an activity.
    CreateActivity {
        /// Name.
        friendly_name: String,
        /// Whether workers in it take work (default true).
        available: Option<bool>,
    },
    /// Rename an activity.
    UpdateActivity {
        /// The activity.
        sid: Sid,
        /// New name.
        friendly_name: String,
    },
    /// Delete an activity.
    DeleteActivity {
        /// The activity.
        sid: Sid,
    },
    /// Create a task channel.
    CreateTaskChannel {
        /// Unique name.
        unique_name: String,
        /// Human name.
        friendly_name: String,
        /// Channel-optimized routing.
        channel_optimized_routing: Option<bool>,
    },
    /// Change a task channel.
    UpdateTaskChannel(TaskChannelUpdated),
    /// Delete a task channel.
    DeleteTaskChannel {
        /// The channel.
        sid: Sid,
    },
    /// Create a worker.
    CreateWorker {
        /// Name.
        friendly_name: String,
        /// Attributes (JSON object).
        attributes: Option<String>,
        /// Starting activity (default: the workspace's default activity).
        activity_sid: Option<Sid>,
    },
    /// Change a worker.
    UpdateWorker {
        /// The worker.
        sid: Sid,
        /// New name.
        friendly_name: Option<String>,
        /// New attributes.
        attributes: Option<String>,
        /// New activity.
        activity_sid: Option<Sid>,
        /// Reject pending reservations when moving to an unavailable activity.
        reject_pending_reservations: bool,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Delete a worker.
    DeleteWorker {
        /// The worker.
        sid: Sid,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Change a worker's channel.
    UpdateWorkerChannel {
        /// The worker.
        worker: Sid,
        /// The channel (SID or unique name).
        channel: String,
        /// New capacity.
        capacity: Option<u32>,
        /// New availability.
        available: Option<bool>,
    },
    /// Create a task queue.
    CreateTaskQueue {
        /// Name.
        friendly_name: String,
        /// Target workers expression (default `1==1`).
        target_workers: Option<String>,
        /// FIFO or LIFO.
        task_order: Option<QueueOrder>,
        /// 1–50 (default 1).
        max_reserved_workers: Option<u32>,
        /// Activity on reservation.
        reservation_activity_sid: Option<Sid>,
        /// Activity on acceptance.
        assignment_activity_sid: Option<Sid>,
    },
    /// Change a task queue.
    UpdateTaskQueue(TaskQueueUpdated),
    /// Delete a task queue.
    DeleteTaskQueue {
        /// The queue.
        sid: Sid,
    },
    /// Create a workflow.
    CreateWorkflow {
        /// Name.
        friendly_name: String,
        /// Configuration document.
        configuration: String,
        /// Assignment callback.
        assignment_callback_url: Option<String>,
        /// Fallback.
        fallback_assignment_callback_url: Option<String>,
        /// Reservation timeout (default 120).
        task_reservation_timeout: Option<u32>,
    },
    /// Change a workflow.
    UpdateWorkflow {
        /// What changes.
        change: WorkflowUpdated,
        /// Route the workflow's pending tasks again under the new configuration.
        re_evaluate_tasks: bool,
    },
    /// Delete a workflow.
    DeleteWorkflow {
        /// The workflow.
        sid: Sid,
    },
    /// Create a task.
    CreateTask {
        /// Attributes (JSON object, default `{}`).
        attributes: Option<String>,
        /// Priority (default 0).
        priority: Option<i64>,
        /// TTL seconds.
        timeout: Option<u32>,
        /// Channel, by unique name or SID (default `default`).
        task_channel: Option<String>,
        /// Workflow (optional when the workspace has exactly one).
        workflow_sid: Option<Sid>,
        /// Age counts from here.
        virtual_start_time: Option<DateTime<Utc>>,
    },
    /// Change a task.
    UpdateTask {
        /// The task.
        sid: Sid,
        /// New attributes.
        attributes: Option<String>,
        /// New priority.
        priority: Option<i64>,
        /// `canceled`, `wrapping` or `completed`.
        assignment_status: Option<String>,
        /// Why (required to cancel or complete).
        reason: Option<String>,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Delete a task.
    DeleteTask {
        /// The task.
        sid: Sid,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Answer a reservation.
    UpdateReservation {
        /// The reservation.
        sid: Sid,
        /// The task or worker it was addressed under (must match).
        via: Sid,
        /// `accepted`, `rejected`, `wrapping`, `completed`.
        status: String,
        /// Activity to move the worker to (reject).
        activity_sid: Option<Sid>,
        /// `If-Match`.
        if_match: Option<u64>,
    },
    /// Time passed: reservations and workflow steps past their timeouts, task TTLs.
    Tick,
    /// Time passed: completed and canceled tasks closed at least `retention_secs` ago leave
    /// the workspace (`task.system-deleted`). The retention is the server's setting
    /// (Twilio's is [`CLOSED_TASK_RETENTION_SECS`]), so it travels in the command.
    ExpireClosedTasks {
        /// Seconds a closed task stays readable.
        retention_secs: u64,
    },
}

/// How long Twilio keeps a completed or canceled task: 15 minutes.
pub const CLOSED_TASK_RETENTION_SECS: u64 = 15 * 60;
