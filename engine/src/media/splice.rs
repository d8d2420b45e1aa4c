//! One outgoing RTP stream per leg, whatever feeds it: relayed packets from the other leg,
//! prompts ringmaster plays, DTMF events it sends. Pure; time is passed in.
//!
//! A receiver sees one stream with one SSRC whose sequence numbers have no jumps and whose
//! timestamps follow the audio's real time, also when the source switches between relayed and
//! injected audio. The rules:
//!
//! 1. **SSRC.** The stream's SSRC is the one given at creation, unless the very first packet
//!    out is relayed: then the stream adopts that packet's SSRC, sequence number and timestamp,
//!    so a call in which ringmaster never injects anything is relayed bit for bit.
//! 2. **Segments.** The stream is a run of segments, each from one source: a relayed sender
//!    (identified by its SSRC), our own audio, or one of our DTMF events. A new segment starts
//!    with the next sequence number and with the timestamp the previous packet's audio ends at
//!    (`ts + samples`), or later if more real time than that has passed since it was sent
//!    (the receiver then plays the pause as a pause). Its first packet carries the marker bit
//!    (RFC 3551 §4.1: the start of a talkspurt).
//! 3. **Relayed packets** are rewritten by the segment's fixed offsets (`seq + Δseq`,
//!    `ts + Δts`, our SSRC), so the sender's own gaps (loss) and reordering pass through as
//!    they were. A relayed packet older than its segment's first packet would land on numbers
//!    the previous segment used: it is dropped.
//! 4. **Our audio** advances the timestamp by the samples of each packet; **our DTMF event**
//!    keeps the timestamp of its start on every packet (RFC 4733 §2.5.1.2).
//!
//! The forwarder calls [`OutStream::relay`] on each relayed packet (in place, no allocation)
//! and [`OutStream::audio`] / [`OutStream::event`] for each packet it originates.
//!
//! RTCP is relayed unchanged. Thanks to rule 1 a call that starts bridged keeps the sender's
//! SSRC for good, so the sender reports relayed to the receiver still name the stream it
//! receives; only their RTP-timestamp mapping is off by the offsets once ringmaster has
//! spliced something in.

use std::time::{Duration, Instant};

/// The RTP clock of G.711 and telephone-events.
const CLOCK_RATE: u64 = 8000;
/// How far behind the newest packet of a segment a relayed packet may be and still be sent
/// (reordering); older ones are stale. Also keeps a segment's start within comparison range
/// of 16-bit sequence numbers however long the segment runs.
const REORDER_SPAN: u16 = 0x4000;

/// The header fields of a packet ringmaster originates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
}

impl Header {
    /// Write a 12-byte RTP header (version 2, no padding, extension or CSRCs).
    pub fn write(&self, payload_type: u8, out: &mut [u8; 12]) {
        out[0] = 0x80;
        out[1] = (u8::from(self.marker) << 7) | (payload_type & 0x7F);
        out[2..4].copy_from_slice(&self.seq.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
    }
}

/// The newest packet sent: where the next segment's timestamp continues from.
#[derive(Debug, Clone, Copy)]
struct Sent {
    timestamp: u32,
    at: Instant,
    samples: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    /// Nothing sent yet.
    Fresh,
    Relay {
        source: u32,
        first_seq: u16,
        seq_offset: u16,
        ts_offset: u32,
    },
    Audio,
    Event {
        timestamp: u32,
    },
}

/// The outgoing stream towards one leg.
#[derive(Debug, Clone)]
pub struct OutStream {
    ssrc: u32,
    next_seq: u16,
    /// The timestamp of the first packet if we originate it.
    first_timestamp: u32,
    last: Option<Sent>,
    segment: Segment,
}

impl OutStream {
    /// A stream that will use `ssrc`, `first_seq` and `first_timestamp` if it originates its
    /// first packet (RFC 3550 wants all three random).
    pub fn new(ssrc: u32, first_seq: u16, first_timestamp: u32) -> Self {
        OutStream {
            ssrc,
            next_seq: first_seq,
            first_timestamp,
            last: None,
            segment: Segment::Fresh,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Rewrite a relayed RTP packet in place (sequence number, timestamp, SSRC, marker).
    /// `samples` is the audio it carries (its payload length for G.711, the event duration
    /// for a telephone-event). `false`: drop it (too short, or older than its segment).
    pub fn relay(&mut self, packet: &mut [u8], samples: u32, now: Instant) -> bool {
        if packet.len() < 12 {
            return false;
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let source = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let (first_seq, seq_offset, ts_offset) = match self.segment {
            Segment::Relay {
                source: current,
                first_seq,
                seq_offset,
                ts_offset,
            } if current == source => (first_seq, seq_offset, ts_offset),
            Segment::Fresh => {
                // Rule 1: adopt the first sender's numbering; the packet passes unchanged.
                self.ssrc = source;
                self.next_seq = seq;
                self.start_relay(source, seq, 0, 0)
            }
            _ => {
                let seq_offset = self.next_seq.wrapping_sub(seq);
                let ts_offset = self.continued_timestamp(now).wrapping_sub(timestamp);
                packet[1] |= 0x80;
                self.start_relay(source, seq, seq_offset, ts_offset)
            }
        };
        if seq.wrapping_sub(first_seq) > u16::MAX / 2 {
            return false;
        }
        // The floor of the segment follows the newest packet, so that after 32 768 packets a
        // 16-bit comparison with it still means "older".
        if seq.wrapping_sub(first_seq) > REORDER_SPAN {
            if let Segment::Relay { first_seq, .. } = &mut self.segment {
                *first_seq = seq.wrapping_sub(REORDER_SPAN);
            }
        }
        let out_seq = seq.wrapping_add(seq_offset);
        let out_ts = timestamp.wrapping_add(ts_offset);
        packet[2..4].copy_from_slice(&out_seq.to_be_bytes());
        packet[4..8].copy_from_slice(&out_ts.to_be_bytes());
        packet[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        // Only the newest packet moves the stream on; a late one fills its own gap.
        if out_seq.wrapping_sub(self.next_seq) <= u16::MAX / 2 {
            self.next_seq = out_seq.wrapping_add(1);
            self.last = Some(Sent {
                timestamp: out_ts,
                at: now,
                samples,
            });
        }
        true
    }

    /// The header of the next packet of our own audio, carrying `samples` samples.
    pub fn audio(&mut self, samples: u32, now: Instant) -> Header {
        let (timestamp, marker) = match (self.segment, self.last) {
            (Segment::Audio, Some(last)) => (last.timestamp.wrapping_add(last.samples), false),
            _ => (self.continued_timestamp(now), true),
        };
        self.segment = Segment::Audio;
        self.originate(timestamp, marker, samples, now)
    }

    /// The header of the next packet of a DTMF event we send; `start` for its first packet
    /// (a new press: new timestamp, marker bit).
    pub fn event(&mut self, start: bool, now: Instant) -> Header {
        match self.segment {
            Segment::Event { timestamp } if !start => {
                let header = Header {
                    ssrc: self.ssrc,
                    seq: self.next_seq,
                    timestamp,
                    marker: false,
                };
                self.next_seq = self.next_seq.wrapping_add(1);
                header
            }
            _ => {
                let timestamp = self.continued_timestamp(now);
                self.segment = Segment::Event { timestamp };
                // The event's audio runs from its start until the next segment: `samples` 0
                // and the start time make the next segment continue from real time.
                self.originate(timestamp, true, 0, now)
            }
        }
    }

    fn start_relay(
        &mut self,
        source: u32,
        first_seq: u16,
        seq_offset: u16,
        ts_offset: u32,
    ) -> (u16, u16, u32) {
        self.segment = Segment::Relay {
            source,
            first_seq,
            seq_offset,
            ts_offset,
        };
        (first_seq, seq_offset, ts_offset)
    }

    fn originate(&mut self, timestamp: u32, marker: bool, samples: u32, now: Instant) -> Header {
        let header = Header {
            ssrc: self.ssrc,
            seq: self.next_seq,
            timestamp,
            marker,
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        self.last = Some(Sent {
            timestamp,
            at: now,
            samples,
        });
        header
    }

    /// Rule 2: where a new segment's timestamp starts.
    fn continued_timestamp(&self, now: Instant) -> u32 {
        let Some(last) = self.last else {
            return self.first_timestamp;
        };
        let elapsed = samples_in(now.saturating_duration_since(last.at));
        last.timestamp.wrapping_add(last.samples.max(elapsed))
    }
}

/// A duration on the 8 kHz clock, rounded to whole 20 ms packets so that receivers that
/// expect multiples of the packet time get them.
fn samples_in(duration: Duration) -> u32 {
    let samples = duration.as_micros() as u64 * CLOCK_RATE / 1_000_000;
    let packets = (samples + 80) / 160;
    u32::try_from(packets * 160).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
