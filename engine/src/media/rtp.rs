//! RTP and RTCP header sanity checks and payload-type sets, for the per-packet fast path.
//! No allocation, no copying: each check reads a few header bytes of the received buffer.

use rtp_rs::RtpReader;

/// Why a datagram is not a packet we relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    #[error("not an RTP version 2 packet, or its header is truncated")]
    MalformedRtp,
    #[error("not an RTCP version 2 packet, or its length is wrong")]
    MalformedRtcp,
}

/// Check an RTP packet (version 2, fixed header, CSRCs, extension and padding within the
/// datagram, via `rtp-rs`) and return its payload type.
pub fn check_rtp(packet: &[u8]) -> Result<u8, PacketError> {
    let reader = RtpReader::new(packet).map_err(|_| PacketError::MalformedRtp)?;
    Ok(reader.payload_type())
}

/// Check the first RTCP packet of a (compound) datagram: version 2, a packet type in the
/// RTCP range 192–223 (RFC 5761 §4), and a length word that fits in the datagram.
pub fn check_rtcp(packet: &[u8]) -> Result<(), PacketError> {
    let [first, packet_type, len_hi, len_lo, ..] = *packet else {
        return Err(PacketError::MalformedRtcp);
    };
    let words = usize::from(u16::from_be_bytes([len_hi, len_lo]));
    let fits = (words + 1) * 4 <= packet.len();
    if first >> 6 == 2 && (192..=223).contains(&packet_type) && fits && packet.len() >= 8 {
        Ok(())
    } else {
        Err(PacketError::MalformedRtcp)
    }
}

/// A set of RTP payload types (0–127) as a 128-bit map: `Copy`, no allocation, one bit test
/// per packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTypes(u128);

impl PayloadTypes {
    /// Every payload type: the state before SDP told us anything.
    pub const ALL: PayloadTypes = PayloadTypes(u128::MAX);
    pub const NONE: PayloadTypes = PayloadTypes(0);

    pub fn contains(self, payload_type: u8) -> bool {
        payload_type < 128 && self.0 & (1u128 << payload_type) != 0
    }

    /// Add one payload type; values of 128 and above are ignored (they do not exist in RTP).
    pub fn with(self, payload_type: u8) -> Self {
        if payload_type < 128 {
            PayloadTypes(self.0 | (1u128 << payload_type))
        } else {
            self
        }
    }
}

impl Default for PayloadTypes {
    fn default() -> Self {
        PayloadTypes::ALL
    }
}

impl FromIterator<u8> for PayloadTypes {
    fn from_iter<I: IntoIterator<Item = u8>>(iter: I) -> Self {
        iter.into_iter()
            .fold(PayloadTypes::NONE, PayloadTypes::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 172-byte G.711 packet: 12-byte header, 160 bytes of payload.
    fn g711(pt: u8) -> Vec<u8> {
        let mut p = vec![0u8; 172];
        p[0] = 0x80;
        p[1] = pt;
        p
    }

    #[test]
    fn rtp_checks_version_and_header_length() {
        assert_eq!(check_rtp(&g711(8)), Ok(8));
        assert_eq!(check_rtp(&g711(0x80 | 101)), Ok(101)); // marker bit is not the payload type
        let mut v1 = g711(0);
        v1[0] = 0x40;
        assert_eq!(check_rtp(&v1), Err(PacketError::MalformedRtp));
        assert_eq!(check_rtp(&[0x80; 11]), Err(PacketError::MalformedRtp));
        let mut csrcs = g711(0);
        csrcs[0] = 0x8f; // 15 CSRCs = 60 bytes, still fits in 172
        assert_eq!(check_rtp(&csrcs), Ok(0));
        assert_eq!(check_rtp(&csrcs[..40]), Err(PacketError::MalformedRtp));
    }

    #[test]
    fn rtcp_checks_version_type_and_length() {
        // A receiver report with no blocks: length 1 word → 8 bytes.
        let rr = [0x80, 201, 0, 1, 1, 2, 3, 4];
        assert_eq!(check_rtcp(&rr), Ok(()));
        assert_eq!(
            check_rtcp(&[0x80, 201, 0, 9, 1, 2, 3, 4]),
            Err(PacketError::MalformedRtcp)
        );
        assert_eq!(
            check_rtcp(&[0x80, 0, 0, 1, 1, 2, 3, 4]),
            Err(PacketError::MalformedRtcp)
        );
        assert_eq!(
            check_rtcp(&[0x40, 201, 0, 1, 1, 2, 3, 4]),
            Err(PacketError::MalformedRtcp)
        );
        assert_eq!(check_rtcp(&rr[..3]), Err(PacketError::MalformedRtcp));
    }

    #[test]
    fn payload_type_sets() {
        let set: PayloadTypes = [0, 8, 101, 200].into_iter().collect();
        assert!(set.contains(0) && set.contains(8) && set.contains(101));
        assert!(!set.contains(9) && !set.contains(200) && !set.contains(127));
        assert!(PayloadTypes::ALL.contains(127));
        assert!(!PayloadTypes::NONE.contains(0));
    }
}
