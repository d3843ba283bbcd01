//! Parsing a TwiML document into a [`Program`] (interface only; the body lands next).

use super::error::{ParseError, Warning};
use super::program::Program;

/// A parsed document: the program to run and what was skipped or defaulted on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub program: Program,
    pub warnings: Vec<Warning>,
}

/// Parse a TwiML document.
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let _ = text;
    Err(ParseError::failure(
        "the TwiML parser is not implemented yet",
    ))
}
