//! [`Prompts`]: the prompts directory, the TTS runner and the cache behind one thread-safe
//! handle, so the call shell asks for audio by what the script says and gets it from the cache
//! when it can.
//!
//! The lock is held only to look up and to insert, never while decoding or speaking, so a slow
//! prompt does not stall others (two calls missing the same key at once both decode it; the
//! second insert replaces the first). Every method but [`Prompts::cached_url`] may block.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::cache::{CacheKey, PromptCache};
use super::tts::{SpeakRequest, Tts};
use super::{decode, load_file, resolve, Audio, PromptError, PromptLimits};

/// The default cache budget: 64 MiB of samples, about 70 minutes of audio.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Prompt sources and their cache.
#[derive(Debug)]
pub struct Prompts {
    dir: PathBuf,
    limits: PromptLimits,
    tts: Tts,
    cache: Mutex<PromptCache>,
}

impl Prompts {
    /// Prompts from `dir`, TTS by `espeak-ng` from `PATH`, a cache of `cache_bytes`.
    pub fn new(dir: impl Into<PathBuf>, cache_bytes: usize, limits: PromptLimits) -> Self {
        Prompts {
            dir: dir.into(),
            limits,
            tts: Tts::new("espeak-ng", limits),
            cache: Mutex::new(PromptCache::new(cache_bytes)),
        }
    }

    /// Use another TTS runner (another program path, or limits of its own).
    pub fn with_tts(mut self, tts: Tts) -> Self {
        self.tts = tts;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn limits(&self) -> &PromptLimits {
        &self.limits
    }

    /// Whether text to speech works here (for a start-up warning).
    pub fn tts_available(&self) -> bool {
        self.tts.available()
    }

    /// `play` with `file_name`.
    pub fn file(&self, name: &str) -> Result<Audio, PromptError> {
        let path = resolve(&self.dir, name)?;
        let meta = std::fs::metadata(&path).map_err(|source| PromptError::Read {
            path: path.clone(),
            source,
        })?;
        let key = CacheKey::File {
            path,
            len: meta.len(),
            modified: meta.modified().ok(),
        };
        if let Some(audio) = self.lock().get(&key) {
            return Ok(audio);
        }
        let audio = load_file(&self.dir, name, &self.limits)?;
        self.lock().insert(key, audio.clone());
        Ok(audio)
    }

    /// `play` with `file_url`, if it was decoded before (then no fetch is needed).
    pub fn cached_url(&self, url: &str) -> Option<Audio> {
        self.lock().get(&CacheKey::Url(url.to_owned()))
    }

    /// `play` with `file_url`: decode the fetched bytes and cache them by URL.
    pub fn decode_url(&self, url: &str, bytes: &[u8]) -> Result<Audio, PromptError> {
        let audio = decode(bytes, &self.limits)?;
        self.lock()
            .insert(CacheKey::Url(url.to_owned()), audio.clone());
        Ok(audio)
    }

    /// `speak`, or a `say` prompt.
    pub fn speak(&self, request: &SpeakRequest) -> Result<Audio, PromptError> {
        let key = CacheKey::speech(request);
        if let Some(audio) = self.lock().get(&key) {
            return Ok(audio);
        }
        let audio = self.tts.synthesize(request)?;
        self.lock().insert(key, audio.clone());
        Ok(audio)
    }

    /// The cache, also after a panic elsewhere poisoned the lock (its state stays
    /// consistent: every method finishes its bookkeeping before returning).
    fn lock(&self) -> MutexGuard<'_, PromptCache> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
