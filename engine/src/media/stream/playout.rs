//! Audio from the agent waiting to be played to the caller: a bounded queue of 8 kHz samples,
//! with the agent's marks at their positions, pause/resume, and `break`/`clear`. Shared by the
//! session (which fills it) and the media task (which takes a frame per 20 ms). Pure.

use std::collections::VecDeque;

use super::{FRAME, MAX_QUEUED_SECS};

/// Samples the queue holds at most.
pub const CAPACITY: usize = MAX_QUEUED_SECS * 8000;

#[derive(Debug, Default)]
pub struct Playout {
    samples: VecDeque<i16>,
    /// Samples taken so far (the queue's head position).
    taken: u64,
    /// Samples ever queued (the tail position).
    queued: u64,
    /// (position, name): reached when `taken` passes the position.
    marks: VecDeque<(u64, String)>,
    reached: Vec<String>,
    paused: bool,
}

/// The queue is full: the audio was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stream's playout queue is full")]
pub struct Full;

impl Playout {
    /// Queues `samples` (8 kHz); all or nothing.
    pub fn push(&mut self, samples: &[i16]) -> Result<(), Full> {
        if self.samples.len() + samples.len() > CAPACITY {
            return Err(Full);
        }
        self.samples.extend(samples);
        self.queued += samples.len() as u64;
        Ok(())
    }

    /// A mark after what is queued now (reached at once when nothing is).
    pub fn mark(&mut self, name: String) {
        if self.samples.is_empty() {
            self.reached.push(name);
        } else {
            self.marks.push_back((self.queued, name));
        }
    }

    /// `break`/`clear`: the queued audio goes; its marks are reached (Twilio sends them back
    /// on `clear`).
    pub fn clear(&mut self) {
        self.taken += self.samples.len() as u64;
        self.samples.clear();
        self.reached.extend(self.marks.drain(..).map(|(_, n)| n));
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// The next frame to play, if one is queued and playback is not paused (a short tail is
    /// padded with silence).
    pub fn take(&mut self, out: &mut [i16; FRAME]) -> bool {
        if self.paused || self.samples.is_empty() {
            return false;
        }
        let n = self.samples.len().min(FRAME);
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = if i < n {
                self.samples.pop_front().unwrap_or(0)
            } else {
                0
            };
        }
        self.taken += n as u64;
        while self.marks.front().is_some_and(|(at, _)| *at <= self.taken) {
            if let Some((_, name)) = self.marks.pop_front() {
                self.reached.push(name);
            }
        }
        true
    }

    /// Whether audio is queued (and so the caller hears the agent, not the relay).
    pub fn is_playing(&self) -> bool {
        !self.paused && !self.samples.is_empty()
    }

    /// Marks reached since the last call.
    pub fn reached(&mut self) -> Vec<String> {
        std::mem::take(&mut self.reached)
    }

    pub fn queued_samples(&self) -> usize {
        self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_marks_pause_and_clear() {
        let mut p = Playout::default();
        let mut f = [0i16; FRAME];
        assert!(!p.take(&mut f));
        p.mark("empty".into());
        assert_eq!(
            p.reached(),
            ["empty"],
            "a mark on an empty queue is reached at once"
        );
        p.push(&[7; 200]).unwrap();
        p.mark("m1".into());
        assert!(p.take(&mut f));
        assert!(p.reached().is_empty());
        p.set_paused(true);
        assert!(!p.take(&mut f) && !p.is_playing());
        p.set_paused(false);
        assert!(p.take(&mut f));
        assert_eq!(&f[..40], &[7; 40]);
        assert_eq!(&f[40..], &[0; 120], "the tail is padded");
        assert_eq!(p.reached(), ["m1"]);
        p.push(&[1; 800]).unwrap();
        p.mark("m2".into());
        p.clear();
        assert_eq!(
            (p.queued_samples(), p.reached()),
            (0, vec!["m2".to_string()])
        );
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut p = Playout::default();
        p.push(&vec![0; CAPACITY]).unwrap();
        assert_eq!(p.push(&[0; 1]), Err(Full));
        assert_eq!(p.queued_samples(), CAPACITY);
    }
}
