//! `switchboard bench static-responder` (hidden): the voice application of `bench router`, in
//! a process of its own so that its HTTP work is not counted in the measured server's CPU or
//! latency. It answers every request with one of two fixed bodies read once at start: the WAV
//! for `GET /tone.wav`, the TwiML document for any other path and method. It keeps nothing
//! per request (no log, no signature check): the invariant is that its cost per call is an
//! HTTP exchange and nothing else.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use std::io::Write;
use std::path::Path;

/// The path the WAV is served at (the TwiML's `<Play>` names it).
pub const WAV_PATH: &str = "/tone.wav";

/// Serves `twiml` and `wav` on `127.0.0.1:0` until killed, after printing
/// `static responder listening on http://ADDR`.
pub async fn run(twiml: &Path, wav: &Path) -> anyhow::Result<()> {
    let document = std::fs::read(twiml)
        .map_err(|e| anyhow::anyhow!("read the TwiML file {}: {e}", twiml.display()))?;
    let audio =
        std::fs::read(wav).map_err(|e| anyhow::anyhow!("read the WAV {}: {e}", wav.display()))?;
    let document = axum::body::Bytes::from(document);
    let audio = axum::body::Bytes::from(audio);
    let app = axum::Router::new()
        .route(
            WAV_PATH,
            get(move || {
                let audio = audio.clone();
                async move { ([(CONTENT_TYPE, "audio/wav")], audio).into_response() }
            }),
        )
        .fallback(any(move || {
            let document = document.clone();
            async move { ([(CONTENT_TYPE, "text/xml")], document).into_response() }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "static responder listening on http://{}",
        listener.local_addr()?
    );
    let _ = std::io::stdout().flush();
    axum::serve(listener, app).await?;
    Ok(())
}
