//! DTMF over RTP (RFC 4733 telephone-events) and over SIP INFO, pure.
//!
//! * [`detect`]: a detector fed the telephone-event packets of one leg; it reports each key
//!   press once, whatever the network did to its packets.
//! * [`generate`]: the packet schedule for sending digits (start, updates, three end packets).
//! * [`info`]: the bodies of SIP INFO `application/dtmf-relay` and `application/dtmf`.
//!
//! This file holds the vocabulary they share: the 16 DTMF events and the 4-byte
//! telephone-event payload (RFC 4733 §2.3).

pub mod detect;
pub mod generate;
pub mod info;

pub use detect::DtmfDetector;
pub use generate::{schedule, DigitsError, DtmfTiming, ScheduledEvent};
pub use info::{parse_info, InfoDigit, InfoError};

/// The RTP clock of telephone-events negotiated with G.711 (`telephone-event/8000`).
pub const EVENT_CLOCK_RATE: u32 = 8000;

/// The DTMF digit for RFC 4733 event codes 0–15 (`0`–`9`, `*`, `#`, `A`–`D`); other events
/// (flash, fax tones, …) are not digits.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The RFC 4733 event code of a DTMF digit (`a`–`d` accepted as `A`–`D`).
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

/// The payload of one telephone-event packet (RFC 4733 §2.3):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// |     event     |E|R| volume    |          duration             |
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in −dBm0 (0–63).
    pub volume: u8,
    /// Duration so far, in timestamp units (8 kHz samples).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Read the first event of a payload; `None` if shorter than 4 bytes. (Several events in
    /// one packet are legal but unused for DTMF; the first is the one that matters.)
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let [event, flags, hi, lo, ..] = *payload else {
            return None;
        };
        Some(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([hi, lo]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let flags = (u8::from(self.end) << 7) | (self.volume & 0x3F);
        let [hi, lo] = self.duration.to_be_bytes();
        [self.event, flags, hi, lo]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixteen_digits_map_both_ways() {
        let digits = "0123456789*#ABCD";
        for (code, digit) in digits.chars().enumerate() {
            assert_eq!(event_to_digit(code as u8), Some(digit));
            assert_eq!(digit_to_event(digit), Some(code as u8));
        }
        assert_eq!(digit_to_event('b'), Some(13));
        assert_eq!(event_to_digit(16), None); // flash
        assert_eq!(digit_to_event('E'), None);
        assert_eq!(digit_to_event(' '), None);
    }

    #[test]
    fn payload_round_trips() {
        let end = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1280,
        };
        assert_eq!(end.to_bytes(), [11, 0x8A, 0x05, 0x00]);
        assert_eq!(TelephoneEvent::parse(&end.to_bytes()), Some(end));
        // The reserved bit is ignored; a short payload is not an event.
        assert_eq!(
            TelephoneEvent::parse(&[5, 0x4A, 0, 160]).map(|e| (e.end, e.volume)),
            Some((false, 10))
        );
        assert_eq!(TelephoneEvent::parse(&[5, 0, 0]), None);
    }
}
