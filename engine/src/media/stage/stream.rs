//! A `stream`'s side of the stages: tapping the legs' audio into 20 ms frames for the
//! session, and taking what the agent sent from the playout queue at the pace of a prompt.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::play::{FRAME, FRAME_TIME};
use crate::media::codec::AudioCodec;
use crate::media::control::Leg;
use crate::media::stream::{Playout, Tap};

/// If the media task falls this far behind, the stream's clock restarts from now instead of
/// sending a burst.
const MAX_LAG: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Debug, Clone)]
pub(super) struct StreamStage {
    pub id: u64,
    tracks: [bool; 2],
    acc: [[i16; FRAME]; 2],
    fill: [usize; 2],
    tap: tokio::sync::mpsc::Sender<Tap>,
    playout: Arc<Mutex<Playout>>,
    pub next_at: Instant,
    /// The agent's audio is going to the caller (relayed audio to the caller is held).
    pub playing: bool,
}

impl StreamStage {
    pub fn new(
        id: u64,
        tracks: [bool; 2],
        tap: tokio::sync::mpsc::Sender<Tap>,
        playout: Arc<Mutex<Playout>>,
        now: Instant,
    ) -> Self {
        StreamStage {
            id,
            tracks,
            acc: [[0; FRAME]; 2],
            fill: [0; 2],
            tap,
            playout,
            next_at: now + FRAME_TIME,
            playing: false,
        }
    }

    fn send(&self, item: Tap) {
        if self.tap.try_send(item).is_err() {
            crate::metrics::metrics().stream_frames_dropped.inc();
        }
    }

    /// An audio payload from `leg` in `law`: decoded into frames for the session.
    pub fn tap(&mut self, leg: Leg, law: AudioCodec, payload: &[u8]) {
        let i = leg.index();
        if !self.tracks[i] {
            return;
        }
        for &code in payload {
            self.acc[i][self.fill[i]] = law.decode(code);
            self.fill[i] += 1;
            if self.fill[i] == FRAME {
                self.fill[i] = 0;
                self.send(Tap::Audio {
                    leg,
                    samples: self.acc[i],
                });
            }
        }
    }

    pub fn digit(&self, leg: Leg, digit: char) {
        if self.tracks[leg.index()] {
            self.send(Tap::Digit { leg, digit });
        }
    }

    /// The frame due at `now` for the caller, if the agent queued one.
    pub fn due(&mut self, now: Instant, frame: &mut [i16; FRAME]) -> bool {
        if now < self.next_at {
            return false;
        }
        self.next_at = if now.duration_since(self.next_at) > MAX_LAG {
            now + FRAME_TIME
        } else {
            self.next_at + FRAME_TIME
        };
        let mut playout = self.playout.lock().unwrap_or_else(|p| p.into_inner());
        let got = playout.take(frame);
        self.playing = playout.is_playing() || got;
        got
    }
}
