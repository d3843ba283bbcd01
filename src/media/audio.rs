//! The one audio format of a media session: 8 kHz mono 16-bit linear PCM, shared cheaply
//! between the resolver, the session and a cache ([`Audio`] is an `Arc` of samples).
//!
//! Everything a call plays is turned into this format once, when it is resolved, so the
//! session only ever encodes to the leg's negotiated G.711 law. The invariant this file
//! protects: whatever WAV arrives (G.711 or PCM, any rate, mono or stereo), the samples are
//! at 8 kHz and band-limited below 4 kHz (`telephony::resample`), so nothing aliases.

use std::sync::Arc;
use std::time::Duration;
use switchboard_telephony::resample;
use switchboard_telephony::wav::{self, WavError};
use switchboard_telephony::Law;

/// The session's sample rate.
pub const SAMPLE_RATE: u32 = 8000;

/// 8 kHz mono linear PCM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audio {
    /// The samples, 8000 per second.
    pub samples: Arc<[i16]>,
}

impl Audio {
    /// Audio of these 8 kHz samples.
    pub fn new(samples: Vec<i16>) -> Audio {
        Audio {
            samples: samples.into(),
        }
    }

    /// `ms` milliseconds of silence.
    pub fn silence(ms: u64) -> Audio {
        let n = usize::try_from(ms.saturating_mul(u64::from(SAMPLE_RATE)) / 1000).unwrap_or(0);
        Audio::new(vec![0; n])
    }

    /// How long it plays.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / u64::from(SAMPLE_RATE))
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there is nothing to play.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Headerless 8 kHz G.711 (`audio/ulaw`, or a payload received from a peer).
    pub fn from_g711(law: Law, codes: &[u8]) -> Audio {
        Audio::new(law.decode_bytes(codes))
    }

    /// Converts audio at `rate` Hz with `channels` interleaved channels to the session's format.
    pub fn from_interleaved(samples: &[i16], channels: u16, rate: u32) -> Audio {
        let mono = resample::downmix(samples, channels);
        Audio::new(resample::resample(&mono, rate, SAMPLE_RATE))
    }
}

/// Why bytes are not audio a session can play.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// Not a WAV file this module reads (the reason names what to convert).
    #[error("{0}")]
    Wav(#[from] WavError),
}

/// Reads a WAV file — µ-law, A-law, 8/16/24-bit PCM or 32-bit float, at any rate, mono or
/// with channels averaged — into 8 kHz mono.
pub fn from_wav(bytes: &[u8]) -> Result<Audio, AudioError> {
    let decoded = wav::decode(bytes)?;
    Ok(Audio::from_interleaved(
        &decoded.samples,
        decoded.channels,
        decoded.sample_rate,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcm_wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        out.extend_from_slice(&(2 * channels).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn an_8k_mono_file_is_taken_as_it_is() {
        let samples: Vec<i16> = (0..800).map(|i| (i * 37 % 2000) as i16 - 1000).collect();
        let audio = from_wav(&pcm_wav(8000, 1, &samples)).expect("wav");
        assert_eq!(&audio.samples[..], &samples[..]);
        assert_eq!(audio.duration(), Duration::from_millis(100));
    }

    #[test]
    fn a_stereo_44k_file_is_downmixed_and_resampled() {
        // Left carries the tone, right is silent: the mix is the tone at half amplitude.
        let frames = 44_100;
        let mut samples = Vec::with_capacity(frames * 2);
        for i in 0..frames {
            let t = i as f64 / 44_100.0;
            samples.push((20_000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16);
            samples.push(0);
        }
        let audio = from_wav(&pcm_wav(44_100, 2, &samples)).expect("wav");
        assert_eq!(audio.len(), 8000);
        let peak = audio.samples[2000..6000].iter().map(|s| s.abs()).max();
        assert!(
            peak.is_some_and(|p| (9_500..=10_500).contains(&p)),
            "{peak:?}"
        );
    }

    #[test]
    fn g711_and_garbage() {
        let codes = [0xFFu8, 0x00, 0x80, 0x7F];
        let ulaw = wav::write_g711(Law::Ulaw, &codes).expect("wav");
        assert_eq!(
            from_wav(&ulaw).expect("wav"),
            Audio::from_g711(Law::Ulaw, &codes)
        );
        assert_eq!(from_wav(b"<html>"), Err(AudioError::Wav(WavError::NotWave)));
        assert_eq!(Audio::silence(20).len(), 160);
    }
}
