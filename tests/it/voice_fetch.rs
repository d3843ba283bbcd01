//! A call's requests for instructions (`switchboard::voice::fetch`) checked by the official
//! Python library's `RequestValidator(token).validate(url, params, signature)`, as an
//! application would check them: a POST, a GET with the parameters in a query that already
//! had one, and each hop of a redirect (302 → GET, 307 → POST again). A tampered copy of each
//! must be refused, so a validator that accepts anything cannot pass.

use crate::signature::validate_with_twilio;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use switchboard::app::tokens::{AuthTokens, TokenError};
use switchboard::voice::fetch::{CookieJar, FetchRequest, Fetcher, Method};
use switchboard_events::{Sid, SidPrefix};

const TOKEN: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";

struct OneToken;

#[async_trait::async_trait]
impl AuthTokens for OneToken {
    async fn auth_token(&self, _: &Sid) -> Result<Option<String>, TokenError> {
        Ok(Some(TOKEN.into()))
    }
}

/// (method, URL as the application rebuilds it, body parameters, X-Twilio-Signature)
type Seen = (String, String, Vec<(String, String)>, String);

/// The application: `…/hop302` redirects to `/end?from=302`, `…/hop307` to `end` beside it;
/// anything else answers TwiML.
async fn application() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let (log, host) = (seen.clone(), base.clone());
    let handler = move |method: axum::http::Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (log, host) = (log.clone(), host.clone());
        async move {
            let signature = headers
                .get("x-twilio-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let params = form_urlencoded::parse(&body).into_owned().collect();
            log.lock().expect("log").push((
                method.to_string(),
                format!("{host}{uri}"),
                params,
                signature,
            ));
            let response: Response = match uri.path().rsplit('/').next() {
                Some("hop302") => {
                    (StatusCode::FOUND, [("location", "/end?from=302")]).into_response()
                }
                Some("hop307") => {
                    (StatusCode::TEMPORARY_REDIRECT, [("location", "end")]).into_response()
                }
                _ => (
                    [("content-type", "text/xml")],
                    "<Response><Hangup/></Response>",
                )
                    .into_response(),
            };
            response
        }
    };
    let router = axum::Router::new().fallback(handler);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (base, seen)
}

fn case(url: &str, params: &[(String, String)], signature: &str) -> Value {
    json!({"token": TOKEN, "url": url, "params": params, "body": null, "signature": signature})
}

#[tokio::test]
async fn every_request_for_instructions_passes_twilios_request_validator() {
    let (base, seen) = application().await;
    let fetcher = Fetcher::new(Fetcher::client(), Arc::new(OneToken));
    let params: Vec<(String, String)> = [
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "+14155550100"),
        ("To", "+14155550199"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
        ("Caller", "+14155550100"),
        ("Called", "+14155550199"),
        ("Digits", "1 2#"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let fetches = [
        (format!("{base}/voice#ct=2000&rc=0"), Method::Post),
        (format!("{base}/voice?app=a%20b&x=1"), Method::Get),
        (format!("{base}/hop302"), Method::Post),
        (format!("{base}/dir/hop307"), Method::Post),
    ];
    for (url, method) in fetches {
        let request = FetchRequest {
            account: Sid::from_u128(SidPrefix::Account, 7),
            url: url.clone(),
            method,
            params: params.clone(),
        };
        fetcher
            .fetch(&request, &mut CookieJar::default())
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    let seen = seen.lock().expect("log").clone();
    let requested: Vec<(&str, &str)> = seen
        .iter()
        .map(|(m, u, _, _)| (m.as_str(), u.strip_prefix(&base).unwrap_or(u)))
        .collect();
    assert_eq!(
        requested,
        [
            ("POST", "/voice"),
            ("GET", "/voice?app=a%20b&x=1&CallSid=CA0123456789abcdef0123456789abcdef&AccountSid=AC0123456789abcdef0123456789abcdef&From=%2B14155550100&To=%2B14155550199&CallStatus=ringing&Direction=inbound&ApiVersion=2010-04-01&Caller=%2B14155550100&Called=%2B14155550199&Digits=1+2%23"),
            ("POST", "/hop302"),
            ("GET", "/end?from=302"),
            ("POST", "/dir/hop307"),
            ("POST", "/dir/end"),
        ]
    );
    let mut cases: Vec<Value> = seen
        .iter()
        .map(|(_, url, body, signature)| case(url, body, signature))
        .collect();
    // Each tampered: another parameter value, or another URL.
    for (_, url, body, signature) in &seen {
        let mut changed = body.clone();
        match changed.first_mut() {
            Some(first) => first.1.push('x'),
            None => changed.push(("Digits".into(), "9".into())),
        }
        cases.push(case(url, &changed, signature));
        cases.push(case(&format!("{url}&z=1"), body, signature));
    }
    let verdicts = validate_with_twilio(&cases);
    let n = seen.len();
    assert_eq!(
        verdicts[..n],
        vec![true; n],
        "every request validates: {seen:?}"
    );
    assert_eq!(
        verdicts[n..],
        vec![false; 2 * n],
        "every tampered copy is refused"
    );
}
