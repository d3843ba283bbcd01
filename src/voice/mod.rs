//! Voice: what turns an inbound call into the account's TwiML application — the number
//! directory ([`numbers`]) the SIP router consults on every INVITE.

pub mod numbers;
