//! Voice: the call router's pieces outside the pure call model in `events/` — fetching a
//! call's instructions from its application ([`fetch`]).

pub mod fetch;
