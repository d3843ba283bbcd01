//! `X-Twilio-Signature`: the header every request to an application carries, computed exactly
//! as Twilio computes it, so an application's `RequestValidator(auth_token)` (any of Twilio's
//! helper libraries) accepts what we send.
//!
//! The algorithm (VOICE-NOTES §3.1, twilio-python `request_validator.py`): HMAC-SHA1 keyed by
//! the account's auth token (UTF-8) over the full URL as requested (scheme, host, port if any,
//! path, query, byte for byte), followed by `name + value` of every form parameter, names
//! sorted and deduplicated, and for each name its *distinct* values sorted; no separators and
//! no URL-encoding. The digest is Base64 (standard alphabet, padded). A JSON body is not
//! signed as parameters: its SHA-256 goes into the URL as `bodySHA256` and the URL alone is
//! signed ([`json_url`]).
//!
//! The invariant: one function builds the signed string, so callbacks, tests and any future
//! receiver cannot disagree about ordering, duplicates or ports. Sorting is by code point,
//! which for UTF-8 is byte order: the same order Python's `sorted` gives.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The request header that carries the signature.
pub const HEADER: &str = "X-Twilio-Signature";

/// The string Twilio signs for a form POST (or a GET, with no `params`) to `url`.
pub fn signed_string<K: AsRef<str>, V: AsRef<str>>(url: &str, params: &[(K, V)]) -> String {
    // BTree collections give both orders and both deduplications at once.
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        by_name
            .entry(name.as_ref())
            .or_default()
            .insert(value.as_ref());
    }
    let mut s = String::from(url);
    for (name, values) in by_name {
        for value in values {
            s.push_str(name);
            s.push_str(value);
        }
    }
    s
}

/// `X-Twilio-Signature` for a form POST of `params` to `url`, signed with `auth_token`.
pub fn signature<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
) -> String {
    digest(auth_token, &signed_string(url, params))
}

/// The URL to request (and sign, with no parameters) for a JSON `body`: `url` with
/// `bodySHA256=<hex SHA-256 of the body>` appended to its query, as Twilio sends it.
pub fn json_url(url: &str, body: &[u8]) -> String {
    let hash = hex::encode(Sha256::digest(body));
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}bodySHA256={hash}")
}

/// `X-Twilio-Signature` for a JSON POST of `body` to `url`: the signature of
/// [`json_url`]`(url, body)`, which is also the URL the request must go to.
pub fn json_signature(auth_token: &str, url: &str, body: &[u8]) -> String {
    digest(auth_token, &json_url(url, body))
}

fn digest(auth_token: &str, signed: &str) -> String {
    // HMAC accepts a key of any length (a long key is hashed first), so this never fails.
    let mut mac = match Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA1 takes a key of any length"),
    };
    mac.update(signed.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    //! Twilio's own vectors (twilio-python `tests/unit/test_request_validator.py`, quoted in
    //! VOICE-NOTES §3.3): auth token `12345`.
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn base_params() -> Vec<(&'static str, &'static str)> {
        // Deliberately not in sorted order: the function must sort.
        vec![
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]
    }

    #[test]
    fn base_case() {
        assert_eq!(
            signature(TOKEN, URL, &base_params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn https_with_the_default_port_signs_the_port() {
        let url = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert_eq!(
            signature(TOKEN, url, &base_params()),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
    }

    #[test]
    fn http_with_the_default_port_signs_the_port() {
        let url = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
        assert_eq!(
            signature(TOKEN, url, &base_params()),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        );
    }

    #[test]
    fn repeated_names_sort_their_values() {
        let params = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ];
        assert_eq!(
            signature(TOKEN, URL, &params),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
        // A value repeated under one name counts once, as in Python's `sorted(set(values))`.
        let mut doubled = params.to_vec();
        doubled.push(("Digits", "1234"));
        assert_eq!(
            signature(TOKEN, URL, &doubled),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn json_body_goes_into_the_url() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        assert_eq!(json_url(URL, body), format!("{URL}&bodySHA256={hash}"));
        assert_eq!(
            json_signature(TOKEN, URL, body),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        );
        assert_eq!(
            json_url("https://example.com/hook", b""),
            "https://example.com/hook?bodySHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn no_params_signs_the_url_alone() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(signed_string(URL, &none), URL);
        assert_ne!(
            signature(TOKEN, URL, &none),
            signature(TOKEN, URL, &base_params())
        );
    }
}
