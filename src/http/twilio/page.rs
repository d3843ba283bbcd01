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

/// What positions a keyed list: the last item of a page, written into the next page's
/// `PageToken` as `PA` and [`PageKey::token`].
pub trait PageKey {
    /// The token's body (after `PA`).
    fn token(&self) -> String;
}

impl PageKey for Sid {
    fn token(&self) -> String {
        self.to_string()
    }
}

/// The key of a list ordered by date, then SID (newest first): the date in ms and the SID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateKey(pub i64, pub String);

impl PageKey for DateKey {
    fn token(&self) -> String {
        format!("{}-{}", self.0, self.1)
    }
}

/// A request for one page of a keyed list (every 2010-04-01 list, and v1's `/Alerts`):
/// `PageSize`, `Page` and `PageToken`, and the request's filters as every URI repeats them.
/// `K` is what the token holds: a [`Sid`] (lists in SID order) or a [`DateKey`].
#[derive(Debug, Clone)]
pub struct TokenPage<K = Sid> {
    /// Items per page (1–1000, 50 by default).
    pub size: i64,
    /// The page's number, as the client counts (only echoed back: the token positions).
    pub number: i64,
    /// The last item of the previous page, from `PageToken`.
    pub after: Option<K>,
    /// `&Name=value` of each filter given, in the order named, for every URI.
    filters: String,
}

fn token_error(t: &str) -> ApiError {
    ApiError::bad_parameter(format!("PageToken {t:?} is not one this API issued"))
}

impl TokenPage<Sid> {
    /// Reads the paging parameters; the token must be one this API issued for items of kind
    /// `prefix`.
    pub fn parse(params: &Params, prefix: SidPrefix) -> Result<TokenPage, ApiError> {
        TokenPage::parse_with(params, &[], |t| {
            t.strip_prefix("PA")
                .and_then(|s| Sid::parse_as(s, prefix).ok())
                .ok_or_else(|| token_error(t))
        })
    }
}

impl TokenPage<DateKey> {
    /// Reads the paging parameters of a list ordered by date (a [`date_key_token`] for items
    /// of kind `prefix`); `filters` are the parameter names every URI repeats.
    pub fn parse_dated(
        params: &Params,
        prefix: SidPrefix,
        filters: &[&str],
    ) -> Result<TokenPage<DateKey>, ApiError> {
        TokenPage::parse_with(params, filters, |t| {
            parse_date_key_token(t, prefix).map(|(ms, sid)| DateKey(ms, sid))
        })
    }
}

impl<K> TokenPage<K> {
    /// Reads `PageSize`, `Page` and `PageToken` (through `key`), and keeps the `filters`
    /// given (by name) for the URIs.
    pub fn parse_with(
        params: &Params,
        filters: &[&str],
        key: impl Fn(&str) -> Result<K, ApiError>,
    ) -> Result<TokenPage<K>, ApiError> {
        let size = params.int("PageSize", 1..=1000)?.unwrap_or(50);
        let number = params.int("Page", 0..=i64::from(u32::MAX))?.unwrap_or(0);
        let after = params.get("PageToken").map(key).transpose()?;
        let mut echo = String::new();
        for name in filters {
            if let Some(v) = params.get(name) {
                echo.push_str(&format!("&{}={}", encode(name), encode(v)));
            }
        }
        Ok(TokenPage {
            size,
            number,
            after,
            filters: echo,
        })
    }

    /// How many items to read: one past the page, to learn whether another follows.
    pub fn limit(&self) -> i64 {
        self.size + 1
    }

    /// The filters every URI repeats: `&Name=value` each, URL-encoded.
    pub fn filters(&self) -> &str {
        &self.filters
    }

    /// The URI of page `number` of `base`, continuing after `key` (none: the first page),
    /// with the filters [`TokenPage::parse_with`] kept.
    pub fn uri(&self, base: &str, number: i64, key: Option<&dyn PageKey>) -> String {
        self.uri_with(base, number, key, &self.filters)
    }

    fn uri_with(
        &self,
        base: &str,
        number: i64,
        key: Option<&dyn PageKey>,
        filters: &str,
    ) -> String {
        let token = key
            .map(|k| format!("&PageToken=PA{}", encode(&k.token())))
            .unwrap_or_default();
        format!(
            "{base}?PageSize={}&Page={number}{token}{filters}",
            self.size
        )
    }

    /// `items` as read (up to [`TokenPage::limit`]) cut to the page.
    fn shown<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        &items[..items
            .len()
            .min(usize::try_from(self.size).unwrap_or(usize::MAX))]
    }
}

impl<K: PageKey> TokenPage<K> {
    /// The 2010-04-01 envelope of `items` (as read, up to [`TokenPage::limit`]) under `key`.
    /// `base` is the list's URI; `filters` the request's filters kept in every URI (empty:
    /// those [`TokenPage::parse_with`] named); `key_of` an item's key (the next page's token).
    pub fn envelope<T, Q: PageKey>(
        &self,
        key: &str,
        base: &str,
        filters: &[(&str, Option<&str>)],
        items: &[T],
        key_of: impl Fn(&T) -> Q,
        render: impl Fn(&T) -> Value,
    ) -> Value {
        let mut echo = String::new();
        for (k, v) in filters {
            if let Some(v) = v {
                echo.push_str(&format!("&{}={}", encode(k), encode(v)));
            }
        }
        let echo = if filters.is_empty() {
            &self.filters
        } else {
            &echo
        };
        let shown = self.shown(items);
        let next = match (items.len() > shown.len(), shown.last()) {
            (true, Some(last)) => {
                Some(self.uri_with(base, self.number + 1, Some(&key_of(last)), echo))
            }
            _ => None,
        };
        let this = self.after.as_ref().map(|k| k as &dyn PageKey);
        let start = self.number * self.size;
        json!({
            key: shown.iter().map(render).collect::<Vec<_>>(),
            "end": start + (shown.len() as i64) - 1,
            "first_page_uri": self.uri_with(base, 0, None, echo),
            "next_page_uri": next,
            "page": self.number,
            "page_size": self.size,
            // Key paging goes forward only, as Twilio's token pages do.
            "previous_page_uri": Value::Null,
            "start": start,
            "uri": self.uri_with(base, self.number, this, echo),
        })
    }

    /// v1's envelope (`meta` with absolute URLs) of `items` under `key`; `url` is the list's
    /// absolute URL.
    pub fn meta<T, Q: PageKey>(
        &self,
        key: &str,
        url: &str,
        items: &[T],
        key_of: impl Fn(&T) -> Q,
        render: impl Fn(&T) -> Value,
    ) -> Value {
        let shown = self.shown(items);
        let next = match (items.len() > shown.len(), shown.last()) {
            (true, Some(last)) => Some(self.uri(url, self.number + 1, Some(&key_of(last)))),
            _ => None,
        };
        let this = self.after.as_ref().map(|k| k as &dyn PageKey);
        json!({
            key: shown.iter().map(render).collect::<Vec<_>>(),
            "meta": {
                "first_page_url": self.uri(url, 0, None),
                "key": key,
                "next_page_url": next,
                "page": self.number,
                "page_size": self.size,
                // Key paging goes forward only; Twilio's own token pages do the same.
                "previous_page_url": Value::Null,
                "url": self.uri(url, self.number, this),
            }
        })
    }
}
