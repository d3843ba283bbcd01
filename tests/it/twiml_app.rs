//! A voice application written in Rust for the telephony tests: fixed answers per path (TwiML,
//! audio, errors), every request it received kept for the test to read. It runs on a tokio
//! runtime of its own, so the synchronous SIP tests can block on SIPp and sockets while it
//! serves. The Python application in `tests/voice/app.py` (the official twilio library) is the
//! one the must-show tests use; this one keeps the engine tests short.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One answer.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    /// `text/xml` TwiML.
    pub(crate) fn twiml(body: &str) -> Reply {
        Reply {
            status: 200,
            content_type: Some("text/xml".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    /// A WAV file.
    pub(crate) fn wav(bytes: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            content_type: Some("audio/wav".into()),
            body: bytes,
        }
    }

    /// An HTTP error with an empty body.
    pub(crate) fn status(status: u16) -> Reply {
        Reply {
            status,
            content_type: Some("text/plain".into()),
            body: Vec::new(),
        }
    }
}

/// One request the application received.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: HashMap<String, String>,
    /// Form parameters of a POST (or the query's of a GET).
    pub params: Vec<(String, String)>,
}

impl Received {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }
}

#[derive(Clone)]
struct AppState {
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    log: Arc<Mutex<Vec<Received>>>,
}

/// The running application.
pub(crate) struct TwimlApp {
    pub base: String,
    state: AppState,
    _runtime: tokio::runtime::Runtime,
}

impl TwimlApp {
    /// Serves `routes` (path → answer) on a port of its own.
    pub(crate) fn start(routes: &[(&str, Reply)]) -> TwimlApp {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let state = AppState {
            routes: Arc::new(Mutex::new(
                routes
                    .iter()
                    .map(|(p, r)| (p.to_string(), r.clone()))
                    .collect(),
            )),
            log: Arc::default(),
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(state.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TwimlApp {
            base,
            state,
            _runtime: runtime,
        }
    }

    /// The absolute URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Changes (or adds) one route.
    pub(crate) fn set(&self, path: &str, reply: Reply) {
        if let Ok(mut routes) = self.state.routes.lock() {
            routes.insert(path.to_string(), reply);
        }
    }

    /// Every request so far, in arrival order.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The requests to `path`.
    pub(crate) fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }
}

async fn serve(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri.query().unwrap_or_default().as_bytes().to_vec();
    let form = if method == Method::POST {
        body.to_vec()
    } else {
        query
    };
    let params = form_urlencoded::parse(&form)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let received = Received {
        method: method.to_string(),
        uri: uri.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        params,
    };
    if let Ok(mut log) = state.log.lock() {
        log.push(received);
    }
    let reply = state
        .routes
        .lock()
        .ok()
        .and_then(|r| r.get(uri.path()).cloned());
    match reply {
        Some(reply) => {
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
            let mut response = (status, reply.body).into_response();
            if let Some(ct) = reply.content_type {
                if let Ok(value) = ct.parse() {
                    response
                        .headers_mut()
                        .insert(axum::http::header::CONTENT_TYPE, value);
                }
            }
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
