//! TaskRouter in the shell: one actor per workspace keeps the workspace's state in memory,
//! takes commands in batches (every command decided in order on the state the previous ones
//! left, all their events appended to the workspace stream in one append, each caller
//! answered after the commit), and ticks (once a second by default) so reservations, workflow
//! targets and task TTLs time out. Reads run inside the actor between batches, so they see every
//! acknowledged command and nothing unacknowledged.

pub mod callback;
#[cfg(test)]
mod tests;

use crate::commands::now_ms;
use crate::log::{AppendError, Damaged, EventLog, ReadError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_events::taskrouter::decide::{
    decide_mut, route_mut, Command, Ctx, TaskRouterError,
};
use switchboard_events::taskrouter::state::{evolve, Workspace};
use switchboard_events::{Event, ExpectedVersion, Metadata, NewEvent, Position, Sid};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};
use uuid::Uuid;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The decider refused.
    #[error(transparent)]
    Domain(#[from] TaskRouterError),
    /// The log refused or failed.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// The stream could not be read.
    #[error("workspace stream cannot be read: {0}")]
    Read(#[from] ReadError),
}

/// The loaded workspace with what the shell knows beside the fold.
pub struct Loaded {
    /// The state (None: no such workspace, or not yet created).
    pub state: Option<Workspace>,
    /// The account that owns it.
    pub account_sid: Option<Sid>,
    /// The stream's version.
    pub version: u64,
    /// The position of its last event.
    pub head: Position,
}

type Render = Box<dyn FnOnce(&Loaded, &[Event]) + Send>;
type Read = Box<dyn FnOnce(&Loaded) + Send>;

/// What a command did.
pub struct Done<T> {
    /// Rendered by the caller's closure on the state after the commit.
    pub body: T,
    /// Position reached (read-your-writes).
    pub position: Position,
}

enum Request {
    Command {
        command: Box<Command>,
        meta: Metadata,
        render: Render,
        reply: oneshot::Sender<Result<Position, EngineError>>,
    },
    Read {
        read: Read,
        /// Told why when the workspace cannot be loaded (then `read` is never called).
        failed: oneshot::Sender<EngineError>,
    },
}

/// How much the workspace actors take on and how long their callbacks may take
/// (`--taskrouter-…` flags; [`TaskRouterLimits::DEFAULT`] documents each default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRouterLimits {
    /// Most commands decided into one append.
    pub batch: usize,
    /// Requests one workspace actor holds before callers wait to hand theirs over.
    pub mailbox: usize,
    /// Workspace event callbacks waiting to go out per workspace; past it, new ones are
    /// dropped with a warning rather than slowing the actor down.
    pub notice_queue: usize,
    /// How often an actor checks its timers (reservation and workflow timeouts, task TTLs).
    pub tick: Duration,
    /// Longest an assignment callback request may take.
    pub assignment_callback_timeout: Duration,
    /// Longest a workspace event callback request may take.
    pub event_callback_timeout: Duration,
}

impl TaskRouterLimits {
    /// The defaults (today's behaviour). 512 commands per append groups a burst into one
    /// commit while bounding how long its callers wait for it; 4,096 queued requests per
    /// workspace before callers feel back-pressure; 16,384 queued event callbacks, so a slow
    /// receiver loses notices only after a long backlog and never slows the actor; a 1 s
    /// tick, because TaskRouter's timeouts are whole seconds; 5 s for an assignment callback
    /// and 15 s for an event callback, what Twilio gives each.
    pub const DEFAULT: TaskRouterLimits = TaskRouterLimits {
        batch: 512,
        mailbox: 4096,
        notice_queue: 16_384,
        tick: Duration::from_secs(1),
        assignment_callback_timeout: Duration::from_secs(5),
        event_callback_timeout: Duration::from_secs(15),
    };
}

impl Default for TaskRouterLimits {
    fn default() -> Self {
        TaskRouterLimits::DEFAULT
    }
}

/// The workspaces' actors.
#[derive(Clone)]
pub struct Engine {
    log: Arc<dyn EventLog>,
    actors: Arc<Mutex<HashMap<Sid, mpsc::Sender<Request>>>>,
    limits: TaskRouterLimits,
    callbacks: callback::Clients,
}

impl Engine {
    /// An engine over `log` with the default limits.
    pub fn new(log: Arc<dyn EventLog>) -> Engine {
        Engine::with_limits(log, TaskRouterLimits::default())
    }

    /// An engine over `log` within `limits`.
    pub fn with_limits(log: Arc<dyn EventLog>, limits: TaskRouterLimits) -> Engine {
        Engine {
            log,
            actors: Arc::default(),
            callbacks: callback::Clients::new(&limits),
            limits,
        }
    }

    fn actor(&self, workspace: &Sid) -> mpsc::Sender<Request> {
        let mut actors = self.actors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = actors.get(workspace).filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(self.limits.mailbox.max(1));
        tokio::spawn(run(self.clone(), workspace.clone(), rx));
        actors.insert(workspace.clone(), tx.clone());
        tx
    }

    /// Starts the actors of these workspaces (so their timers run after a restart).
    pub fn warm(&self, workspaces: impl IntoIterator<Item = Sid>) {
        for w in workspaces {
            self.actor(&w);
        }
    }

    /// Runs a command on `workspace`; `render` builds the answer from the state after it.
    pub async fn execute<T: Send + 'static>(
        &self,
        workspace: &Sid,
        command: Command,
        meta: Metadata,
        render: impl FnOnce(&Loaded, &[Event]) -> T + Send + 'static,
    ) -> Result<Done<T>, EngineError> {
        let (reply, answer) = oneshot::channel();
        let (body_tx, body_rx) = oneshot::channel();
        let request = Request::Command {
            command: Box::new(command),
            meta,
            render: Box::new(move |l, e| {
                let _ = body_tx.send(render(l, e));
            }),
            reply,
        };
        self.send(workspace, request).await?;
        let position = answer
            .await
            .map_err(|_| AppendError::Unavailable("the workspace actor stopped".into()))??;
        let body = body_rx
            .await
            .map_err(|_| AppendError::Unavailable("the workspace actor stopped".into()))?;
        Ok(Done { body, position })
    }

    /// Reads the workspace's state.
    pub async fn read<T: Send + 'static>(
        &self,
        workspace: &Sid,
        read: impl FnOnce(&Loaded) -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        let (failed, why) = oneshot::channel();
        self.send(
            workspace,
            Request::Read {
                read: Box::new(move |l| {
                    let _ = tx.send(read(l));
                }),
                failed,
            },
        )
        .await?;
        match rx.await {
            Ok(answer) => Ok(answer),
            // The actor dropped the read: it says why first when it could not load.
            Err(_) => Err(why.await.unwrap_or_else(|_| {
                AppendError::Unavailable("the workspace actor stopped".into()).into()
            })),
        }
    }

    async fn send(&self, workspace: &Sid, mut request: Request) -> Result<(), EngineError> {
        // An actor for a workspace that does not exist stops once idle (so naming random
        // SIDs costs nothing lasting); a request that meets it stopping goes to a new one.
        for _ in 0..3 {
            match self.actor(workspace).send(request).await {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(r)) => request = r,
            }
        }
        Err(AppendError::Unavailable("the workspace actor stopped".into()).into())
    }
}

async fn load(log: &dyn EventLog, sid: &Sid) -> Result<Loaded, EngineError> {
    let recorded = log.read_stream(sid.as_str()).await?;
    let mut loaded = Loaded {
        state: None,
        account_sid: None,
        version: 0,
        head: Position::embedded(0),
    };
    for r in recorded {
        loaded.version = r.seq;
        loaded.head = r.position;
        // An event this build cannot decode is never folded around: the workspace refuses to
        // load and names where it is (the other workspaces are other actors, untouched).
        let position = r.position;
        let envelope = r.into_envelope().map_err(|e| {
            ReadError::Damaged(Damaged {
                position,
                stream: Some(sid.to_string()),
                reason: e.to_string(),
            })
        })?;
        if loaded.account_sid.is_none() {
            loaded.account_sid = Some(envelope.account_sid.clone());
        }
        loaded.state = evolve(
            loaded.state.take(),
            sid,
            envelope.occurred_at,
            &envelope.event,
        );
    }
    Ok(loaded)
}

async fn run(engine: Engine, sid: Sid, mut rx: mpsc::Receiver<Request>) {
    let log = engine.log.clone();
    // Workspace event callbacks go out in order, from a task of their own.
    let (notices, pending_notices) = mpsc::channel(engine.limits.notice_queue.max(1));
    tokio::spawn(callback::deliver(
        engine.callbacks.event.clone(),
        pending_notices,
    ));
    let mut loaded = match load(log.as_ref(), &sid).await {
        Ok(l) => l,
        Err(e) => {
            error!(workspace = %sid, cause = %e, "cannot load workspace");
            // Closed first, so whatever raced in is answered too (the next request starts a
            // new actor, which tries again).
            rx.close();
            while let Some(r) = rx.recv().await {
                fail(r, &e);
            }
            return;
        }
    };
    // `interval` refuses a zero period.
    let mut tick = tokio::time::interval(engine.limits.tick.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut held: Option<Request> = None;
    let mut served = false;
    loop {
        if served && held.is_none() && loaded.state.is_none() && rx.is_empty() {
            // No such workspace: stop, but answer whatever raced in before the close.
            rx.close();
            while let Some(request) = rx.recv().await {
                match request {
                    Request::Read { read, .. } => read(&loaded),
                    command => {
                        if let Ok((calls, _)) =
                            commit(log.as_ref(), &sid, &mut loaded, vec![command]).await
                        {
                            for call in calls {
                                tokio::spawn(callback::assignment(engine.clone(), call));
                            }
                        }
                    }
                }
            }
            return;
        }
        let first = match held.take() {
            Some(r) => r,
            None => tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
                _ = tick.tick() => {
                    if loaded.state.as_ref().is_some_and(|w| !w.deleted) {
                        let meta = tick_meta(&loaded);
                        let (reply, _) = oneshot::channel();
                        Request::Command { command: Box::new(Command::Tick), meta, render: Box::new(|_, _| {}), reply }
                    } else {
                        continue;
                    }
                }
            },
        };
        served = true;
        let mut batch = Vec::new();
        match first {
            Request::Read { read, .. } => {
                read(&loaded);
                continue;
            }
            command => batch.push(command),
        }
        while batch.len() < engine.limits.batch {
            match rx.try_recv() {
                Ok(read @ Request::Read { .. }) => {
                    held = Some(read);
                    break;
                }
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let committed = commit(log.as_ref(), &sid, &mut loaded, batch).await;
        match committed {
            Ok((calls, events)) => {
                for call in calls {
                    tokio::spawn(callback::assignment(engine.clone(), call));
                }
                for notice in events {
                    if notices.try_send(notice).is_err() {
                        warn!(workspace = %sid, "event callback queue full: a workspace event was not sent");
                    }
                }
            }
            Err(e) => {
                warn!(workspace = %sid, cause = %e, "batch failed; reloading the workspace");
                match load(log.as_ref(), &sid).await {
                    Ok(l) => loaded = l,
                    Err(e) => error!(workspace = %sid, cause = %e, "cannot reload workspace"),
                }
            }
        }
    }
}

fn tick_meta(loaded: &Loaded) -> Metadata {
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

fn fail(request: Request, e: &EngineError) {
    // Each waiting caller gets the load's error: a damaged record keeps its position.
    let again = || match e {
        EngineError::Read(ReadError::Damaged(d)) => {
            EngineError::Read(ReadError::Damaged(d.clone()))
        }
        other => AppendError::Unavailable(other.to_string()).into(),
    };
    match request {
        Request::Command { reply, .. } => {
            let _ = reply.send(Err(again()));
        }
        Request::Read { read, failed } => {
            // Said before the read is dropped, so the reader finds the reason waiting.
            let _ = failed.send(again());
            drop(read);
        }
    }
}

/// Decides every command of the batch in order, appends all their events at once, then
/// answers each; returns the assignment callbacks the new reservations call for. On an
/// append failure the state is stale: the caller reloads it.
async fn commit(
    log: &dyn EventLog,
    sid: &Sid,
    loaded: &mut Loaded,
    batch: Vec<Request>,
) -> Result<(Vec<callback::Call>, Vec<callback::Notice>), EngineError> {
    let mut accepted = Vec::new();
    let mut new_events = Vec::new();
    let mut last_meta: Option<Metadata> = None;
    for request in batch {
        let Request::Command {
            command,
            meta,
            render,
            reply,
        } = request
        else {
            continue;
        };
        // Tenancy: a workspace is visible to the account that created it only.
        let foreign = matches!((&loaded.account_sid, &command), (Some(owner), c) if *owner != meta.account_sid && !matches!(**c, Command::Tick));
        if foreign {
            let _ = reply.send(Err(TaskRouterError::NotFound("workspace".into()).into()));
            continue;
        }
        let mut new_sid = |p| crate::commands::new_sid(p);
        let mut ctx = Ctx {
            now: meta.occurred_at,
            new_sid: &mut new_sid,
        };
        match decide_mut(&mut loaded.state, sid, &command, &mut ctx) {
            Ok(events) => {
                for e in &events {
                    new_events.push(NewEvent::new(Uuid::now_v7(), &meta, e));
                }
                if loaded.account_sid.is_none() && !events.is_empty() {
                    loaded.account_sid = Some(meta.account_sid.clone());
                }
                if !events.is_empty() {
                    last_meta = Some(meta);
                }
                accepted.push((events, render, reply));
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }
    // One routing pass for the whole batch: the reservations go into the same append.
    let mut routed = Vec::new();
    if let Some(meta) = &last_meta {
        let mut new_sid = |p| crate::commands::new_sid(p);
        let mut ctx = Ctx {
            now: meta.occurred_at,
            new_sid: &mut new_sid,
        };
        let decided = accepted.iter().flat_map(|(events, _, _)| events.iter());
        routed = route_mut(&mut loaded.state, sid, decided, &mut ctx);
        for e in &routed {
            new_events.push(NewEvent::new(Uuid::now_v7(), meta, e));
        }
    }
    if new_events.is_empty() {
        for (events, render, reply) in accepted {
            render(loaded, &events);
            let _ = reply.send(Ok(loaded.head));
        }
        return Ok((Vec::new(), Vec::new()));
    }
    match log
        .append(
            sid.as_str(),
            ExpectedVersion::after_load(loaded.version),
            new_events,
        )
        .await
    {
        Ok(appended) => {
            loaded.version = appended.version;
            loaded.head = appended.position;
            let mut calls = Vec::new();
            let mut notices = Vec::new();
            if let (Some(ws), Some(account)) = (&loaded.state, &loaded.account_sid) {
                calls.extend(callback::calls(ws, account, &routed));
                let all = accepted.iter().flat_map(|(e, _, _)| e.iter());
                notices = callback::notices(ws, account, all.chain(routed.iter()));
            }
            for (events, render, reply) in accepted {
                render(loaded, &events);
                let _ = reply.send(Ok(appended.position));
            }
            Ok((calls, notices))
        }
        Err(e) => {
            let message = e.to_string();
            for (_, _, reply) in accepted {
                let _ = reply.send(Err(AppendError::Unavailable(message.clone()).into()));
            }
            Err(e.into())
        }
    }
}
