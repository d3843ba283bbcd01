//! Programmable Voice, 2010-04-01: the call resources under `/2010-04-01/Accounts/{AC}/…`,
//! one module per resource, each with a `router()` merged by [`crate::http::app`].

pub mod notifications;
