//! The workspace's timers: every due time the clock can reach, kept in order beside the
//! entities, so a tick visits what is due and the actor sleeps until the earliest one instead
//! of scanning every task and reservation.
//!
//! Invariant: after every event, [`Timers`] holds exactly the entries a scan of the state
//! finds (the timers property test checks it against such a scan):
//!
//! - [`TimerKind::Reservation`]: a pending reservation, due at its creation plus its task's
//!   workflow's `task_reservation_timeout` (120 s when there is no workflow);
//! - [`TimerKind::Target`]: a pending task in a workflow target with a timeout, due at the
//!   step's entry plus that timeout, when its workflow compiles (one that does not has no
//!   next target to move to) and the sum is a date;
//! - [`TimerKind::Ttl`]: a task not yet completed or canceled, due at its creation plus its
//!   TTL (`timeout`);
//! - [`TimerKind::Retention`]: a completed or canceled task, keyed by when it closed. Its
//!   retention is a server setting, not a fact of the log, so the key is the close time and
//!   the caller adds the retention ([`Timers::next_closed`], [`Timers::closed_by`]); they are
//!   kept apart from the others so the order of each set is the order of its due times.
//!
//! Every entry belongs to one task (a reservation's to its task), and [`retime`] replaces a
//! task's entries from its current state; the index calls it wherever it re-indexes a task,
//! so an entry naming a removed task or reservation cannot stay behind.

use super::{ReservationStatus, TaskStatus, Workspace};
use crate::sid::Sid;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The reservation timeout when a reservation's task has no workflow (Twilio's default).
pub const DEFAULT_RESERVATION_TIMEOUT: u32 = 120;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKind {
    /// A pending reservation's timeout (the SID is the reservation's).
    Reservation,
    /// A workflow target's timeout (the task's SID).
    Target,
    /// A task's TTL (the task's SID).
    Ttl,
    /// A closed task's retention (the task's SID; the time is when it closed).
    Retention,
}

/// One timer: when, what for, and the SID it is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timer {
    /// When it is due (for [`TimerKind::Retention`], when the task closed).
    pub due: DateTime<Utc>,
    /// What it is for.
    pub kind: TimerKind,
    /// The reservation or task.
    pub sid: Sid,
}

/// The ordered timers of a workspace (kept by [`evolve`](super::evolve)).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timers {
    /// Timeouts and TTLs, earliest first.
    timeouts: BTreeSet<Timer>,
    /// Closed tasks, earliest closed first.
    closed: BTreeSet<Timer>,
    /// Each task's entries in either set, so they can be replaced without a search.
    by_task: BTreeMap<Sid, Vec<Timer>>,
}

impl Timers {
    /// The timeouts and TTLs due at `now`, earliest first; visits nothing else.
    pub fn due_at(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Timer> {
        self.timeouts.iter().take_while(move |t| t.due <= now)
    }

    /// The closed tasks closed at or before `cutoff`, earliest first; visits nothing else.
    pub fn closed_by(&self, cutoff: DateTime<Utc>) -> impl Iterator<Item = &Timer> {
        self.closed.iter().take_while(move |t| t.due <= cutoff)
    }

    /// The earliest timeout or TTL.
    pub fn next_timeout(&self) -> Option<DateTime<Utc>> {
        self.timeouts.first().map(|t| t.due)
    }

    /// When the earliest-closed task closed (its removal is due a retention later).
    pub fn next_closed(&self) -> Option<DateTime<Utc>> {
        self.closed.first().map(|t| t.due)
    }

    /// Every entry, timeouts first, each set in order.
    pub fn entries(&self) -> impl Iterator<Item = &Timer> {
        self.timeouts.iter().chain(self.closed.iter())
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.timeouts.len() + self.closed.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many tasks own an entry (a closed, removed task owns none).
    pub fn tasks(&self) -> usize {
        self.by_task.len()
    }

    fn replace(&mut self, task: &Sid, entries: Vec<Timer>) {
        for old in self.by_task.remove(task).unwrap_or_default() {
            self.set_of(old.kind).remove(&old);
        }
        if entries.is_empty() {
            return;
        }
        for e in &entries {
            self.set_of(e.kind).insert(e.clone());
        }
        self.by_task.insert(task.clone(), entries);
    }

    fn set_of(&mut self, kind: TimerKind) -> &mut BTreeSet<Timer> {
        match kind {
            TimerKind::Retention => &mut self.closed,
            _ => &mut self.timeouts,
        }
    }
}

/// `at` plus `seconds`, or `None` when that is not a date (such a timer never fires: the
/// number is the user's).
pub fn after(at: DateTime<Utc>, seconds: u64) -> Option<DateTime<Utc>> {
    i64::try_from(seconds)
        .ok()
        .and_then(Duration::try_seconds)
        .and_then(|d| at.checked_add_signed(d))
}

/// Replaces `task`'s timers with the ones its state calls for (none when it is gone).
pub(super) fn retime(ws: &mut Workspace, task: &Sid) {
    let entries = entries_of(ws, task);
    ws.timers.replace(task, entries);
}

/// The timers `task` and its reservations call for, as the module doc lists them.
fn entries_of(ws: &Workspace, task: &Sid) -> Vec<Timer> {
    let Some(t) = ws.tasks.get(task) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if t.status.closed() {
        let closed = t.date_closed.unwrap_or(t.date_updated);
        out.push(timer(closed, TimerKind::Retention, &t.sid));
        return out;
    }
    let workflow = ws.workflows.get(&t.workflow_sid);
    if let Some(due) = after(t.date_created, u64::from(t.timeout)) {
        out.push(timer(due, TimerKind::Ttl, &t.sid));
    }
    let compiles = workflow.is_some_and(|w| w.compile_error.is_none());
    if let (TaskStatus::Pending, true, Some(step)) = (t.status, compiles, &t.step) {
        if let Some(due) = step.timeout.and_then(|s| after(step.entered_at, s)) {
            out.push(timer(due, TimerKind::Target, &t.sid));
        }
    }
    if t.pending_reservations > 0 {
        let limit = workflow.map_or(DEFAULT_RESERVATION_TIMEOUT, |w| w.task_reservation_timeout);
        for r in t.reservations.iter().filter_map(|r| ws.reservations.get(r)) {
            if r.status != ReservationStatus::Pending {
                continue;
            }
            if let Some(due) = after(r.date_created, u64::from(limit)) {
                out.push(timer(due, TimerKind::Reservation, &r.sid));
            }
        }
    }
    out
}

fn timer(due: DateTime<Utc>, kind: TimerKind, sid: &Sid) -> Timer {
    Timer {
        due,
        kind,
        sid: sid.clone(),
    }
}
