//! What a workspace event is about: the SIDs it names itself ([`refs`]) and, from them, the
//! one resource it is most relevant to ([`Refs::resource`]) — the `ResourceType` and
//! `ResourceSid` of Twilio's event callback and Event resource. One table for the callback,
//! the `/Events` index and anything else that files events by resource, so they never
//! disagree about an event.
//!
//! Invariant: the resource is the most specific thing the event names — a reservation over
//! its task, a task over its queue or workflow, a worker over its channel — so a task's
//! routing events (`workflow.target-matched`, `task-queue.entered`, …) are the task's.

use super::events::*;
use crate::event::Event;
use crate::sid::Sid;

/// The SIDs an event names in its own data (none of them looked up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refs<'a> {
    /// An activity.
    pub activity: Option<&'a Sid>,
    /// A task channel.
    pub task_channel: Option<&'a Sid>,
    /// A workflow.
    pub workflow: Option<&'a Sid>,
    /// A task queue (for `task-queue.moved`, the one left).
    pub task_queue: Option<&'a Sid>,
    /// A worker.
    pub worker: Option<&'a Sid>,
    /// A task.
    pub task: Option<&'a Sid>,
    /// A reservation.
    pub reservation: Option<&'a Sid>,
}

impl<'a> Refs<'a> {
    /// The resource the event is most relevant to, as Twilio names its type (`reservation`,
    /// `task`, `worker`, `task_queue`, `workflow`, `task_channel`, `activity`); `None` for
    /// the workspace's own events (and events of other streams).
    pub fn resource(&self) -> Option<(&'static str, &'a Sid)> {
        [
            ("reservation", self.reservation),
            ("task", self.task),
            ("worker", self.worker),
            ("task_queue", self.task_queue),
            ("workflow", self.workflow),
            ("task_channel", self.task_channel),
            ("activity", self.activity),
        ]
        .into_iter()
        .find_map(|(kind, sid)| sid.map(|s| (kind, s)))
    }
}

/// The SIDs `event` names.
// Longer than most functions here: one arm per event type, each only naming fields; the
// match is the table of what each event is about.
pub fn refs(event: &Event) -> Refs<'_> {
    let none = Refs::default();
    let task = |s| Refs {
        task: Some(s),
        ..none
    };
    let worker = |s| Refs {
        worker: Some(s),
        ..none
    };
    let reservation = |s| Refs {
        reservation: Some(s),
        ..none
    };
    let queue = |s| Refs {
        task_queue: Some(s),
        ..none
    };
    match event {
        Event::ActivityCreated(ActivityCreated { sid, .. })
        | Event::ActivityUpdated(ActivityUpdated { sid, .. })
        | Event::ActivityDeleted(ResourceRef { sid }) => Refs {
            activity: Some(sid),
            ..none
        },
        Event::TaskChannelCreated(TaskChannelCreated { sid, .. })
        | Event::TaskChannelUpdated(TaskChannelUpdated { sid, .. })
        | Event::TaskChannelDeleted(ResourceRef { sid }) => Refs {
            task_channel: Some(sid),
            ..none
        },
        Event::WorkerCreated(WorkerCreated { sid, .. })
        | Event::WorkerRenamed(WorkerRenamed { sid, .. })
        | Event::WorkerActivityUpdated(WorkerActivityUpdated { sid, .. })
        | Event::WorkerAttributesUpdated(WorkerAttributesUpdated { sid, .. })
        | Event::WorkerDeleted(ResourceRef { sid }) => worker(sid),
        Event::WorkerCapacityUpdated(WorkerCapacityUpdated {
            sid,
            task_channel_sid,
            ..
        })
        | Event::WorkerChannelAvailabilityUpdated(WorkerChannelAvailabilityUpdated {
            sid,
            task_channel_sid,
            ..
        }) => Refs {
            task_channel: Some(task_channel_sid),
            ..worker(sid)
        },
        Event::TaskQueueCreated(TaskQueueCreated { sid, .. })
        | Event::TaskQueueUpdated(TaskQueueUpdated { sid, .. })
        | Event::TaskQueueDeleted(ResourceRef { sid })
        | Event::TaskQueueExpressionUpdated(TaskQueueExpressionUpdated { sid, .. }) => queue(sid),
        Event::WorkflowCreated(WorkflowCreated { sid, .. })
        | Event::WorkflowUpdated(WorkflowUpdated { sid, .. })
        | Event::WorkflowDeleted(ResourceRef { sid }) => Refs {
            workflow: Some(sid),
            ..none
        },
        Event::TaskCreated(t) => Refs {
            task_channel: Some(&t.task_channel_sid),
            workflow: Some(&t.workflow_sid),
            ..task(&t.sid)
        },
        Event::TaskUpdated(TaskUpdated { sid, .. })
        | Event::TaskCanceled(TaskClosed { sid, .. })
        | Event::TaskWrapup(TaskClosed { sid, .. })
        | Event::TaskCompleted(TaskClosed { sid, .. })
        | Event::TaskDeleted(ResourceRef { sid })
        | Event::TaskSystemDeleted(ResourceRef { sid }) => task(sid),
        Event::TargetMatched(m) => Refs {
            workflow: Some(&m.workflow_sid),
            task_queue: Some(&m.task_queue_sid),
            ..task(&m.task_sid)
        },
        Event::WorkflowTimeout(WorkflowTimeout {
            task_sid,
            workflow_sid,
        })
        | Event::WorkflowEntered(WorkflowEntered {
            task_sid,
            workflow_sid,
        }) => Refs {
            workflow: Some(workflow_sid),
            ..task(task_sid)
        },
        Event::WorkflowSkipped(s) => Refs {
            workflow: Some(&s.workflow_sid),
            task_queue: Some(&s.task_queue_sid),
            ..task(&s.task_sid)
        },
        Event::TaskQueueEntered(TaskInQueue {
            task_sid,
            task_queue_sid,
        })
        | Event::TaskQueueTimeout(TaskInQueue {
            task_sid,
            task_queue_sid,
        })
        | Event::TaskQueueMoved(TaskQueueMoved {
            task_sid,
            task_queue_sid,
            ..
        }) => Refs {
            task_queue: Some(task_queue_sid),
            ..task(task_sid)
        },
        Event::ReservationCreated(r) => Refs {
            task: Some(&r.task_sid),
            worker: Some(&r.worker_sid),
            task_queue: Some(&r.task_queue_sid),
            ..reservation(&r.sid)
        },
        Event::ReservationRejected(ReservationRejected { sid, .. })
        | Event::ReservationAccepted(ResourceRef { sid })
        | Event::ReservationTimeout(ResourceRef { sid })
        | Event::ReservationRescinded(ResourceRef { sid })
        | Event::ReservationCanceled(ResourceRef { sid })
        | Event::ReservationWrapup(ResourceRef { sid })
        | Event::ReservationCompleted(ResourceRef { sid }) => reservation(sid),
        _ => none,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sid::SidPrefix;

    #[test]
    fn a_routing_event_is_the_tasks_and_a_reservation_event_the_reservations() {
        let task = Sid::from_u128(SidPrefix::Task, 1);
        let queue = Sid::from_u128(SidPrefix::TaskQueue, 2);
        let entered = Event::TaskQueueEntered(TaskInQueue {
            task_sid: task.clone(),
            task_queue_sid: queue.clone(),
        });
        assert_eq!(refs(&entered).resource(), Some(("task", &task)));
        assert_eq!(refs(&entered).task_queue, Some(&queue));
        let expression = Event::TaskQueueExpressionUpdated(TaskQueueExpressionUpdated {
            sid: queue.clone(),
            target_workers: "1==1".into(),
        });
        assert_eq!(refs(&expression).resource(), Some(("task_queue", &queue)));
        let r = Sid::from_u128(SidPrefix::Reservation, 3);
        let done = Event::ReservationCompleted(ResourceRef { sid: r.clone() });
        assert_eq!(refs(&done).resource(), Some(("reservation", &r)));
        let ws = Event::WorkspaceDeleted(WorkspaceDeleted {});
        assert_eq!(refs(&ws).resource(), None);
    }
}
