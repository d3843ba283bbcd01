//! The one seam between what TwiML asks to hear (`<Say>` text, a `<Play>` URL) and the audio
//! a media session plays: [`MediaResolver`]. The media-layer issue puts its cache, its store
//! and more formats (MP3, …) behind this trait; callers never learn where audio came from.
//!
//! [`LocalResolver`] is today's implementation: espeak-ng for `Say` (`tts.rs`) and a plain
//! HTTP GET for `Play` (no Twilio parameters and no signature: Twilio sends none for media).
//! The invariant it protects is that every failure is a [`ResolveError`] carrying the Twilio
//! error code an integrator would see for it, and that no fetch can hold a call or the
//! memory hostage: each is bounded in time ([`ResolverLimits::fetch_timeout`]) and size
//! ([`ResolverLimits::max_bytes`], checked against `Content-Length` first and while reading).
//!
//! TEMPORARY, until the media layer (issue 17) brings a cache with Twilio's rules: a played
//! URL's decoded audio is kept in memory a short while ([`Kept`]: at most [`KEPT_URLS`] URLs,
//! each at most [`KEPT_MAX_SAMPLES`] long, for [`KEPT_FOR`] after its fetch), so the
//! thousandth call playing one prompt does not fetch and decode it again. It honours no
//! header (no validators, `max-age` or `no-cache`) and keeps only successes; to hear a changed
//! file within a minute, change its URL.

use super::audio::{self, Audio};
use super::tts;
use async_trait::async_trait;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_telephony::Law;

/// Twilio 11200: HTTP retrieval failure (a non-2xx answer, a timeout, a broken body).
pub const HTTP_RETRIEVAL_FAILURE: u32 = 11200;
/// Twilio 11205: HTTP connection failure.
pub const HTTP_CONNECTION_FAILURE: u32 = 11205;
/// Twilio 11210: DNS resolution failure.
pub const DNS_FAILURE: u32 = 11210;
/// Twilio 11750: response body too large.
pub const TOO_LARGE: u32 = 11750;
/// Twilio 12300: invalid (here: missing) Content-Type.
pub const MISSING_CONTENT_TYPE: u32 = 12300;
/// Twilio 13420: `<Play>` got something that is not audio it can play.
pub const NOT_AUDIO: u32 = 13420;
/// Text-to-speech failed. Twilio documents no code for a failing engine; 13520 is in its
/// `<Say>` range (135xx), so an integrator's handler for Say errors sees it there.
pub const TTS_FAILURE: u32 = 13520;

/// What to turn into audio.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaSource {
    /// `<Say>`: text in a voice (`man`, `woman`, …) and language (`en-US`, …).
    Say {
        /// The words.
        text: String,
        /// TwiML `voice`.
        voice: String,
        /// TwiML `language` (BCP-47).
        language: String,
    },
    /// `<Play>`: an absolute HTTP(S) URL.
    Play {
        /// The URL, already resolved against the document's.
        url: String,
    },
}

/// Why a source gave no audio: a Twilio error code and a message for the notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ResolveError {
    /// Twilio's error code (the constants of this module).
    pub code: u32,
    /// What went wrong, for the call's notification.
    pub message: String,
}

impl ResolveError {
    fn new(code: u32, message: impl Into<String>) -> ResolveError {
        ResolveError {
            code,
            message: message.into(),
        }
    }
}

/// Text or a URL to audio; the seam a cache goes behind.
#[async_trait]
pub trait MediaResolver: Send + Sync + 'static {
    /// The audio for `source`, at the session's format (8 kHz mono).
    async fn resolve(&self, source: &MediaSource) -> Result<Audio, ResolveError>;
}

/// Bounds on one resolution.
#[derive(Debug, Clone)]
pub struct ResolverLimits {
    /// Largest media body accepted.
    pub max_bytes: usize,
    /// Longest fetch, connection to last byte.
    pub fetch_timeout: Duration,
}

impl Default for ResolverLimits {
    fn default() -> Self {
        ResolverLimits {
            // 40 minutes of 8 kHz µ-law (Twilio's "long file" mark) is 19.2 MB; a 44.1 kHz
            // stereo WAV of a few minutes fits too.
            max_bytes: 64 << 20,
            fetch_timeout: Duration::from_secs(30),
        }
    }
}

/// How many played URLs [`Kept`] holds at once (the oldest goes first).
pub const KEPT_URLS: usize = 16;
/// How long a played URL's audio is kept after its fetch.
pub const KEPT_FOR: Duration = Duration::from_secs(60);
/// The longest audio kept (one minute at 8 kHz, ~1 MB): with [`KEPT_URLS`], the map never
/// holds more than ~16 MB however long the files its calls play.
pub const KEPT_MAX_SAMPLES: usize = 60 * audio::SAMPLE_RATE as usize;

/// Decoded `<Play>` audio by URL, bounded in count, length and age (see the module doc):
/// the stand-in for the media layer's cache, which replaces it.
#[derive(Debug, Default)]
struct Kept {
    /// Oldest first.
    entries: VecDeque<(String, Audio, Instant)>,
}

impl Kept {
    /// The audio kept for `url`, if it is younger than [`KEPT_FOR`] at `now`.
    fn get(&mut self, url: &str, now: Instant) -> Option<Audio> {
        self.entries.retain(|(_, _, until)| *until > now);
        self.entries
            .iter()
            .find(|(kept, _, _)| kept == url)
            .map(|(_, audio, _)| audio.clone())
    }

    /// Keeps `audio` for `url` from `now`, unless it is longer than [`KEPT_MAX_SAMPLES`].
    fn keep(&mut self, url: &str, audio: &Audio, now: Instant) {
        if audio.len() > KEPT_MAX_SAMPLES {
            return;
        }
        self.entries
            .retain(|(kept, _, until)| kept != url && *until > now);
        while self.entries.len() >= KEPT_URLS {
            self.entries.pop_front();
        }
        self.entries
            .push_back((url.to_string(), audio.clone(), now + KEPT_FOR));
    }
}

/// espeak-ng and plain HTTP GETs; played URLs' audio kept a minute ([`Kept`]).
#[derive(Debug, Clone)]
pub struct LocalResolver {
    http: reqwest::Client,
    espeak: PathBuf,
    limits: ResolverLimits,
    /// Shared by the clones: every call of the node hears the same kept audio.
    kept: Arc<Mutex<Kept>>,
}

impl LocalResolver {
    /// A resolver fetching with `http` and speaking with the espeak-ng binary at `espeak`
    /// (`"espeak-ng"` finds it on `PATH`).
    pub fn new(http: reqwest::Client, espeak: PathBuf) -> LocalResolver {
        LocalResolver {
            http,
            espeak,
            limits: ResolverLimits::default(),
            kept: Arc::default(),
        }
    }

    /// The kept audio of `url`. A poisoned lock (a panic elsewhere mid-update) is read as
    /// nothing kept: the call fetches instead.
    fn kept(&self, url: &str) -> Option<Audio> {
        self.kept.lock().ok()?.get(url, Instant::now())
    }

    fn keep(&self, url: &str, audio: &Audio) {
        if let Ok(mut kept) = self.kept.lock() {
            kept.keep(url, audio, Instant::now());
        }
    }

    /// The same with other bounds.
    pub fn with_limits(mut self, limits: ResolverLimits) -> LocalResolver {
        self.limits = limits;
        self
    }

    async fn say(&self, text: &str, voice: &str, language: &str) -> Result<Audio, ResolveError> {
        let voice = tts::espeak_voice(language, voice);
        let wav = tts::speak(&self.espeak, text, &voice)
            .await
            .map_err(|e| ResolveError::new(TTS_FAILURE, format!("text-to-speech: {e}")))?;
        decode_wav(wav)
            .await
            .map_err(|e| ResolveError::new(TTS_FAILURE, format!("text-to-speech output: {e}")))
    }

    async fn play(&self, url: &str) -> Result<Audio, ResolveError> {
        if let Some(audio) = self.kept(url) {
            return Ok(audio);
        }
        let audio = self.fetch(url).await?;
        self.keep(url, &audio);
        Ok(audio)
    }

    async fn fetch(&self, url: &str) -> Result<Audio, ResolveError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| ResolveError::new(HTTP_RETRIEVAL_FAILURE, format!("{url}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ResolveError::new(
                HTTP_RETRIEVAL_FAILURE,
                format!("{url}: only http and https URLs can be played"),
            ));
        }
        let fetch = async {
            let response = self
                .http
                .get(parsed)
                .send()
                .await
                .map_err(|e| transport_error(url, &e))?;
            let status = response.status();
            if !status.is_success() {
                return Err(ResolveError::new(
                    HTTP_RETRIEVAL_FAILURE,
                    format!("{url} answered {status}"),
                ));
            }
            let kind = media_kind(url, response.headers())?;
            if let Some(len) = response.content_length() {
                if len > self.limits.max_bytes as u64 {
                    return Err(too_large(url, self.limits.max_bytes));
                }
            }
            let body = read_bounded(url, response, self.limits.max_bytes).await?;
            Ok((kind, body))
        };
        let (kind, body) = tokio::time::timeout(self.limits.fetch_timeout, fetch)
            .await
            .map_err(|_| {
                ResolveError::new(
                    HTTP_RETRIEVAL_FAILURE,
                    format!(
                        "{url}: no complete answer within {:?}",
                        self.limits.fetch_timeout
                    ),
                )
            })??;
        match kind {
            MediaKind::Wav => decode_wav(body)
                .await
                .map_err(|e| ResolveError::new(NOT_AUDIO, format!("{url}: {e}"))),
            MediaKind::Ulaw => Ok(Audio::from_g711(Law::Ulaw, &body)),
        }
    }
}

#[async_trait]
impl MediaResolver for LocalResolver {
    async fn resolve(&self, source: &MediaSource) -> Result<Audio, ResolveError> {
        match source {
            MediaSource::Say {
                text,
                voice,
                language,
            } => self.say(text, voice, language).await,
            MediaSource::Play { url } => self.play(url).await,
        }
    }
}

/// What a fetched body is decoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaKind {
    Wav,
    /// Headerless 8 kHz µ-law.
    Ulaw,
}

/// The body's kind from its Content-Type (VOICE-NOTES 1.5's list): WAV and µ-law are
/// decoded; MP3, AIFF and GSM are audio Twilio accepts that this build cannot decode yet
/// (13420 naming the type); anything else is not audio (13420); none at all is 12300.
fn media_kind(url: &str, headers: &reqwest::header::HeaderMap) -> Result<MediaKind, ResolveError> {
    let Some(value) = headers.get(reqwest::header::CONTENT_TYPE) else {
        return Err(ResolveError::new(
            MISSING_CONTENT_TYPE,
            format!("{url} answered without a Content-Type"),
        ));
    };
    let value = value.to_str().unwrap_or_default();
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "audio/wav" | "audio/wave" | "audio/x-wav" | "audio/vnd.wave" => Ok(MediaKind::Wav),
        "audio/ulaw" | "audio/basic" => Ok(MediaKind::Ulaw),
        "audio/mpeg" | "audio/mp3" | "audio/aiff" | "audio/x-aiff" | "audio/x-aifc"
        | "audio/x-gsm" | "audio/gsm" => Err(ResolveError::new(
            NOT_AUDIO,
            format!(
                "{url} is {essence}, which this server cannot play yet; use WAV (G.711 or 16-bit PCM) or audio/ulaw"
            ),
        )),
        _ => Err(ResolveError::new(
            NOT_AUDIO,
            format!("{url} answered Content-Type {value:?}, which is not audio"),
        )),
    }
}

/// Decodes and resamples off the async threads: minutes of 44.1 kHz audio take a
/// noticeable fraction of a second of filtering, which must not stall other calls' pacers.
async fn decode_wav(bytes: Vec<u8>) -> Result<Audio, String> {
    match tokio::task::spawn_blocking(move || audio::from_wav(&bytes)).await {
        Ok(decoded) => decoded.map_err(|e| e.to_string()),
        Err(e) => Err(format!("decoding stopped: {e}")),
    }
}

fn too_large(url: &str, max: usize) -> ResolveError {
    ResolveError::new(TOO_LARGE, format!("{url} is larger than {max} bytes"))
}

/// Reads the body, refusing it as soon as it passes `max` (a missing or false
/// Content-Length cannot make us buffer more).
async fn read_bounded(
    url: &str,
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, ResolveError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(too_large(url, max));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(ResolveError::new(
                    HTTP_RETRIEVAL_FAILURE,
                    format!("{url}: the body broke off: {e}"),
                ))
            }
        }
    }
}

/// A transport error's Twilio code: 11210 for a name that did not resolve, 11205 for a
/// refused or failed connection, 11200 otherwise.
fn transport_error(url: &str, e: &reqwest::Error) -> ResolveError {
    // reqwest has no typed resolver error: the resolver's io::Error text is the only mark
    // of a name that did not resolve (as src/app/outbox/attempt.rs classifies it).
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return ResolveError::new(DNS_FAILURE, format!("{url}: name not resolved: {e}"));
        }
        source = s.source();
    }
    let code = if e.is_connect() {
        HTTP_CONNECTION_FAILURE
    } else {
        HTTP_RETRIEVAL_FAILURE
    };
    ResolveError::new(code, format!("{url}: {e}"))
}

#[cfg(test)]
#[path = "resolver_tests.rs"]
mod tests;
