//! TwiML as a pure program: parse a document, then run it step by step.

mod attrs;
mod dial;
pub mod error;
pub mod execute;
pub mod parse;
pub mod program;
pub mod url;
pub mod xml;

#[cfg(test)]
mod tests;

pub use error::{ParseError, UrlError, Warning};
pub use execute::{step, Action, Context, Cursor, Input, Phase, Step};
pub use parse::{parse, Parsed};
pub use program::{
    Dial, DialTarget, Gather, Method, Pause, Play, Program, Prompt, Redirect, Reject, RejectReason,
    Say, Verb,
};
pub use url::resolve;
