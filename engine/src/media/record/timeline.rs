//! The time line of a two-channel recording, pure: audio from four tracks is placed by
//! arrival time onto two channels, gaps are silence, and finished frames come out in order.
//!
//! # Layout
//!
//! Left is leg A's side of the conversation, right is leg B's: [`Track::VoiceA`] (what A
//! sends) and [`Track::PromptToB`] (what ringmaster plays to B, standing in for A) are mixed
//! on the left; [`Track::VoiceB`] and [`Track::PromptToA`] on the right.
//!
//! # Placement
//!
//! A block of `n` samples that arrives at time `t` covers `[t − n, t)` on the recording's
//! clock (it was captured just before it was sent). Each track keeps a cursor: while blocks
//! arrive on time (within [`TOLERANCE`] of where the cursor is) they are laid end to end, so
//! network jitter does not chop the audio; a block further off (a pause, a loss burst, a
//! sender that stopped and restarted) is placed at its arrival time, leaving silence before
//! it. Each channel therefore stays within [`TOLERANCE`] of real time, and the two channels
//! within twice that of each other.
//!
//! Frames older than [`LATENCY`] are final: [`StereoTimeline::drain`] hands them out (later
//! blocks for that span are dropped), so the writer never waits for a silent leg.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Recording rate.
pub const RATE: u32 = 8000;
/// How far a block may be from its track's cursor and still be laid end to end (60 ms).
pub const TOLERANCE: u64 = 480;
/// How long frames stay open for late blocks before they are final.
pub const LATENCY: Duration = Duration::from_millis(200);

/// Where recorded audio comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    VoiceA,
    VoiceB,
    PromptToA,
    PromptToB,
}

impl Track {
    fn index(self) -> usize {
        self as usize
    }

    /// 0 = left (A's side), 1 = right (B's side).
    fn channel(self) -> usize {
        match self {
            Track::VoiceA | Track::PromptToB => 0,
            Track::VoiceB | Track::PromptToA => 1,
        }
    }
}

fn frames_in(duration: Duration) -> u64 {
    (duration.as_micros() * u128::from(RATE) / 1_000_000) as u64
}

/// One recording's open frames.
#[derive(Debug, Clone)]
pub struct StereoTimeline {
    start: Instant,
    /// Frames handed out so far (the index of the first open frame).
    flushed: u64,
    /// Open frames from `flushed` on, `[left, right]`.
    open: VecDeque<[i16; 2]>,
    cursors: [Option<u64>; 4],
}

impl StereoTimeline {
    pub fn new(start: Instant) -> Self {
        StereoTimeline {
            start,
            flushed: 0,
            open: VecDeque::new(),
            cursors: [None; 4],
        }
    }

    /// Frames handed out so far.
    pub fn flushed(&self) -> u64 {
        self.flushed
    }

    /// Mix a block of `track` that arrived at `now`.
    pub fn push(&mut self, track: Track, samples: &[i16], now: Instant) {
        let len = samples.len() as u64;
        let end = frames_in(now.saturating_duration_since(self.start));
        let nominal = end.saturating_sub(len);
        let cursor = match self.cursors[track.index()] {
            Some(cursor) if cursor.abs_diff(nominal) <= TOLERANCE => cursor,
            _ => nominal,
        };
        self.cursors[track.index()] = Some(cursor + len);
        let channel = track.channel();
        // The part before `flushed` is too late: those frames are written already.
        let late = self.flushed.saturating_sub(cursor) as usize;
        let first = cursor.max(self.flushed) - self.flushed;
        for (offset, &sample) in samples.iter().skip(late).enumerate() {
            let index = first as usize + offset;
            if index >= self.open.len() {
                self.open.resize(index + 1, [0, 0]);
            }
            let slot = &mut self.open[index][channel];
            *slot = slot.saturating_add(sample);
        }
    }

    /// Append the frames that are final at `now` to `out` (interleaved left, right).
    pub fn drain(&mut self, now: Instant, out: &mut Vec<i16>) {
        let until = frames_in(
            now.saturating_duration_since(self.start)
                .saturating_sub(LATENCY),
        );
        self.emit_until(until, out);
    }

    /// Append every remaining frame up to `now` (or to the furthest block, if later).
    pub fn finish(&mut self, now: Instant, out: &mut Vec<i16>) {
        let furthest = self.cursors.iter().flatten().copied().max().unwrap_or(0);
        let until = frames_in(now.saturating_duration_since(self.start)).max(furthest);
        self.emit_until(until, out);
    }

    fn emit_until(&mut self, until: u64, out: &mut Vec<i16>) {
        if until <= self.flushed {
            return;
        }
        let count = (until - self.flushed) as usize;
        out.reserve(count * 2);
        for _ in 0..count {
            let [left, right] = self.open.pop_front().unwrap_or([0, 0]);
            out.push(left);
            out.push(right);
        }
        self.flushed = until;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn block(value: i16) -> Vec<i16> {
        vec![value; 160]
    }

    /// The left and right channels of interleaved frames.
    fn split(frames: &[i16]) -> (Vec<i16>, Vec<i16>) {
        (
            frames.iter().step_by(2).copied().collect(),
            frames.iter().skip(1).step_by(2).copied().collect(),
        )
    }

    #[test]
    fn tracks_land_on_their_channels_and_prompts_mix_with_voices() {
        let t0 = Instant::now();
        let mut timeline = StereoTimeline::new(t0);
        timeline.push(Track::VoiceA, &block(100), t0 + ms(20));
        timeline.push(Track::VoiceB, &block(200), t0 + ms(20));
        timeline.push(Track::PromptToA, &block(5), t0 + ms(20));
        timeline.push(Track::PromptToB, &block(i16::MAX), t0 + ms(40));
        timeline.push(Track::VoiceA, &block(100), t0 + ms(40));
        let mut out = Vec::new();
        timeline.finish(t0 + ms(40), &mut out);
        let (left, right) = split(&out);
        assert_eq!(left.len(), 320);
        assert_eq!(&left[..160], &block(100)[..]);
        assert_eq!(&left[160..], &block(i16::MAX)[..], "mixing saturates");
        assert_eq!(&right[..160], &block(205)[..]);
        assert_eq!(&right[160..], &block(0)[..]);
    }

    #[test]
    fn jitter_is_absorbed_and_a_pause_becomes_silence() {
        let t0 = Instant::now();
        let mut timeline = StereoTimeline::new(t0);
        // On time, 5 ms late, then 3 ms early: laid end to end.
        for (i, at) in [20, 45, 57].into_iter().enumerate() {
            timeline.push(Track::VoiceA, &block(i as i16 + 1), t0 + ms(at));
        }
        // A second of silence, then the leg speaks again.
        timeline.push(Track::VoiceA, &block(9), t0 + ms(1080));
        let mut out = Vec::new();
        timeline.finish(t0 + ms(1080), &mut out);
        let (left, _) = split(&out);
        assert_eq!(left.len(), 8640);
        assert_eq!(&left[..480], [block(1), block(2), block(3)].concat());
        assert!(left[480..8480].iter().all(|&s| s == 0));
        assert_eq!(&left[8480..], &block(9)[..]);
    }

    #[test]
    fn frames_become_final_after_the_latency_and_late_blocks_are_cut() {
        let t0 = Instant::now();
        let mut timeline = StereoTimeline::new(t0);
        let mut out = Vec::new();
        timeline.drain(t0 + ms(100), &mut out);
        assert!(out.is_empty(), "nothing is final before the latency");
        timeline.push(Track::VoiceB, &block(7), t0 + ms(20));
        timeline.drain(t0 + ms(300), &mut out);
        assert_eq!(out.len(), 2 * 800, "100 ms are final");
        assert_eq!(timeline.flushed(), 800);
        let (_, right) = split(&out);
        assert_eq!(&right[..160], &block(7)[..]);
        // A block for 80–100 ms arriving now overlaps the written part: only its tail counts.
        timeline.push(Track::VoiceA, &vec![3; 240], t0 + ms(110));
        let mut rest = Vec::new();
        timeline.finish(t0 + ms(300), &mut rest);
        let (left, _) = split(&rest);
        assert_eq!(left.len(), 1600);
        assert_eq!(&left[..80], &vec![3; 80][..]);
        assert!(left[80..].iter().all(|&s| s == 0));
    }
}
