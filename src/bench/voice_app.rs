//! A voice application for `bench sip` and the telephony tests: fixed answers per path (TwiML,
//! audio, errors), every request it received kept for the caller to read. It runs on a tokio
//! runtime of its own, so synchronous code (the benchmark, the SIP tests) can block on SIPp
//! and sockets while it serves. The must-show tests use a Python application written with
//! the official twilio library (`tests/voice/app.py`); this one keeps engine tests and the
//! benchmark short.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    /// `text/xml` TwiML.
    pub fn twiml(body: &str) -> Reply {
        Reply {
            status: 200,
            content_type: Some("text/xml".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    /// A WAV file.
    pub fn wav(bytes: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            content_type: Some("audio/wav".into()),
            body: bytes,
        }
    }

    /// An HTTP error with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            content_type: Some("text/plain".into()),
            body: Vec::new(),
        }
    }
}

/// One request the application received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: HashMap<String, String>,
    /// Form parameters of a POST (or the query's of a GET).
    pub params: Vec<(String, String)>,
}

impl Received {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }
}

#[derive(Clone)]
struct AppState {
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    log: Arc<Mutex<Vec<Received>>>,
}

/// The running application.
pub struct TwimlApp {
    pub base: String,
    state: AppState,
    runtime: tokio::runtime::Runtime,
}

impl TwimlApp {
    /// Serves `routes` (path → answer) on a port of its own.
    pub fn start(routes: &[(&str, Reply)]) -> std::io::Result<TwimlApp> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let state = AppState {
            routes: Arc::new(Mutex::new(
                routes
                    .iter()
                    .map(|(p, r)| (p.to_string(), r.clone()))
                    .collect(),
            )),
            log: Arc::default(),
        };
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(state.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(TwimlApp {
            base,
            state,
            runtime,
        })
    }

    /// Runs `work` on the application's runtime (for a synchronous caller's HTTP requests).
    pub fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        self.runtime.block_on(work)
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Changes (or adds) one route.
    pub fn set(&self, path: &str, reply: Reply) {
        if let Ok(mut routes) = self.state.routes.lock() {
            routes.insert(path.to_string(), reply);
        }
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The requests to `path`.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
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
