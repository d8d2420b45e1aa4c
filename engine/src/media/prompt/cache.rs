//! A least-recently-used cache of decoded prompts, bounded in bytes of samples.
//!
//! Keys say where the audio came from: spoken text with its voice settings, a URL, or a file
//! with its size and modification time (an edited file is a new key). An entry larger than
//! the whole budget is not kept. Pure data structure; [`super::Prompts`] puts it behind a
//! lock.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::SystemTime;

use super::tts::SpeakRequest;
use super::Audio;

/// Where a prompt came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CacheKey {
    Speech {
        voice: Option<String>,
        language: Option<String>,
        /// Speed in hundredths (1.0 → 100), as clamped.
        speed_percent: u16,
        text: String,
    },
    Url(String),
    File {
        path: PathBuf,
        len: u64,
        modified: Option<SystemTime>,
    },
}

impl CacheKey {
    pub fn speech(request: &SpeakRequest) -> Self {
        CacheKey::Speech {
            voice: request.voice.clone(),
            language: request.language.clone(),
            speed_percent: request.speed_percent(),
            text: request.text.trim().to_owned(),
        }
    }
}

/// The cache.
#[derive(Debug, Default)]
pub struct PromptCache {
    capacity: usize,
    used: usize,
    clock: u64,
    entries: HashMap<CacheKey, (Audio, u64)>,
    /// Last use → key, oldest first.
    by_age: BTreeMap<u64, CacheKey>,
}

fn cost(audio: &Audio) -> usize {
    std::mem::size_of_val::<[i16]>(audio)
}

impl PromptCache {
    /// A cache holding at most `capacity` bytes of samples.
    pub fn new(capacity: usize) -> Self {
        PromptCache {
            capacity,
            ..PromptCache::default()
        }
    }

    pub fn get(&mut self, key: &CacheKey) -> Option<Audio> {
        let tick = self.next_tick();
        let (audio, used) = self.entries.get_mut(key)?;
        let key = self.by_age.remove(used)?;
        *used = tick;
        let audio = audio.clone();
        self.by_age.insert(tick, key);
        Some(audio)
    }

    pub fn insert(&mut self, key: CacheKey, audio: Audio) {
        let size = cost(&audio);
        if size > self.capacity {
            return;
        }
        self.remove(&key);
        while self.used + size > self.capacity {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            if let Some((evicted, _)) = self.entries.remove(&oldest) {
                self.used -= cost(&evicted);
            }
        }
        let tick = self.next_tick();
        self.used += size;
        self.by_age.insert(tick, key.clone());
        self.entries.insert(key, (audio, tick));
    }

    pub fn remove(&mut self, key: &CacheKey) {
        if let Some((audio, tick)) = self.entries.remove(key) {
            self.by_age.remove(&tick);
            self.used -= cost(&audio);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of samples held.
    pub fn bytes(&self) -> usize {
        self.used
    }

    fn next_tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(samples: usize) -> Audio {
        vec![0i16; samples].into()
    }

    fn url(n: u32) -> CacheKey {
        CacheKey::Url(format!("https://example.com/{n}.wav"))
    }

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let mut cache = PromptCache::new(3000); // 1500 samples
        cache.insert(url(1), audio(500));
        cache.insert(url(2), audio(500));
        cache.insert(url(3), audio(500));
        assert_eq!(cache.bytes(), 3000);
        assert!(cache.get(&url(1)).is_some()); // 2 is now the oldest
        cache.insert(url(4), audio(500));
        assert!(cache.get(&url(2)).is_none());
        assert!(cache.get(&url(1)).is_some() && cache.get(&url(3)).is_some());
        assert_eq!((cache.len(), cache.bytes()), (3, 3000));
        // A big entry evicts as many as it needs.
        cache.insert(url(5), audio(1200));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.bytes(), 2400);
    }

    #[test]
    fn oversized_entries_are_not_kept_and_replacing_a_key_counts_once() {
        let mut cache = PromptCache::new(1000);
        cache.insert(url(1), audio(501));
        assert!(cache.is_empty());
        cache.insert(url(1), audio(100));
        cache.insert(url(1), audio(200));
        assert_eq!((cache.len(), cache.bytes()), (1, 400));
        assert_eq!(cache.get(&url(1)).map(|a| a.len()), Some(200));
    }

    #[test]
    fn speech_keys_cover_voice_language_speed_and_text() {
        let hello = SpeakRequest::new("hello ");
        let fast = SpeakRequest {
            speed: Some(1.5),
            ..SpeakRequest::new("hello")
        };
        assert_eq!(
            CacheKey::speech(&hello),
            CacheKey::speech(&SpeakRequest::new("hello"))
        );
        assert_ne!(CacheKey::speech(&hello), CacheKey::speech(&fast));
        let german = SpeakRequest {
            language: Some("de".into()),
            ..SpeakRequest::new("hello")
        };
        assert_ne!(CacheKey::speech(&hello), CacheKey::speech(&german));
    }
}
