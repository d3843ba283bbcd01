//! What every signed request to an application shares, whoever sends it (the outbox's
//! callbacks, a call's instructions in [`crate::voice::fetch`]): the clients it goes out on,
//! the headers and signature it carries ([`request`]), and how its answer is read and
//! classified as a policy outcome ([`answer`]).
//!
//! The invariant: one place decides what a request to an application looks like and what a
//! failure of one is called, so a callback and a voice fetch cannot drift apart (a signature
//! over a different URL, another 64 kB rule, another name for a DNS failure).

pub mod answer;
pub mod clients;
pub mod request;
