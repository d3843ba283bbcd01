//! Resolving a URL written in a document against the document's own URL (RFC 3986 §5.2).
//!
//! Owns the one rule every `action`, `<Redirect>` and `<Play>` URL follows (VOICE-NOTES §1.1):
//! relative references are resolved against the URL the document was fetched from, and the
//! result must be an absolute `http`/`https` URL with a valid host (no underscores). A call
//! whose TwiML came inline has no document URL, so a relative reference is an 11100 there.
//! The fragment is kept: it carries Twilio's connection overrides (`#ct=…&rt=…`), which the
//! fetcher reads and never sends.

use super::error::UrlError;

/// Resolve `reference` against `base` (the document's URL, if it has one) and check that the
/// result can be fetched.
pub fn resolve(base: Option<&str>, reference: &str) -> Result<String, UrlError> {
    let reference = reference.trim();
    if reference.is_empty() {
        return Err(UrlError::Empty);
    }
    if reference.chars().any(|c| c <= ' ' || c == '\u{7f}') {
        return Err(UrlError::Character(reference.to_owned()));
    }
    let target = if Parts::split(reference).scheme.is_some() {
        resolve_reference("", reference)
    } else {
        let base = base.ok_or_else(|| UrlError::NoBase(reference.to_owned()))?;
        if check_fetchable(base).is_err() {
            return Err(UrlError::BadBase(base.to_owned()));
        }
        resolve_reference(base, reference)
    };
    check_fetchable(&target)?;
    Ok(target)
}

/// An absolute http(s) URL whose host is a DNS name or an IP literal, with a numeric port.
fn check_fetchable(url: &str) -> Result<(), UrlError> {
    let parts = Parts::split(url);
    let scheme_ok = parts
        .scheme
        .is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    if !scheme_ok {
        return Err(UrlError::Scheme(url.to_owned()));
    }
    let authority = parts.authority.unwrap_or("");
    // userinfo ends at the last '@'; the host cannot contain one.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(literal) = host_port.strip_prefix('[') {
        match literal.split_once(']') {
            Some((ip, rest)) if !ip.is_empty() => (ip, rest.strip_prefix(':')),
            _ => return Err(UrlError::Host(url.to_owned())),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let host_ok = !host.is_empty()
        && !host.starts_with(['-', '.'])
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':');
    let port_ok = port.is_none_or(|p| p.chars().all(|c| c.is_ascii_digit()));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(UrlError::Host(url.to_owned()))
    }
}

/// A URI reference split as RFC 3986 Appendix B does.
#[derive(Debug, Clone, Copy, Default)]
struct Parts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

impl<'a> Parts<'a> {
    fn split(s: &'a str) -> Parts<'a> {
        let (s, fragment) = match s.split_once('#') {
            Some((a, f)) => (a, Some(f)),
            None => (s, None),
        };
        let (s, query) = match s.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (s, None),
        };
        let (scheme, s) = match s.split_once(':') {
            Some((scheme, rest)) if is_scheme(scheme) => (Some(scheme), rest),
            _ => (None, s),
        };
        let (authority, path) = match s.strip_prefix("//") {
            Some(rest) => {
                let end = rest.find('/').unwrap_or(rest.len());
                (Some(&rest[..end]), &rest[end..])
            }
            None => (None, s),
        };
        Parts {
            scheme,
            authority,
            path,
            query,
            fragment,
        }
    }
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// RFC 3986 §5.2.2 (strict), then §5.3 recomposition. No validation.
fn resolve_reference(base: &str, reference: &str) -> String {
    let r = Parts::split(reference);
    let b = Parts::split(base);
    let (scheme, authority, path, query);
    if r.scheme.is_some() {
        scheme = r.scheme;
        authority = r.authority;
        path = remove_dot_segments(r.path);
        query = r.query;
    } else {
        scheme = b.scheme;
        if r.authority.is_some() {
            authority = r.authority;
            path = remove_dot_segments(r.path);
            query = r.query;
        } else {
            authority = b.authority;
            if r.path.is_empty() {
                path = b.path.to_owned();
                query = r.query.or(b.query);
            } else {
                path = if r.path.starts_with('/') {
                    remove_dot_segments(r.path)
                } else {
                    remove_dot_segments(&merge(&b, r.path))
                };
                query = r.query;
            }
        }
    }
    let mut out = String::with_capacity(base.len() + reference.len());
    if let Some(s) = scheme {
        out.push_str(s);
        out.push(':');
    }
    if let Some(a) = authority {
        out.push_str("//");
        out.push_str(a);
    }
    out.push_str(&path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = r.fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// §5.2.3: the reference's path appended to the base path's directory.
fn merge(base: &Parts<'_>, path: &str) -> String {
    if base.authority.is_some() && base.path.is_empty() {
        format!("/{path}")
    } else {
        let dir = base.path.rfind('/').map_or("", |i| &base.path[..=i]);
        format!("{dir}{path}")
    }
}

/// §5.2.4, as a loop over segments (no recursion, linear in the path).
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut output: Vec<&str> = Vec::new();
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/" } else { &input[3..] };
            output.pop();
        } else if input == "." || input == ".." {
            input = "";
        } else {
            // Move the first segment (with its leading '/', if any) to the output.
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push(&input[..end]);
            input = &input[end..];
        }
    }
    output.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://a/b/c/d;p?q";

    #[test]
    fn the_normal_examples_of_rfc_3986_section_5_4_1_resolve_as_written() {
        let cases = [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            ("g?y#s", "http://a/b/c/g?y#s"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y#s"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
        ];
        for (reference, want) in cases {
            assert_eq!(resolve_reference(BASE, reference), want, "{reference}");
        }
    }

    #[test]
    fn the_abnormal_examples_of_rfc_3986_section_5_4_2_resolve_as_written() {
        let cases = [
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g#s/./x"),
            ("g#s/../x", "http://a/b/c/g#s/../x"),
            ("http:g", "http:g"),
        ];
        for (reference, want) in cases {
            assert_eq!(resolve_reference(BASE, reference), want, "{reference}");
        }
    }

    #[test]
    fn a_relative_action_resolves_against_the_document_url() {
        let doc = Some("https://app.example.com/voice/menu.xml?step=1");
        assert_eq!(
            resolve(doc, "next").as_deref(),
            Ok("https://app.example.com/voice/next")
        );
        assert_eq!(
            resolve(doc, "/gather?x=1").as_deref(),
            Ok("https://app.example.com/gather?x=1")
        );
    }

    #[test]
    fn an_absolute_url_needs_no_document_url() {
        assert_eq!(
            resolve(None, " http://127.0.0.1:8080/a.wav ").as_deref(),
            Ok("http://127.0.0.1:8080/a.wav")
        );
    }

    #[test]
    fn a_relative_url_without_a_document_url_is_an_11100() {
        let err = resolve(None, "/next").expect_err("refused");
        assert_eq!(err, UrlError::NoBase("/next".into()));
        assert_eq!(err.code(), 11100);
    }

    #[test]
    fn the_connection_override_fragment_is_kept() {
        assert_eq!(
            resolve(Some("http://h/a"), "b#ct=2000&rt=5000").as_deref(),
            Ok("http://h/b#ct=2000&rt=5000")
        );
    }

    #[test]
    fn unfetchable_urls_are_refused() {
        assert!(matches!(
            resolve(None, "ftp://h/x"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            resolve(None, "http://my_host/x"),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(resolve(None, "http:///x"), Err(UrlError::Host(_))));
        assert!(matches!(
            resolve(None, "http://h:80x/"),
            Err(UrlError::Host(_))
        ));
        assert!(matches!(
            resolve(None, "http://h/a b"),
            Err(UrlError::Character(_))
        ));
        assert!(matches!(resolve(None, "  "), Err(UrlError::Empty)));
        assert!(matches!(
            resolve(Some("relative/doc"), "x"),
            Err(UrlError::BadBase(_))
        ));
    }

    #[test]
    fn ip_literals_and_userinfo_are_accepted() {
        assert!(resolve(None, "http://[::1]:8080/x").is_ok());
        assert!(resolve(None, "https://user:pw@example.com/x").is_ok());
    }
}
