//! Sample-rate conversion of 16-bit mono audio with a Kaiser-windowed sinc filter, and the
//! downmix of interleaved channels to mono.
//!
//! Telephony plays 8 kHz audio, and files arrive at 11.025, 22.05 (espeak-ng), 44.1 or
//! 48 kHz. Dropping samples would fold everything above 4 kHz back into the voice band
//! (aliasing), so the invariant this file protects is that the output is band-limited:
//! each output sample is a windowed-sinc interpolation of the input whose cut-off sits at
//! 95 % of the lower of the two Nyquist frequencies, so a tone above the output's Nyquist is
//! attenuated by more than 60 dB and a tone well inside the band passes at unit gain.
//!
//! The filter is evaluated from a table of phases: exactly `L` phases when the rate ratio
//! reduces to `L/M` with `L ≤ MAX_PHASES` (every common rate: 44 100 → 8000 is 80/441), else
//! the nearest of `MAX_PHASES` phases, an error of under 1/4096 of an input sample. The
//! kernel is centred, so the output is not delayed: sample `n` of the output is the input at
//! time `n · from / to`.

/// Zero crossings of the sinc on each side of the centre, at the cut-off frequency.
const ZERO_CROSSINGS: f64 = 16.0;
/// Kaiser window β: about 80 dB of stop-band attenuation.
const KAISER_BETA: f64 = 8.0;
/// Cut-off as a fraction of the lower Nyquist frequency (leaves a transition band).
const CUTOFF: f64 = 0.95;
/// Most filter phases kept in the table.
pub const MAX_PHASES: u64 = 4096;

/// Converts `input` sampled at `from` Hz to `to` Hz. Either rate being 0 gives no samples;
/// equal rates return the input unchanged. The output has `round(len · to / from)` samples.
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == 0 || to == 0 || input.is_empty() {
        return Vec::new();
    }
    if from == to {
        return input.to_vec();
    }
    let g = gcd(u64::from(from), u64::from(to));
    let (up, down) = (u64::from(to) / g, u64::from(from) / g);
    let filter = Filter::new(from, to, up);
    let len = input.len() as u64;
    let out_len = (len * up + down / 2) / down;
    (0..out_len)
        .map(|n| {
            // Output n sits at input position n·down/up: integer part and phase.
            let pos = n * down;
            let (base, frac) = (pos / up, pos % up);
            filter.at(input, base, frac, up)
        })
        .collect()
}

/// Averages interleaved `channels` into one (a 0-channel input gives nothing).
pub fn downmix(interleaved: &[i16], channels: u16) -> Vec<i16> {
    let ch = usize::from(channels);
    match ch {
        0 => Vec::new(),
        1 => interleaved.to_vec(),
        _ => interleaved
            .chunks_exact(ch)
            .map(|frame| {
                let sum: i64 = frame.iter().map(|&s| i64::from(s)).sum();
                // The mean of i16 values is an i16.
                (sum / ch as i64) as i16
            })
            .collect(),
    }
}

/// The table of filter phases for one conversion.
struct Filter {
    /// Taps on each side of the centre, in input samples.
    half: i64,
    /// `phases` rows of `2·half + 1` taps, each row summing to 1 (unit gain at DC).
    table: Vec<Vec<f32>>,
}

impl Filter {
    fn new(from: u32, to: u32, up: u64) -> Filter {
        // Cut-off in cycles per input sample.
        let fc = 0.5 * CUTOFF * (f64::from(to) / f64::from(from)).min(1.0);
        let half_width = ZERO_CROSSINGS / (2.0 * fc);
        let half = half_width.ceil() as i64;
        let phases = up.min(MAX_PHASES);
        let i0_beta = bessel_i0(KAISER_BETA);
        let table = (0..phases)
            .map(|p| {
                let frac = p as f64 / phases as f64;
                let mut row: Vec<f64> = (-half..=half)
                    .map(|k| {
                        // Distance from the output instant to input tap `base + k`.
                        let x = k as f64 - frac;
                        let r = x / half_width;
                        if r.abs() > 1.0 {
                            return 0.0;
                        }
                        let w = bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / i0_beta;
                        2.0 * fc * sinc(2.0 * fc * x) * w
                    })
                    .collect();
                let sum: f64 = row.iter().sum();
                if sum.abs() > f64::EPSILON {
                    row.iter_mut().for_each(|t| *t /= sum);
                }
                row.into_iter().map(|t| t as f32).collect()
            })
            .collect();
        Filter { half, table }
    }

    /// The output sample at input position `base + frac/up`.
    fn at(&self, input: &[i16], base: u64, frac: u64, up: u64) -> i16 {
        let phases = self.table.len() as u64;
        let row = &self.table[((frac * phases + up / 2) / up).min(phases - 1) as usize];
        let base = base as i64;
        let len = input.len() as i64;
        let mut acc = 0.0f32;
        for (k, tap) in (-self.half..=self.half).zip(row) {
            let i = base + k;
            // Outside the input is silence.
            if (0..len).contains(&i) {
                acc += tap * f32::from(input[i as usize]);
            }
        }
        // Rounded and clipped back to 16 bits (a ringing filter can overshoot full scale).
        acc.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// The modified Bessel function of the first kind, order 0 (series; converges fast for the
/// arguments a Kaiser window uses).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= half / k as f64;
        let t2 = term * term;
        sum += t2;
        if t2 < sum * 1e-16 {
            break;
        }
    }
    sum
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<i16> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            })
            .collect()
    }

    /// RMS over the middle half (away from the edges, where the input stops).
    fn rms_middle(samples: &[i16]) -> f64 {
        let mid = &samples[samples.len() / 4..samples.len() * 3 / 4];
        let sum: f64 = mid.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        (sum / mid.len() as f64).sqrt()
    }

    /// Magnitude of `freq` in `samples` at `rate` (single-bin DFT).
    fn magnitude(samples: &[i16], rate: u32, freq: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &s) in samples.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate);
            re += f64::from(s) * ph.cos();
            im += f64::from(s) * ph.sin();
        }
        (re * re + im * im).sqrt() / samples.len() as f64 * 2.0
    }

    #[test]
    fn lengths_follow_the_ratio() {
        for (from, n, expected) in [
            (44_100, 44_100, 8000),
            (22_050, 11_025, 4000),
            (48_000, 4800, 800),
            (16_000, 3, 2),
            (11_025, 1, 1),
            (6000, 600, 800),
        ] {
            let out = resample(&vec![0i16; n], from, 8000);
            assert_eq!(out.len(), expected, "{from} Hz, {n} samples");
        }
        assert_eq!(resample(&[1, 2, 3], 8000, 8000), vec![1, 2, 3]);
        assert!(resample(&[1, 2, 3], 0, 8000).is_empty());
        assert!(resample(&[], 44_100, 8000).is_empty());
    }

    #[test]
    fn a_tone_in_the_band_passes_at_unit_gain_and_keeps_its_frequency() {
        for from in [44_100, 48_000, 22_050, 11_025, 16_000, 6000] {
            let input = tone(1000.0, from, 0.5, 10_000.0);
            let out = resample(&input, from, 8000);
            let gain = rms_middle(&out) / rms_middle(&input);
            assert!((gain - 1.0).abs() < 0.02, "{from} Hz: gain {gain}");
            let at = magnitude(&out, 8000, 1000.0);
            let off = magnitude(&out, 8000, 1300.0);
            assert!(
                at > 9000.0 && off < 200.0,
                "{from} Hz: {at} at 1 kHz, {off} at 1.3 kHz"
            );
        }
    }

    #[test]
    fn a_tone_above_the_new_nyquist_is_removed_not_folded() {
        // 5 kHz at 44.1 kHz would alias to 3 kHz if samples were simply dropped.
        let input = tone(5000.0, 44_100, 0.5, 10_000.0);
        let out = resample(&input, 44_100, 8000);
        let residue = rms_middle(&out);
        assert!(residue < 10.0, "residue {residue} (input RMS about 7071)");
        // A rate with no small ratio (phase table rounding) behaves the same.
        let input = tone(6000.0, 44_056, 0.5, 10_000.0);
        assert!(rms_middle(&resample(&input, 44_056, 8000)) < 10.0);
    }

    #[test]
    fn dc_is_kept_and_full_scale_does_not_wrap() {
        let out = resample(&vec![1000i16; 4410], 44_100, 8000);
        assert!(
            out[100..700].iter().all(|&s| s == 1000),
            "{:?}",
            &out[100..110]
        );
        // A full-scale step rings past full scale near the edge: that must clip, not wrap
        // to the other sign.
        let step: Vec<i16> = (0..8820)
            .map(|i| if i < 4410 { i16::MAX } else { i16::MIN })
            .collect();
        let out = resample(&step, 44_100, 8000);
        assert!(out[20..798].iter().all(|&s| s > 20_000));
        assert!(out[802..1580].iter().all(|&s| s < -20_000));
        assert!(out.contains(&i16::MAX) && out.contains(&i16::MIN));
    }

    #[test]
    fn downmix_averages_channels() {
        assert_eq!(downmix(&[100, 300, -5, 5, 7], 2), vec![200, 0]);
        assert_eq!(downmix(&[i16::MAX, i16::MAX], 2), vec![i16::MAX]);
        assert_eq!(downmix(&[1, 2, 3], 1), vec![1, 2, 3]);
        assert!(downmix(&[1, 2, 3], 0).is_empty());
    }
}
