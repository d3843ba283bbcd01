//! `CreateWorkflow`: a workflow whose configuration compiles and names only queues of this
//! workspace, with a reservation timeout of 1 to 86,400 seconds (default 120). An empty
//! callback URL means none.

use crate::event::Event;
use crate::sid::SidPrefix;
use crate::taskrouter::error::TaskRouterError;
use crate::taskrouter::events::WorkflowCreated;
use crate::taskrouter::routing::Ctx;
use crate::taskrouter::state::Workspace;
use crate::taskrouter::validate::{check_name, check_reservation_timeout, check_workflow};

/// Decides `CreateWorkflow`.
pub(crate) fn decide(
    ws: &Workspace,
    friendly_name: &str,
    configuration: &str,
    assignment_callback_url: &Option<String>,
    fallback_assignment_callback_url: &Option<String>,
    task_reservation_timeout: Option<u32>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, TaskRouterError> {
    check_name("FriendlyName", friendly_name)?;
    check_workflow(ws, configuration)?;
    let timeout = task_reservation_timeout.unwrap_or(120);
    check_reservation_timeout(timeout)?;
    Ok(vec![Event::WorkflowCreated(WorkflowCreated {
        sid: (ctx.new_sid)(SidPrefix::Workflow),
        friendly_name: friendly_name.to_string(),
        configuration: configuration.to_string(),
        assignment_callback_url: assignment_callback_url.clone().filter(|u| !u.is_empty()),
        fallback_assignment_callback_url: fallback_assignment_callback_url
            .clone()
            .filter(|u| !u.is_empty()),
        task_reservation_timeout: timeout,
    })])
}
