//! Pure tones: a sine generator and a Goertzel level meter.
//!
//! The media plane uses these to make and check audio it can reason about: tests play a
//! known tone through a path and measure it at the other end, and the Goertzel filter is the
//! textbook single-frequency detector (also the basis of in-band DTMF detection, should that
//! ever be needed). Pure and deterministic.

use std::f64::consts::PI;

/// `seconds` of a sine at `frequency` Hz sampled at `rate` Hz, with peak `amplitude`
/// (clamped to the `i16` range).
pub fn sine(frequency: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<i16> {
    let count = (seconds * f64::from(rate)).round().max(0.0) as usize;
    (0..count)
        .map(|n| {
            let phase = 2.0 * PI * frequency * n as f64 / f64::from(rate);
            (amplitude * phase.sin()).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// The amplitude of the `frequency` component of `samples` (sampled at `rate` Hz), by the
/// Goertzel algorithm: a sine of peak `A` at exactly that frequency reads ≈ `A`; other
/// frequencies read near 0 once the block holds a few hundred samples. An empty block reads 0.
pub fn level<S: Copy + Into<f64>>(samples: &[S], frequency: f64, rate: u32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let omega = 2.0 * PI * frequency / f64::from(rate);
    let coefficient = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &sample in samples {
        let s0 = sample.into() + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
    2.0 * power.max(0.0).sqrt() / samples.len() as f64
}

/// The root-mean-square level of `samples` (0 for an empty block).
pub fn rms<S: Copy + Into<f64>>(samples: &[S]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| s.into() * s.into()).sum();
    (sum / samples.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goertzel_reads_the_tone_it_is_tuned_to() {
        let tone = sine(1000.0, 8000, 0.5, 10_000.0);
        assert_eq!(tone.len(), 4000);
        let at = level(&tone, 1000.0, 8000);
        assert!((at - 10_000.0).abs() < 50.0, "{at}");
        assert!(level(&tone, 1400.0, 8000) < 100.0);
        assert!((rms(&tone) - 10_000.0 / 2f64.sqrt()).abs() < 10.0);
        assert_eq!(level::<i16>(&[], 1000.0, 8000), 0.0);
    }
}
