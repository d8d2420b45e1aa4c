//! RTP port bookkeeping over a configured range. Pure: no sockets here.
//!
//! A *pair* is an even RTP port and the odd port after it for RTCP (RFC 3550 §11). The free
//! list is FIFO: a released pair goes to the back, so a pair that was just freed is handed out
//! again only after every other free pair has been used. That keeps late packets of an ended
//! call from landing in a new call on the same ports.
//!
//! The socket side (binding, skipping pairs another process holds) is in
//! `forwarder::bind`, which hands a pair that fails to bind back with [`PortAllocator::release`].

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

/// An inclusive UDP port range, `LOW-HIGH` in configuration (`--rtp-ports 30000-39999`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRange {
    low: u16,
    high: u16,
}

impl TryFrom<String> for PortRange {
    type Error = PortRangeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PortRange> for String {
    fn from(p: PortRange) -> String {
        format!("{}-{}", p.low, p.high)
    }
}

/// Why a port range is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortRangeError {
    #[error("port range must be written LOW-HIGH, e.g. 30000-39999")]
    Syntax,
    #[error("port range {low}-{high} holds no even/odd RTP+RTCP pair")]
    NoPair { low: u16, high: u16 },
    #[error("port 0 cannot be part of an RTP port range")]
    PortZero,
}

/// Why no pair could be handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    #[error("all {pairs} RTP port pairs of {range} are in use")]
    Exhausted { pairs: usize, range: PortRange },
}

impl PortRange {
    pub fn new(low: u16, high: u16) -> Result<Self, PortRangeError> {
        if low == 0 {
            return Err(PortRangeError::PortZero);
        }
        let range = PortRange { low, high };
        if range.pairs() == 0 {
            return Err(PortRangeError::NoPair { low, high });
        }
        Ok(range)
    }

    /// The first even port in the range.
    fn first_rtp(self) -> u32 {
        u32::from(self.low).next_multiple_of(2)
    }

    /// How many full pairs fit.
    pub fn pairs(self) -> usize {
        let first = self.first_rtp();
        let high = u32::from(self.high);
        if high < first + 1 {
            return 0;
        }
        (high - first).div_ceil(2) as usize
    }

    pub fn low(self) -> u16 {
        self.low
    }

    pub fn high(self) -> u16 {
        self.high
    }
}

impl FromStr for PortRange {
    type Err = PortRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (low, high) = s.trim().split_once('-').ok_or(PortRangeError::Syntax)?;
        let low = low.trim().parse().map_err(|_| PortRangeError::Syntax)?;
        let high = high.trim().parse().map_err(|_| PortRangeError::Syntax)?;
        PortRange::new(low, high)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

/// The free list of RTP port pairs of one range.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    range: PortRange,
    /// RTP ports of free pairs, oldest-freed first.
    free: VecDeque<u16>,
    /// Per pair index: handed out and not yet released (guards against double release).
    in_use: Vec<bool>,
}

impl PortAllocator {
    pub fn new(range: PortRange) -> Self {
        let first = range.first_rtp();
        let free = (0..range.pairs())
            .filter_map(|i| u16::try_from(first + 2 * i as u32).ok())
            .collect();
        PortAllocator {
            range,
            free,
            in_use: vec![false; range.pairs()],
        }
    }

    /// Hand out the least recently released pair; returns its RTP port (RTCP is +1).
    pub fn allocate(&mut self) -> Result<u16, PortError> {
        let port = self.free.pop_front().ok_or(PortError::Exhausted {
            pairs: self.range.pairs(),
            range: self.range,
        })?;
        if let Some(slot) = self.slot(port) {
            self.in_use[slot] = true;
        }
        Ok(port)
    }

    /// Give a pair back (to the back of the list). Ports not handed out, or outside the range,
    /// are ignored and give `false`, so a double release cannot duplicate a pair.
    pub fn release(&mut self, rtp_port: u16) -> bool {
        match self.slot(rtp_port) {
            Some(slot) if self.in_use[slot] => {
                self.in_use[slot] = false;
                self.free.push_back(rtp_port);
                true
            }
            _ => false,
        }
    }

    pub fn free_pairs(&self) -> usize {
        self.free.len()
    }

    pub fn range(&self) -> PortRange {
        self.range
    }

    fn slot(&self, rtp_port: u16) -> Option<usize> {
        let offset = u32::from(rtp_port).checked_sub(self.range.first_rtp())?;
        let slot = (offset / 2) as usize;
        (offset % 2 == 0 && slot < self.in_use.len()).then_some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> PortRange {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn ranges_parse_and_count_full_even_pairs() {
        assert_eq!(range("30000-30009").pairs(), 5);
        assert_eq!(range(" 30001 - 30010 ").pairs(), 4); // 30002..=30009; 30010 has no RTCP
        assert_eq!(range("65534-65535").pairs(), 1);
        assert_eq!(
            "30001-30002".parse::<PortRange>(),
            Err(PortRangeError::NoPair {
                low: 30001,
                high: 30002
            })
        );
        assert_eq!("30000".parse::<PortRange>(), Err(PortRangeError::Syntax));
        assert_eq!("0-10".parse::<PortRange>(), Err(PortRangeError::PortZero));
        assert_eq!(
            "9-1".parse::<PortRange>(),
            Err(PortRangeError::NoPair { low: 9, high: 1 })
        );
        assert_eq!(range("30000-30009").to_string(), "30000-30009");
    }

    #[test]
    fn pairs_are_even_and_exhaustion_is_an_error() {
        let mut ports = PortAllocator::new(range("30001-30006"));
        assert_eq!(ports.allocate(), Ok(30002));
        assert_eq!(ports.allocate(), Ok(30004));
        let err = ports.allocate();
        assert_eq!(
            err,
            Err(PortError::Exhausted {
                pairs: 2,
                range: range("30001-30006")
            })
        );
        assert!(err.is_err_and(|e| e
            .to_string()
            .contains("all 2 RTP port pairs of 30001-30006")));
    }

    #[test]
    fn a_released_pair_is_reused_only_after_the_others() {
        let mut ports = PortAllocator::new(range("30000-30005"));
        let first = ports.allocate();
        assert_eq!(first, Ok(30000));
        assert!(ports.release(30000));
        assert_eq!(ports.allocate(), Ok(30002));
        assert_eq!(ports.allocate(), Ok(30004));
        assert_eq!(ports.allocate(), Ok(30000));
    }

    #[test]
    fn bogus_and_double_releases_change_nothing() {
        let mut ports = PortAllocator::new(range("30000-30003"));
        assert_eq!(ports.allocate(), Ok(30000));
        assert!(!ports.release(30001)); // odd: an RTCP port, not a pair
        assert!(!ports.release(40000)); // outside
        assert!(!ports.release(30002)); // never handed out
        assert!(ports.release(30000));
        assert!(!ports.release(30000)); // twice
        assert_eq!(ports.free_pairs(), 2);
    }
}
