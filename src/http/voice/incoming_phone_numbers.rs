//! `/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers…`: the numbers an account owns,
//! in Twilio's shape.
//!
//! - `GET  …/IncomingPhoneNumbers.json`: paged (`PageSize`, `PageToken`), filters
//!   `PhoneNumber` (partial, `*` for any digit) and `FriendlyName`.
//! - `POST …/IncomingPhoneNumbers.json`: take a number (`PhoneNumber`, E.164; there is no
//!   inventory to search, so `AreaCode` alone finds nothing: 21452).
//! - `GET`, `POST` (update) and `DELETE` (204) `…/IncomingPhoneNumbers/{PN…}.json`.
//!
//! One account per number is the write model's rule (`crate::voice::provisioning`); a number
//! another number resource holds, of any account, is Twilio's 400 **21422** ("Phone number
//! is not available"); a malformed one 21421 ("PhoneNumber is invalid"). Other bad fields
//! are the generic 20001.

use super::{command_error, path_account, path_sid, read_error, read_failed, settings_change};
use crate::commands::new_sid;
use crate::http::auth::Caller;
use crate::http::twilio::{rfc2822, ApiError, Params, TokenPage};
use crate::http::AppState;
use crate::voice::provisioning;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_events::number::{
    CreateIncomingPhoneNumber, DeleteIncomingPhoneNumber, IncomingPhoneNumber, NumberError,
    UpdateIncomingPhoneNumber,
};
use switchboard_events::SidPrefix;
use switchboard_projections::numbers;
use uuid::Uuid;

const PROJECTION: &str = "numbers";

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json",
            get(list).post(create),
        )
        .route(
            "/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{phone_number_file}",
            get(fetch).post(update).delete(remove),
        )
}

/// A number in Twilio's JSON shape: every property of `api.v2010.account.incoming_phone_number`.
/// What switchboard does not model (addresses, bundles, emergency calling, trunks) is the
/// value a number without them has.
pub fn number_json(n: &IncomingPhoneNumber) -> Value {
    let s = &n.settings;
    json!({
        "account_sid": n.account_sid,
        "address_requirements": "none",
        "address_sid": null,
        "api_version": s.api_version,
        "beta": false,
        "bundle_sid": null,
        "capabilities": {"fax": false, "mms": false, "sms": false, "voice": true},
        "date_created": rfc2822(n.date_created),
        "date_updated": rfc2822(n.date_updated),
        "emergency_address_sid": null,
        "emergency_address_status": "unregistered",
        "emergency_status": "Inactive",
        "friendly_name": n.friendly_name,
        "identity_sid": null,
        // Not bought from Twilio's inventory: brought to this switch (Twilio's word: hosted).
        "origin": "hosted",
        "phone_number": n.phone_number,
        "sid": n.sid,
        "sms_application_sid": n.sms_application_sid,
        "sms_fallback_method": s.sms_fallback_method,
        "sms_fallback_url": s.sms_fallback_url,
        "sms_method": s.sms_method,
        "sms_url": s.sms_url,
        "status": "in-use",
        "status_callback": s.status_callback,
        "status_callback_method": s.status_callback_method,
        "trunk_sid": null,
        "type": "local",
        "uri": format!("/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{}.json", n.account_sid, n.sid),
        "voice_application_sid": n.voice_application_sid,
        "voice_caller_id_lookup": s.voice_caller_id_lookup,
        "voice_fallback_method": s.voice_fallback_method,
        "voice_fallback_url": s.voice_fallback_url,
        "voice_method": s.voice_method,
        "voice_receive_mode": "voice",
        "voice_url": s.voice_url,
    })
}

/// A number refusal as Twilio answers it (`path`: the request's, for a 404).
fn refused(e: NumberError, path: &str) -> ApiError {
    match e {
        NumberError::NotFound(_) => ApiError::not_found(path),
        NumberError::InvalidNumber(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, 21421, e.to_string())
        }
        NumberError::Taken(_) => ApiError::new(StatusCode::BAD_REQUEST, 21422, e.to_string()),
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
    let base = format!("/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json");
    let account = path_account(&state, &caller, &account_sid, &base).await?;
    let params = Params::from_query(query.as_deref())?;
    let page = TokenPage::parse(&params, SidPrefix::PhoneNumber)?;
    let filter = numbers::NumberFilter {
        phone_number: params.get("PhoneNumber").map(str::to_string),
        friendly_name: params.get("FriendlyName").map(str::to_string),
        after: page.after.as_ref().map(|s| s.to_string()),
    };
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let mut conn = state.read_model().await?;
    let rows = numbers::list_numbers(&mut conn, account.sid.as_str(), &filter, page.limit())
        .await
        .map_err(read_failed("cannot list incoming phone numbers"))?;
    Ok(Json(page.envelope(
        "incoming_phone_numbers",
        &base,
        &[
            ("PhoneNumber", filter.phone_number.as_deref()),
            ("FriendlyName", filter.friendly_name.as_deref()),
        ],
        &rows,
        |n| n.sid.clone(),
        number_json,
    )))
}

async fn create(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(account_sid): Path<String>,
    params: Params,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let Some(phone_number) = params.get("PhoneNumber") else {
        if params.get("AreaCode").is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                21452,
                "No phone numbers found in area code: this server has no number inventory; give PhoneNumber",
            ));
        }
        return Err(ApiError::bad_parameter(
            "Missing required parameter PhoneNumber in the post body",
        ));
    };
    let commands = state.commands();
    let voice_application_sid = params.get("VoiceApplicationSid").map(str::to_string);
    let sms_application_sid = params.get("SmsApplicationSid").map(str::to_string);
    let applications = provisioning::named_applications(
        commands,
        &[
            voice_application_sid.as_deref(),
            sms_application_sid.as_deref(),
        ],
    )
    .await
    .map_err(read_error)?;
    let command = CreateIncomingPhoneNumber {
        sid: new_sid(SidPrefix::PhoneNumber),
        account_sid: account.sid.clone(),
        phone_number: phone_number.to_string(),
        friendly_name: params.get("FriendlyName").map(str::to_string),
        voice_application_sid,
        sms_application_sid,
        settings: settings_change(&params)?,
        applications,
    };
    let meta = commands.metadata(account.sid.clone(), Uuid::now_v7());
    let (executed, number) = provisioning::create_number(commands, &meta, &command)
        .await
        .map_err(|e| command_error(e, |d| refused(d, &path)))?;
    let header = state.wrote(&caller.sid, &executed);
    Ok((StatusCode::CREATED, [header], Json(number_json(&number))))
}

async fn fetch(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account_sid, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{file}");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let sid = path_sid(&file, SidPrefix::PhoneNumber, &path)?;
    state
        .read_your_writes(PROJECTION, &caller.sid, &headers)
        .await;
    let mut conn = state.read_model().await?;
    match numbers::number(&mut conn, sid.as_str())
        .await
        .map_err(read_failed("cannot read incoming phone numbers"))?
    {
        Some(n) if n.account_sid == account.sid => Ok(Json(number_json(&n))),
        _ => Err(ApiError::not_found(&path)),
    }
}

async fn update(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account_sid, file)): Path<(String, String)>,
    params: Params,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{file}");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let sid = path_sid(&file, SidPrefix::PhoneNumber, &path)?;
    let mut command = UpdateIncomingPhoneNumber {
        sid,
        account_sid: account.sid.clone(),
        friendly_name: params.get("FriendlyName").map(str::to_string),
        voice_application_sid: params.get("VoiceApplicationSid").map(str::to_string),
        sms_application_sid: params.get("SmsApplicationSid").map(str::to_string),
        settings: settings_change(&params)?,
        applications: vec![],
    };
    let commands = state.commands();
    let meta = commands.metadata(account.sid.clone(), Uuid::now_v7());
    let (executed, number) = provisioning::update_number(commands, &meta, &mut command)
        .await
        .map_err(|e| command_error(e, |d| refused(d, &path)))?;
    let header = state.wrote(&caller.sid, &executed);
    Ok(([header], Json(number_json(&number))))
}

async fn remove(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path((account_sid, file)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let path = format!("/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{file}");
    let account = path_account(&state, &caller, &account_sid, &path).await?;
    let command = DeleteIncomingPhoneNumber {
        sid: path_sid(&file, SidPrefix::PhoneNumber, &path)?,
        account_sid: account.sid.clone(),
    };
    let commands = state.commands();
    let meta = commands.metadata(account.sid.clone(), Uuid::now_v7());
    let executed = provisioning::delete_number(commands, &meta, &command)
        .await
        .map_err(|e| command_error(e, |d| refused(d, &path)))?;
    let header = state.wrote(&caller.sid, &executed);
    Ok((StatusCode::NO_CONTENT, [header]))
}
