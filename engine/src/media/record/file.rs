//! One recording file on the writer thread: the stereo frames of the time line go out as they
//! are (one channel per leg) or mixed to mono (both parties in one channel), into a WAV file
//! (16-bit PCM) or an MP3 (LAME, constant bit rate, MPEG-2.5 at 8 kHz).
//!
//! MP3 is constant bit rate with no Xing/LAME tag frame, so a file's length in frames (and its
//! duration) can be read back from its frame headers alone (see `crate::recordings`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use mp3lame_encoder::{Bitrate, FlushNoGap, InterleavedPcm, MonoPcm, Quality, VbrMode};

use super::timeline::RATE;
use super::Finished;

/// The container of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileFormat {
    #[default]
    Wav,
    Mp3,
}

impl FileFormat {
    /// The file name extension, also the `format` of the recording event.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Wav => "wav",
            FileFormat::Mp3 => "mp3",
        }
    }
}

/// How a recording is written: the format, and whether both parties share one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    pub format: FileFormat,
    /// Both parties mixed to one channel (`channels: "single"`); else A left, B right.
    pub mono: bool,
}

impl Layout {
    pub fn channels(self) -> u16 {
        if self.mono {
            1
        } else {
            2
        }
    }
}

/// MP3 bit rates: speech at 8 kHz needs little; two channels get twice as much.
const MP3_MONO: Bitrate = Bitrate::Kbps24;
const MP3_STEREO: Bitrate = Bitrate::Kbps32;

enum Encoder {
    Wav(hound::WavWriter<BufWriter<File>>),
    Mp3 {
        lame: Box<mp3lame_encoder::Encoder>,
        out: BufWriter<File>,
        /// Encoded bytes waiting to be written (reused).
        buf: Vec<u8>,
    },
}

/// An open recording.
pub(super) struct OpenFile {
    path: PathBuf,
    layout: Layout,
    encoder: Option<Encoder>,
    frames: u64,
    ok: bool,
}

impl OpenFile {
    /// Creates the file (and its directory); a failure is logged and the recording is `ok:
    /// false` at its end.
    pub(super) fn create(path: PathBuf, layout: Layout) -> OpenFile {
        let encoder = open(&path, layout);
        OpenFile {
            ok: encoder.is_some(),
            path,
            layout,
            encoder,
            frames: 0,
        }
    }

    /// Interleaved stereo frames from frame `first` of the recording.
    pub(super) fn write(&mut self, first: u64, stereo: &[i16]) {
        let Some(encoder) = self.encoder.as_mut() else {
            return;
        };
        // Blocks dropped on the way left a hole: silence keeps the file on the call's time.
        let gap = first.saturating_sub(self.frames) as usize;
        let channels = usize::from(self.layout.channels());
        let mut block = vec![0i16; gap * channels];
        if self.layout.mono {
            block.extend(stereo.chunks_exact(2).map(|f| mix(f[0], f[1])));
        } else {
            block.extend_from_slice(stereo);
        }
        match encoder.write(&block, channels) {
            Ok(()) => self.frames = first.max(self.frames) + stereo.len() as u64 / 2,
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "recording write failed");
                self.ok = false;
                self.encoder = None;
            }
        }
    }

    pub(super) fn finish(mut self) -> Finished {
        if let Some(encoder) = self.encoder.take() {
            if let Err(error) = encoder.finish() {
                tracing::warn!(path = %self.path.display(), %error, "recording not finalised");
                self.ok = false;
            }
        }
        Finished {
            path: self.path,
            frames: self.frames,
            ok: self.ok,
        }
    }
}

/// Both parties in one sample: summed (each side is speech at its own level; averaging would
/// halve both), clipped at full scale.
fn mix(a: i16, b: i16) -> i16 {
    (i32::from(a) + i32::from(b)).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

fn open(path: &PathBuf, layout: Layout) -> Option<Encoder> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(error) = std::fs::create_dir_all(dir) {
            tracing::warn!(path = %path.display(), %error, "cannot create the recording's directory");
            return None;
        }
    }
    let result = match layout.format {
        FileFormat::Wav => {
            let spec = hound::WavSpec {
                channels: layout.channels(),
                sample_rate: RATE,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            hound::WavWriter::create(path, spec)
                .map(Encoder::Wav)
                .map_err(|e| e.to_string())
        }
        FileFormat::Mp3 => lame(layout).and_then(|lame| {
            let file = File::create(path).map_err(|e| e.to_string())?;
            Ok(Encoder::Mp3 {
                lame: Box::new(lame),
                out: BufWriter::new(file),
                buf: Vec::new(),
            })
        }),
    };
    match result {
        Ok(encoder) => Some(encoder),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot create a recording");
            None
        }
    }
}

fn lame(layout: Layout) -> Result<mp3lame_encoder::Encoder, String> {
    let bitrate = if layout.mono { MP3_MONO } else { MP3_STEREO };
    let channels = layout.channels() as u8;
    let mut b = mp3lame_encoder::Builder::new().ok_or("LAME could not start")?;
    let step = |r: Result<(), mp3lame_encoder::BuildError>| r.map_err(|e| e.to_string());
    step(b.set_num_channels(channels))?;
    step(b.set_sample_rate(RATE))?;
    step(b.set_output_sample_rate(std::num::NonZeroU32::new(RATE)))?;
    step(b.set_brate(bitrate))?;
    step(b.set_quality(Quality::Good))?;
    step(b.set_vbr_mode(VbrMode::Off))?;
    step(b.set_to_write_vbr_tag(false))?;
    b.build().map_err(|e| e.to_string())
}

impl Encoder {
    /// Interleaved samples of `channels` channels.
    fn write(&mut self, samples: &[i16], channels: usize) -> Result<(), String> {
        match self {
            Encoder::Wav(w) => {
                let mut pcm = w.get_i16_writer(samples.len() as u32);
                for &s in samples {
                    pcm.write_sample(s);
                }
                pcm.flush().map_err(|e| e.to_string())
            }
            Encoder::Mp3 { lame, out, buf } => {
                buf.clear();
                let frames = samples.len() / channels.max(1);
                buf.reserve(mp3lame_encoder::max_required_buffer_size(frames));
                let encoded = if channels == 1 {
                    lame.encode_to_vec(MonoPcm(samples), buf)
                } else {
                    lame.encode_to_vec(InterleavedPcm(samples), buf)
                };
                encoded.map_err(|e| e.to_string())?;
                out.write_all(buf).map_err(|e| e.to_string())
            }
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Encoder::Wav(w) => w.finalize().map_err(|e| e.to_string()),
            Encoder::Mp3 {
                mut lame,
                mut out,
                mut buf,
            } => {
                buf.clear();
                // LAME's documented worst case for the final frames.
                buf.reserve(7200);
                lame.flush_to_vec::<FlushNoGap>(&mut buf)
                    .map_err(|e| e.to_string())?;
                out.write_all(&buf).map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_mix_sums_and_clips() {
        assert_eq!(mix(1000, -200), 800);
        assert_eq!(mix(30000, 30000), i16::MAX);
        assert_eq!(mix(-30000, -30000), i16::MIN);
    }
}
