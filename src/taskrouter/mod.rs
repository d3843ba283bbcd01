//! TaskRouter in the shell: one actor per workspace keeps the workspace's state in memory,
//! takes commands in batches (every command decided in order on the state the previous ones
//! left, all their events appended to the workspace stream in one append, each caller
//! answered after the commit), and wakes at its earliest timer (the due times the fold keeps in
//! order: reservation and workflow target timeouts, task TTLs, closed tasks' retention) to
//! decide `Tick` and `ExpireClosedTasks`, so an idle workspace does no work however many tasks
//! it holds. Reads run inside the actor between batches, so they see every acknowledged
//! command and nothing unacknowledged.
//!
//! The actors that answer the API run on the writer node only. A node without the writer role
//! forwards every TaskRouter request, reads included, to the writer
//! (`src/http/forward.rs`), so a read anywhere sees every acknowledged command and no node
//! answers from a workspace loaded once and left stale.
//!
//! Webhooks are not sent from here: the assignment and workspace event callbacks are process
//! managers over the log ([`crate::app::runner`], [`crate::app::outbox`]).

#[cfg(test)]
mod caused_tests;
#[cfg(test)]
mod tests;
mod timers;

use crate::log::{AppendError, Damaged, EventLog, ReadError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_events::taskrouter::decide::{
    decide_mut, route_mut, Command, Ctx, TaskRouterError, CLOSED_TASK_RETENTION_SECS,
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
    /// Per source partition, the highest log offset of an event whose caused command this
    /// workspace has applied ([`Engine::execute_caused`]); folded from the log on load.
    pub watermarks: std::collections::BTreeMap<u32, u64>,
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
        /// The triggering event, for a process manager's command.
        causation: Option<Causation>,
        render: Render,
        reply: oneshot::Sender<Result<Position, EngineError>>,
    },
    Read {
        read: Read,
        /// Told why when the workspace cannot be loaded (then `read` is never called).
        failed: oneshot::Sender<EngineError>,
    },
}

/// The event that caused a process manager's command: its id (recorded as the events'
/// `causation_id`) and its position in the log (recorded beside them, and folded into the
/// workspace's watermark for the position's partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Causation {
    /// The triggering event's id.
    pub event_id: Uuid,
    /// Where it sits in the log.
    pub position: Position,
}

/// How much the workspace actors take on (`--taskrouter-…` flags;
/// [`TaskRouterLimits::DEFAULT`] documents each default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRouterLimits {
    /// Most commands decided into one append.
    pub batch: usize,
    /// Requests one workspace actor holds before callers wait to hand theirs over.
    pub mailbox: usize,
    /// The shortest gap between two timer batches of one actor (the timers' resolution): a
    /// timer fires at its due time, or this long after the previous timer batch if later, so
    /// a stream of due times never makes an actor spin.
    pub tick: Duration,
    /// How long a completed or canceled task stays readable before `task.system-deleted`
    /// removes it from the workspace.
    pub closed_task_retention: Duration,
}

impl TaskRouterLimits {
    /// The defaults (today's behaviour). 512 commands per append groups a burst into one
    /// commit while bounding how long its callers wait for it; 4,096 queued requests per
    /// workspace before callers feel back-pressure; timers at most once a second, because
    /// TaskRouter's timeouts are whole seconds; closed tasks kept 15 minutes, as Twilio keeps
    /// them.
    pub const DEFAULT: TaskRouterLimits = TaskRouterLimits {
        batch: 512,
        mailbox: 4096,
        tick: Duration::from_secs(1),
        closed_task_retention: Duration::from_secs(CLOSED_TASK_RETENTION_SECS),
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
    /// Timer batches run by every actor so far (how tests see that idle means idle).
    timer_batches: Arc<std::sync::atomic::AtomicU64>,
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
            limits,
            timer_batches: Arc::default(),
        }
    }

    /// How many timer batches (`Tick` with `ExpireClosedTasks`) the actors have run: one per
    /// wake at a due time, none while nothing is due.
    pub fn timer_batches(&self) -> u64 {
        self.timer_batches
            .load(std::sync::atomic::Ordering::Relaxed)
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
        self.submit(workspace, command, meta, None, render).await
    }

    /// [`Engine::execute`] for a command a process manager issued because of the event
    /// `causation`: at most once per triggering event. The workspace keeps, per source
    /// partition, the highest offset whose command it applied; a command caused at or below it
    /// is dropped (answered Ok with no events, `render` seeing the current state). The position
    /// is stored with the events the command produced (the log header's causation flag 2), so
    /// the watermark survives a reload. Events from one partition arrive in offset order, so
    /// "at or below" is exactly "already seen" and no set of ids grows without bound.
    pub async fn execute_caused<T: Send + 'static>(
        &self,
        workspace: &Sid,
        command: Command,
        mut meta: Metadata,
        causation: Causation,
        render: impl FnOnce(&Loaded, &[Event]) -> T + Send + 'static,
    ) -> Result<Done<T>, EngineError> {
        meta.causation_id = Some(causation.event_id);
        self.submit(workspace, command, meta, Some(causation), render)
            .await
    }

    /// Hands a command to the workspace's actor and waits for its answer and rendered body.
    async fn submit<T: Send + 'static>(
        &self,
        workspace: &Sid,
        command: Command,
        meta: Metadata,
        causation: Option<Causation>,
        render: impl FnOnce(&Loaded, &[Event]) -> T + Send + 'static,
    ) -> Result<Done<T>, EngineError> {
        let (reply, answer) = oneshot::channel();
        let (body_tx, body_rx) = oneshot::channel();
        let request = Request::Command {
            command: Box::new(command),
            meta,
            causation,
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
        watermarks: Default::default(),
    };
    for r in recorded {
        loaded.version = r.seq;
        loaded.head = r.position;
        if let Some(p) = r.event.causation_position {
            raise(&mut loaded.watermarks, p);
        }
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
    // No timer batch before this: the floor between two of them (`TaskRouterLimits::tick`).
    let mut timers_floor = tokio::time::Instant::now();
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
                        let _ = commit(log.as_ref(), &sid, &mut loaded, vec![command]).await;
                    }
                }
            }
            return;
        }
        // Recomputed every time round: any batch may have added or removed due times.
        let wake = timers::next_wake(&loaded, &engine.limits, timers_floor);
        let mut batch = Vec::new();
        let first = match held.take() {
            Some(r) => r,
            None => tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
                _ = timers::sleep(wake) => {
                    timers_floor = tokio::time::Instant::now() + engine.limits.tick;
                    engine.timer_batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let [tick, expire] = timers::commands(&loaded, &engine.limits);
                    batch.push(expire);
                    tick
                }
            },
        };
        served = true;
        match first {
            Request::Read { read, .. } => {
                read(&loaded);
                continue;
            }
            command => batch.insert(0, command),
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
        if let Err(e) = commit(log.as_ref(), &sid, &mut loaded, batch).await {
            warn!(workspace = %sid, cause = %e, "batch failed; reloading the workspace");
            match load(log.as_ref(), &sid).await {
                Ok(l) => loaded = l,
                Err(e) => {
                    // The state still holds the failed batch's events, which the log does not:
                    // never decide on it. Stop, answering what is queued; the next request
                    // starts a new actor, which loads from the log.
                    error!(workspace = %sid, cause = %e, "cannot reload workspace; the actor stops");
                    rx.close();
                    if let Some(r) = held.take() {
                        fail(r, &e);
                    }
                    while let Some(r) = rx.recv().await {
                        fail(r, &e);
                    }
                    return;
                }
            }
        }
    }
}

/// Whether a command caused at `p` was already applied.
fn applied(watermarks: &std::collections::BTreeMap<u32, u64>, p: Position) -> bool {
    watermarks.get(&p.partition).is_some_and(|w| p.offset <= *w)
}

/// Raises the partition's watermark to `p` (never lowers it).
fn raise(watermarks: &mut std::collections::BTreeMap<u32, u64>, p: Position) {
    let w = watermarks.entry(p.partition).or_insert(p.offset);
    *w = (*w).max(p.offset);
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
/// answers each. On an append failure the state is stale: the caller reloads it.
async fn commit(
    log: &dyn EventLog,
    sid: &Sid,
    loaded: &mut Loaded,
    batch: Vec<Request>,
) -> Result<(), EngineError> {
    let mut accepted = Vec::new();
    let mut new_events = Vec::new();
    let mut last_meta: Option<Metadata> = None;
    for request in batch {
        let Request::Command {
            command,
            meta,
            causation,
            render,
            reply,
        } = request
        else {
            continue;
        };
        if causation.is_some_and(|c| applied(&loaded.watermarks, c.position)) {
            // Already applied (a redelivery of the same trigger, or an older one): nothing
            // new, answered with the state as it is.
            accepted.push((Vec::new(), render, reply));
            continue;
        }
        // Tenancy: a workspace is visible to the account that created it only.
        let foreign = matches!((&loaded.account_sid, &command), (Some(owner), c) if *owner != meta.account_sid && !matches!(**c, Command::Tick | Command::ExpireClosedTasks { .. }));
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
                    let mut new = NewEvent::new(Uuid::now_v7(), &meta, e);
                    new.causation_position = causation.map(|c| c.position);
                    new_events.push(new);
                }
                // Raised now so a second copy in this same batch is dropped; an append that
                // fails reloads the state (and the watermark) from the log.
                if let Some(c) = causation.filter(|_| !events.is_empty()) {
                    raise(&mut loaded.watermarks, c.position);
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
    if let Some(meta) = &last_meta {
        let mut new_sid = |p| crate::commands::new_sid(p);
        let mut ctx = Ctx {
            now: meta.occurred_at,
            new_sid: &mut new_sid,
        };
        let decided = accepted.iter().flat_map(|(events, _, _)| events.iter());
        let routed = route_mut(&mut loaded.state, sid, decided, &mut ctx);
        for e in &routed {
            new_events.push(NewEvent::new(Uuid::now_v7(), meta, e));
        }
    }
    if new_events.is_empty() {
        for (events, render, reply) in accepted {
            render(loaded, &events);
            let _ = reply.send(Ok(loaded.head));
        }
        return Ok(());
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
            for (events, render, reply) in accepted {
                render(loaded, &events);
                let _ = reply.send(Ok(appended.position));
            }
            Ok(())
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
