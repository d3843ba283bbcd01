//! # Voice: the call router
//!
//! What turns an inbound call into the account's TwiML application, outside the pure call
//! model and TwiML program in `events/`:
//!
//! - [`numbers`]: the number directory the SIP router consults on every INVITE;
//! - [`fetch`]: fetching a call's instructions from its application, signed;
//! - [`router`]: an INVITE routed by its number before anything is answered;
//! - [`flow`]: one call's program run step by step against its SIP dialog and media session;
//! - [`dial`]: `<Dial><Sip>`, the caller bridged to a second call;
//! - [`provisioning`]: the writes that provision numbers and applications;
//! - [`calls`]: the Calls API's port (placing a call, reaching a live one);
//! - [`placed`]: that port on a node with SIP: calls placed for `POST /Calls`, live calls;
//! - [`recovery`]: at a writer's start, ending the calls a dead node left live;
//! - [`trunk`]: where calls to telephone numbers go (`--sip-trunk`).

pub mod calls;
pub(crate) mod dial;
pub mod fetch;
pub(crate) mod flow;
pub mod numbers;
pub(crate) mod placed;
pub mod provisioning;
pub mod recovery;
pub(crate) mod router;
pub mod trunk;

use std::sync::Arc;

/// What the call router needs on every call: where numbers lead, how documents are fetched,
/// how `<Say>` and `<Play>` become audio.
pub struct Voice {
    /// The numbers read model (or a fixed one in tests).
    pub directory: Arc<dyn numbers::NumberDirectory>,
    /// Fetches instructions, signed with the account's token.
    pub fetcher: Arc<fetch::Fetcher>,
    /// `<Say>` text and `<Play>` URLs to audio.
    pub resolver: Arc<dyn crate::media::resolver::MediaResolver>,
    /// The outbound trunk numbers are dialled through (`--sip-trunk`); none: numbers are
    /// refused, SIP URIs still work.
    pub trunk: Option<trunk::Trunk>,
}
