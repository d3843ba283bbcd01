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

/// A static responder running as a child process; killed when dropped.
pub struct Spawned {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Spawned {
    /// `exe bench static-responder --twiml twiml --wav wav`, its stderr into `log`.
    pub fn start(
        exe: &Path,
        twiml: &Path,
        wav: &Path,
        log: std::fs::File,
    ) -> anyhow::Result<Spawned> {
        let (twiml, wav) = (twiml.display().to_string(), wav.display().to_string());
        let args = [
            "bench",
            "static-responder",
            "--twiml",
            &twiml,
            "--wav",
            &wav,
        ];
        let (child, base) =
            super::fixtures::spawn_child(exe, &args, log, "static responder listening on")?;
        Ok(Spawned { child, base })
    }

    /// The child's process id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
