//! What ringmaster sends to a leg on its own: a prompt being played, DTMF digits being sent.
//! Both are paced by the instants they are due at, which [`super::Stages::poll_timeout`]
//! reports and the forwarder sleeps until. Pure.

use std::time::{Duration, Instant};

use crate::media::dtmf::ScheduledEvent;
use crate::media::prompt::Audio;

/// Samples per packet: 20 ms at 8 kHz.
pub const FRAME: usize = 160;
/// The packet interval.
pub const FRAME_TIME: Duration = Duration::from_millis(20);
/// Packets sent in one go to catch up after the task was held up; past that the prompt
/// resumes from now instead of flooding the receiver's jitter buffer.
pub const MAX_BURST: usize = 5;

/// A prompt playing to one leg.
#[derive(Debug, Clone)]
pub(super) struct Player {
    pub id: u64,
    audio: Audio,
    position: usize,
    pub next_at: Instant,
}

impl Player {
    pub fn new(id: u64, audio: Audio, now: Instant) -> Self {
        Player {
            id,
            audio,
            position: 0,
            next_at: now,
        }
    }

    /// The next 20 ms frame if it is due at `now` (the last one padded with silence).
    pub fn due(&mut self, now: Instant, burst: usize, frame: &mut [i16; FRAME]) -> bool {
        if self.is_done() || self.next_at > now {
            return false;
        }
        if burst >= MAX_BURST {
            self.next_at = now + FRAME_TIME;
            return false;
        }
        let end = (self.position + FRAME).min(self.audio.len());
        let chunk = &self.audio[self.position..end];
        frame[..chunk.len()].copy_from_slice(chunk);
        frame[chunk.len()..].fill(0);
        self.position = end;
        self.next_at += FRAME_TIME;
        true
    }

    pub fn is_done(&self) -> bool {
        self.position >= self.audio.len()
    }
}

/// DTMF digits going out to one leg.
#[derive(Debug, Clone)]
pub(super) struct DtmfSender {
    events: Vec<ScheduledEvent>,
    next: usize,
    start: Instant,
}

impl DtmfSender {
    pub fn new(events: Vec<ScheduledEvent>, now: Instant) -> Self {
        DtmfSender {
            events,
            next: 0,
            start: now,
        }
    }

    /// Queue more digits `gap` after the last packet scheduled.
    pub fn append(&mut self, more: Vec<ScheduledEvent>, gap: Duration) {
        let offset = self.events.last().map_or(Duration::ZERO, |e| e.at + gap);
        self.events.extend(more.into_iter().map(|e| ScheduledEvent {
            at: e.at + offset,
            ..e
        }));
    }

    /// The next packet if it is due at `now`.
    pub fn due(&mut self, now: Instant) -> Option<ScheduledEvent> {
        let event = *self.events.get(self.next)?;
        if self.start + event.at > now {
            return None;
        }
        self.next += 1;
        Some(event)
    }

    pub fn next_at(&self) -> Option<Instant> {
        self.events.get(self.next).map(|e| self.start + e.at)
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::dtmf::{schedule, DtmfTiming};

    #[test]
    fn a_player_hands_out_frames_on_time_and_pads_the_last() {
        let t0 = Instant::now();
        let audio: Audio = (0..400).map(|i| i as i16 + 1).collect::<Vec<_>>().into();
        let mut player = Player::new(7, audio, t0);
        let mut frame = [0i16; FRAME];
        assert!(player.due(t0, 0, &mut frame));
        assert_eq!((frame[0], frame[159]), (1, 160));
        assert!(!player.due(t0 + Duration::from_millis(19), 0, &mut frame));
        assert!(player.due(t0 + Duration::from_millis(20), 0, &mut frame));
        assert!(player.due(t0 + Duration::from_millis(40), 0, &mut frame));
        assert_eq!((frame[0], frame[79], frame[80]), (321, 400, 0));
        assert!(player.is_done());
        assert!(!player.due(t0 + Duration::from_secs(1), 0, &mut frame));
    }

    #[test]
    fn a_late_player_catches_up_a_little_then_resumes_from_now() {
        let t0 = Instant::now();
        let audio: Audio = vec![1i16; 8000].into();
        let mut player = Player::new(1, audio, t0);
        let mut frame = [0i16; FRAME];
        let late = t0 + Duration::from_millis(500);
        let sent = (0..)
            .take_while(|&burst| player.due(late, burst, &mut frame))
            .count();
        assert_eq!(sent, MAX_BURST);
        assert_eq!(player.next_at, late + FRAME_TIME);
    }

    #[test]
    fn dtmf_packets_come_due_in_order_and_queued_digits_follow() {
        let t0 = Instant::now();
        let timing = DtmfTiming::default();
        let (Ok(one), Ok(two)) = (schedule("1", &timing), schedule("2", &timing)) else {
            panic!("digits");
        };
        let mut sender = DtmfSender::new(one, t0);
        sender.append(two, timing.gap);
        let mut sent = Vec::new();
        for ms in (0..=400).step_by(10) {
            while let Some(e) = sender.due(t0 + Duration::from_millis(ms)) {
                sent.push((ms, e.payload.event, e.start));
            }
        }
        assert!(sender.is_done());
        assert_eq!(sent.len(), 10);
        assert_eq!(sent[0], (0, 1, true));
        // The second digit starts a gap after the first one's last end packet (140 ms).
        assert_eq!(sent[5], (240, 2, true));
        assert_eq!(sender.next_at(), None);
    }
}
