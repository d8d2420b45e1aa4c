//! Text to speech with the `espeak-ng` program.
//!
//! The text goes to the program's **stdin, never onto its command line**: a script's text can
//! then never become an option, and its length is not bounded by the argument limit. Output is
//! the WAV espeak-ng writes to stdout (`--stdout`: 22.05 kHz, 16-bit mono, with the streamed
//! size placeholder that `super::wav` reads up to the real end), resampled to 8 kHz.
//!
//! The v3 prompt fields map onto what espeak-ng offers ([`arguments`] is the pure mapping):
//!
//! | field      | espeak-ng            | notes                                                    |
//! |------------|----------------------|----------------------------------------------------------|
//! | `language` | `-v <lang>`          | `en_US` → `en-us`; default `en`                           |
//! | `voice_id` | `-v <lang>+<variant>`| `female` → `f3`, `male` → `m3`, else an espeak-ng variant name (unknown ones are ignored by espeak-ng) |
//! | `speed`    | `-s <words/min>`     | 0.5–2.0 × 175 (espeak-ng's default rate), clamped        |
//!
//! The runner is the only place here that starts a process; it blocks (up to
//! [`PromptLimits::tts_timeout`], then the process is killed), so call it on a blocking thread.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{wav, Audio, PromptError, PromptLimits};

/// espeak-ng's default speaking rate, words per minute.
const DEFAULT_WPM: f32 = 175.0;
/// The `speed` range of the v3 prompt.
const SPEED_RANGE: (f32, f32) = (0.5, 2.0);
/// How often the runner checks whether the process ended.
const POLL: Duration = Duration::from_millis(5);
/// What is kept of the program's error output, for the log.
const STDERR_KEEP: u64 = 2048;

/// What to say and how.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpeakRequest {
    pub text: String,
    /// v3 `voice_id`.
    pub voice: Option<String>,
    /// v3 `language` (a BCP 47 tag such as `en-US`, or an espeak-ng language name).
    pub language: Option<String>,
    /// v3 `speed`, 0.5–2.0 (1.0 when absent).
    pub speed: Option<f32>,
}

impl SpeakRequest {
    pub fn new(text: impl Into<String>) -> Self {
        SpeakRequest {
            text: text.into(),
            ..SpeakRequest::default()
        }
    }

    /// The speed as clamped and rounded to hundredths (what the cache keys on).
    pub fn speed_percent(&self) -> u16 {
        let speed = self.speed.filter(|s| s.is_finite()).unwrap_or(1.0);
        (speed.clamp(SPEED_RANGE.0, SPEED_RANGE.1) * 100.0).round() as u16
    }
}

/// The espeak-ng runner.
#[derive(Debug, Clone)]
pub struct Tts {
    program: PathBuf,
    limits: PromptLimits,
}

impl Default for Tts {
    /// `espeak-ng` from `PATH`, default limits.
    fn default() -> Self {
        Tts::new("espeak-ng", PromptLimits::default())
    }
}

impl Tts {
    pub fn new(program: impl Into<PathBuf>, limits: PromptLimits) -> Self {
        Tts {
            program: program.into(),
            limits,
        }
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Whether the program runs (`--version`); for a start-up warning.
    pub fn available(&self) -> bool {
        Command::new(&self.program)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Speak `request` to 8 kHz mono samples. Blocks while the program runs.
    pub fn synthesize(&self, request: &SpeakRequest) -> Result<Audio, PromptError> {
        let text = request.text.trim();
        if text.is_empty() {
            return Err(PromptError::EmptyText);
        }
        let len = text.chars().count();
        if len > self.limits.max_text_chars {
            return Err(PromptError::TextTooLong {
                len,
                max: self.limits.max_text_chars,
            });
        }
        let args = arguments(request)?;
        let wav = self.run(&args, text)?;
        let samples = wav::decode(&wav, &self.limits)?;
        if samples.is_empty() {
            return Err(PromptError::Empty);
        }
        Ok(samples.into())
    }

    /// Run the program with `text` on stdin; its stdout.
    // The TTS runner: threads drain the program's pipes while it runs, and the clock bounds
    // how long it may take (already on a blocking thread; see `actors::audio`).
    #[allow(clippy::disallowed_methods)]
    fn run(&self, args: &[String], text: &str) -> Result<Vec<u8>, PromptError> {
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => PromptError::TtsUnavailable,
                _ => PromptError::TtsIo(error),
            })?;
        // 16-bit samples at 22.05 kHz for the longest allowed audio, plus a header.
        let max_output = self.limits.max_frames(22_050) * 2 + 4096;
        let stdout = child.stdout.take().map(|out| {
            thread::spawn(move || {
                let mut bytes = Vec::new();
                out.take(max_output).read_to_end(&mut bytes).map(|_| bytes)
            })
        });
        let stderr = child.stderr.take().map(|err| {
            thread::spawn(move || {
                let mut text = String::new();
                let _ = err.take(STDERR_KEEP).read_to_string(&mut text);
                text
            })
        });
        // The text is bounded far below a pipe's buffer, so this write cannot block on a
        // program that is busy writing its output; dropping stdin sends end-of-file.
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(PromptError::TtsIo)?;
        }
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(PromptError::TtsIo)? {
                break status;
            }
            if started.elapsed() >= self.limits.tts_timeout {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PromptError::TtsTimeout {
                    seconds: self.limits.tts_timeout.as_secs(),
                });
            }
            thread::sleep(POLL);
        };
        let output = stdout
            .and_then(|reader| reader.join().ok())
            .transpose()
            .map_err(PromptError::TtsIo)?
            .unwrap_or_default();
        let errors = stderr
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        if !status.success() {
            tracing::warn!(code = ?status.code(), stderr = %errors.trim(), "espeak-ng failed");
            return Err(PromptError::TtsFailed {
                code: status.code(),
            });
        }
        Ok(output)
    }
}

/// Whether `espeak-ng` from `PATH` runs (for a start-up warning when it does not).
pub fn tts_available() -> bool {
    Tts::default().available()
}

/// The espeak-ng arguments for a request (everything but the text). Pure.
pub fn arguments(request: &SpeakRequest) -> Result<Vec<String>, PromptError> {
    let language = match request.language.as_deref().map(str::trim) {
        None | Some("") => "en".to_owned(),
        Some(tag) => name(tag, 16)?.to_ascii_lowercase().replace('_', "-"),
    };
    let variant = match request.voice.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) if v.eq_ignore_ascii_case("female") || v.eq_ignore_ascii_case("woman") => {
            Some("f3".to_owned())
        }
        Some(v) if v.eq_ignore_ascii_case("male") || v.eq_ignore_ascii_case("man") => {
            Some("m3".to_owned())
        }
        Some(v) => Some(name(v, 32)?.to_owned()),
    };
    let voice = match variant {
        Some(variant) => format!("{language}+{variant}"),
        None => language,
    };
    let wpm = (DEFAULT_WPM * f32::from(request.speed_percent()) / 100.0).round() as u32;
    Ok(vec![
        "--stdout".to_owned(),
        "--stdin".to_owned(),
        "-v".to_owned(),
        voice,
        "-s".to_owned(),
        wpm.to_string(),
    ])
}

/// A language or variant name: letters, digits, `-` and `_` only, so it can only ever be
/// read as a name.
fn name(value: &str, max: usize) -> Result<&str, PromptError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && !value.starts_with('-')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(value)
    } else {
        Err(PromptError::BadVoice {
            value: value.to_owned(),
        })
    }
}
