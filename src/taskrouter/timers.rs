//! When a workspace actor wakes for its timers, and what it decides then. The fold keeps every
//! due time in order (`switchboard_events::taskrouter::state::Timers`); the actor sleeps until
//! the earliest (`tokio::time::sleep_until`), recomputed after every batch, then decides `Tick`
//! and `ExpireClosedTasks` at the clock's time in one batch. Nothing due, no wake: an idle
//! workspace costs nothing however many tasks it holds.
//!
//! Invariant: a timer batch never starts before the earliest due time it is for (the wake is
//! rounded up to the next millisecond, the commands' clock resolution), nor sooner than
//! `TaskRouterLimits::tick` after the previous one, so a run of due times cannot make an actor
//! spin.

use super::{Loaded, Request, TaskRouterLimits};
use crate::commands::now_ms;
use std::time::Duration;
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::{Metadata, Sid};
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

/// When the actor should next run its timers: at the earliest due time of a live workspace
/// (a closed task's is its close plus the retention), but not before `floor`. `None`: nothing
/// is due, ever, until a command changes the state.
pub(super) fn next_wake(
    loaded: &Loaded,
    limits: &TaskRouterLimits,
    floor: Instant,
) -> Option<Instant> {
    let ws = loaded.state.as_ref().filter(|w| !w.deleted)?;
    let retention = chrono::Duration::from_std(limits.closed_task_retention).ok();
    let closed = ws
        .timers
        .next_closed()
        .zip(retention)
        .and_then(|(closed, r)| closed.checked_add_signed(r));
    let due = [ws.timers.next_timeout(), closed]
        .into_iter()
        .flatten()
        .min()?;
    // Past due: now. The extra millisecond rounds the clock's truncation up, so the tick's
    // time is at or after the due time.
    let wait = (due - now_ms()).to_std().unwrap_or(Duration::ZERO) + Duration::from_millis(1);
    // A due time too far away to be an instant is as good as never.
    Instant::now().checked_add(wait).map(|at| at.max(floor))
}

/// Sleeps until `wake`, or forever when there is none.
pub(super) async fn sleep(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The timer batch: `Tick` then `ExpireClosedTasks` with the configured retention, at the
/// clock's time, answered to no one.
pub(super) fn commands(loaded: &Loaded, limits: &TaskRouterLimits) -> [Request; 2] {
    let retention_secs = limits.closed_task_retention.as_secs();
    [Command::Tick, Command::ExpireClosedTasks { retention_secs }].map(|command| {
        let (reply, _) = oneshot::channel();
        Request::Command {
            command: Box::new(command),
            meta: meta(loaded),
            causation: None,
            render: Box::new(|_, _| {}),
            reply,
        }
    })
}

fn meta(loaded: &Loaded) -> Metadata {
    Metadata {
        occurred_at: now_ms(),
        account_sid: loaded
            .account_sid
            .clone()
            .unwrap_or_else(|| Sid::from_u128(switchboard_events::SidPrefix::Account, 0)),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        region: "timer".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Engine, TaskRouterLimits};
    use crate::log::memory::MemoryLog;
    use std::sync::Arc;
    use std::time::Duration;
    use switchboard_events::taskrouter::decide::{Command, Template};
    use switchboard_events::taskrouter::state::TaskStatus;
    use switchboard_events::{Event, Metadata, Sid, SidPrefix};
    use uuid::Uuid;

    fn meta() -> Metadata {
        Metadata {
            occurred_at: crate::commands::now_ms(),
            account_sid: Sid::from_u128(SidPrefix::Account, 7),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            region: "test".into(),
        }
    }

    async fn run(engine: &Engine, ws: &Sid, command: Command) -> Vec<Event> {
        engine
            .execute(ws, command, meta(), |_, events| events.to_vec())
            .await
            .map(|d| d.body)
            .unwrap_or_else(|e| panic!("command refused: {e}"))
    }

    fn task(ttl: Option<u32>) -> Command {
        Command::CreateTask {
            attributes: None,
            priority: None,
            timeout: ttl,
            task_channel: None,
            workflow_sid: None,
            virtual_start_time: None,
        }
    }

    /// 10,000 open tasks (a day's TTL each, nobody to offer them to) and no timer batch in
    /// the seconds that follow; then a task with a 1 s TTL is canceled by the one batch its
    /// due time calls for, not by a periodic scan.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_workspace_with_ten_thousand_open_tasks_wakes_only_when_something_is_due() {
        let limits = TaskRouterLimits {
            tick: Duration::from_millis(10),
            ..TaskRouterLimits::DEFAULT
        };
        let engine = Engine::with_limits(Arc::new(MemoryLog::default()), limits);
        let ws = Sid::from_u128(SidPrefix::Workspace, 1);
        let create = Command::CreateWorkspace {
            friendly_name: "Idle".into(),
            event_callback_url: None,
            events_filter: None,
            multi_task_enabled: None,
            prioritize_queue_order: None,
            template: Template::Fifo,
        };
        run(&engine, &ws, create).await;
        let sends: Vec<_> = (0..10_000)
            .map(|_| {
                let engine = engine.clone();
                let ws = ws.clone();
                tokio::spawn(async move { run(&engine, &ws, task(None)).await })
            })
            .collect();
        for s in sends {
            let _ = s.await;
        }
        let before = engine.timer_batches();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            engine.timer_batches(),
            before,
            "no timer batch while nothing is due"
        );
        let open = engine
            .read(&ws, |l| l.state.as_ref().map_or(0, |w| w.tasks.len()))
            .await
            .unwrap_or_default();
        assert_eq!(open, 10_000);

        let short = run(&engine, &ws, task(Some(1))).await;
        let Some(Event::TaskCreated(created)) = short.first() else {
            panic!("no task.created in {short:?}");
        };
        let sid = created.sid.clone();
        // Waits for the condition (a loaded machine may take longer than the 1 s TTL).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let status = loop {
            let sid = sid.clone();
            let status = engine
                .read(&ws, move |l| {
                    l.state
                        .as_ref()
                        .and_then(|w| w.tasks.get(&sid))
                        .map(|t| t.status)
                })
                .await
                .unwrap_or_default();
            if status == Some(TaskStatus::Canceled) || tokio::time::Instant::now() > deadline {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(status, Some(TaskStatus::Canceled));
        let batches = engine.timer_batches() - before;
        assert!((1..=2).contains(&batches), "{batches} timer batches");
    }
}
