//! WAV prompts: PCM and float through `hound`, G.711 (A-law/μ-law, common for telephony
//! prompts, which `hound` does not read) through the tables here.
//!
//! The RIFF chunks are walked once first, to learn the encoding and to measure the data
//! before decoding anything (so a too-long file is refused cheaply). A data chunk whose
//! declared size runs past the end of the bytes is read up to the end: that is how streamed
//! WAVs look (`espeak-ng --stdout` declares 2 GiB), and a cut-off download is better played
//! in part than not at all.

use std::borrow::Cow;
use std::io::Cursor;

use super::{PromptError, PromptLimits};
use crate::media::g711;
use crate::media::resample;

const PCM: u16 = 1;
const IEEE_FLOAT: u16 = 3;
const ALAW: u16 = 6;
const MULAW: u16 = 7;
const EXTENSIBLE: u16 = 0xFFFE;

pub(super) fn is_wav(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE"
}

/// What the `fmt ` and `data` chunks say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    /// Offset of the data chunk's size field.
    data_size_at: usize,
    data_start: usize,
    /// Bytes of data present (the declared size, or less if the file ends first).
    data_len: usize,
    /// The declared size was larger than what is there.
    streamed: bool,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

impl Layout {
    fn read(bytes: &[u8]) -> Result<Layout, PromptError> {
        let layout = |what| PromptError::WavLayout { what };
        let mut format = None;
        let mut at = 12;
        while at + 8 <= bytes.len() {
            let id = &bytes[at..at + 4];
            let size = u32_at(bytes, at + 4).ok_or(layout("chunk header"))? as usize;
            let body = at + 8;
            if id == b"fmt " {
                let tag = u16_at(bytes, body).ok_or(layout("short fmt chunk"))?;
                let channels = u16_at(bytes, body + 2).ok_or(layout("short fmt chunk"))?;
                let rate = u32_at(bytes, body + 4).ok_or(layout("short fmt chunk"))?;
                let bits = u16_at(bytes, body + 14).ok_or(layout("short fmt chunk"))?;
                format = Some((tag, channels, rate, bits));
            } else if id == b"data" {
                let (tag, channels, rate, bits) = format.ok_or(layout("data before fmt"))?;
                let available = bytes.len() - body;
                return Ok(Layout {
                    tag,
                    channels,
                    rate,
                    bits,
                    data_size_at: at + 4,
                    data_start: body,
                    data_len: size.min(available),
                    streamed: size > available,
                });
            }
            // Chunks are padded to an even length.
            at = body.saturating_add(size).saturating_add(size & 1);
        }
        Err(layout("no data chunk"))
    }

    fn frames(&self) -> u64 {
        let frame_bytes = usize::from(self.channels) * usize::from(self.bits).div_ceil(8);
        (self.data_len / frame_bytes.max(1)) as u64
    }
}

pub(super) fn decode(bytes: &[u8], limits: &PromptLimits) -> Result<Vec<i16>, PromptError> {
    let layout = Layout::read(bytes)?;
    if layout.channels == 0 || layout.rate == 0 {
        return Err(PromptError::WavLayout {
            what: "no channels or no sample rate",
        });
    }
    if layout.frames() > limits.max_frames(layout.rate) {
        return Err(PromptError::TooLong {
            max: limits.max_duration,
        });
    }
    let interleaved = match layout.tag {
        PCM | IEEE_FLOAT | EXTENSIBLE => pcm(bytes, &layout)?,
        ALAW | MULAW => companded(bytes, &layout)?,
        tag => return Err(PromptError::WavEncoding { tag }),
    };
    Ok(resample::to_telephony(
        &interleaved,
        layout.rate,
        layout.channels,
    )?)
}

/// PCM and float samples through `hound`, as interleaved `f32`.
fn pcm(bytes: &[u8], layout: &Layout) -> Result<Vec<f32>, PromptError> {
    let bytes: Cow<'_, [u8]> = if layout.streamed {
        // Tell hound the size that is really there.
        let mut fixed = bytes.to_vec();
        let size = u32::try_from(layout.data_len)
            .unwrap_or(u32::MAX)
            .to_le_bytes();
        fixed[layout.data_size_at..layout.data_size_at + 4].copy_from_slice(&size);
        Cow::Owned(fixed)
    } else {
        Cow::Borrowed(bytes)
    };
    let reader = hound::WavReader::new(Cursor::new(&bytes[..])).map_err(PromptError::Wav)?;
    let spec = reader.spec();
    match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<Result<Vec<f32>, _>>()
            .map_err(PromptError::Wav),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << spec.bits_per_sample.clamp(1, 32).saturating_sub(1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<Vec<f32>, _>>()
                .map_err(PromptError::Wav)
        }
    }
}

/// A-law or μ-law bytes through the G.711 tables, as interleaved `f32`.
fn companded(bytes: &[u8], layout: &Layout) -> Result<Vec<f32>, PromptError> {
    if layout.bits != 8 {
        return Err(PromptError::WavLayout {
            what: "G.711 samples must be 8 bits",
        });
    }
    let data = &bytes[layout.data_start..layout.data_start + layout.data_len];
    let decode = if layout.tag == ALAW {
        g711::alaw_to_linear
    } else {
        g711::ulaw_to_linear
    };
    Ok(data
        .iter()
        .map(|&code| f32::from(decode(code)) / 32768.0)
        .collect())
}
