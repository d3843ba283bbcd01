//! The fetcher against applications served in the test on port 0: where the parameters go,
//! the headers and signature, redirects, cookies, the 64 kB limit, Content-Types, HTTP
//! failures and the URL's timing overrides.

use super::*;
use crate::app::tokens::TokenError;
use crate::http::twilio::signature;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use switchboard_events::SidPrefix;

const TOKEN: &str = "12345";

/// Every account's token is [`TOKEN`].
struct OneToken;

#[async_trait::async_trait]
impl AuthTokens for OneToken {
    async fn auth_token(&self, _: &Sid) -> Result<Option<String>, TokenError> {
        Ok(Some(TOKEN.into()))
    }
}

/// A request the application saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// The URL as the application would rebuild it: `http://host/path?query`.
    url: String,
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// An application answering every request with `reply`; its base URL and what it saw.
async fn app<F>(reply: F) -> (String, Log)
where
    F: Fn(&Seen) -> Response + Clone + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let log: Log = Arc::default();
    let (seen_log, host) = (log.clone(), base.clone());
    let handler = move |method: axum::http::Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (reply, log, host) = (reply.clone(), seen_log.clone(), host.clone());
        async move {
            let seen = Seen {
                method: method.to_string(),
                url: format!("{host}{uri}"),
                path: uri.path().to_string(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let response = reply(&seen);
            log.lock().expect("log").push(seen);
            response
        }
    };
    let router = axum::Router::new().fallback(handler);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (base, log)
}

fn twiml(body: &str) -> Response {
    (
        [("content-type", "text/xml; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

const SAY: &str = "<Response><Say>hello</Say></Response>";

fn fetcher() -> Fetcher {
    Fetcher::new(Fetcher::client(), Arc::new(OneToken))
}

fn request(url: &str, method: Method) -> FetchRequest {
    FetchRequest {
        account: Sid::from_u128(SidPrefix::Account, 1),
        url: url.to_string(),
        method,
        params: vec![
            ("CallSid".into(), "CA1".into()),
            ("From".into(), "+14155550100".into()),
            ("Digits".into(), "1 2".into()),
        ],
    }
}

fn pairs(form: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(form.as_bytes())
        .into_owned()
        .collect()
}

async fn fetch(url: &str, method: Method) -> Result<Fetched, FetchError> {
    fetcher()
        .fetch(&request(url, method), &mut CookieJar::default())
        .await
}

#[tokio::test]
async fn post_sends_the_form_in_the_body_and_get_in_the_query_each_signed() {
    let (base, log) = app(|_| twiml(SAY)).await;
    let url = format!("{base}/voice?app=1#ct=2000");
    let post = fetch(&url, Method::Post).await.expect("post");
    assert_eq!(post.document, Document::Twiml(SAY.into()));
    assert_eq!(
        (post.url.as_str(), post.status, post.content_type.as_str()),
        (format!("{base}/voice?app=1").as_str(), 200, "text/xml")
    );
    assert_eq!(
        post.request_variables,
        "CallSid=CA1&From=%2B14155550100&Digits=1+2"
    );
    let get = fetch(&url, Method::Get).await.expect("get");
    assert_eq!(
        get.url,
        format!("{base}/voice?app=1"),
        "the base without the parameters"
    );

    let seen = log.lock().expect("log").clone();
    let (p, g) = (&seen[0], &seen[1]);
    let params = request(&url, Method::Post).params;
    assert_eq!(
        (p.method.as_str(), p.url.as_str()),
        ("POST", format!("{base}/voice?app=1").as_str())
    );
    assert_eq!(pairs(&p.body), params);
    assert_eq!(
        p.header("x-twilio-signature"),
        Some(signature::signature(TOKEN, &p.url, &params).as_str())
    );
    assert_eq!(g.method, "GET");
    assert_eq!(g.body, "");
    assert_eq!(
        g.url,
        format!("{base}/voice?app=1&CallSid=CA1&From=%2B14155550100&Digits=1+2")
    );
    let none: [(String, String); 0] = [];
    assert_eq!(
        g.header("x-twilio-signature"),
        Some(signature::signature(TOKEN, &g.url, &none).as_str())
    );
    for s in [p, g] {
        assert_eq!(s.header("user-agent"), Some("TwilioProxy/1.1"));
        assert_eq!(
            s.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert!(s.header("i-twilio-idempotency-token").is_some());
    }
}

#[tokio::test]
async fn ten_redirects_are_followed_and_the_eleventh_is_11215() {
    // /r/N redirects to /r/N-1 (relative), /r/0 answers.
    let (base, log) = app(|s| {
        let n: u32 = s.path.trim_start_matches("/r/").parse().unwrap_or(0);
        if n == 0 {
            twiml(SAY)
        } else {
            (StatusCode::FOUND, [("location", format!("{}#rc=5", n - 1))]).into_response()
        }
    })
    .await;
    let ok = fetch(&format!("{base}/r/10"), Method::Post)
        .await
        .expect("10 redirects");
    assert_eq!(
        ok.url,
        format!("{base}/r/0"),
        "the final URL, fragment removed"
    );
    let seen = log.lock().expect("log").clone();
    assert_eq!(seen.len(), 11);
    for s in &seen {
        let none: [(String, String); 0] = [];
        let signed = if s.method == "POST" {
            signature::signature(TOKEN, &s.url, &request("", Method::Post).params)
        } else {
            signature::signature(TOKEN, &s.url, &none)
        };
        assert_eq!(
            s.header("x-twilio-signature"),
            Some(signed.as_str()),
            "{}",
            s.url
        );
    }
    assert_eq!(seen[1].method, "GET", "a 302 becomes a GET");
    assert_eq!(seen[1].body, "", "without the body");

    let err = fetch(&format!("{base}/r/11"), Method::Post)
        .await
        .expect_err("11");
    assert_eq!(err.code, 11215, "{err}");
    assert_eq!(err.url, format!("{base}/r/1"));
}

#[tokio::test]
async fn a_307_keeps_the_method_and_body_and_a_303_drops_them() {
    let (base, log) = app(|s| match s.path.as_str() {
        "/307" => (StatusCode::TEMPORARY_REDIRECT, [("location", "/end")]).into_response(),
        "/303" => (StatusCode::SEE_OTHER, [("location", "/end")]).into_response(),
        _ => twiml(SAY),
    })
    .await;
    for (path, method) in [
        ("/307", Method::Post),
        ("/303", Method::Post),
        ("/307", Method::Get),
    ] {
        fetch(&format!("{base}{path}"), method).await.expect(path);
    }
    let seen = log.lock().expect("log").clone();
    let end: Vec<(&str, &str, &str)> = seen
        .iter()
        .filter(|s| s.path == "/end")
        .map(|s| (s.method.as_str(), s.url.as_str(), s.body.as_str()))
        .collect();
    let at = format!("{base}/end");
    assert_eq!(
        end,
        [
            (
                "POST",
                at.as_str(),
                "CallSid=CA1&From=%2B14155550100&Digits=1+2"
            ),
            ("GET", at.as_str(), ""),
            ("GET", at.as_str(), ""),
        ]
    );
}

#[tokio::test]
async fn a_cookie_comes_back_on_the_same_call_only() {
    let (base, log) = app(|s| match s.path.as_str() {
        "/first" => (
            StatusCode::FOUND,
            [
                ("set-cookie", "session=abc; Path=/"),
                ("location", "/second"),
            ],
        )
            .into_response(),
        _ => ([("set-cookie", "step=2")], twiml(SAY)).into_response(),
    })
    .await;
    let f = fetcher();
    let (mut call, mut other) = (CookieJar::default(), CookieJar::default());
    f.fetch(&request(&format!("{base}/first"), Method::Post), &mut call)
        .await
        .expect("first");
    f.fetch(&request(&format!("{base}/next"), Method::Post), &mut call)
        .await
        .expect("next");
    f.fetch(&request(&format!("{base}/next"), Method::Post), &mut other)
        .await
        .expect("other");
    let cookies: Vec<(String, Option<String>)> = log
        .lock()
        .expect("log")
        .iter()
        .map(|s| (s.path.clone(), s.header("cookie").map(str::to_string)))
        .collect();
    assert_eq!(
        cookies,
        [
            ("/first".into(), None),
            ("/second".into(), Some("session=abc".into())),
            ("/next".into(), Some("session=abc; step=2".into())),
            ("/next".into(), None),
        ]
    );
}

#[tokio::test]
async fn an_answer_over_64_kb_is_11750_with_or_without_a_length() {
    let (base, _) = app(|s| {
        let n: usize = s.path.trim_start_matches(['/', 'c']).parse().unwrap_or(0);
        let body = "x".repeat(n);
        if s.path.starts_with("/c") {
            // Chunked, without a Content-Length: 1 kB at a time.
            let chunks: Vec<Result<String, std::io::Error>> = body
                .as_bytes()
                .chunks(1024)
                .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
                .collect();
            let stream = futures::stream::iter(chunks);
            ([("content-type", "text/plain")], Body::from_stream(stream)).into_response()
        } else {
            ([("content-type", "text/plain")], body).into_response()
        }
    })
    .await;
    for prefix in ["", "c"] {
        let fits = fetch(&format!("{base}/{prefix}65536"), Method::Post)
            .await
            .expect("64 kB");
        assert_eq!(fits.document, Document::Text("x".repeat(65_536)));
        let err = fetch(&format!("{base}/{prefix}65537"), Method::Post)
            .await
            .expect_err("over");
        assert_eq!(err.code, 11750, "{prefix}: {err}");
        assert!(err.response_body.is_some_and(|b| b.len() <= NOTIFIED_BYTES));
    }
}

#[tokio::test]
async fn the_content_type_decides_what_the_answer_is() {
    let (base, _) = app(|s| match s.path.as_str() {
        "/plain" => ([("content-type", "text/plain")], "Hello there").into_response(),
        "/wav" => (
            [("content-type", "audio/wav")],
            vec![b'R', b'I', b'F', b'F'],
        )
            .into_response(),
        "/html" => ([("content-type", "text/html")], SAY).into_response(),
        "/app-xml" => ([("content-type", "Application/XML")], SAY).into_response(),
        "/json" => ([("content-type", "application/json")], "{}").into_response(),
        _ => Response::new(Body::from(SAY)),
    })
    .await;
    let doc = |path: &'static str| {
        let url = format!("{base}{path}");
        async move { fetch(&url, Method::Post).await }
    };
    assert_eq!(
        doc("/plain").await.expect("plain").document,
        Document::Text("Hello there".into())
    );
    let wav = doc("/wav").await.expect("wav");
    assert_eq!(
        wav.document,
        Document::Audio {
            content_type: "audio/wav".into(),
            bytes: b"RIFF".to_vec()
        }
    );
    assert_eq!(
        doc("/html").await.expect("html").document,
        Document::Twiml(SAY.into())
    );
    assert_eq!(
        doc("/app-xml").await.expect("xml").content_type,
        "application/xml"
    );
    for path in ["/json", "/none"] {
        let err = doc(path).await.expect_err(path);
        assert_eq!((err.code, err.status), (12300, Some(200)), "{path}: {err}");
    }
}

#[tokio::test]
async fn an_error_status_is_11217_with_what_the_application_said() {
    let (base, log) = app(|s| match s.path.as_str() {
        "/500" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("x-app", "broken")],
            "boom",
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    })
    .await;
    let err = fetch(&format!("{base}/500"), Method::Get)
        .await
        .expect_err("500");
    assert_eq!((err.code, err.status), (11217, Some(500)), "{err}");
    assert_eq!(
        (err.method.as_str(), err.url),
        ("GET", format!("{base}/500"))
    );
    assert_eq!(err.response_body.as_deref(), Some("boom"));
    assert!(err
        .response_headers
        .is_some_and(|h| h.contains("x-app: broken")));
    assert_eq!(
        err.request_variables,
        "CallSid=CA1&From=%2B14155550100&Digits=1+2"
    );
    assert_eq!(
        fetch(&format!("{base}/404"), Method::Post)
            .await
            .expect_err("404")
            .code,
        11217
    );
    assert_eq!(
        log.lock().expect("log").len(),
        2,
        "rp defaults to ct: an answer is not retried"
    );
    let retried = fetch(&format!("{base}/500#rp=5xx&rc=2"), Method::Post)
        .await
        .expect_err("500");
    assert_eq!(retried.code, 11217);
    assert_eq!(
        log.lock().expect("log").len(),
        5,
        "rp=5xx&rc=2: three attempts"
    );
}

#[tokio::test]
async fn a_closed_port_is_11205_and_a_bad_url_or_override_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = format!("http://{}/voice", listener.local_addr().expect("addr"));
    drop(listener);
    let err = fetch(&closed, Method::Post).await.expect_err("closed");
    assert_eq!((err.code, err.status), (11205, None), "{err}");
    assert_eq!(err.url, closed);
    let table = [
        ("ftp://app.example/voice", 11100),
        ("not a url", 11100),
        ("http://127.0.0.1:1/x#rp=never", 11243),
    ];
    for (url, code) in table {
        assert_eq!(
            fetch(url, Method::Post).await.expect_err(url).code,
            code,
            "{url}"
        );
    }
}

/// A listener that accepts connections and never answers; its URL and how many it accepted.
async fn silent() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/voice", listener.local_addr().expect("addr"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            open.push(socket);
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn the_fragment_times_and_counts_the_attempts() {
    // (fragment, attempts, at least, at most ms)
    let table = [
        ("ct=1000&rt=200&rc=0", 1, 200, 1_500),
        ("rt=200&rc=2&rp=rt", 3, 600 + 250 + 500, 3_500),
        ("rt=5000&tt=300&rc=3&rp=rt", 1, 300, 1_500),
    ];
    for (fragment, attempts, least, most) in table {
        let (url, accepted) = silent().await;
        let started = Instant::now();
        let err = fetch(&format!("{url}#{fragment}"), Method::Post)
            .await
            .expect_err(fragment);
        let took = started.elapsed().as_millis();
        assert_eq!(err.code, 11200, "#{fragment}: {err}");
        assert_eq!(accepted.load(Ordering::SeqCst), attempts, "#{fragment}");
        assert!((least..=most).contains(&took), "#{fragment}: {took} ms");
    }
}
