//! The cookies of one call. Twilio "accepts HTTP cookies and will include them in each
//! request, just like a normal web browser" (VOICE-NOTES §1.1); applications keep a call's
//! session in them. This is RFC 6265's storage model cut to what one call needs: host-only and
//! `Domain` cookies, `Path`, `Expires`/`Max-Age`, `Secure`; no public-suffix list (a jar
//! lives for one call and only ever holds what that call's applications set).
//!
//! The invariant: a cookie goes back only to the host (or the `Domain`) and path that set it,
//! until it expires, and a jar cannot grow without bound whatever the applications send.

use chrono::{DateTime, Utc};
use reqwest::Url;

/// Most cookies one call keeps; past it the oldest goes (an application setting a cookie per
/// request must not grow a call's memory).
const MAX_COOKIES: usize = 50;
/// Longest `name=value` kept (RFC 6265 asks user agents for at least 4096 bytes).
const MAX_COOKIE_BYTES: usize = 4096;

/// The cookies of one call: what its applications set, sent back on the call's later
/// requests as a browser would (host, path, expiry and `Secure`).
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cookie {
    name: String,
    value: String,
    /// The host that set it (host-only) or the `Domain` it names, lowercase, no leading dot.
    domain: String,
    /// Sent to subdomains of `domain` too (a `Domain` attribute was given).
    include_subdomains: bool,
    path: String,
    /// Unix ms from which it is gone; `None`: for the call's lifetime.
    expires_at_ms: Option<i64>,
    secure: bool,
}

impl CookieJar {
    /// How many cookies are kept (expired ones included until the next request).
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// True when no cookie is kept.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Keeps the cookies of `set_cookie` headers that an answer from `url` carried.
    pub fn store<'a>(&mut self, url: &Url, set_cookie: impl IntoIterator<Item = &'a str>) {
        let now = Utc::now().timestamp_millis();
        for header in set_cookie {
            if let Some(cookie) = parse(url, header, now) {
                self.keep(cookie, now);
            }
        }
    }

    /// The `Cookie` header for a request to `url`, if any cookie goes there.
    pub fn header(&self, url: &Url) -> Option<String> {
        self.header_at(url, Utc::now().timestamp_millis())
    }

    fn keep(&mut self, cookie: Cookie, now: i64) {
        self.cookies.retain(|c| {
            !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
                && c.expires_at_ms.is_none_or(|at| at > now)
        });
        // A cookie set already expired is how a server deletes one: it goes, nothing comes.
        if cookie.expires_at_ms.is_some_and(|at| at <= now) {
            return;
        }
        if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push(cookie);
    }

    fn header_at(&self, url: &Url, now: i64) -> Option<String> {
        let host = url.host_str()?.to_ascii_lowercase();
        let path = url.path();
        let https = url.scheme() == "https";
        let mut sent: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| c.expires_at_ms.is_none_or(|at| at > now))
            .filter(|c| !c.secure || https)
            .filter(|c| {
                if c.include_subdomains {
                    domain_matches(&host, &c.domain)
                } else {
                    host == c.domain
                }
            })
            .filter(|c| path_matches(path, &c.path))
            .collect();
        if sent.is_empty() {
            return None;
        }
        // RFC 6265 §5.4: longer paths first; the sort is stable, so older first otherwise.
        sent.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let pairs: Vec<String> = sent
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        Some(pairs.join("; "))
    }
}

/// One `Set-Cookie` value from `url`, or `None` if a browser would ignore it.
fn parse(url: &Url, header: &str, now: i64) -> Option<Cookie> {
    let host = url.host_str()?.to_ascii_lowercase();
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() || name.len() + value.len() > MAX_COOKIE_BYTES {
        return None;
    }
    let mut cookie = Cookie {
        name: name.to_string(),
        value: value.to_string(),
        domain: host.clone(),
        include_subdomains: false,
        path: default_path(url.path()),
        expires_at_ms: None,
        secure: false,
    };
    let mut max_age = None;
    for attribute in parts {
        let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
        let val = val.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "domain" => {
                let domain = val.trim_start_matches('.').to_ascii_lowercase();
                if domain.is_empty() {
                    continue;
                }
                // A host may set a cookie for itself or a parent domain, never another.
                if !domain_matches(&host, &domain) {
                    return None;
                }
                cookie.domain = domain;
                cookie.include_subdomains = true;
            }
            "path" if val.starts_with('/') => cookie.path = val.to_string(),
            "expires" => {
                if let Some(at) = http_date(val) {
                    cookie.expires_at_ms = Some(at);
                }
            }
            "max-age" => {
                if let Ok(seconds) = val.parse::<i64>() {
                    max_age = Some(seconds);
                }
            }
            "secure" => cookie.secure = true,
            _ => {}
        }
    }
    // Max-Age wins over Expires; zero or less deletes the cookie at once.
    if let Some(seconds) = max_age {
        cookie.expires_at_ms = Some(if seconds <= 0 {
            i64::MIN
        } else {
            now.saturating_add(seconds.saturating_mul(1000))
        });
    }
    Some(cookie)
}

/// RFC 6265 §5.1.4: the request path up to its last `/`, or `/`.
fn default_path(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => path[..i].to_string(),
    }
}

/// RFC 6265 §5.1.3: `host` is `domain` or a name under it (not an IP address).
fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain
        || (host.ends_with(domain)
            && host[..host.len() - domain.len()].ends_with('.')
            && host.parse::<std::net::IpAddr>().is_err())
}

/// RFC 6265 §5.1.4: `path` is `cookie_path` or below it.
fn path_matches(path: &str, cookie_path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

/// An `Expires` date in the forms servers send (`Wed, 21 Oct 2015 07:28:00 GMT`, with or
/// without dashes in the date), as Unix ms; `None` for anything else (the attribute is then
/// ignored, as RFC 6265 says).
fn http_date(value: &str) -> Option<i64> {
    let spaced = value.replace('-', " ");
    DateTime::parse_from_rfc2822(&spaced)
        .ok()
        .map(|d| d.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    fn jar_with(from: &str, headers: &[&str]) -> CookieJar {
        let mut jar = CookieJar::default();
        jar.store(&url(from), headers.iter().copied());
        jar
    }

    #[test]
    fn a_cookie_goes_back_to_its_host_and_path_only() {
        let jar = jar_with(
            "http://app.example/voice/start",
            &["session=abc; HttpOnly", "step=2; Path=/voice/gather"],
        );
        let table = [
            ("http://app.example/voice/next", Some("session=abc")),
            (
                "http://app.example/voice/gather/x",
                Some("step=2; session=abc"),
            ),
            ("http://app.example/voice", Some("session=abc")),
            ("http://app.example/other", None),
            ("http://app.example/voicemail", None),
            ("http://other.example/voice/next", None),
            ("http://sub.app.example/voice/next", None),
        ];
        for (to, expected) in table {
            assert_eq!(jar.header(&url(to)).as_deref(), expected, "{to}");
        }
    }

    #[test]
    fn a_domain_cookie_reaches_subdomains_and_a_foreign_domain_is_refused() {
        let jar = jar_with(
            "http://a.app.example/",
            &[
                "d=1; Domain=.app.example",
                "evil=1; Domain=other.example",
                "s=1; Secure",
            ],
        );
        assert_eq!(jar.len(), 2, "the foreign domain is not kept");
        assert_eq!(
            jar.header(&url("http://b.app.example/")).as_deref(),
            Some("d=1")
        );
        assert_eq!(
            jar.header(&url("http://app.example/x")).as_deref(),
            Some("d=1")
        );
        assert_eq!(jar.header(&url("http://other.example/")), None);
        assert_eq!(
            jar.header(&url("https://a.app.example/")).as_deref(),
            Some("d=1; s=1"),
            "a Secure cookie only over https"
        );
    }

    #[test]
    fn expiry_and_replacement() {
        let mut jar = jar_with(
            "http://app.example/",
            &[
                "a=1",
                "old=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
                "later=1; Expires=Fri, 01-Jan-2100 00:00:00 GMT",
                "gone=1; Max-Age=0",
                "short=1; Max-Age=1",
            ],
        );
        let here = url("http://app.example/");
        assert_eq!(jar.header(&here).as_deref(), Some("a=1; later=1; short=1"));
        let in_two_seconds = Utc::now().timestamp_millis() + 2_000;
        assert_eq!(
            jar.header_at(&here, in_two_seconds).as_deref(),
            Some("a=1; later=1")
        );
        jar.store(&here, ["a=2", "later=; Max-Age=-1"]);
        assert_eq!(jar.header(&here).as_deref(), Some("short=1; a=2"));
    }

    #[test]
    fn a_jar_stays_bounded() {
        let mut jar = CookieJar::default();
        let here = url("http://app.example/");
        let many: Vec<String> = (0..200).map(|i| format!("c{i}=v")).collect();
        jar.store(&here, many.iter().map(String::as_str));
        jar.store(&here, [format!("big={}", "x".repeat(5000)).as_str()]);
        assert_eq!(jar.len(), MAX_COOKIES);
        let header = jar.header(&here).expect("cookies");
        assert!(
            header.starts_with("c150=v") && !header.contains("big="),
            "{header}"
        );
        jar.store(&here, ["=nameless", "novalue"]);
        assert_eq!(jar.len(), MAX_COOKIES);
    }
}
