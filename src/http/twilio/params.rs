//! Request parameters as Twilio clients send them: a form-encoded body (repeated keys for
//! lists) or a JSON object (a top-level array's items are named `[]`), plus the query string.
//! Names are matched exactly (Twilio's `PascalCase`); unknown names are ignored, as Twilio
//! does. The typed reads (integers, flags, SIDs, dates) answer a bad value with a 400 that
//! names the parameter and what it got.
//!
//! A query or a body holds at most [`MAX_PARAMS`] parameters (a 400 past it), counted while
//! parsing, so a small request cannot make a huge list; a body past `--body-limit` is a 413,
//! also when its length is only found while reading it (chunked).

use super::error::ApiError;
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use switchboard_events::{Sid, SidPrefix};

pub use super::form::MAX_PARAMS;
use super::form::{form_pairs, json_pairs, FormError};

/// Parsed parameters, in the order given.
#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl From<FormError> for ApiError {
    fn from(e: FormError) -> ApiError {
        ApiError::bad_parameter(e.0)
    }
}

impl Params {
    /// Parses a query string (a 400 past [`MAX_PARAMS`]).
    pub fn from_query(query: Option<&str>) -> Result<Params, ApiError> {
        Ok(Params(form_pairs(
            query.unwrap_or("").as_bytes(),
            "query string",
        )?))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An equality filter of a list: true when `name` is absent, or given as `value`.
    pub fn allows(&self, name: &str, value: &str) -> bool {
        self.get(name).is_none_or(|v| v == value)
    }

    /// A non-negative integer parameter within `range`.
    pub fn int(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::bad_parameter(format!(
                    "{name} must be an integer from {} to {}, got {v:?}",
                    range.start(),
                    range.end()
                ))),
            },
        }
    }
}

impl Params {
    /// A required parameter of a create or update (400 when it is absent).
    pub fn required(&self, name: &str) -> Result<String, ApiError> {
        self.get(name).map(str::to_string).ok_or_else(|| {
            ApiError::bad_parameter(format!(
                "Missing required parameter {name} in the post body"
            ))
        })
    }

    /// A boolean: `true`/`1`/`yes` or `false`/`0`/`no`, in any case.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                _ => Err(ApiError::bad_parameter(format!(
                    "{name} must be true or false, got {v:?}"
                ))),
            },
        }
    }

    /// A SID of kind `prefix`; an empty value is the same as none.
    pub fn sid(&self, name: &str, prefix: SidPrefix) -> Result<Option<Sid>, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                Sid::parse_as(v, prefix)
                    .map_err(|e| ApiError::bad_parameter(format!("{name} {v:?} is not valid: {e}")))
            })
            .transpose()
    }

    /// An integer from 0 to `max` (at most `u32::MAX`).
    pub fn u32(&self, name: &str, max: i64) -> Result<Option<u32>, ApiError> {
        Ok(self.int(name, 0..=max)?.map(|v| v as u32))
    }

    /// Any integer, negative ones too.
    pub fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_parameter(format!("{name} must be an integer, got {v:?}"))
            }),
        }
    }

    /// An ISO 8601 date-time (or a bare `YYYY-MM-DD`, midnight UTC) parameter.
    pub fn date(&self, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        self.get(name)
            .map(|v| {
                chrono::DateTime::parse_from_rfc3339(v)
                    .map(|d| d.with_timezone(&chrono::Utc))
                    .or_else(|_| {
                        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
                    })
                    .map_err(|_| {
                        ApiError::bad_parameter(format!("{name} must be ISO 8601, got {v:?}"))
                    })
            })
            .transpose()
    }
}

/// Milliseconds in a day, for a bare `YYYY-MM-DD` bound.
const DAY_MS: i64 = 86_400_000;

impl Params {
    /// The bounds a 2010-04-01 list's date filter gives, in ms (`from`, `to`, both
    /// inclusive): `Name=` (that instant, or that whole day when bare), `Name>=` (sent as
    /// `Name>`: from) and `Name<=` (sent as `Name<`: to; a bare date covers its whole day).
    pub fn date_range(&self, name: &str) -> Result<(Option<i64>, Option<i64>), ApiError> {
        let (mut from, mut to): (Option<i64>, Option<i64>) = (None, None);
        let after = format!("{name}>");
        let before = format!("{name}<");
        for (param, lower, upper) in [
            (name, true, true),
            (&*after, true, false),
            (&*before, false, true),
        ] {
            let Some(d) = self.date(param)? else {
                continue;
            };
            let ms = d.timestamp_millis();
            let bare = self.get(param).is_some_and(|v| v.len() == 10);
            if lower {
                from = Some(from.map_or(ms, |f| f.max(ms)));
            }
            if upper {
                let end = if bare {
                    ms.saturating_add(DAY_MS - 1)
                } else {
                    ms
                };
                to = Some(to.map_or(end, |t| t.min(end)));
            }
        }
        Ok((from, to))
    }
}

impl FromRequest<AppState> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Params, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                body_too_large(state.config().body_limit)
            } else {
                ApiError::bad_parameter(format!("cannot read the request body: {e}"))
            }
        })?;
        if !is_json {
            return Ok(Params(form_pairs(&body, "request body")?));
        }
        Ok(Params(json_pairs(&body)?))
    }
}

/// 413 for a body past `--body-limit` (the same answer whether the transport's limit or the
/// reading of the body found it).
pub fn body_too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        20001,
        format!("The request body is larger than {limit} bytes"),
    )
}
