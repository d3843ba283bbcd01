//! Twilio's two list envelopes.
//!
//! - v1 ([`page`]): the whole list is known (read from a workspace's state), cut into pages by
//!   `PageSize` (1–1000, 50 by default) and `Page` (from 0); `meta` carries absolute URLs of
//!   the first, previous, next and this page, each keeping the request's other parameters (its
//!   filters) so following a link lists the same thing.
//! - 2010-04-01 ([`TokenPage`]): the list is read from a store a page at a time, keyed by
//!   `PageToken` (`PA` and the SID of the previous page's last item), so a page stays stable
//!   while items are added; URIs are relative, as that API writes them.
//!
//! A parameter out of range is Twilio's 400, after the list itself was found.

use super::error::ApiError;
use super::params::Params;
use serde_json::{json, Value};
use switchboard_events::{Sid, SidPrefix};

/// A page of `items` in v1's list envelope under `key`; `url` is the list's absolute URL and
/// `query` the request's query string (paging and filters).
pub fn page(
    items: Vec<Value>,
    key: &str,
    url: &str,
    query: Option<&str>,
) -> Result<Value, ApiError> {
    let params = Params::from_query(query)?;
    let size = params.int("PageSize", 1..=1000)?.unwrap_or(50) as usize;
    let number = params.int("Page", 0..=1_000_000)?.unwrap_or(0) as usize;
    let filters: String = params
        .0
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
        .map(|(k, v)| format!("&{}={}", encode(k), encode(v)))
        .collect();
    let at = |n: usize| format!("{url}?PageSize={size}&Page={n}{filters}");
    let start = number.saturating_mul(size);
    let more = items.len() > start + size;
    let slice: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    Ok(json!({
        key: slice,
        "meta": {
            "first_page_url": at(0),
            "key": key,
            "next_page_url": more.then(|| at(number + 1)),
            "page": number,
            "page_size": size,
            "previous_page_url": (number > 0).then(|| at(number - 1)),
            "url": at(number),
        }
    }))
}

/// The `PageToken` of a list ordered by date, then SID (newest first), after `sid` dated `ms`:
/// `PA`, the date in ms, `-`, the SID. Items added while a client pages never shift a page.
pub fn date_key_token(ms: i64, sid: &Sid) -> String {
    format!("PA{ms}-{sid}")
}

/// Reads a [`date_key_token`] this API issued for items of kind `prefix`.
pub fn parse_date_key_token(t: &str, prefix: SidPrefix) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::bad_parameter(format!("PageToken {t:?} is not one this API issued"));
    let (ms, sid) = t
        .strip_prefix("PA")
        .and_then(|rest| rest.split_once('-'))
        .ok_or_else(bad)?;
    let ms = ms.parse::<i64>().map_err(|_| bad())?;
    let sid = Sid::parse_as(sid, prefix).map_err(|_| bad())?;
    Ok((ms, sid.to_string()))
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A request for one page of a 2010-04-01 list: `PageSize`, `Page` and `PageToken`.
#[derive(Debug, Clone)]
pub struct TokenPage {
    /// Items per page (1–1000, 50 by default).
    pub size: i64,
    /// The page's number, as the client counts (only echoed back: the token positions).
    pub number: i64,
    /// The last item of the previous page, from `PageToken`.
    pub after: Option<Sid>,
}

impl TokenPage {
    /// Reads the paging parameters; the token must be one this API issued for items of kind
    /// `prefix`.
    pub fn parse(params: &Params, prefix: SidPrefix) -> Result<TokenPage, ApiError> {
        let size = params.int("PageSize", 1..=1000)?.unwrap_or(50);
        let number = params.int("Page", 0..=i64::from(u32::MAX))?.unwrap_or(0);
        let after = match params.get("PageToken") {
            None => None,
            Some(t) => Some(
                t.strip_prefix("PA")
                    .and_then(|s| Sid::parse_as(s, prefix).ok())
                    .ok_or_else(|| {
                        ApiError::bad_parameter(format!(
                            "PageToken {t:?} is not one this API issued"
                        ))
                    })?,
            ),
        };
        Ok(TokenPage {
            size,
            number,
            after,
        })
    }

    /// How many items to read: one past the page, to learn whether another follows.
    pub fn limit(&self) -> i64 {
        self.size + 1
    }

    /// The envelope of `items` (as read, up to [`TokenPage::limit`]) under `key`. `base` is
    /// the list's URI, `filters` the request's filters (kept in every URI), `sid` the SID of
    /// an item (the next page's token).
    pub fn envelope<T>(
        &self,
        key: &str,
        base: &str,
        filters: &[(&str, Option<&str>)],
        items: &[T],
        sid: impl Fn(&T) -> &Sid,
        render: impl Fn(&T) -> Value,
    ) -> Value {
        let size = self.size;
        let number = self.number;
        let has_more = items.len() as i64 > size;
        let items: Vec<&T> = items.iter().take(size as usize).collect();
        let mut filter = String::new();
        for (k, v) in filters {
            if let Some(v) = v {
                filter.push_str(&format!("&{k}={}", encode(v)));
            }
        }
        let uri = match &self.after {
            None => format!("{base}?PageSize={size}&Page={number}{filter}"),
            Some(a) => format!("{base}?PageSize={size}&Page={number}&PageToken=PA{a}{filter}"),
        };
        let next = match (has_more, items.last()) {
            (true, Some(last)) => Some(format!(
                "{base}?PageSize={size}&Page={}&PageToken=PA{}{filter}",
                number + 1,
                sid(last)
            )),
            _ => None,
        };
        let start = number * size;
        json!({
            key: items.iter().map(|i| render(i)).collect::<Vec<_>>(),
            "end": start + (items.len() as i64) - 1,
            "first_page_uri": format!("{base}?PageSize={size}&Page=0{filter}"),
            "next_page_uri": next,
            "page": number,
            "page_size": size,
            "previous_page_uri": Value::Null,
            "start": start,
            "uri": uri,
        })
    }
}
