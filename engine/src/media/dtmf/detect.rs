//! RFC 4733 DTMF detection: one leg's telephone-event packets in, each key press out once.
//!
//! # How a press is recognised
//!
//! Every packet of one event carries the event's start **timestamp**; a new press gets a new
//! timestamp (RFC 4733 §2.5.1.2), also when the same key is pressed twice. So an event is
//! identified by `(timestamp, event code)`, and a digit is reported the first time a packet
//! with a new identity arrives, whichever packet of the event that is:
//!
//! * the start packet, the updates, and the three redundant end packets all share the identity:
//!   one report;
//! * a lost start packet: the first update or end packet reports it (a press seen only through
//!   its end packets still counts);
//! * duplicates and reordering: identities already seen are remembered ([`REMEMBERED`] of
//!   them), so late or repeated packets change nothing;
//! * packets much older than the newest sequence number seen (more than [`REORDER_WINDOW`]
//!   behind) are stale and ignored, so a press forgotten long ago cannot come back; a jump
//!   back of more than [`RESTART_GAP`] is taken as a sender that restarted its numbering.
//!
//! A report happens on the first packet rather than on the end packet so that digit collection
//! reacts at once and a press whose end packets are all lost is not missed.
//!
//! A change of SSRC means a new sender (e.g. a transferred leg): the memory starts afresh.
//!
//! Pure; the caller hands over packets whose payload type is the leg's telephone-event type.

use rtp_rs::RtpReader;

use super::{event_to_digit, TelephoneEvent};

/// How many recent events are remembered for duplicate detection.
pub const REMEMBERED: usize = 16;
/// How far (in sequence numbers) a packet may arrive behind the newest one and still count.
pub const REORDER_WINDOW: u16 = 64;
/// A jump back larger than this is a sender that restarted, not a late packet.
pub const RESTART_GAP: u16 = 1000;

/// The telephone-event detector of one leg.
#[derive(Debug, Clone, Default)]
pub struct DtmfDetector {
    ssrc: Option<u32>,
    highest_seq: Option<u16>,
    /// `(timestamp, event)` of recent events, a ring.
    seen: [Option<(u32, u8)>; REMEMBERED],
    next_slot: usize,
}

impl DtmfDetector {
    pub fn new() -> Self {
        DtmfDetector::default()
    }

    /// A whole RTP packet (already known to carry the telephone-event payload type).
    pub fn on_rtp(&mut self, packet: &[u8]) -> Option<char> {
        let reader = RtpReader::new(packet).ok()?;
        self.on_event(
            reader.ssrc(),
            u16::from(reader.sequence_number()),
            reader.timestamp(),
            reader.payload(),
        )
    }

    /// The fields of one telephone-event packet; the digit if this packet is the first seen of
    /// a new press.
    pub fn on_event(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        payload: &[u8],
    ) -> Option<char> {
        if self.ssrc != Some(ssrc) {
            *self = DtmfDetector {
                ssrc: Some(ssrc),
                ..DtmfDetector::default()
            };
        }
        if !self.in_window(seq) {
            return None;
        }
        let event = TelephoneEvent::parse(payload)?;
        let digit = event_to_digit(event.event)?;
        let identity = (timestamp, event.event);
        if self.seen.contains(&Some(identity)) {
            return None;
        }
        self.seen[self.next_slot] = Some(identity);
        self.next_slot = (self.next_slot + 1) % REMEMBERED;
        Some(digit)
    }

    /// Track the newest sequence number; `false` for a stale packet.
    fn in_window(&mut self, seq: u16) -> bool {
        let Some(highest) = self.highest_seq else {
            self.highest_seq = Some(seq);
            return true;
        };
        let behind = highest.wrapping_sub(seq);
        if behind == 0 || behind > u16::MAX / 2 {
            // Ahead of (or equal to) the newest: it becomes the newest.
            self.highest_seq = Some(seq);
            true
        } else if behind <= REORDER_WINDOW {
            true
        } else if behind > RESTART_GAP {
            self.highest_seq = Some(seq);
            self.seen = [None; REMEMBERED];
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::dtmf::digit_to_event;
    use crate::media::dtmf::generate::{schedule, DtmfTiming};

    const SSRC: u32 = 0x1234_5678;

    /// The packets a well-behaved sender emits for `digits`: (seq, timestamp, payload).
    fn packets(digits: &str, first_seq: u16, first_ts: u32) -> Vec<(u16, u32, [u8; 4])> {
        let timing = DtmfTiming::default();
        let Ok(events) = schedule(digits, &timing) else {
            panic!("bad digits {digits}");
        };
        let mut ts = first_ts;
        let mut out = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if e.start {
                // New press: a new timestamp (its start time on the 8 kHz clock).
                ts = first_ts.wrapping_add((e.at.as_millis() as u32) * 8);
            }
            out.push((first_seq.wrapping_add(i as u16), ts, e.payload.to_bytes()));
        }
        out
    }

    fn detect(detector: &mut DtmfDetector, packets: &[(u16, u32, [u8; 4])]) -> String {
        packets
            .iter()
            .filter_map(|(seq, ts, payload)| detector.on_event(SSRC, *seq, *ts, payload))
            .collect()
    }

    #[test]
    fn each_press_is_reported_once_despite_updates_and_three_end_packets() {
        let sent = packets("123#", 100, 5000);
        // Each digit: updates every 50 ms of a 100 ms tone (2) + 3 end packets.
        assert_eq!(sent.len(), 4 * 5);
        assert_eq!(detect(&mut DtmfDetector::new(), &sent), "123#");
    }

    #[test]
    fn duplicated_packets_change_nothing() {
        let sent = packets("59", 7, 0);
        let doubled: Vec<_> = sent.iter().flat_map(|p| [*p, *p]).collect();
        assert_eq!(detect(&mut DtmfDetector::new(), &doubled), "59");
    }

    #[test]
    fn a_press_seen_only_through_its_end_packets_counts() {
        let sent = packets("42", 10, 800);
        // Lose everything but the end packets of the first press, and its first end packet.
        let lossy: Vec<_> = sent
            .iter()
            .enumerate()
            .filter(|(i, (_, _, p))| *i >= 5 || (p[1] & 0x80 != 0 && *i != 2))
            .map(|(_, p)| *p)
            .collect();
        assert_eq!(lossy.len(), 2 + 5);
        assert_eq!(detect(&mut DtmfDetector::new(), &lossy), "42");
    }

    #[test]
    fn reordering_within_the_window_reports_each_press_once_in_order() {
        let sent = packets("78", 65_530, 1_000); // the sequence numbers wrap too
        let mut shuffled = sent.clone();
        // End packets before the start, and an update after the end.
        shuffled.swap(0, 3);
        shuffled.swap(1, 4);
        shuffled.swap(6, 9);
        assert_eq!(detect(&mut DtmfDetector::new(), &shuffled), "78");
    }

    #[test]
    fn the_same_key_twice_is_two_presses() {
        let sent = packets("55", 0, 0);
        assert_ne!(sent[0].1, sent[5].1, "two presses, two timestamps");
        assert_eq!(detect(&mut DtmfDetector::new(), &sent), "55");
    }

    #[test]
    fn stale_packets_are_ignored_and_a_restart_is_followed() {
        let mut detector = DtmfDetector::new();
        let five = digit_to_event('5').map(|e| [e, 0x8A, 0, 160]);
        let Some(five) = five else { panic!() };
        assert_eq!(detector.on_event(SSRC, 500, 8000, &five), Some('5'));
        assert_eq!(
            detector.on_event(SSRC, 600, 16_000, &[6, 0x8A, 0, 160]),
            Some('6')
        );
        // A packet of an event never seen, 200 behind the newest: stale.
        assert_eq!(detector.on_event(SSRC, 400, 4000, &[7, 0x8A, 0, 160]), None);
        // 3000 behind: the sender restarted its numbering.
        assert_eq!(detector.on_event(SSRC, 63_000, 100, &five), Some('5'));
        // A new SSRC is a new sender: its first press counts even with an old identity.
        assert_eq!(detector.on_event(SSRC + 1, 63_001, 100, &five), Some('5'));
    }

    #[test]
    fn non_digit_events_and_short_payloads_are_not_digits() {
        let mut detector = DtmfDetector::new();
        assert_eq!(detector.on_event(SSRC, 1, 0, &[16, 0x8A, 0, 160]), None); // flash
        assert_eq!(detector.on_event(SSRC, 2, 0, &[1, 0x8A]), None);
    }

    #[test]
    fn whole_rtp_packets_are_read() {
        let mut packet = [0u8; 16];
        packet[0] = 0x80;
        packet[1] = 0x80 | 101;
        packet[2..4].copy_from_slice(&9u16.to_be_bytes());
        packet[4..8].copy_from_slice(&160u32.to_be_bytes());
        packet[8..12].copy_from_slice(&SSRC.to_be_bytes());
        packet[12..].copy_from_slice(&[11, 0x0A, 0, 160]);
        let mut detector = DtmfDetector::new();
        assert_eq!(detector.on_rtp(&packet), Some('#'));
        assert_eq!(detector.on_rtp(&packet), None);
        assert_eq!(detector.on_rtp(&packet[..8]), None);
    }
}
