//! `UpdateTask`: new attributes or priority (refused once the task is closed), and moves
//! along its assignment status: any open task may be canceled, an assigned one wrap up, an
//! assigned or wrapping one complete. Asking for the status it already has records nothing.

use crate::event::Event;
use crate::sid::Sid;
use crate::taskrouter::error::{invalid, TaskRouterError};
use crate::taskrouter::events::{TaskClosed, TaskUpdated};
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
        out.extend(close(t, status, reason.clone().unwrap_or_default())?);
    }
    Ok(out)
}

/// The event that moves `task` to the assignment `status`, if it is not there yet.
fn close(task: &Task, status: &str, reason: String) -> Result<Option<Event>, TaskRouterError> {
    let sid = &task.sid;
    let close = |reason: String| TaskClosed {
        sid: sid.clone(),
        reason,
    };
    match (status, task.status) {
        (s, current) if s == current.as_str() => Ok(None),
        ("canceled", current) if !current.closed() => Ok(Some(Event::TaskCanceled(close(reason)))),
        ("wrapping", TaskStatus::Assigned) => Ok(Some(Event::TaskWrapup(close(reason)))),
        ("completed", TaskStatus::Assigned | TaskStatus::Wrapping) => {
            Ok(Some(Event::TaskCompleted(close(reason))))
        }
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
