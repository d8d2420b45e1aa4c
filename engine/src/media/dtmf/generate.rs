//! RFC 4733 DTMF generation: the schedule of telephone-event packets for a digit string.
//!
//! For each digit (RFC 4733 §2.5.1): a first packet when the tone starts (the sender sets the
//! marker bit and a new timestamp on it), an update every [`DtmfTiming::update`] while the tone
//! lasts, each carrying the duration so far, then the end packet sent three times
//! ([`DtmfTiming::end_spacing`] apart) so that losing one or two of them does not lose the
//! end. A pause of [`DtmfTiming::gap`] separates digits.
//!
//! The schedule says *when* (as an offset from the start) and *what*; the RTP header
//! (sequence number, timestamp, SSRC, marker) is the sender's stream's business
//! ([`crate::media::splice::OutStream::event`]), which gives all packets of one press the
//! timestamp of its start. Pure.

use std::time::Duration;

use super::{digit_to_event, TelephoneEvent, EVENT_CLOCK_RATE};

/// Most digits accepted in one request.
pub const MAX_DIGITS: usize = 64;

/// How digits are played out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfTiming {
    /// How long each tone lasts (RFC 4733 suggests at least 40 ms; 100 ms is the common
    /// choice of phones).
    pub tone: Duration,
    /// Silence between two tones.
    pub gap: Duration,
    /// Interval between updates while a tone lasts.
    pub update: Duration,
    /// Interval between the three end packets.
    pub end_spacing: Duration,
    /// Power level in −dBm0 (0–63).
    pub volume: u8,
}

impl Default for DtmfTiming {
    fn default() -> Self {
        DtmfTiming {
            tone: Duration::from_millis(100),
            gap: Duration::from_millis(100),
            update: Duration::from_millis(50),
            end_spacing: Duration::from_millis(20),
            volume: 10,
        }
    }
}

/// One packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledEvent {
    /// When to send it, from the start of the schedule.
    pub at: Duration,
    /// The first packet of a press: new timestamp and marker bit.
    pub start: bool,
    pub payload: TelephoneEvent,
}

/// Why digits cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigitsError {
    #[error("{digit:?} is not a DTMF digit (0-9, *, #, A-D)")]
    NotADigit { digit: char },
    #[error("{count} digits; at most {MAX_DIGITS} can be sent at once")]
    TooMany { count: usize },
    #[error("no digits to send")]
    Empty,
}

fn samples(duration: Duration) -> u16 {
    let n = duration.as_micros() * u128::from(EVENT_CLOCK_RATE) / 1_000_000;
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// The packet schedule for `digits`, in sending order.
pub fn schedule(digits: &str, timing: &DtmfTiming) -> Result<Vec<ScheduledEvent>, DigitsError> {
    let count = digits.chars().count();
    if count == 0 {
        return Err(DigitsError::Empty);
    }
    if count > MAX_DIGITS {
        return Err(DigitsError::TooMany { count });
    }
    let codes = digits
        .chars()
        .map(|digit| digit_to_event(digit).ok_or(DigitsError::NotADigit { digit }))
        .collect::<Result<Vec<u8>, _>>()?;
    // A zero update interval would never advance; a tone must last at least one update.
    let update = timing.update.max(Duration::from_millis(10));
    let tone = timing.tone.max(update);
    let volume = timing.volume.min(63);
    let mut out = Vec::new();
    let mut start = Duration::ZERO;
    for event in codes {
        let mut offset = Duration::ZERO;
        while offset < tone {
            out.push(ScheduledEvent {
                at: start + offset,
                start: offset.is_zero(),
                payload: TelephoneEvent {
                    event,
                    end: false,
                    volume,
                    duration: samples((offset + update).min(tone)),
                },
            });
            offset += update;
        }
        for repeat in 0..3 {
            out.push(ScheduledEvent {
                at: start + tone + timing.end_spacing * repeat,
                start: false,
                payload: TelephoneEvent {
                    event,
                    end: true,
                    volume,
                    duration: samples(tone),
                },
            });
        }
        start += tone + timing.end_spacing * 2 + timing.gap;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_digit_is_start_updates_and_three_ends() {
        let Ok(events) = schedule("5", &DtmfTiming::default()) else {
            panic!("5 is a digit");
        };
        let summary: Vec<(u64, bool, bool, u16)> = events
            .iter()
            .map(|e| {
                (
                    e.at.as_millis() as u64,
                    e.start,
                    e.payload.end,
                    e.payload.duration,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (0, true, false, 400),
                (50, false, false, 800),
                (100, false, true, 800),
                (120, false, true, 800),
                (140, false, true, 800),
            ]
        );
        assert!(events
            .iter()
            .all(|e| e.payload.event == 5 && e.payload.volume == 10));
    }

    #[test]
    fn digits_follow_each_other_after_the_gap() {
        let timing = DtmfTiming {
            tone: Duration::from_millis(160),
            ..DtmfTiming::default()
        };
        let Ok(events) = schedule("1#", &timing) else {
            panic!("1# are digits");
        };
        let starts: Vec<(u64, u8)> = events
            .iter()
            .filter(|e| e.start)
            .map(|e| (e.at.as_millis() as u64, e.payload.event))
            .collect();
        // 160 ms tone, ends at 160/180/200, 100 ms gap.
        assert_eq!(starts, [(0, 1), (300, 11)]);
        let durations: Vec<u16> = events.iter().take(4).map(|e| e.payload.duration).collect();
        assert_eq!(durations, [400, 800, 1200, 1280]); // the last update is capped at the tone
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn bad_digit_strings_are_refused() {
        let timing = DtmfTiming::default();
        assert_eq!(
            schedule("12x", &timing),
            Err(DigitsError::NotADigit { digit: 'x' })
        );
        assert_eq!(schedule("", &timing), Err(DigitsError::Empty));
        assert_eq!(
            schedule(&"1".repeat(65), &timing),
            Err(DigitsError::TooMany { count: 65 })
        );
        assert!(schedule("abcd*#0", &timing).is_ok());
    }
}
