//! The conventions every Twilio-shaped API here shares, so each resource module (accounts,
//! TaskRouter, the supervisor reads, the Voice 2010-04-01 resources to come) answers the way
//! Twilio's SDKs expect without restating them:
//!
//! - [`error`]: [`ApiError`], the error body `{code, message, more_info, status}`.
//! - [`params`]: [`Params`], form or JSON bodies and query strings, and the typed reads of
//!   one parameter (flags, integers, SIDs, dates) with Twilio's 400 for a bad value.
//! - [`form`]: the name/value pairs of a form-encoded text or a JSON body, within the
//!   parameter-count limit (pure, for the `form` fuzz target).
//! - [`page`](mod@page): the two list envelopes: v1's `meta` with absolute URLs (`PageSize`,
//!   `Page`) and 2010-04-01's page with relative URIs and a `PageToken`.
//! - [`dates`]: ISO 8601 (v1) and RFC 2822 (2010-04-01) date formatting.
//! - [`signature`]: `X-Twilio-Signature` on every request to an application, as Twilio signs.
//!
//! The invariant: one spelling of each convention, so two APIs cannot drift apart in how they
//! page, date or fail.

pub mod dates;
pub mod error;
pub mod form;
pub mod page;
pub mod params;
pub mod signature;

pub use dates::{iso, iso_ms, rfc2822};
pub use error::ApiError;
pub use page::{date_key_token, page, parse_date_key_token, DateKey, PageKey, TokenPage};
pub use params::Params;
