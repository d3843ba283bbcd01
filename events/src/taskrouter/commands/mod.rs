//! One decider per [`Command`](super::command::Command), each a `decide` function that takes
//! the live workspace and the command's fields and returns the command's own events (the
//! routing that follows is [`routing`](super::routing)'s). A decider is pure: it reads the
//! state, checks the command with [`validate`](super::validate), and either refuses with a
//! [`TaskRouterError`](super::error::TaskRouterError) before any event exists or returns
//! events that the fold accepts. [`decide`](super::decide) dispatches to them.
//!
//! | resource | create | update | delete |
//! |---|---|---|---|
//! | workspace | [`create_workspace`] | [`update_workspace`] | [`delete_workspace`] |
//! | activity | [`create_activity`] | [`update_activity`] | [`delete_activity`] |
//! | task channel | [`create_task_channel`] | [`update_task_channel`] | [`delete_task_channel`] |
//! | worker | [`create_worker`] | [`update_worker`], [`update_worker_channel`] | [`delete_worker`] |
//! | task queue | [`create_task_queue`] | [`update_task_queue`] | [`delete_task_queue`] |
//! | workflow | [`create_workflow`] | [`update_workflow`] | [`delete_workflow`] |
//! | task | [`create_task`] | [`update_task`] | [`delete_task`] |
//! | reservation | (routing) | [`update_reservation`] | |
//!
//! [`tick`]: time passing, which decides the [`timeouts`](super::timeouts);
//! [`expire_closed_tasks`]: closed tasks past their retention leave the workspace.

pub(crate) mod create_activity;
pub(crate) mod create_task;
pub(crate) mod create_task_channel;
pub(crate) mod create_task_queue;
pub(crate) mod create_worker;
pub(crate) mod create_workflow;
pub(crate) mod create_workspace;
pub(crate) mod delete_activity;
pub(crate) mod delete_task;
pub(crate) mod delete_task_channel;
pub(crate) mod delete_task_queue;
pub(crate) mod delete_worker;
pub(crate) mod delete_workflow;
pub(crate) mod delete_workspace;
pub(crate) mod expire_closed_tasks;
pub(crate) mod tick;
pub(crate) mod update_activity;
pub(crate) mod update_reservation;
pub(crate) mod update_task;
pub(crate) mod update_task_channel;
pub(crate) mod update_task_queue;
pub(crate) mod update_worker;
pub(crate) mod update_worker_channel;
pub(crate) mod update_workflow;
pub(crate) mod update_workspace;
