//! The TwiML executor: a pure step function from (program, cursor, input) to the next action.
//!
//! Owns the order in which a document's verbs run and the answer rules of VOICE-NOTES §1.6,
//! §1.11: a call is answered just before the first verb that needs media (`Say`, `Play`,
//! `Gather`, `Hangup`, `Dial` without `answerOnBridge`); a `Pause` before that delays the
//! answer, `Reject` refuses the call unanswered, and `Redirect` fetches the next document
//! without answering. The call controller carries out each [`Action`] and reports back with
//! an [`Input`]; the executor holds no state beyond the [`Cursor`] it returns.
//!
//! ```text
//!        Begin (any cursor)
//!          │
//!          ▼
//!     Ready(i) ──issue(i)──┬─ i = number of verbs ───────────────────────▶ Finished: End
//!          ▲               ├─ needs an answer, not answered ─▶ Answering(i): Answer
//!          │               │     Answering(i) ──Answered──▶ issue(i), answered
//!          │               ├─ Say, Play, Pause, Gather, Dial ─▶ Running(i): the verb's action
//!          │               └─ Redirect, Hangup, Reject ──────────────────▶ Finished: Fetch,
//!          │                                                         Hangup or Reject
//!          │  Running(i) ── Done, NoInput or empty digits (no actionOnEmptyResult),
//!          └──────────────── a Dial without action ended ──▶ issue(i + 1)
//!             Running(i) ── Gather digits, actionOnEmptyResult, a Dial with action ended
//!                                                                       ──▶ Finished: Fetch
//!             Finished ── anything but Begin ──▶ Finished: End
//! ```
//!
//! Invariant (checked by the property test in `tests/properties.rs`): every step either
//! moves the cursor strictly forward in the order above (verb index first, then Ready <
//! Answering < Running) or reaches Finished, so a program of n verbs ends within 2n + 1
//! steps whatever the inputs, and no input can make the executor panic. An input that does
//! not fit the verb at the cursor is read as "that verb is over" rather than refused, so a
//! confused controller cannot stall a call. A `Fetch` finishes the document: the controller
//! parses what it fetched and starts it with [`Input::Begin`].

use serde::{Deserialize, Serialize};

use super::error::INVALID_URL;
use super::program::{
    Dial, DialTarget, Gather, Method, Play, Program, Prompt, RejectReason, Say, Verb, LOOP_FOREVER,
};
use super::url::resolve;

/// Where execution stands in a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The index of the verb at the cursor.
    pub verb: u32,
    pub phase: Phase,
}

/// How far the verb at the cursor has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Not started.
    Ready,
    /// An [`Action::Answer`] was asked for before this verb.
    Answering,
    /// The verb's action was asked for; waiting for its outcome.
    Running,
    /// The document is over (ended, hung up, rejected, or a fetch replaces it).
    Finished,
}

impl Cursor {
    /// The first verb of a new document, not started.
    pub const START: Cursor = Cursor {
        verb: 0,
        phase: Phase::Ready,
    };
}

/// What happened since the last step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// A new document starts at [`Cursor::START`].
    Begin,
    /// The Answer action was carried out.
    Answered,
    /// The last action finished: played, paused, digits sent, dial ended without action.
    Done,
    /// A gather ended with input.
    Gathered {
        digits: String,
        finished_on_key: Option<char>,
    },
    /// A gather timed out with nothing pressed.
    NoInput,
    /// A `<Dial>` ended; `params` (`DialCallStatus`, …) go to its `action` if it has one.
    Dialed { params: Vec<(String, String)> },
}

/// What the executor needs to know about the call and the document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context<'a> {
    /// The URL the document was fetched from; `None` for TwiML given inline.
    pub document_url: Option<&'a str>,
    /// Whether the call has been answered.
    pub answered: bool,
}

/// One step: the cursor to keep and the action to carry out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub next: Cursor,
    pub action: Action,
}

/// What the call controller does next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// The call must be answered before the verb at the cursor.
    Answer,
    /// Refuse the call (only while not answered; after an answer a Reject is a Hangup).
    Reject {
        reason: RejectReason,
    },
    /// A `<Pause>`; before any answer it delays the answer.
    Wait {
        ms: u64,
    },
    /// Speak; `loops` already normalised (`loop=0` → 1000).
    Say {
        say: Say,
    },
    /// Play an absolute audio URL.
    Play {
        url: String,
        loops: u32,
    },
    /// `<Play digits=…>`.
    SendDigits {
        digits: String,
    },
    /// Play the prompts and collect digits; prompt URLs made absolute.
    Gather {
        gather: Gather,
    },
    /// Fetch the next document (Redirect, Gather action, Dial action).
    Fetch {
        url: String,
        method: Method,
        params: Vec<(String, String)>,
    },
    /// Dial (executed by the next issue); its URLs made absolute.
    Dial {
        dial: Dial,
    },
    Hangup,
    /// The document ran out of verbs: the call ends.
    End,
    /// The document cannot go on (e.g. 11100 a relative URL with no document URL).
    Error {
        code: u32,
        message: String,
    },
}

/// Advance the program by one input.
pub fn step(program: &Program, cursor: Cursor, input: Input, ctx: &Context) -> Step {
    if input == Input::Begin {
        return issue(program, 0, ctx.answered, ctx);
    }
    match cursor.phase {
        Phase::Ready => issue(program, index(cursor.verb), ctx.answered, ctx),
        Phase::Answering => issue(program, index(cursor.verb), true, ctx),
        Phase::Running => outcome(program, cursor, input, ctx),
        Phase::Finished => Step {
            next: cursor,
            action: Action::End,
        },
    }
}

fn index(verb: u32) -> usize {
    usize::try_from(verb).unwrap_or(usize::MAX)
}

fn cursor(i: usize, phase: Phase) -> Cursor {
    Cursor {
        verb: u32::try_from(i).unwrap_or(u32::MAX),
        phase,
    }
}

fn running(i: usize, action: Action) -> Step {
    Step {
        next: cursor(i, Phase::Running),
        action,
    }
}

fn finished(i: usize, action: Action) -> Step {
    Step {
        next: cursor(i, Phase::Finished),
        action,
    }
}

fn url_error(i: usize, err: super::error::UrlError) -> Step {
    finished(
        i,
        Action::Error {
            code: err.code(),
            message: err.to_string(),
        },
    )
}

/// `loop="0"` is "until hangup": Twilio's 1000 iterations.
fn loops(n: u32) -> u32 {
    if n == 0 {
        LOOP_FOREVER
    } else {
        n
    }
}

/// Does this verb need an answered call? `Pause` (delays the answer), `Reject` (refuses it)
/// and `Redirect` (no media) do not.
fn needs_answer(verb: &Verb) -> bool {
    match verb {
        Verb::Pause(_) | Verb::Reject(_) | Verb::Redirect(_) => false,
        Verb::Dial(d) => !d.answer_on_bridge,
        Verb::Say(_) | Verb::Play(_) | Verb::Gather(_) | Verb::Hangup => true,
    }
}

/// Start verb `i`: its action, or the answer it needs first, or the end of the document.
fn issue(program: &Program, i: usize, answered: bool, ctx: &Context) -> Step {
    let i = skip_nothing_to_play(program, i);
    let Some(verb) = program.verbs.get(i) else {
        return finished(program.verbs.len(), Action::End);
    };
    if !answered && needs_answer(verb) {
        return Step {
            next: cursor(i, Phase::Answering),
            action: Action::Answer,
        };
    }
    let base = ctx.document_url;
    match verb {
        Verb::Say(say) => running(i, say_action(say)),
        Verb::Play(play) => match (&play.url, &play.digits) {
            (Some(url), _) => match resolve(base, url) {
                Ok(url) => running(
                    i,
                    Action::Play {
                        url,
                        loops: loops(play.loops),
                    },
                ),
                Err(e) => url_error(i, e),
            },
            (None, digits) => running(
                i,
                Action::SendDigits {
                    digits: digits.clone().unwrap_or_default(),
                },
            ),
        },
        Verb::Pause(p) => running(
            i,
            Action::Wait {
                ms: u64::from(p.length_secs) * 1000,
            },
        ),
        Verb::Gather(g) => match absolute_gather(g, base) {
            Ok(gather) => running(i, Action::Gather { gather }),
            Err(e) => url_error(i, e),
        },
        Verb::Redirect(r) => match resolve(base, &r.url) {
            Ok(url) => finished(
                i,
                Action::Fetch {
                    url,
                    method: r.method,
                    params: Vec::new(),
                },
            ),
            Err(e) => url_error(i, e),
        },
        Verb::Hangup => finished(i, Action::Hangup),
        Verb::Reject(r) if !answered => finished(i, Action::Reject { reason: r.reason }),
        Verb::Reject(_) => finished(i, Action::Hangup),
        Verb::Dial(d) => match absolute_dial(d, base) {
            Ok(dial) => running(i, Action::Dial { dial }),
            Err(e) => url_error(i, e),
        },
    }
}

/// The parser never yields a `<Play>` with neither a URL nor digits; a hand-built program
/// may, and such a verb is skipped (in a loop, so a long run of them cannot grow the stack).
fn skip_nothing_to_play(program: &Program, mut i: usize) -> usize {
    while let Some(Verb::Play(Play {
        url: None,
        digits: None,
        ..
    })) = program.verbs.get(i)
    {
        i += 1;
    }
    i
}

fn say_action(say: &Say) -> Action {
    Action::Say {
        say: Say {
            loops: loops(say.loops),
            ..say.clone()
        },
    }
}

/// The gather with its action and prompt URLs absolute and prompt loops normalised.
fn absolute_gather(g: &Gather, base: Option<&str>) -> Result<Gather, super::error::UrlError> {
    let mut gather = g.clone();
    if let Some(action) = &g.action {
        gather.action = Some(resolve(base, action)?);
    }
    for prompt in &mut gather.prompts {
        match prompt {
            Prompt::Play(p) => {
                if let Some(url) = &p.url {
                    p.url = Some(resolve(base, url)?);
                }
                p.loops = loops(p.loops);
            }
            Prompt::Say(s) => s.loops = loops(s.loops),
            Prompt::Pause(_) => {}
        }
    }
    Ok(gather)
}

/// The dial with its action, screening and status-callback URLs absolute.
fn absolute_dial(d: &Dial, base: Option<&str>) -> Result<Dial, super::error::UrlError> {
    let mut dial = d.clone();
    if let Some(action) = &d.action {
        dial.action = Some(resolve(base, action)?);
    }
    for target in &mut dial.targets {
        match target {
            DialTarget::Number { url, callbacks, .. } | DialTarget::Sip { url, callbacks, .. } => {
                if let Some(u) = url {
                    *u = resolve(base, u)?;
                }
                if let Some(u) = &mut callbacks.url {
                    *u = resolve(base, u)?;
                }
            }
            DialTarget::Client { .. } => {}
        }
    }
    Ok(dial)
}

/// The verb at the cursor reported back.
fn outcome(program: &Program, at: Cursor, input: Input, ctx: &Context) -> Step {
    let i = index(at.verb);
    let next = || issue(program, i.saturating_add(1), ctx.answered, ctx);
    match (program.verbs.get(i), input) {
        (
            Some(Verb::Gather(g)),
            Input::Gathered {
                digits,
                finished_on_key,
            },
        ) if !digits.is_empty() || g.action_on_empty_result => {
            gather_fetch(g, i, digits, finished_on_key, ctx)
        }
        (Some(Verb::Gather(g)), Input::NoInput) if g.action_on_empty_result => {
            gather_fetch(g, i, String::new(), None, ctx)
        }
        (Some(Verb::Dial(d)), input) => match (&d.action, input) {
            (Some(action), input) => {
                let params = match input {
                    Input::Dialed { params } => params,
                    _ => Vec::new(),
                };
                match resolve(ctx.document_url, action) {
                    Ok(url) => finished(
                        i,
                        Action::Fetch {
                            url,
                            method: d.method,
                            params,
                        },
                    ),
                    Err(e) => url_error(i, e),
                }
            }
            (None, _) => next(),
        },
        _ => next(),
    }
}

/// The gather's action (or, without one, the document's own URL) with what was pressed.
fn gather_fetch(
    g: &Gather,
    i: usize,
    digits: String,
    finished_on_key: Option<char>,
    ctx: &Context,
) -> Step {
    let url = match (&g.action, ctx.document_url) {
        (Some(action), base) => resolve(base, action),
        (None, Some(doc)) => resolve(None, doc),
        (None, None) => {
            return finished(
                i,
                Action::Error {
                    code: INVALID_URL,
                    message: "a <Gather> without action needs a document URL (the call's \
                              TwiML was given inline)"
                        .to_owned(),
                },
            )
        }
    };
    match url {
        Ok(url) => finished(
            i,
            Action::Fetch {
                url,
                method: g.method,
                params: vec![
                    ("Digits".to_owned(), digits),
                    (
                        "FinishedOnKey".to_owned(),
                        finished_on_key.map(String::from).unwrap_or_default(),
                    ),
                ],
            },
        ),
        Err(e) => url_error(i, e),
    }
}
