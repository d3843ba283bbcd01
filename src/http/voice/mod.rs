//! The Voice 2010-04-01 resources under `/2010-04-01/Accounts/{AccountSid}/…`, one module per
//! resource: [`incoming_phone_numbers`], [`applications`], [`notifications`] and [`calls`].
//!
//! Tenancy: the path's account must be the caller or one of its subaccounts (Twilio lets a
//! parent act on its subaccounts' resources); any other account, and any resource of another
//! account, is answered 404 exactly as a SID that does not exist, before anything is written.

pub mod applications;
pub mod calls;
pub mod incoming_phone_numbers;
pub mod notifications;

use super::accounts::visible;
use super::twilio::{ApiError, Params};
use super::AppState;
use crate::commands::CommandError;
use axum::Router;
use switchboard_events::account::{Account, AccountError};
use switchboard_events::application::SettingsChange;
use switchboard_events::{Sid, SidPrefix};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(incoming_phone_numbers::router())
        .merge(applications::router())
        .merge(notifications::router())
        .merge(calls::router())
}

/// The account the path names, if the caller may act on it (else the 404 of `full_path`).
pub(super) async fn path_account(
    state: &AppState,
    caller: &Account,
    raw: &str,
    full_path: &str,
) -> Result<Account, ApiError> {
    let sid = Sid::parse_as(raw, SidPrefix::Account).map_err(|_| ApiError::not_found(full_path))?;
    match state.account(&sid).await? {
        Some(a) if visible(caller, &a) => Ok(a),
        _ => Err(ApiError::not_found(full_path)),
    }
}

/// `{Sid}.json` of a resource of kind `prefix`; anything else is the 404 of `full_path`.
pub(super) fn path_sid(file: &str, prefix: SidPrefix, full_path: &str) -> Result<Sid, ApiError> {
    let raw = file.strip_suffix(".json").unwrap_or(file);
    Sid::parse_as(raw, prefix).map_err(|_| ApiError::not_found(full_path))
}

/// The webhook fields a create or update names (the decider checks them).
pub(super) fn settings_change(params: &Params) -> Result<SettingsChange, ApiError> {
    let s = |name: &str| params.get(name).map(str::to_string);
    Ok(SettingsChange {
        api_version: s("ApiVersion"),
        voice_url: s("VoiceUrl"),
        voice_method: s("VoiceMethod"),
        voice_fallback_url: s("VoiceFallbackUrl"),
        voice_fallback_method: s("VoiceFallbackMethod"),
        status_callback: s("StatusCallback"),
        status_callback_method: s("StatusCallbackMethod"),
        voice_caller_id_lookup: params.flag("VoiceCallerIdLookup")?,
        sms_url: s("SmsUrl"),
        sms_method: s("SmsMethod"),
        sms_fallback_url: s("SmsFallbackUrl"),
        sms_fallback_method: s("SmsFallbackMethod"),
    })
}

/// A command's failure as the API answers it: the domain's refusal through `domain`, the
/// log's as every other resource answers it (the accounts mapping, one spelling).
pub(super) fn command_error<E>(e: CommandError<E>, domain: impl FnOnce(E) -> ApiError) -> ApiError {
    let other: CommandError<AccountError> = match e {
        CommandError::Domain(d) => return domain(d),
        CommandError::Append(a) => CommandError::Append(a),
        CommandError::Read(r) => CommandError::Read(r),
        CommandError::Contended(s) => CommandError::Contended(s),
    };
    ApiError::from(other)
}

/// The write model's read failure, as every command's.
pub(super) fn read_error(e: crate::log::ReadError) -> ApiError {
    ApiError::from(CommandError::<AccountError>::Read(e))
}

/// The read model's failure (a 500 naming what failed).
pub(super) fn read_failed(what: &str) -> impl FnOnce(sqlx::Error) -> ApiError + '_ {
    move |e| ApiError::internal(what, e)
}
