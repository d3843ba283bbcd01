//! `/2010-04-01/Accounts/{AccountSid}/Applications…`: an account's applications (named sets
//! of voice and messaging webhook URLs its numbers can point at), in Twilio's shape.
//!
//! - `GET  …/Applications.json`: paged (`PageSize`, `PageToken`), filter `FriendlyName`.
//! - `POST …/Applications.json`: create (every field optional; methods default to POST).
//! - `GET`, `POST` (update) and `DELETE` (204) `…/Applications/{AP…}.json`.
//!
//! A malformed field is the generic 400 20001 with the field named.

use super::{command_error, path_account, path_sid, read_failed, settings_change};
use crate::commands::new_sid;
use crate::http::auth::Caller;
use crate::http::twilio::{rfc2822, ApiError, Params, TokenPage};
use crate::http::AppState;
use crate::voice::provisioning::application_command;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::application::{
    Application, ApplicationError, CreateApplication, DeleteApplication, UpdateApplication,
};
use switchboard_events::SidPrefix;
use switchboard_projections::numbers;
use uuid::Uuid;

const PROJECTION: &str = "numbers";

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account_sid}/Applications.json",
            get(list).post(create),
        )
        .route(
            "/2010-04-01/Accounts/{account_sid}/Applications/{application_file}",
            get(fetch).post(update).delete(remove),
        )
}

/// An application in Twilio's JSON shape: every property of `api.v2010.account.application`.
pub fn application_json(a: &Application) -> Value {
    let s = &a.settings;
    json!({
        "account_sid": a.account_sid,
        "api_version": s.api_version,
        "date_created": rfc2822(a.date_created),
        "date_updated": rfc2822(a.date_updated),
        "friendly_name": a.friendly_name,
        "message_status_callback": a.message_status_callback,
        "public_application_connect_enabled": a.public_application_connect_enabled,
        "sid": a.sid,
        "sms_fallback_method": s.sms_fallback_method,
        "sms_fallback_url": s.sms_fallback_url,
        "sms_method": s.sms_method,
        "sms_status_callback": a.sms_status_callback,
        "sms_url": s.sms_url,
        "status_callback": s.status_callback,
        "status_callback_method": s.status_callback_method,
        "uri": format!("/2010-04-01/Accounts/{}/Applications/{}.json", a.account_sid, a.sid),
        "voice_caller_id_lookup": s.voice_caller_id_lookup,
        "voice_fallback_method": s.voice_fallback_method,
        "voice_fallback_url": s.voice_fallback_url,
        "voice_method": s.voice_method,
        "voice_url": s.voice_url,
    })
}

fn refused(e: ApplicationError, path: &str) -> ApiError {
    match e {
        ApplicationError::NotFound(_) => ApiError::not_found(path),
        _ => ApiError::bad_parameter(e.to_string()),
    }
}

async fn list(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(account_sid): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let base = format!("/2010-04-01/Accounts/{account_sid}/Applications.json");
    let account = path_account(&state, &caller, &account_sid, &base).await?;
    let params = Params::from_query(query.as_deref())?;
    let page = TokenPage::parse(&params, SidPrefix::Application)?;
    let friendly_name = params.get("FriendlyName");
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let mut conn = state.read_model().await?;
    let after = page.after.as_ref().map(|s| s.to_string());
    let rows = numbers::list_applications(
        &mut conn,
        account.sid.as_str(),
        friendly_name,
        after.as_deref(),
        page.limit(),
    )
    .await
    .map_err(read_failed("cannot list applications"))?;
    Ok(Json(page.envelope(
        "applications",
        &base,
        &[("FriendlyName", friendly_name)],
        &rows,
        |a| a.sid.clone(),
        application_json,
    )))
}

async fn create(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(account_sid): Path<String>,
    params: Params,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/Applications.json");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let command = CreateApplication {
        sid: new_sid(SidPrefix::Application),
        friendly_name: params.get("FriendlyName").map(str::to_string),
        settings: settings_change(&params)?,
        message_status_callback: params.get("MessageStatusCallback").map(str::to_string),
        sms_status_callback: params.get("SmsStatusCallback").map(str::to_string),
        public_application_connect_enabled: params.flag("PublicApplicationConnectEnabled")?,
    };
    let commands = state.commands();
    let meta = commands.metadata(account.sid.clone(), Uuid::now_v7());
    let (executed, after) =
        application_command(commands, &meta, &command.sid, |s| command.decide(s))
            .await
            .map_err(|e| command_error(e, |d| refused(d, &path)))?;
    let app = after.ok_or_else(|| ApiError::not_found(&path))?;
    let header = state.wrote(&caller.sid, &executed);
    Ok((StatusCode::CREATED, [header], Json(application_json(&app))))
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account_sid, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/Applications/{file}");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let sid = path_sid(&file, SidPrefix::Application, &path)?;
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let mut conn = state.read_model().await?;
    match numbers::application(&mut conn, sid.as_str())
        .await
        .map_err(read_failed("cannot read applications"))?
    {
        Some(a) if a.account_sid == account.sid => Ok(Json(application_json(&a))),
        _ => Err(ApiError::not_found(&path)),
    }
}

async fn update(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account_sid, file)): Path<(String, String)>,
    params: Params,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/Applications/{file}");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let command = UpdateApplication {
        sid: path_sid(&file, SidPrefix::Application, &path)?,
        account_sid: account.sid.clone(),
        friendly_name: params.get("FriendlyName").map(str::to_string),
        settings: settings_change(&params)?,
        message_status_callback: params.get("MessageStatusCallback").map(str::to_string),
        sms_status_callback: params.get("SmsStatusCallback").map(str::to_string),
        public_application_connect_enabled: params.flag("PublicApplicationConnectEnabled")?,
    };
    let commands = state.commands();
    let meta = commands.metadata(account.sid.clone(), Uuid::now_v7());
    let (executed, after) =
        application_command(commands, &meta, &command.sid, |s| command.decide(s))
            .await
            .map_err(|e| command_error(e, |d| refused(d, &path)))?;
    let app = after.ok_or_else(|| ApiError::not_found(&path))?;
    let header = state.wrote(&caller.sid, &executed);
    Ok(([header], Json(application_json(&app))))
}

async fn remove(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account_sid, file)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/Applications/{file}");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let command = DeleteApplication {
        sid: path_sid(&file, SidPrefix::Application, &path)?,
        account_sid: account.sid.clone(),
    };
    let commands = state.commands();
    let meta = commands.metadata(account.sid.clone(), Uuid::now_v7());
    let (executed, _) = application_command(commands, &meta, &command.sid, |s| command.decide(s))
        .await
        .map_err(|e| command_error(e, |d| refused(d, &path)))?;
    let header = state.wrote(&caller.sid, &executed);
    Ok((StatusCode::NO_CONTENT, [header]))
}
