//! Audio between the call (8 kHz `i16`) and the stream's format: μ-law at 8 kHz, or L16
//! (signed 16-bit little-endian) at 16 or 32 kHz towards the agent; whatever the agent sends
//! (its `media` in the stream's format, PIOPIY raw L16 at any rate from 4 to 48 kHz, WAV,
//! MP3) back to 8 kHz. Rate changes are streaming (rubato's FFT resampler, state kept across
//! frames), not the one-shot converter prompts use: a 20 ms frame resampled on its own would
//! click at every edge. Pure.

use rubato::{FftFixedInOut, Resampler as _};

use super::FRAME;
use crate::media::codec::AudioCodec;

/// Rates the agent may send raw audio at.
pub const RATES: std::ops::RangeInclusive<u32> = 4000..=48_000;

/// Why audio could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    #[error("sample rate {0} is not supported (4000 to 48000)")]
    Rate(u32),
    #[error("L16 audio must be whole 16-bit samples")]
    OddLength,
    #[error("undecodable audio: {0}")]
    Decode(String),
}

/// A streaming mono resampler between two rates (passes through when they are equal).
pub struct Resampler {
    inner: Option<FftFixedInOut<f32>>,
    pending: Vec<f32>,
    chunk: usize,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("chunk", &self.chunk)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Result<Resampler, ConvertError> {
        if !RATES.contains(&from) {
            return Err(ConvertError::Rate(from));
        }
        if from == to {
            return Ok(Resampler {
                inner: None,
                pending: Vec::new(),
                chunk: 0,
            });
        }
        let inner = FftFixedInOut::<f32>::new(from as usize, to as usize, from as usize / 50, 1)
            .map_err(|_| ConvertError::Rate(from))?;
        let chunk = inner.input_frames_next();
        Ok(Resampler {
            inner: Some(inner),
            pending: Vec::with_capacity(chunk * 2),
            chunk,
        })
    }

    /// Converts `input`; whole output chunks are appended to `out` (the rest waits).
    pub fn push(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            return;
        };
        self.pending
            .extend(input.iter().map(|&s| f32::from(s) / 32768.0));
        while self.pending.len() >= self.chunk {
            let block: Vec<f32> = self.pending.drain(..self.chunk).collect();
            if let Ok(res) = inner.process(&[block], None) {
                out.extend(
                    res[0]
                        .iter()
                        .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
                );
            }
        }
    }
}

/// Signed 16-bit little-endian bytes to samples.
pub fn l16(bytes: &[u8]) -> Result<Vec<i16>, ConvertError> {
    if bytes.len() % 2 != 0 {
        return Err(ConvertError::OddLength);
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect())
}

/// Towards the agent: one track's frames in the stream's format.
#[derive(Debug)]
pub struct Encoder {
    rate: u32,
    up: Resampler,
    scratch: Vec<i16>,
}

impl Encoder {
    pub fn new(rate: u32) -> Result<Encoder, ConvertError> {
        Ok(Encoder {
            rate,
            up: Resampler::new(8000, rate)?,
            scratch: Vec::new(),
        })
    }

    /// One 20 ms frame of the call; the stream's bytes for it (μ-law: 160 bytes; L16: 2 ×
    /// rate / 50 bytes once the resampler is primed — its first output may come a chunk
    /// later).
    pub fn frame(&mut self, samples: &[i16; FRAME], out: &mut Vec<u8>) {
        out.clear();
        if self.rate == 8000 {
            out.extend(samples.iter().map(|&s| AudioCodec::Pcmu.encode(s)));
            return;
        }
        self.scratch.clear();
        self.up.push(samples, &mut self.scratch);
        for s in &self.scratch {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
}

/// From the agent: everything to 8 kHz samples for the caller.
#[derive(Debug)]
pub struct Decoder {
    /// The stream's format (for Twilio `media`).
    rate: u32,
    /// Resamplers by source rate (the stream's, and PIOPIY's `sampleRate` when different).
    down: Vec<(u32, Resampler)>,
}

impl Decoder {
    pub fn new(rate: u32) -> Decoder {
        Decoder {
            rate,
            down: Vec::new(),
        }
    }

    fn resampler(&mut self, from: u32) -> Result<&mut Resampler, ConvertError> {
        let i = match self.down.iter().position(|(r, _)| *r == from) {
            Some(i) => i,
            None => {
                if self.down.len() >= 4 {
                    self.down.remove(0);
                }
                self.down.push((from, Resampler::new(from, 8000)?));
                self.down.len() - 1
            }
        };
        Ok(&mut self.down[i].1)
    }

    /// Twilio `media`: bytes in the stream's own format.
    pub fn media(&mut self, bytes: &[u8], out: &mut Vec<i16>) -> Result<(), ConvertError> {
        if self.rate == 8000 {
            out.extend(bytes.iter().map(|&b| AudioCodec::Pcmu.decode(b)));
            return Ok(());
        }
        let samples = l16(bytes)?;
        let rate = self.rate;
        self.resampler(rate)?.push(&samples, out);
        Ok(())
    }

    /// PIOPIY raw: L16 at `rate`.
    pub fn raw(&mut self, rate: u32, bytes: &[u8], out: &mut Vec<i16>) -> Result<(), ConvertError> {
        let samples = l16(bytes)?;
        self.resampler(rate)?.push(&samples, out);
        Ok(())
    }
}

/// PIOPIY wav or mp3: a whole file, converted at once (prompts' decoder and limits).
pub fn file(bytes: &[u8]) -> Result<Vec<i16>, ConvertError> {
    crate::media::prompt::decode(bytes, &crate::media::prompt::PromptLimits::default())
        .map(|a| a.to_vec())
        .map_err(|e| ConvertError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((i as f64 * hz * 2.0 * std::f64::consts::PI / f64::from(rate)).sin() * 12000.0)
                    as i16
            })
            .collect()
    }

    /// Power of `hz` in `s` at `rate` (Goertzel), relative to the signal's power.
    fn share(s: &[i16], hz: f64, rate: u32) -> f64 {
        let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for &x in s {
            let y = f64::from(x) + 2.0 * w.cos() * a - b;
            b = a;
            a = y;
        }
        let p = a * a + b * b - 2.0 * w.cos() * a * b;
        let e: f64 = s.iter().map(|&x| f64::from(x).powi(2)).sum();
        p / (e * s.len() as f64 / 2.0)
    }

    #[test]
    fn frames_towards_the_agent_have_the_format_size_and_keep_the_tone() {
        let mut mu = Encoder::new(8000).unwrap();
        let mut l16_16 = Encoder::new(16000).unwrap();
        let input = tone(700.0, 8000, 160 * 50);
        let (mut out, mut all) = (Vec::new(), Vec::new());
        let mut sizes = Vec::new();
        for f in input.chunks_exact(FRAME) {
            let f: &[i16; FRAME] = f.try_into().unwrap();
            mu.frame(f, &mut out);
            assert_eq!(out.len(), 160);
            l16_16.frame(f, &mut out);
            sizes.push(out.len());
            all.extend(l16(&out).unwrap());
        }
        assert!(sizes.iter().skip(2).all(|&n| n == 640), "{sizes:?}");
        let tail = &all[all.len() - 8000..];
        assert!(
            share(tail, 700.0, 16000) > 0.8,
            "{}",
            share(tail, 700.0, 16000)
        );
    }

    #[test]
    fn agent_audio_comes_back_at_8k_with_its_tone() {
        let mut d = Decoder::new(16000);
        let src = tone(1100.0, 16000, 32000);
        let bytes: Vec<u8> = src.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut out = Vec::new();
        for chunk in bytes.chunks(1000) {
            d.media(chunk, &mut out).unwrap();
        }
        assert!((15_000..=16_000).contains(&out.len()), "{}", out.len());
        assert!(share(&out[4000..], 1100.0, 8000) > 0.8);
        let mut raw = Vec::new();
        d.raw(
            32000,
            &tone(500.0, 32000, 64000)
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .collect::<Vec<u8>>(),
            &mut raw,
        )
        .unwrap();
        assert!(share(&raw[4000..], 500.0, 8000) > 0.8);
        assert_eq!(
            d.raw(96_000, &[0, 0], &mut raw),
            Err(ConvertError::Rate(96_000))
        );
        assert_eq!(d.media(&[1, 2, 3], &mut raw), Err(ConvertError::OddLength));
        assert!(file(b"not audio").is_err());
    }
}
