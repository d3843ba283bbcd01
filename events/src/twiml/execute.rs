//! The TwiML executor: a pure step function from (program, cursor, input) to the next action.
//!
//! (Interface only; the body lands in the next commit.)

use serde::{Deserialize, Serialize};

use super::program::{Dial, Gather, Method, Program, RejectReason, Say};

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
    let _ = (program, cursor, input, ctx);
    Step {
        next: Cursor {
            verb: cursor.verb,
            phase: Phase::Finished,
        },
        action: Action::Error {
            code: 0,
            message: "the TwiML executor is not implemented yet".to_owned(),
        },
    }
}
