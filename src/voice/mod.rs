//! Voice: what turns an inbound call into the account's TwiML application — the number
//! directory ([`numbers`]) the SIP router consults on every INVITE, and the writes that
//! provision numbers and applications ([`provisioning`]).

pub mod numbers;
pub mod provisioning;
