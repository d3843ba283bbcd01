//! TwiML as a pure program: parse a document once, then run it one step at a time.
//!
//! The call controller fetches a document, calls [`parse`], and drives the [`Program`] with
//! [`step`]: each step takes the cursor and what just happened ([`Input`]) and returns the
//! next [`Action`] (answer, say, play, gather, fetch, hang up, …) and the cursor to keep.
//! Nothing here does I/O or reads a clock, so every rule is tested without a network or a
//! socket, and a cursor can be stored in an event and resumed.
//!
//! ```text
//!  text ──xml::read──▶ element tree ──parse──▶ Program + 12200 warnings
//!   (12100: not XML, no root, limits)   (12102: root not <Response>)
//!                                              │
//!  controller ──Input──▶ step(program, cursor) ──▶ Step { next cursor, Action } ──▶ controller
//! ```
//!
//! # Layout
//! - [`xml`]: well-formed XML into a flat element tree; the 12100 rules and the depth and
//!   element-count limits (quick-xml is a pull parser: nothing recurses).
//! - [`parse`]: the tree into verbs: `<Response>` (12102), each verb and the nesting matrix,
//!   verbs not built yet and unknown names as 12200 warnings. `dial` (private) holds the
//!   `<Dial>` nouns and `attrs` (private) the typed attribute values and their defaults.
//! - [`program`]: the verb types with Twilio's defaults.
//! - [`execute`]: the step function and its state diagram (answer rules, Gather outcomes,
//!   Redirect, the end of a document).
//! - [`url`]: RFC 3986 resolution of a document's URLs against the document's own URL.
//! - [`error`]: [`ParseError`], [`Warning`], [`UrlError`] and Twilio's codes.

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
    Dial, DialTarget, Gather, Method, NounCallbacks, Pause, Play, Program, Prompt, Redirect,
    Reject, RejectReason, Say, Verb,
};
pub use url::resolve;
