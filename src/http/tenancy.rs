//! Who a request on a workspace acts as: a parent account reaches its subaccounts'
//! workspaces, as Twilio's parent credentials reach a subaccount's resources.
//!
//! Invariant: the only change this layer makes is to replace the authenticated [`Caller`] by
//! the workspace's owner when that owner is an active direct subaccount of the caller. Every
//! other case (the caller's own workspace, another tenant's, a sibling's, the parent's, one
//! that does not exist) passes the request through untouched, so the handlers' own check
//! (the workspace's owner must be the caller) answers another tenant's SID with exactly the
//! 404 of a missing one. Acting as the owner also means the events a parent's command writes
//! carry the owner's account SID, and the rendered `account_sid` is the owner's.

use super::auth::Caller;
use super::AppState;
use axum::extract::{RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use switchboard_events::{Sid, SidPrefix};

/// The path captures that name the workspace a route acts on (`/v1/Workspaces/{workspace_sid}…`
/// and `/supervisor/v1/Workspaces/{ws}/…`).
const WORKSPACE_CAPTURES: [&str; 2] = ["workspace_sid", "ws"];

/// Route-layer middleware, inside authentication: see the module doc.
pub async fn act_as_owner(
    State(state): State<AppState>,
    params: RawPathParams,
    mut req: Request,
    next: Next,
) -> Response {
    let workspace = params
        .iter()
        .find(|(name, _)| WORKSPACE_CAPTURES.contains(name))
        .and_then(|(_, raw)| Sid::parse_as(raw, SidPrefix::Workspace).ok());
    let caller = req.extensions().get::<Caller>().map(|c| c.0.sid.clone());
    if let (Some(ws), Some(caller)) = (workspace, caller) {
        if let Some(owner) = subaccount_owner(&state, &ws, &caller).await {
            req.extensions_mut().insert(Caller(owner));
        }
    }
    next.run(req).await
}

/// The owner of `ws` when it is an active direct subaccount of `caller` (None otherwise,
/// including every failure: the handler then answers as it would for the caller itself).
async fn subaccount_owner(
    state: &AppState,
    ws: &Sid,
    caller: &Sid,
) -> Option<switchboard_events::account::Account> {
    let owner = state.workspace_owner(ws).await?;
    if owner == *caller {
        return None;
    }
    let account = state.account(&owner).await.ok()??;
    (account.owner_account_sid.as_ref() == Some(caller) && account.status.can_use_api())
        .then_some(account)
}
