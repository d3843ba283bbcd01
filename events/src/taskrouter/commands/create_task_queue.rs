//! `CreateTaskQueue`: a queue with a target-workers expression that parses (default `1==1`,
//! everyone), 1 to 50 reservations per task, and reservation and assignment activities of
//! this workspace.

use crate::event::Event;
use crate::sid::{Sid, SidPrefix};
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::{QueueOrder, TaskQueueCreated};
use crate::taskrouter::routing::Ctx;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::{
    check_expression, check_max_reserved_workers, check_name, check_queue_activities,
};

/// Decides `CreateTaskQueue`.
// One argument per field of the command: the dispatcher destructures it for every decider.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide(
    ws: &Workspace,
    friendly_name: &str,
    target_workers: &Option<String>,
    task_order: Option<QueueOrder>,
    max_reserved_workers: Option<u32>,
    reservation_activity_sid: &Option<Sid>,
    assignment_activity_sid: &Option<Sid>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    check_name("FriendlyName", friendly_name)?;
    let target = target_workers.clone().unwrap_or_else(|| "1==1".into());
    check_expression("TargetWorkers", &target)?;
    let max = max_reserved_workers.unwrap_or(1);
    check_max_reserved_workers(max)?;
    check_queue_activities(
        ws,
        reservation_activity_sid.as_ref(),
        assignment_activity_sid.as_ref(),
    )?;
    Ok(vec![Event::TaskQueueCreated(TaskQueueCreated {
        sid: (ctx.new_sid)(SidPrefix::TaskQueue),
        friendly_name: friendly_name.to_string(),
        target_workers: target,
        task_order: task_order.unwrap_or_default(),
        max_reserved_workers: max,
        reservation_activity_sid: reservation_activity_sid.clone(),
        assignment_activity_sid: assignment_activity_sid.clone(),
    })])
}
