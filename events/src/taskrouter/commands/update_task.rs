//! `UpdateTask`: new attributes or priority (refused once the task is closed), and moves
//! along its assignment status: any open task may be canceled, an assigned one wrap up, an
//! assigned or wrapping one complete; its reservations' events come first
//! ([`close`](crate::taskrouter::close)). Asking for the status it already has records nothing.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::close;
use crate::taskrouter::error::{invalid, TaskRouterError};
use crate::taskrouter::events::TaskUpdated;
use crate::taskrouter::state::{Task, TaskStatus, Workspace};
use crate::taskrouter::validate::{check_attributes, check_priority, task_at};

/// Decides `UpdateTask`.
pub(crate) fn decide(
    ws: &Workspace,
    sid: &Sid,
    attributes: &Option<String>,
    priority: Option<i64>,
    assignment_status: Option<&str>,
    reason: &Option<String>,
    if_match: Option<u64>,
) -> Result<Vec<Event>, TaskRouterError> {
    let t = task_at(ws, sid, if_match)?;
    let mut out = Vec::new();
    let attributes = attributes.clone().filter(|a| *a != t.attributes);
    if let Some(a) = &attributes {
        check_attributes(a)?;
    }
    let priority = priority.filter(|p| *p != t.priority);
    if let Some(p) = priority {
        check_priority(p)?;
    }
    if attributes.is_some() || priority.is_some() {
        if t.status.closed() {
            return Err(TaskRouterError::Conflict(format!(
                "task {sid} is {} and cannot change",
                t.status.as_str()
            )));
        }
        out.push(Event::TaskUpdated(TaskUpdated {
            sid: sid.clone(),
            attributes,
            priority,
        }));
    }
    if let Some(status) = assignment_status {
        out.extend(close(ws, t, status, reason.clone().unwrap_or_default())?);
    }
    Ok(out)
}

/// The events that move `task` to the assignment `status` (its reservations' first), if it
/// is not there yet.
fn close(
    ws: &Workspace,
    task: &Task,
    status: &str,
    reason: String,
) -> Result<Vec<Event>, TaskRouterError> {
    let sid = &task.sid;
    let to = |status| Ok(close::close(ws, sid, status, reason, &Default::default()));
    match (status, task.status) {
        (s, current) if s == current.as_str() => Ok(Vec::new()),
        ("canceled", current) if !current.closed() => to(TaskStatus::Canceled),
        ("wrapping", TaskStatus::Assigned) => to(TaskStatus::Wrapping),
        ("completed", TaskStatus::Assigned | TaskStatus::Wrapping) => to(TaskStatus::Completed),
        ("canceled" | "wrapping" | "completed", current) => {
            Err(TaskRouterError::Conflict(format!(
                "task {sid} is {} and cannot become {status}",
                current.as_str()
            )))
        }
        (other, _) => Err(invalid(
            "AssignmentStatus",
            format!("{other:?} is not canceled, wrapping or completed"),
        )),
    }
}
