//! `<Say>` offline: espeak-ng (Debian's package) turns text into a 22.05 kHz WAV, which
//! [`super::audio::from_wav`] brings to 8 kHz.
//!
//! The invariant this file protects is that text from a TwiML document cannot reach a shell
//! or an option: espeak-ng is run directly (no shell), the text goes in on stdin (never as an
//! argument), the voice argument is built only from a fixed table or from letters, digits and
//! `-`, the text is bounded in length, and the run is bounded in time and output size (the
//! child is killed when the bound passes or the caller goes away).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Longest text accepted, in characters (Twilio's limit for `<Say>` text).
pub const MAX_TEXT_CHARS: usize = 4096;
/// Longest espeak-ng run.
pub const TTS_TIMEOUT: Duration = Duration::from_secs(20);
/// Most WAV bytes read from espeak-ng (about 25 minutes at 22.05 kHz 16-bit).
pub const MAX_TTS_BYTES: usize = 64 << 20;

/// Why text could not be spoken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TtsError {
    /// More than [`MAX_TEXT_CHARS`].
    #[error("text of {0} characters is longer than the {MAX_TEXT_CHARS} allowed")]
    TooLong(usize),
    /// espeak-ng could not be started (not installed?).
    #[error("cannot run {program}: {reason}")]
    Spawn {
        /// The program path.
        program: String,
        /// The OS error.
        reason: String,
    },
    /// It ran past [`TTS_TIMEOUT`] or wrote more than [`MAX_TTS_BYTES`].
    #[error("espeak-ng {0}")]
    Bounded(&'static str),
    /// It exited with an error.
    #[error("espeak-ng failed ({status}): {stderr}")]
    Failed {
        /// Exit status.
        status: String,
        /// The first line of its standard error.
        stderr: String,
    },
}

/// The espeak-ng voice for a TwiML `language` and `voice`: `en-US` + `woman` → `en-us+f3`.
///
/// Languages espeak-ng has under a regional name keep it (`en-gb`, `pt-br`, `fr-be`, …);
/// Spanish of the Americas is `es-419`; Chinese maps to `cmn`/`yue`; anything else is its
/// primary subtag (`de-DE` → `de`), and a tag with other characters than letters, digits and
/// `-` is English. `woman` and `alice` are a female variant, every other voice (`man`,
/// `Polly.*`, `Google.*`) the male one, Twilio's default.
pub fn espeak_voice(language: &str, voice: &str) -> String {
    const REGIONAL: [&str; 10] = [
        "en-us", "en-gb", "en-029", "es-419", "fr-be", "fr-ch", "fr-fr", "pt-br", "vi-vn", "ru-lv",
    ];
    let tag = language.trim().to_ascii_lowercase();
    let clean = !tag.is_empty()
        && tag.len() <= 16
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !tag.starts_with('-');
    let primary = tag.split('-').next().unwrap_or("en");
    let lang = if !clean {
        "en-us".to_string()
    } else if REGIONAL.contains(&tag.as_str()) {
        tag.clone()
    } else if primary == "es" && tag != "es" && tag != "es-es" {
        "es-419".to_string()
    } else if tag == "zh-hk" || tag == "yue" || tag.starts_with("yue-") {
        "yue".to_string()
    } else if primary == "zh" || primary == "cmn" {
        "cmn".to_string()
    } else if primary == "en" {
        // en-AU, en-IN, … have no espeak-ng voice of their own; British is the closest.
        "en-gb".to_string()
    } else {
        primary.to_string()
    };
    let variant = match voice.trim().to_ascii_lowercase().as_str() {
        "woman" | "alice" => "f3",
        _ => "m3",
    };
    format!("{lang}+{variant}")
}

/// Speaks `text` with espeak-ng at `program`; the WAV bytes it wrote.
pub async fn speak(program: &Path, text: &str, voice: &str) -> Result<Vec<u8>, TtsError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(TtsError::TooLong(chars));
    }
    let mut child = Command::new(program)
        // -b 1: the text is UTF-8. --stdin: read it from standard input, never argv.
        .args(["-b", "1", "--stdin", "--stdout", "-v", voice])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| TtsError::Spawn {
            program: program.display().to_string(),
            reason: e.to_string(),
        })?;
    let (Some(mut stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(TtsError::Bounded("has no pipes"));
    };
    let text = text.as_bytes().to_vec();
    let run = async move {
        // Write and read at once: a long text could fill one pipe while espeak-ng waits on
        // the other.
        let write = async move {
            let _ = stdin.write_all(&text).await;
            // Dropping stdin closes it: espeak-ng sees the end of the text.
        };
        let mut wav = Vec::new();
        let mut out = stdout.take(MAX_TTS_BYTES as u64 + 1);
        let read = out.read_to_end(&mut wav);
        let mut err = Vec::new();
        let mut err_pipe = (&mut stderr).take(4096);
        let read_err = err_pipe.read_to_end(&mut err);
        let ((), read, _) = tokio::join!(write, read, read_err);
        read.map_err(|_| TtsError::Bounded("output could not be read"))?;
        Ok::<_, TtsError>((wav, err))
    };
    let (wav, err) = tokio::time::timeout(TTS_TIMEOUT, run)
        .await
        .map_err(|_| TtsError::Bounded("ran past its time limit"))??;
    if wav.len() > MAX_TTS_BYTES {
        return Err(TtsError::Bounded("wrote more audio than allowed"));
    }
    let status = tokio::time::timeout(Duration::from_secs(2), child.wait())
        .await
        .map_err(|_| TtsError::Bounded("did not exit"))?
        .map_err(|e| {
            TtsError::Bounded(if e.kind() == std::io::ErrorKind::Interrupted {
                "was interrupted"
            } else {
                "could not be waited for"
            })
        })?;
    if !status.success() {
        return Err(TtsError::Failed {
            status: status.to_string(),
            stderr: String::from_utf8_lossy(&err)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        });
    }
    Ok(wav)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_and_voices_map_to_espeak_names() {
        assert_eq!(espeak_voice("en-US", "man"), "en-us+m3");
        assert_eq!(espeak_voice("en-GB", "woman"), "en-gb+f3");
        assert_eq!(espeak_voice("es-MX", "alice"), "es-419+f3");
        assert_eq!(espeak_voice("es-ES", "man"), "es+m3");
        assert_eq!(espeak_voice("de-DE", "Polly.Hans"), "de+m3");
        assert_eq!(espeak_voice("pt-BR", "woman"), "pt-br+f3");
        assert_eq!(espeak_voice("en-AU", "man"), "en-gb+m3");
        assert_eq!(espeak_voice("zh-CN", "man"), "cmn+m3");
        assert_eq!(espeak_voice("", "woman"), "en-us+f3");
        assert_eq!(espeak_voice("--help", "man"), "en-us+m3");
        assert_eq!(espeak_voice("en-US; rm -rf /", "man"), "en-us+m3");
    }

    #[tokio::test]
    async fn too_long_text_and_a_missing_program_are_errors() {
        let long = "a".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(
            speak(Path::new("espeak-ng"), &long, "en-us+m3").await,
            Err(TtsError::TooLong(MAX_TEXT_CHARS + 1))
        );
        let missing = speak(Path::new("/nonexistent/espeak-ng"), "hi", "en-us+m3").await;
        assert!(
            matches!(missing, Err(TtsError::Spawn { .. })),
            "{missing:?}"
        );
    }
}
