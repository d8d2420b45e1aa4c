//! Sample-rate conversion to the telephony rate: any PCM rate, mono or multi-channel, to
//! 8 kHz mono `i16`, with a proper anti-aliasing filter.
//!
//! # Why our own windowed-sinc
//!
//! Prompts are converted once, when loaded, never per packet, so the job is a one-shot
//! band-limited conversion of a whole buffer. A polyphase windowed-sinc filter does exactly
//! that in ~150 lines with no dependency: for an input rate `R` and output rate `r` reduced to
//! `r/R = L/M`, output sample `n` sits at input position `n·M/L`, whose fractional part is one
//! of `L` phases; each phase's weights are a Kaiser-windowed sinc whose cutoff is 95 % of the
//! lower Nyquist frequency (3.8 kHz for 8 kHz output), so content above 4 kHz in a 44.1 or
//! 48 kHz prompt is removed instead of folding back into the voice band. Weights are
//! tabulated per phase when the table is small (every common rate), computed per sample
//! otherwise.
//!
//! # Contract
//!
//! * [`to_telephony`] takes interleaved `f32` frames in −1.0..=1.0 (what WAV and MP3 decoders
//!   give) and returns 8 kHz mono `i16`, rounded and clamped.
//! * Output length is `ceil(frames × r / R)`: one second in is 8000 samples out.
//! * Rates from [`MIN_RATE`] to [`MAX_RATE`] and 1 to [`MAX_CHANNELS`] channels; anything else
//!   is a [`ResampleError`]. Channels are averaged (a stereo prompt becomes its mid signal).
//!
//! Pure.

use std::f64::consts::PI;

/// The rate every prompt is converted to.
pub const TELEPHONY_RATE: u32 = 8000;
/// Lowest input rate accepted.
pub const MIN_RATE: u32 = 4000;
/// Highest input rate accepted.
pub const MAX_RATE: u32 = 192_000;
/// Most channels accepted (7.1 audio).
pub const MAX_CHANNELS: u16 = 8;

/// Cutoff as a fraction of the lower Nyquist frequency: leaves room for the filter's
/// transition band below Nyquist.
const ROLLOFF: f64 = 0.95;
/// Zero crossings of the sinc on each side of the centre: sets the transition width.
const ZERO_CROSSINGS: f64 = 20.0;
/// Kaiser window shape: about 80 dB of stop-band attenuation.
const KAISER_BETA: f64 = 8.0;
/// Largest phase table (in weights) worth precomputing.
const MAX_TABLE: usize = 1 << 20;

/// Why audio cannot be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    #[error("sample rate {rate} Hz is outside the supported {MIN_RATE}–{MAX_RATE} Hz")]
    Rate { rate: u32 },
    #[error("{channels} channels; 1 to {MAX_CHANNELS} are supported")]
    Channels { channels: u16 },
}

/// Interleaved `f32` frames at `rate` Hz → 8 kHz mono `i16`.
pub fn to_telephony(
    interleaved: &[f32],
    rate: u32,
    channels: u16,
) -> Result<Vec<i16>, ResampleError> {
    let mono = downmix(interleaved, channels)?;
    let converted = resample(&mono, rate, TELEPHONY_RATE)?;
    Ok(converted.iter().map(|&s| to_i16(s)).collect())
}

/// Average interleaved frames to one channel (a trailing partial frame is dropped).
pub fn downmix(interleaved: &[f32], channels: u16) -> Result<Vec<f32>, ResampleError> {
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(ResampleError::Channels { channels });
    }
    if channels == 1 {
        return Ok(interleaved.to_vec());
    }
    let scale = 1.0 / f32::from(channels);
    Ok(interleaved
        .chunks_exact(usize::from(channels))
        .map(|frame| frame.iter().sum::<f32>() * scale)
        .collect())
}

/// A full-scale float sample to `i16`, rounded and clamped.
pub fn to_i16(sample: f32) -> i16 {
    (sample * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Convert mono `samples` from `from` Hz to `to` Hz.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, ResampleError> {
    for rate in [from, to] {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(ResampleError::Rate { rate });
        }
    }
    if from == to {
        return Ok(samples.to_vec());
    }
    Ok(Polyphase::new(from, to).run(samples))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The zeroth-order modified Bessel function of the first kind, by its power series (the
/// Kaiser window's building block); converges fast for the arguments used here.
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > sum * 1e-12 {
        term *= (x / (2.0 * k)).powi(2);
        sum += term;
        k += 1.0;
    }
    sum
}

/// A conversion by the rational factor `L/M`.
struct Polyphase {
    /// Output samples per `M` input samples.
    up: u64,
    /// Input samples per `L` output samples.
    down: u64,
    /// Cutoff in cycles per input sample.
    cutoff: f64,
    /// Kernel half-width in input samples.
    half_width: f64,
    /// Taps on each side of the centre.
    half_taps: i64,
    /// `up` phases × `2 × half_taps` weights, if small enough to precompute.
    table: Option<Vec<f32>>,
}

impl Polyphase {
    fn new(from: u32, to: u32) -> Self {
        let g = gcd(u64::from(from), u64::from(to));
        let (up, down) = (u64::from(to) / g, u64::from(from) / g);
        let cutoff = 0.5 * ROLLOFF * (f64::from(to) / f64::from(from)).min(1.0);
        let half_width = ZERO_CROSSINGS / (2.0 * cutoff);
        let half_taps = half_width.ceil() as i64;
        let mut resampler = Polyphase {
            up,
            down,
            cutoff,
            half_width,
            half_taps,
            table: None,
        };
        let taps = 2 * half_taps as usize;
        if (up as usize).saturating_mul(taps) <= MAX_TABLE {
            let mut table = vec![0.0f32; up as usize * taps];
            for (phase, weights) in table.chunks_exact_mut(taps).enumerate() {
                resampler.weights(phase as f64 / up as f64, weights);
            }
            resampler.table = Some(table);
        }
        resampler
    }

    /// Weights for input offsets `1 - half_taps ..= half_taps` around a centre `frac` past an
    /// input sample; normalised to a DC gain of exactly 1.
    fn weights(&self, frac: f64, out: &mut [f32]) {
        let mut sum = 0.0f64;
        for (j, o) in ((1 - self.half_taps)..=self.half_taps).zip(out.iter_mut()) {
            let x = j as f64 - frac;
            let w = if x.abs() >= self.half_width {
                0.0
            } else {
                let t = 2.0 * self.cutoff * x;
                let sinc = if t == 0.0 {
                    1.0
                } else {
                    (PI * t).sin() / (PI * t)
                };
                let r = x / self.half_width;
                let window = bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / bessel_i0(KAISER_BETA);
                2.0 * self.cutoff * sinc * window
            };
            sum += w;
            *o = w as f32;
        }
        if sum.abs() > f64::EPSILON {
            let norm = (1.0 / sum) as f32;
            out.iter_mut().for_each(|o| *o *= norm);
        }
    }

    fn run(&self, input: &[f32]) -> Vec<f32> {
        let len = input.len() as u64;
        let out_len = (len * self.up).div_ceil(self.down) as usize;
        let taps = 2 * self.half_taps as usize;
        let mut scratch = vec![0.0f32; taps];
        let mut out = Vec::with_capacity(out_len);
        for n in 0..out_len as u64 {
            let position = n * self.down;
            let (base, phase) = ((position / self.up) as i64, position % self.up);
            let weights: &[f32] = match &self.table {
                Some(table) => {
                    let start = phase as usize * taps;
                    &table[start..start + taps]
                }
                None => {
                    self.weights(phase as f64 / self.up as f64, &mut scratch);
                    &scratch
                }
            };
            let first = base + 1 - self.half_taps;
            let mut acc = 0.0f32;
            for (k, &w) in weights.iter().enumerate() {
                let index = first + k as i64;
                // Outside the input is silence.
                if index >= 0 && (index as u64) < len {
                    acc += w * input[index as usize];
                }
            }
            out.push(acc);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tone::{level, sine};

    fn tone_f32(frequency: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<f32> {
        sine(frequency, rate, seconds, amplitude * 32767.0)
            .iter()
            .map(|&s| f32::from(s) / 32768.0)
            .collect()
    }

    #[test]
    fn output_length_follows_the_rate_ratio() {
        for (rate, frames) in [
            (8000, 8000),
            (11_025, 11_025),
            (16_000, 12_345),
            (22_050, 22_050),
            (44_100, 44_100),
            (48_000, 4_800),
            (48_000, 1),
            (32_000, 31_999),
            (4000, 4000),
        ] {
            let input = vec![0.0f32; frames];
            let out = to_telephony(&input, rate, 1).unwrap_or_default();
            let expected = frames as f64 * 8000.0 / f64::from(rate);
            assert!(
                (out.len() as f64 - expected).abs() <= 1.0,
                "{rate} Hz × {frames}: {} samples, expected {expected}",
                out.len()
            );
        }
        let stereo = vec![0.0f32; 2 * 44_100];
        assert_eq!(to_telephony(&stereo, 44_100, 2).map(|o| o.len()), Ok(8000));
    }

    #[test]
    fn a_voice_band_tone_survives_at_its_level() {
        for rate in [11_025, 16_000, 22_050, 44_100, 48_000, 6000] {
            let input = tone_f32(1000.0, rate, 0.5, 0.5);
            let out = to_telephony(&input, rate, 1).unwrap_or_default();
            // Skip the filter's ramp at both ends.
            let body = &out[400..out.len() - 400];
            let at = level(body, 1000.0, 8000);
            assert!((at - 16384.0).abs() < 400.0, "{rate} Hz: 1 kHz at {at}");
            assert!(level(body, 1300.0, 8000) < 300.0, "{rate} Hz: leakage");
        }
    }

    #[test]
    fn content_above_4_khz_does_not_alias_into_the_voice_band() {
        // A 5 kHz tone at 48 kHz would fold to 3 kHz without a filter; 7 kHz at 44.1 kHz to
        // 1 kHz.
        for (rate, frequency, alias) in [(48_000, 5000.0, 3000.0), (44_100, 7000.0, 1000.0)] {
            let input = tone_f32(frequency, rate, 0.5, 0.5);
            let out = to_telephony(&input, rate, 1).unwrap_or_default();
            let body = &out[400..out.len() - 400];
            let folded = level(body, alias, 8000);
            assert!(
                folded < 16.0,
                "{rate} Hz: {frequency} Hz folds to {alias} Hz at {folded}"
            );
        }
    }

    #[test]
    fn stereo_is_averaged_to_mono() {
        let interleaved = [0.5f32, -0.5, 0.25, 0.75, 1.0];
        assert_eq!(downmix(&interleaved, 2), Ok(vec![0.0, 0.5]));
        assert_eq!(
            downmix(&interleaved, 0),
            Err(ResampleError::Channels { channels: 0 })
        );
        assert_eq!(
            downmix(&interleaved, 9),
            Err(ResampleError::Channels { channels: 9 })
        );
    }

    #[test]
    fn rates_outside_the_range_are_refused() {
        assert_eq!(
            to_telephony(&[0.0], 2000, 1),
            Err(ResampleError::Rate { rate: 2000 })
        );
        assert_eq!(
            to_telephony(&[0.0], 384_000, 1),
            Err(ResampleError::Rate { rate: 384_000 })
        );
    }

    #[test]
    fn odd_rates_use_per_sample_weights_and_still_work() {
        // 47 999 Hz has no small common factor with 8000: 8000 phases × ~250 taps is over the
        // table limit, so weights are computed per output sample.
        let input = tone_f32(1000.0, 47_999, 0.25, 0.5);
        let resampler = Polyphase::new(47_999, 8000);
        assert!(resampler.table.is_none());
        let out = resampler.run(&input);
        assert!((out.len() as f64 - 2000.0).abs() <= 1.0);
        let at = level(&out[400..1600], 1000.0, 8000);
        assert!((at - 0.5).abs() < 0.02, "{at}");
    }

    #[test]
    fn samples_are_rounded_and_clamped() {
        assert_eq!(to_i16(0.0), 0);
        assert_eq!(to_i16(1.0), 32767);
        assert_eq!(to_i16(-1.0), -32768);
        assert_eq!(to_i16(2.5), 32767);
        assert_eq!(to_i16(0.5), 16384);
    }
}
