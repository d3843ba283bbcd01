//! Tests of the TwiML parser and executor: given/when/then cases (`parse`, `execute`) and
//! property tests over random programs, inputs and documents (`properties`).

mod execute;
mod parse;
mod properties;
