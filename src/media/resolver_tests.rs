//! The resolver against an HTTP server in the test (port 0) and Debian's espeak-ng, with
//! sox — a tool this project did not write — as the oracle for resampling and decoding.

use super::*;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::path::Path;
use std::process::Command;
use switchboard_telephony::wav;

/// Runs a tool the test depends on; a missing one fails the test with what to install.
fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| {
            panic!("{program} is needed for this test (apt-get install -y espeak-ng sox): {e}")
        });
    assert!(status.success(), "{program} {args:?}: {status}");
}

/// 8 kHz mono 16-bit samples of a file sox wrote.
fn read_pcm8k(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).expect("read");
    match wav::read(&bytes).expect("an 8 kHz mono WAV") {
        wav::WavAudio::Pcm16(samples) => samples,
        other => panic!("not PCM: {other:?}"),
    }
}

/// Normalised correlation at zero lag over the common length.
fn correlation(a: &[i16], b: &[i16]) -> f64 {
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]), f64::from(b[i]));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt()).max(1.0)
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

/// A 44.1 kHz 16-bit stereo file with speech-like content: a gliding tone under an
/// envelope on the left, another band on the right, and a 6 kHz component that must not
/// alias into the voice band.
fn stereo_44k(seconds: f64) -> Vec<u8> {
    let rate = 44_100.0;
    let frames = (rate * seconds) as usize;
    let mut data = Vec::with_capacity(frames * 4);
    for i in 0..frames {
        let t = i as f64 / rate;
        let envelope = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
        let glide = 300.0 + 900.0 * t / seconds;
        let left = envelope * (2.0 * std::f64::consts::PI * glide * t).sin() * 12_000.0
            + (2.0 * std::f64::consts::PI * 6000.0 * t).sin() * 3000.0;
        let right = (2.0 * std::f64::consts::PI * 1800.0 * t).sin() * 6000.0 * (1.0 - envelope);
        data.extend_from_slice(&(left as i16).to_le_bytes());
        data.extend_from_slice(&(right as i16).to_le_bytes());
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&2u16.to_le_bytes()); // stereo
    out.extend_from_slice(&44_100u32.to_le_bytes());
    out.extend_from_slice(&(44_100u32 * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

fn typed(content_type: &'static str, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Serves the test's files; the server's base URL.
async fn serve(stereo: Vec<u8>, ulaw: Vec<u8>) -> String {
    let app = axum::Router::new()
        .route(
            "/stereo.wav",
            get(move || async move { typed("audio/x-wav", stereo) }),
        )
        .route(
            "/ulaw.wav",
            get(move || async move { typed("audio/wav; charset=binary", ulaw) }),
        )
        .route(
            "/raw.ulaw",
            get(|| async { typed("audio/ulaw", vec![0xFF, 0x00, 0x80]) }),
        )
        .route(
            "/page.html",
            get(|| async { typed("text/html", b"<html></html>".to_vec()) }),
        )
        .route(
            "/song.mp3",
            get(|| async { typed("audio/mpeg", vec![0xFF, 0xFB, 0x90, 0]) }),
        )
        .route(
            "/untyped",
            get(|| async { Response::new(axum::body::Body::from(vec![1u8, 2, 3])) }),
        )
        .route(
            "/big.wav",
            get(|| async { typed("audio/wav", vec![0; 4096]) }),
        )
        .route(
            "/broken.wav",
            get(|| async { typed("audio/wav", b"RIFFxxxx".to_vec()) }),
        )
        .route("/gone.wav", get(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn resolver() -> LocalResolver {
    LocalResolver::new(reqwest::Client::new(), PathBuf::from("espeak-ng"))
}

fn play(url: String) -> MediaSource {
    MediaSource::Play { url }
}

#[tokio::test]
async fn wav_files_resolve_to_what_sox_makes_of_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let stereo = stereo_44k(2.0);
    std::fs::write(path("stereo.wav"), &stereo).expect("write");
    // The oracles: sox's own resampling and downmix, and sox's own µ-law file and decoding.
    run(
        "sox",
        &[
            &path("stereo.wav"),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            &path("oracle44.wav"),
        ],
    );
    run(
        "sox",
        &[
            &path("stereo.wav"),
            "-r",
            "8000",
            "-c",
            "1",
            "-e",
            "u-law",
            &path("ulaw.wav"),
        ],
    );
    run(
        "sox",
        &[
            &path("ulaw.wav"),
            "-e",
            "signed-integer",
            "-b",
            "16",
            &path("oracle8k.wav"),
        ],
    );
    let ulaw = std::fs::read(path("ulaw.wav")).expect("read");
    let base = serve(stereo, ulaw).await;
    let resolver = resolver();

    let oracle = read_pcm8k(Path::new(&path("oracle44.wav")));
    let audio = resolver
        .resolve(&play(format!("{base}/stereo.wav")))
        .await
        .expect("44.1 kHz stereo");
    assert!(
        audio.len().abs_diff(oracle.len()) <= 2 && audio.len().abs_diff(16_000) <= 2,
        "{} samples, sox made {}",
        audio.len(),
        oracle.len()
    );
    let r = correlation(&audio.samples, &oracle);
    assert!(r > 0.999, "correlation with sox's resampling {r}");
    // Also against silence or noise: the level is that of the source's mix.
    let level = rms(&audio.samples) / rms(&oracle);
    assert!((0.5..2.0).contains(&level), "level ratio {level}");

    let oracle = read_pcm8k(Path::new(&path("oracle8k.wav")));
    let audio = resolver
        .resolve(&play(format!("{base}/ulaw.wav")))
        .await
        .expect("8 kHz µ-law");
    assert_eq!(audio.len(), oracle.len());
    let r = correlation(&audio.samples, &oracle);
    assert!(r > 0.999, "correlation with sox's decoding {r}");

    let audio = resolver
        .resolve(&play(format!("{base}/raw.ulaw")))
        .await
        .expect("headerless µ-law");
    assert_eq!(audio.len(), 3);
}

#[tokio::test]
async fn failures_carry_twilio_codes() {
    let base = serve(Vec::new(), Vec::new()).await;
    let resolver = resolver().with_limits(ResolverLimits {
        max_bytes: 1024,
        fetch_timeout: Duration::from_secs(5),
    });
    let code = |result: Result<Audio, ResolveError>| result.expect_err("an error").code;
    let at = |p: &str| play(format!("{base}{p}"));
    assert_eq!(code(resolver.resolve(&at("/page.html")).await), NOT_AUDIO);
    assert_eq!(
        code(resolver.resolve(&at("/gone.wav")).await),
        HTTP_RETRIEVAL_FAILURE
    );
    assert_eq!(
        code(resolver.resolve(&at("/untyped")).await),
        MISSING_CONTENT_TYPE
    );
    assert_eq!(code(resolver.resolve(&at("/big.wav")).await), TOO_LARGE);
    assert_eq!(code(resolver.resolve(&at("/broken.wav")).await), NOT_AUDIO);
    let mp3 = resolver.resolve(&at("/song.mp3")).await.expect_err("mp3");
    assert_eq!(mp3.code, NOT_AUDIO);
    assert!(mp3.message.contains("audio/mpeg"), "{}", mp3.message);
    // Nothing listens on a port just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let refused = play(format!("http://127.0.0.1:{port}/a.wav"));
    assert_eq!(
        code(resolver.resolve(&refused).await),
        HTTP_CONNECTION_FAILURE
    );
    let unresolvable = play("http://no-such-host.invalid/a.wav".into());
    assert_eq!(code(resolver.resolve(&unresolvable).await), DNS_FAILURE);
    assert_eq!(
        code(
            resolver
                .resolve(&play("ftp://example.com/a.wav".into()))
                .await
        ),
        HTTP_RETRIEVAL_FAILURE
    );
}

#[tokio::test]
async fn say_speaks_with_espeak_ng_at_8_khz() {
    let text = "Hello, this is the switchboard speaking. Please enter your account number.";
    let audio = resolver()
        .resolve(&MediaSource::Say {
            text: text.into(),
            voice: "woman".into(),
            language: "en-US".into(),
        })
        .await
        .expect("espeak-ng (apt-get install -y espeak-ng)");
    let seconds = audio.duration().as_secs_f64();
    assert!(
        (2.0..12.0).contains(&seconds),
        "{seconds} s for {} characters",
        text.len()
    );
    assert!(
        rms(&audio.samples) > 500.0,
        "not silence: RMS {}",
        rms(&audio.samples)
    );
    // The oracle: espeak-ng's own file for the same voice, brought to 8 kHz by sox.
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("say.wav").to_string_lossy().into_owned();
    let oracle = dir.path().join("say8k.wav").to_string_lossy().into_owned();
    run("espeak-ng", &["-v", "en-us+f3", "-w", &raw, text]);
    run("sox", &[&raw, "-r", "8000", "-c", "1", "-b", "16", &oracle]);
    let oracle = read_pcm8k(Path::new(&oracle));
    assert!(audio.len().abs_diff(oracle.len()) <= 2);
    let r = correlation(&audio.samples, &oracle);
    assert!(r > 0.995, "correlation with espeak-ng + sox {r}");
    // Text never reaches a shell or an option.
    let odd = resolver()
        .resolve(&MediaSource::Say {
            text: "--help; $(touch /tmp/x) `id`".into(),
            voice: "man".into(),
            language: "en-GB".into(),
        })
        .await
        .expect("spoken as text");
    assert!(rms(&odd.samples) > 300.0);
}

#[test]
fn kept_audio_is_bounded_in_count_length_and_age() {
    let t0 = Instant::now();
    let tone = Audio::new(vec![1; 800]);
    let mut kept = Kept::default();
    kept.keep("http://a/0.wav", &tone, t0);
    assert_eq!(kept.get("http://a/0.wav", t0), Some(tone.clone()));
    assert_eq!(kept.get("http://a/other.wav", t0), None);
    // Count: the oldest goes first once KEPT_URLS are held.
    for i in 1..=KEPT_URLS {
        kept.keep(&format!("http://a/{i}.wav"), &tone, t0);
    }
    assert_eq!(kept.entries.len(), KEPT_URLS);
    assert_eq!(kept.get("http://a/0.wav", t0), None);
    assert!(kept.get("http://a/1.wav", t0).is_some());
    // Age: nothing outlives KEPT_FOR from its fetch.
    assert!(kept.get("http://a/1.wav", t0 + KEPT_FOR).is_none());
    assert!(kept.entries.is_empty());
    // Length: audio longer than KEPT_MAX_SAMPLES is never kept.
    let long = Audio::new(vec![0; KEPT_MAX_SAMPLES + 1]);
    kept.keep("http://a/long.wav", &long, t0);
    assert_eq!(kept.get("http://a/long.wav", t0), None);
    // Keeping a URL again replaces its audio and restarts its age.
    let other = Audio::new(vec![2; 80]);
    kept.keep("http://a/x.wav", &tone, t0);
    kept.keep("http://a/x.wav", &other, t0 + KEPT_FOR / 2);
    assert_eq!(kept.entries.len(), 1);
    assert_eq!(kept.get("http://a/x.wav", t0 + KEPT_FOR), Some(other));
}

#[tokio::test]
async fn a_played_url_is_fetched_once_and_a_failure_every_time() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let tone = wav::write_g711(Law::Ulaw, &[0xFF; 800]).expect("wav");
    let hits: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let (ok, gone) = (hits.clone(), hits.clone());
    let app = axum::Router::new()
        .route(
            "/tone.wav",
            get(move || async move {
                ok[0].fetch_add(1, Ordering::SeqCst);
                typed("audio/wav", tone)
            }),
        )
        .route(
            "/gone.wav",
            get(move || async move {
                gone[1].fetch_add(1, Ordering::SeqCst);
                StatusCode::NOT_FOUND
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let resolver = resolver();
    let again = resolver.clone();
    for r in [&resolver, &resolver, &again] {
        let audio = r
            .resolve(&play(format!("{base}/tone.wav")))
            .await
            .expect("the tone");
        assert_eq!(audio.len(), 800);
        assert!(r.resolve(&play(format!("{base}/gone.wav"))).await.is_err());
    }
    // The clones share what is kept; a failure is asked again each time.
    assert_eq!(hits[0].load(Ordering::SeqCst), 1);
    assert_eq!(hits[1].load(Ordering::SeqCst), 3);
}
