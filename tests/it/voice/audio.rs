//! Audio made and decoded by tools the project did not write, and compared in plain Rust.
//!
//! espeak-ng says the reference (`espeak-ng -w`), sox resamples it to 8 kHz, makes noise,
//! silence and beeps, and decodes captured G.711 (`sox -t ul` / `-t al`); every signal is
//! read back as sox's raw 16-bit output, so no WAV reader or G.711 table of switchboard's is
//! involved. Two signals match when (see [`Comparison::matches`]):
//! - their active lengths (first to last 10 ms frame above the silence floor) agree within
//!   [`LENGTH_TOLERANCE`] (or 100 ms, whichever is larger);
//! - their energy envelopes (dB per 10 ms frame) correlate at the best lag at least
//!   [`ENVELOPE_MIN`] (Pearson);
//! - their samples correlate at the best lag near that one at least [`SAMPLE_MIN`]
//!   (normalised cross-correlation).
//!
//! The invariant: silence (no active frames), white noise (a flat envelope, uncorrelated
//! samples) and another sentence (another envelope) cannot match; `harness` tests that each
//! is rejected.

use super::capture::Pcap;
use super::run_tool;
use std::path::{Path, PathBuf};

/// The sample rate of every signal here (G.711's).
pub(crate) const RATE: usize = 8000;
/// 10 ms at 8 kHz: one envelope frame.
const FRAME: usize = 80;
/// Frames quieter than this RMS (of 32768) are silence: about -50 dBFS.
const SILENCE_RMS: f64 = 100.0;
/// Active lengths may differ by this fraction (or by 100 ms, whichever is larger).
pub(crate) const LENGTH_TOLERANCE: f64 = 0.10;
/// The least envelope correlation of a match.
pub(crate) const ENVELOPE_MIN: f64 = 0.80;
/// The least sample correlation of a match.
pub(crate) const SAMPLE_MIN: f64 = 0.50;

/// The sox binary: `SWITCHBOARD_TEST_SOX` or `sox` on PATH.
pub(crate) fn sox() -> String {
    std::env::var("SWITCHBOARD_TEST_SOX").unwrap_or_else(|_| "sox".to_string())
}

/// The espeak-ng binary: `SWITCHBOARD_TEST_ESPEAK` or `espeak-ng` on PATH.
pub(crate) fn espeak() -> String {
    std::env::var("SWITCHBOARD_TEST_ESPEAK").unwrap_or_else(|_| "espeak-ng".to_string())
}

fn sox_run(args: &[&str]) {
    run_tool(&sox(), args);
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// espeak-ng's own rendering of `text` (its default voice), resampled by sox to 8 kHz mono
/// 16-bit: `dir/NAME.wav`. Also a WAV that `<Play>` accepts.
pub(crate) fn espeak_reference(dir: &Path, name: &str, text: &str) -> PathBuf {
    espeak_reference_with(dir, name, text, &[])
}

/// [`espeak_reference`] with espeak-ng options (`-v en-us`, `-s 150`, …) before the text.
pub(crate) fn espeak_reference_with(
    dir: &Path,
    name: &str,
    text: &str,
    options: &[&str],
) -> PathBuf {
    let raw = dir.join(format!("{name}-espeak.wav"));
    let mut args: Vec<&str> = vec!["-w", utf8(&raw)];
    args.extend_from_slice(options);
    args.push(text);
    run_tool(&espeak(), &args);
    let out = dir.join(format!("{name}.wav"));
    sox_run(&[
        "-G",
        utf8(&raw),
        "-r",
        "8000",
        "-c",
        "1",
        "-b",
        "16",
        utf8(&out),
    ]);
    out
}

/// Runs sox with no input (`-n`) and `effects` (`synth …`, `trim …`) into `dir/NAME.wav`,
/// 8 kHz mono 16-bit.
fn generate(dir: &Path, name: &str, effects: &[&str]) -> PathBuf {
    let out = dir.join(format!("{name}.wav"));
    let mut args = vec!["-n", "-r", "8000", "-c", "1", "-b", "16", utf8(&out)];
    args.extend_from_slice(effects);
    sox_run(&args);
    out
}

/// `seconds` of white noise (sox `synth whitenoise`), 8 kHz mono 16-bit.
pub(crate) fn white_noise(dir: &Path, name: &str, seconds: f64) -> PathBuf {
    let secs = seconds.to_string();
    generate(dir, name, &["synth", &secs, "whitenoise", "vol", "0.5"])
}

/// `seconds` of digital silence, 8 kHz mono 16-bit.
pub(crate) fn silence(dir: &Path, name: &str, seconds: f64) -> PathBuf {
    generate(dir, name, &["trim", "0", &seconds.to_string()])
}

/// Sine beeps one after another, `(hz, ms)` each (`hz` 0 is a pause), made by sox: a
/// structured non-speech signal (a steady tone has a flat envelope, which nothing could be
/// told apart by), 8 kHz mono 16-bit.
pub(crate) fn beeps(dir: &Path, name: &str, parts: &[(u32, u32)]) -> PathBuf {
    let mut pieces = Vec::new();
    for (i, (hz, ms)) in parts.iter().enumerate() {
        let secs = format!("{}", f64::from(*ms) / 1000.0);
        let part = format!("{name}-part{i}");
        pieces.push(if *hz == 0 {
            generate(dir, &part, &["trim", "0", &secs])
        } else {
            generate(
                dir,
                &part,
                &["synth", &secs, "sine", &hz.to_string(), "vol", "0.5"],
            )
        });
    }
    let out = dir.join(format!("{name}.wav"));
    let mut args: Vec<&str> = pieces.iter().map(|p| utf8(p)).collect();
    args.push(utf8(&out));
    sox_run(&args);
    out
}

/// Decodes raw G.711 µ-law (RTP payload type 0) with sox: `dir/NAME.wav`, 16-bit.
pub(crate) fn decode_ulaw(dir: &Path, name: &str, payload: &[u8]) -> PathBuf {
    decode_g711(dir, name, payload, "ul")
}

/// Decodes raw G.711 A-law (RTP payload type 8) with sox: `dir/NAME.wav`, 16-bit.
pub(crate) fn decode_alaw(dir: &Path, name: &str, payload: &[u8]) -> PathBuf {
    decode_g711(dir, name, payload, "al")
}

fn decode_g711(dir: &Path, name: &str, payload: &[u8], kind: &str) -> PathBuf {
    let raw = dir.join(format!("{name}.{kind}"));
    std::fs::write(&raw, payload).expect("write raw G.711");
    let out = dir.join(format!("{name}.wav"));
    sox_run(&[
        "-t",
        kind,
        "-r",
        "8000",
        "-c",
        "1",
        utf8(&raw),
        "-e",
        "signed",
        "-b",
        "16",
        utf8(&out),
    ]);
    out
}

/// What the caller heard: the capture's PCMU (payload type 0) placed by arrival time
/// ([`Pcap::audio_by_arrival`]), decoded by sox, as samples (`dir/NAME.wav` kept).
pub(crate) fn heard(pcap: &Pcap, dir: &Path, name: &str) -> Vec<i16> {
    samples(&decode_ulaw(dir, name, &pcap.audio_by_arrival(0)))
}

/// Any audio file sox reads, as 8 kHz mono signed 16-bit samples (sox converts; its raw
/// little-endian output is read here, so no WAV reader is involved).
pub(crate) fn samples(path: &Path) -> Vec<i16> {
    let out = run_tool(
        &sox(),
        &[
            utf8(path),
            "-t",
            "raw",
            "-e",
            "signed",
            "-b",
            "16",
            "-L",
            "-r",
            "8000",
            "-c",
            "1",
            "-",
        ],
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// How one signal compares with another (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Comparison {
    /// Active length of the captured signal (for [`locate`], within the located window).
    pub captured_ms: f64,
    /// Active length of the reference.
    pub reference_ms: f64,
    /// Where the reference's start lies in the captured signal's active part (ms).
    pub lag_ms: f64,
    /// Pearson correlation of the dB envelopes at the best lag.
    pub envelope_correlation: f64,
    /// Normalised cross-correlation of the samples at the best lag.
    pub sample_correlation: f64,
}

impl Comparison {
    /// Whether the lengths agree within the tolerance.
    pub(crate) fn length_matches(&self) -> bool {
        let allowed = (self.reference_ms * LENGTH_TOLERANCE).max(100.0);
        self.reference_ms > 0.0
            && self.captured_ms > 0.0
            && (self.captured_ms - self.reference_ms).abs() <= allowed
    }

    /// Length, envelope and samples all match.
    pub(crate) fn matches(&self) -> bool {
        self.length_matches()
            && self.envelope_correlation >= ENVELOPE_MIN
            && self.sample_correlation >= SAMPLE_MIN
    }

    /// Panics, saying which measure failed, unless [`Comparison::matches`].
    pub(crate) fn assert_matches(&self, what: &str) {
        assert!(
            self.matches(),
            "{what} does not sound like its reference (lengths within {}% or 100 ms, envelope \
             >= {ENVELOPE_MIN}, samples >= {SAMPLE_MIN}): {self:?}",
            LENGTH_TOLERANCE * 100.0
        );
    }
}

/// Compares a whole captured signal with a reference: both trimmed to their active parts.
pub(crate) fn compare(captured: &[i16], reference: &[i16]) -> Comparison {
    let cap = trim(captured);
    let refs = trim(reference);
    // Trimmed starts line up to within a few frames; allow 300 ms either way.
    align(cap, refs, -30, 30, ms(cap.len()))
}

/// Finds a reference inside a longer captured signal (a Say, then a Play, in one call): the
/// best envelope match over every lag, then the samples there; the captured length is the
/// active length of the window the reference covers.
pub(crate) fn locate(captured: &[i16], reference: &[i16]) -> Comparison {
    let refs = trim(reference);
    let cap = trim(captured);
    let frames = (cap.len() / FRAME) as i64;
    let mut c = align(cap, refs, 0, frames.max(0), 0.0);
    let start = ((c.lag_ms / 1000.0) * RATE as f64).round().max(0.0) as usize;
    let end = (start + refs.len()).min(cap.len());
    c.captured_ms = ms(trim(&cap[start.min(end)..end]).len());
    c
}

/// Splits a signal into its sounds: runs of active frames separated by at least `gap_ms`
/// of silence (each returned without the silence around it).
pub(crate) fn segments(signal: &[i16], gap_ms: u32) -> Vec<Vec<i16>> {
    let gap_frames = (gap_ms as usize * RATE / 1000).div_ceil(FRAME);
    let active: Vec<bool> = signal.chunks(FRAME).map(|f| rms(f) > SILENCE_RMS).collect();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quiet = 0;
    for (i, a) in active.iter().enumerate() {
        match (*a, start) {
            (true, None) => {
                start = Some(i);
                quiet = 0;
            }
            (true, Some(_)) => quiet = 0,
            (false, Some(s)) => {
                quiet += 1;
                if quiet >= gap_frames {
                    out.push(signal[s * FRAME..(i + 1 - quiet) * FRAME].to_vec());
                    start = None;
                }
            }
            (false, None) => {}
        }
    }
    if let Some(s) = start {
        let end = ((active.len() - quiet) * FRAME).min(signal.len());
        out.push(signal[s * FRAME..end].to_vec());
    }
    out
}

fn ms(samples: usize) -> f64 {
    samples as f64 * 1000.0 / RATE as f64
}

fn rms(frame: &[i16]) -> f64 {
    if frame.is_empty() {
        return 0.0;
    }
    let sum: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / frame.len() as f64).sqrt()
}

/// The signal from its first to its last active frame (empty when all is silence).
fn trim(signal: &[i16]) -> &[i16] {
    let frames: Vec<bool> = signal.chunks(FRAME).map(|f| rms(f) > SILENCE_RMS).collect();
    match (
        frames.iter().position(|&a| a),
        frames.iter().rposition(|&a| a),
    ) {
        (Some(first), Some(last)) => &signal[first * FRAME..((last + 1) * FRAME).min(signal.len())],
        _ => &[],
    }
}

/// dB energy per 10 ms frame, floored at the silence level so silence is one flat value.
fn envelope(signal: &[i16]) -> Vec<f64> {
    signal
        .chunks_exact(FRAME)
        .map(|f| 20.0 * rms(f).max(SILENCE_RMS).log10())
        .collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().sum::<f64>() / n as f64;
    let mb = b.iter().sum::<f64>() / n as f64;
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    if va <= f64::EPSILON || vb <= f64::EPSILON {
        return 0.0;
    }
    cov / (va * vb).sqrt()
}

/// Normalised cross-correlation of `cap[lag + i]` with `refs[i]` over their overlap.
fn ncc(cap: &[i16], refs: &[i16], lag: i64) -> f64 {
    let (c, r) = if lag >= 0 {
        (cap.get(lag as usize..).unwrap_or_default(), refs)
    } else {
        (cap, refs.get((-lag) as usize..).unwrap_or_default())
    };
    let n = c.len().min(r.len());
    let (mut dot, mut ec, mut er) = (0.0, 0.0, 0.0);
    for (x, y) in c[..n].iter().zip(&r[..n]) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        ec += x * x;
        er += y * y;
    }
    if ec <= 0.0 || er <= 0.0 {
        return 0.0;
    }
    dot / (ec * er).sqrt()
}

/// The best envelope lag in `lo..=hi` frames (the reference's start in `cap`), then the best
/// sample lag within 25 ms of it. An overlap shorter than half the reference is not a lag.
fn align(cap: &[i16], refs: &[i16], lo: i64, hi: i64, captured_ms: f64) -> Comparison {
    let (ec, er) = (envelope(cap), envelope(refs));
    let mut best = (0_i64, f64::MIN);
    for lag in lo..=hi {
        let (a, b) = if lag >= 0 {
            (ec.get(lag as usize..).unwrap_or_default(), &er[..])
        } else {
            (&ec[..], er.get((-lag) as usize..).unwrap_or_default())
        };
        if a.len().min(b.len()) * 2 < er.len() {
            continue;
        }
        let r = pearson(a, b);
        if r > best.1 {
            best = (lag, r);
        }
    }
    let envelope_correlation = best.1.max(0.0);
    let centre = best.0 * FRAME as i64;
    // 25 ms either way: the envelope's 10 ms frames place the lag that closely.
    let (sample_lag, sample_correlation) = (centre - 200..=centre + 200)
        .map(|lag| (lag, ncc(cap, refs, lag)))
        .fold((centre, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    Comparison {
        captured_ms,
        reference_ms: ms(refs.len()),
        lag_ms: sample_lag as f64 * 1000.0 / RATE as f64,
        envelope_correlation,
        sample_correlation,
    }
}
