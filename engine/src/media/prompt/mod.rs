//! Audio for `play` and `speak`: every prompt becomes 8 kHz mono `i16` samples
//! ([`Audio`]), ready for `Command::Play`.
//!
//! # Where prompts come from
//!
//! * `file_url`: the shell fetches the bytes (HTTP is not the media plane's business) and
//!   calls [`decode`]; [`Prompts`] caches the result by URL.
//! * `file_name`: [`load_file`] reads a file under the prompts directory. Absolute names,
//!   `..` and symbolic links that lead outside the directory are refused.
//! * `speak`: [`tts::Tts::synthesize`] runs the `espeak-ng` program with the text on stdin (never as
//!   an argument) and decodes what it writes; [`Prompts`] caches by (voice, language, speed,
//!   text).
//!
//! # Formats and limits
//!
//! WAV (PCM 8/16/24/32-bit, IEEE float, A-law, μ-law; any rate from 4 to 192 kHz; up to 8
//! channels, averaged) and MP3 (MPEG-1/2/2.5 layer III through `symphonia`). The format is
//! recognised from the bytes, not the name. [`PromptLimits`] bounds the input size
//! (10 MiB), the duration (10 minutes) and the text length; past them the error says which.
//!
//! # Blocking
//!
//! Decoding, file reads and the TTS process block: the shell runs these functions on a
//! blocking thread (`spawn_blocking`, actix `web::block`), never on the media runtime or inside
//! an actor's `handle`.

pub mod cache;
mod library;
mod mp3;
pub mod tts;
mod wav;

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use cache::{CacheKey, PromptCache};
pub use library::{Prompts, DEFAULT_CACHE_BYTES};
pub use tts::{tts_available, SpeakRequest, Tts};

use super::resample::ResampleError;

/// 8 kHz mono 16-bit samples, shared without copying between the cache and media tasks.
pub type Audio = Arc<[i16]>;

/// The rate of [`Audio`].
pub const PROMPT_RATE: u32 = 8000;

/// Bounds on what a prompt may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptLimits {
    /// Largest encoded input (a file or a download).
    pub max_bytes: u64,
    /// Longest audio.
    pub max_duration: Duration,
    /// Longest text for text to speech, in characters.
    pub max_text_chars: usize,
    /// How long the TTS program may run.
    pub tts_timeout: Duration,
}

impl Default for PromptLimits {
    fn default() -> Self {
        PromptLimits {
            max_bytes: 10 * 1024 * 1024,
            max_duration: Duration::from_secs(600),
            max_text_chars: 4000,
            tts_timeout: Duration::from_secs(30),
        }
    }
}

impl PromptLimits {
    /// The most source frames at `rate` Hz that fit in [`PromptLimits::max_duration`].
    pub(crate) fn max_frames(&self, rate: u32) -> u64 {
        let frames = self.max_duration.as_millis() * u128::from(rate) / 1000;
        u64::try_from(frames).unwrap_or(u64::MAX)
    }
}

/// Why a prompt could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    #[error("the audio is {len} bytes; at most {max} are accepted")]
    TooLarge { len: u64, max: u64 },
    #[error("the audio lasts longer than the {} s allowed", max.as_secs_f64())]
    TooLong { max: Duration },
    #[error("the audio holds no samples")]
    Empty,
    #[error("neither a WAV nor an MP3 file")]
    UnknownFormat,
    #[error("unreadable WAV")]
    Wav(#[source] hound::Error),
    #[error("WAV encoding {tag:#06x} is not supported (PCM, IEEE float, A-law and μ-law are)")]
    WavEncoding { tag: u16 },
    #[error("malformed WAV: {what}")]
    WavLayout { what: &'static str },
    #[error("unreadable MP3")]
    Mp3(#[source] symphonia::core::errors::Error),
    #[error(transparent)]
    Resample(#[from] ResampleError),
    #[error("{name:?} is not a file name inside the prompts directory")]
    BadName { name: String },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("text to speech is not available: the espeak-ng program is not installed")]
    TtsUnavailable,
    #[error("nothing to say: the text is empty")]
    EmptyText,
    #[error("the text is {len} characters; at most {max} are spoken")]
    TextTooLong { len: usize, max: usize },
    #[error("{value:?} is not a language or voice name espeak-ng can take")]
    BadVoice { value: String },
    #[error("espeak-ng failed (exit code {code:?}); is the language installed?")]
    TtsFailed { code: Option<i32> },
    #[error("espeak-ng did not finish within {seconds} s")]
    TtsTimeout { seconds: u64 },
    #[error("cannot run espeak-ng")]
    TtsIo(#[source] io::Error),
}

/// Decode a WAV or MP3 file's bytes (recognised by content) to 8 kHz mono.
pub fn decode(bytes: &[u8], limits: &PromptLimits) -> Result<Audio, PromptError> {
    let len = bytes.len() as u64;
    if len > limits.max_bytes {
        return Err(PromptError::TooLarge {
            len,
            max: limits.max_bytes,
        });
    }
    let samples = if wav::is_wav(bytes) {
        wav::decode(bytes, limits)?
    } else if mp3::is_mp3(bytes) {
        mp3::decode(bytes, limits)?
    } else {
        return Err(PromptError::UnknownFormat);
    };
    if samples.is_empty() {
        return Err(PromptError::Empty);
    }
    Ok(samples.into())
}

/// Read and decode the prompt `name` from `dir`. `name` may name a file in a subdirectory
/// (`ivr/welcome.wav`) but not an absolute path, nor `.`/`..` components, nor a link that
/// resolves outside `dir`.
pub fn load_file(dir: &Path, name: &str, limits: &PromptLimits) -> Result<Audio, PromptError> {
    let path = resolve(dir, name)?;
    let read_error = |source| PromptError::Read {
        path: path.clone(),
        source,
    };
    let len = std::fs::metadata(&path).map_err(read_error)?.len();
    if len > limits.max_bytes {
        return Err(PromptError::TooLarge {
            len,
            max: limits.max_bytes,
        });
    }
    let bytes = std::fs::read(&path).map_err(read_error)?;
    decode(&bytes, limits)
}

/// The path of prompt `name` under `dir`, checked to stay inside it.
fn resolve(dir: &Path, name: &str) -> Result<PathBuf, PromptError> {
    let bad = || PromptError::BadName {
        name: name.to_owned(),
    };
    let relative = Path::new(name);
    let plain = !name.is_empty()
        && !name.contains('\0')
        && !name.contains('\\')
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(bad());
    }
    let joined = dir.join(relative);
    // Symbolic links could still lead out: compare the resolved paths.
    let root = dir.canonicalize().map_err(|source| PromptError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let resolved = joined.canonicalize().map_err(|source| PromptError::Read {
        path: joined.clone(),
        source,
    })?;
    if resolved.starts_with(&root) {
        Ok(resolved)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests;
