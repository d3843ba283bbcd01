//! [`Engine::execute_caused`]: a process manager's command applies once per triggering event,
//! in one actor's life and across a reload from the log (the SQLite log, so the position goes
//! through the stored header).

use super::{Causation, Engine};
use crate::commands::{new_sid, now_ms};
use crate::log::sqlite::{SqliteLog, SqliteLogOptions};
use crate::log::EventLog;
use std::sync::Arc;
use switchboard_events::taskrouter::command::Template;
use switchboard_events::taskrouter::decide::Command;
use switchboard_events::{Metadata, Position, Sid, SidPrefix};
use uuid::Uuid;

fn meta(account: &Sid) -> Metadata {
    Metadata {
        occurred_at: now_ms(),
        account_sid: account.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        region: "test".into(),
    }
}

fn activity(name: &str) -> Command {
    Command::CreateActivity {
        friendly_name: name.into(),
        available: Some(true),
    }
}

fn caused(offset: u64) -> Causation {
    Causation {
        event_id: Uuid::from_u128(u128::from(offset)),
        position: Position {
            partition: 3,
            offset,
        },
    }
}

/// Runs `command` as caused by `causation`; returns how many events it produced and the
/// number of activities the workspace has afterwards.
async fn run(engine: &Engine, ws: &Sid, account: &Sid, name: &str, c: Causation) -> (usize, usize) {
    engine
        .execute_caused(ws, activity(name), meta(account), c, |l, events| {
            let activities = l.state.as_ref().map_or(0, |w| w.activities.len());
            (events.len(), activities)
        })
        .await
        .unwrap_or_else(|e| panic!("caused command: {e}"))
        .body
}

#[tokio::test]
async fn a_caused_command_applies_once_per_trigger_even_after_a_reload() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("log.sqlite");
    let account = new_sid(SidPrefix::Account);
    let ws = new_sid(SidPrefix::Workspace);
    let log: Arc<dyn EventLog> = Arc::new(
        SqliteLog::open(&path, SqliteLogOptions::default(), Arc::new(()))
            .await
            .unwrap_or_else(|e| panic!("open: {e}")),
    );
    let engine = Engine::new(log.clone());
    let create = Command::CreateWorkspace {
        friendly_name: "W".into(),
        event_callback_url: None,
        events_filter: None,
        multi_task_enabled: None,
        prioritize_queue_order: None,
        template: Template::None,
    };
    let base = engine
        .execute(&ws, create, meta(&account), |l, _| {
            l.state.as_ref().map_or(0, |w| w.activities.len())
        })
        .await
        .unwrap_or_else(|e| panic!("create workspace: {e}"))
        .body;

    let (made, n) = run(&engine, &ws, &account, "Caused", caused(10)).await;
    assert_eq!((made, n), (1, base + 1), "the first delivery applies");
    let (made, n) = run(&engine, &ws, &account, "Caused", caused(10)).await;
    assert_eq!(
        (made, n),
        (0, base + 1),
        "the same trigger again is dropped"
    );
    let (made, _) = run(&engine, &ws, &account, "Older", caused(4)).await;
    assert_eq!(made, 0, "an older trigger is dropped");
    // Another partition has its own watermark.
    let other = Causation {
        event_id: Uuid::from_u128(99),
        position: Position {
            partition: 4,
            offset: 1,
        },
    };
    assert_eq!(run(&engine, &ws, &account, "Other", other).await.0, 1);

    // A fresh engine loads the workspace from the log: the watermark came back with it.
    let reloaded = Engine::new(log.clone());
    let (made, n) = run(&reloaded, &ws, &account, "Caused", caused(10)).await;
    assert_eq!((made, n), (0, base + 2), "dropped after the reload too");
    assert_eq!(run(&reloaded, &ws, &account, "Older", caused(9)).await.0, 0);
    assert_eq!(run(&reloaded, &ws, &account, "Other", other).await.0, 0);
    let (made, n) = run(&reloaded, &ws, &account, "Newer", caused(11)).await;
    assert_eq!((made, n), (1, base + 3), "a newer trigger applies");

    // The produced events carry the trigger: id as causation_id, position beside it.
    let recorded = log
        .read_stream(ws.as_str())
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    let caused_events: Vec<_> = recorded
        .iter()
        .filter(|r| r.event.causation_position.is_some())
        .collect();
    assert_eq!(caused_events.len(), 3);
    assert_eq!(
        caused_events[0].event.causation_id,
        Some(caused(10).event_id)
    );
    assert_eq!(
        caused_events[0].event.causation_position,
        Some(caused(10).position)
    );
    log.shutdown().await;
}
