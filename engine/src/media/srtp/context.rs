//! The two crypto contexts of a direction: [`Sender`] (protect) and [`Receiver`] (unprotect),
//! each with its per-SSRC index state.

use super::keys::{SessionKeys, RTCP_LABELS, RTP_LABELS};
use super::{MasterKey, SrtpError, Suite, SRTCP_OVERHEAD};

/// SSRCs tracked per direction.
pub const MAX_STREAMS: usize = 8;
/// Replay window in packets (RFC 3711 §3.3.2 asks for at least 64).
const WINDOW: u64 = 64;
const SRTCP_TAG: usize = 10;
/// The E flag of the SRTCP index word: the payload is encrypted.
const E_FLAG: u32 = 0x8000_0000;

/// The highest packet index seen on a stream and which of the 64 below it were seen (bit n
/// stands for `highest - n`). For SRTP the index is ROC·2¹⁶ + SEQ, so the rollover counter
/// and the highest sequence number s_l of §3.3.1 are its two halves.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    highest: u64,
    seen: u64,
}

impl Window {
    fn first(index: u64) -> Self {
        Window {
            highest: index,
            seen: 0,
        }
    }

    /// The index of `seq` by the estimate of RFC 3711 §3.3.1 (Appendix A); `None` for a
    /// packet from before the stream's first rollover counter (it would need ROC −1).
    fn estimate(&self, seq: u16) -> Option<u64> {
        let roc = self.highest >> 16;
        let s_l = self.highest as u16;
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                roc.checked_sub(1)?
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        // The ROC is 32 bits; past it the key must change (never, at 50 packets a second).
        (v <= u64::from(u32::MAX)).then_some((v << 16) | u64::from(seq))
    }

    fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.highest {
            return Ok(());
        }
        let behind = self.highest - index;
        if behind >= WINDOW || self.seen & (1 << behind) != 0 {
            return Err(SrtpError::Replay);
        }
        Ok(())
    }

    fn accept(&mut self, index: u64) {
        if index > self.highest {
            let shift = index - self.highest;
            self.seen = if shift >= WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.highest = index;
            self.seen |= 1;
        } else {
            self.seen |= 1 << (self.highest - index);
        }
    }
}

/// A small SSRC → state table with least-recently-used replacement; fixed size, no
/// allocation after construction.
#[derive(Debug, Clone, Default)]
struct Streams {
    slots: [Option<(u32, Window, u64)>; MAX_STREAMS],
    clock: u64,
}

impl Streams {
    fn get(&self, ssrc: u32) -> Option<Window> {
        self.slots
            .iter()
            .flatten()
            .find(|(s, _, _)| *s == ssrc)
            .map(|(_, w, _)| *w)
    }

    fn put(&mut self, ssrc: u32, window: Window) {
        self.clock += 1;
        let clock = self.clock;
        if let Some(slot) = self.slots.iter_mut().flatten().find(|(s, _, _)| *s == ssrc) {
            *slot = (ssrc, window, clock);
            return;
        }
        let free = self
            .slots
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                let used = |i: &usize| self.slots[*i].map_or(0, |(_, _, at)| at);
                (0..MAX_STREAMS).min_by_key(used).unwrap_or(0)
            });
        self.slots[free] = Some((ssrc, window, clock));
    }
}

/// The RTP header length (fixed part, CSRCs, extension) if `packet` holds at least that.
fn rtp_header_len(packet: &[u8]) -> Result<usize, SrtpError> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return Err(SrtpError::Malformed);
    }
    let mut len = 12 + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        let words = packet.get(len + 2..len + 4).ok_or(SrtpError::Malformed)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if len > packet.len() {
        return Err(SrtpError::Malformed);
    }
    Ok(len)
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Protects what ringmaster sends to an SRTP leg.
#[derive(Clone)]
pub struct Sender {
    rtp: SessionKeys,
    rtcp: SessionKeys,
    tag_len: usize,
    streams: Streams,
    /// The next SRTCP index, shared by every SSRC sent (unique per (SSRC, index) either way).
    rtcp_index: u32,
}

impl Sender {
    pub fn new(suite: Suite, master: &MasterKey) -> Self {
        Sender {
            rtp: SessionKeys::derive(master, RTP_LABELS),
            rtcp: SessionKeys::derive(master, RTCP_LABELS),
            tag_len: suite.rtp_tag_len(),
            streams: Streams::default(),
            rtcp_index: 0,
        }
    }

    /// Encrypt and authenticate the RTP packet `buf[..len]` in place; the tag goes behind it.
    /// Returns the SRTP length.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let packet = buf.get(..len).ok_or(SrtpError::Malformed)?;
        let header = rtp_header_len(packet)?;
        if buf.len() < len + self.tag_len {
            return Err(SrtpError::NoRoom);
        }
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ssrc = be32(&buf[8..12]);
        let mut window = self
            .streams
            .get(ssrc)
            .unwrap_or(Window::first(u64::from(seq)));
        // A packet sent late (behind a rollover) still gets its own index; one from before
        // the stream began cannot have one.
        let index = window.estimate(seq).ok_or(SrtpError::Replay)?;
        window.accept(index);
        self.streams.put(ssrc, window);
        self.rtp.apply(ssrc, index, &mut buf[header..len]);
        let roc = ((index >> 16) as u32).to_be_bytes();
        let tag = self.rtp.tag(&buf[..len], &roc);
        buf[len..len + self.tag_len].copy_from_slice(&tag[..self.tag_len]);
        Ok(len + self.tag_len)
    }

    /// Encrypt and authenticate the RTCP compound packet `buf[..len]` in place; the E‖index
    /// word and the tag go behind it. Returns the SRTCP length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        if len < 8 || len > buf.len() || buf[0] >> 6 != 2 {
            return Err(SrtpError::Malformed);
        }
        if buf.len() < len + SRTCP_OVERHEAD {
            return Err(SrtpError::NoRoom);
        }
        if self.rtcp_index >= E_FLAG {
            return Err(SrtpError::Exhausted);
        }
        let index = self.rtcp_index;
        self.rtcp_index += 1;
        let ssrc = be32(&buf[4..8]);
        self.rtcp.apply(ssrc, u64::from(index), &mut buf[8..len]);
        buf[len..len + 4].copy_from_slice(&(E_FLAG | index).to_be_bytes());
        let tag = self.rtcp.tag(&buf[..len + 4], &[]);
        buf[len + 4..len + SRTCP_OVERHEAD].copy_from_slice(&tag[..SRTCP_TAG]);
        Ok(len + SRTCP_OVERHEAD)
    }
}

/// Checks and decrypts what an SRTP leg sends ringmaster.
#[derive(Clone)]
pub struct Receiver {
    rtp: SessionKeys,
    rtcp: SessionKeys,
    tag_len: usize,
    streams: Streams,
    rtcp_streams: Streams,
}

impl Receiver {
    pub fn new(suite: Suite, master: &MasterKey) -> Self {
        Receiver {
            rtp: SessionKeys::derive(master, RTP_LABELS),
            rtcp: SessionKeys::derive(master, RTCP_LABELS),
            tag_len: suite.rtp_tag_len(),
            streams: Streams::default(),
            rtcp_streams: Streams::default(),
        }
    }

    /// Verify and decrypt the SRTP packet `buf` in place; returns the RTP length.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let len = buf
            .len()
            .checked_sub(self.tag_len)
            .ok_or(SrtpError::Malformed)?;
        let header = rtp_header_len(&buf[..len])?;
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ssrc = be32(&buf[8..12]);
        // A new SSRC starts at ROC 0 with its first sequence number (§3.3.1).
        let mut window = self
            .streams
            .get(ssrc)
            .unwrap_or(Window::first(u64::from(seq)));
        let index = window.estimate(seq).ok_or(SrtpError::Replay)?;
        window.check(index)?;
        let roc = ((index >> 16) as u32).to_be_bytes();
        let (packet, tag) = buf.split_at_mut(len);
        if !self.rtp.verify(packet, &roc, tag) {
            return Err(SrtpError::Auth);
        }
        self.rtp.apply(ssrc, index, &mut packet[header..]);
        window.accept(index);
        self.streams.put(ssrc, window);
        Ok(len)
    }

    /// Verify and decrypt the SRTCP packet `buf` in place; returns the RTCP length.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let signed = buf
            .len()
            .checked_sub(SRTCP_TAG)
            .filter(|n| *n >= 8 + 4)
            .ok_or(SrtpError::Malformed)?;
        if buf[0] >> 6 != 2 {
            return Err(SrtpError::Malformed);
        }
        let len = signed - 4;
        let word = be32(&buf[len..signed]);
        let index = u64::from(word & !E_FLAG);
        let ssrc = be32(&buf[4..8]);
        let mut window = self.rtcp_streams.get(ssrc).unwrap_or(Window::first(index));
        window.check(index)?;
        let (packet, tag) = buf.split_at_mut(signed);
        if !self.rtcp.verify(packet, &[], tag) {
            return Err(SrtpError::Auth);
        }
        if word & E_FLAG != 0 {
            self.rtcp.apply(ssrc, index, &mut packet[8..len]);
        }
        window.accept(index);
        self.rtcp_streams.put(ssrc, window);
        Ok(len)
    }
}

#[cfg(test)]
pub(super) fn estimate_for_test(highest: u64, seq: u16) -> Option<u64> {
    Window::first(highest).estimate(seq)
}
