//! An IP network in CIDR notation (`10.1.0.0/16`, `fd00::/8`, or a bare address for one
//! host), as the operator writes it in `[policy] allow_networks`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Why a network did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidrError {
    #[error("{0:?} is not an IP address or network (write 10.0.0.0/8, fd00::/8 or 127.0.0.5)")]
    Address(String),
    #[error("{0:?}: the prefix length must be 0-32 for IPv4 and 0-128 for IPv6")]
    Prefix(String),
    #[error("{0:?} has host bits set past its prefix (did you mean its network address?)")]
    HostBits(String),
}

/// One network: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `net/prefix`; `None` when the prefix is too long or host bits are set.
    pub fn new(net: IpAddr, prefix: u8) -> Option<Cidr> {
        let bits = match net {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > bits {
            return None;
        }
        let c = Cidr { net, prefix };
        if c.masked(net) {
            Some(c)
        } else {
            None
        }
    }

    /// True when `ip` is inside this network. Families never match each other: an
    /// IPv4-mapped IPv6 address is compared by the caller in both forms.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                prefix_eq(u32::from(n) as u128, u32::from(a) as u128, self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                prefix_eq(u128::from(n), u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }

    /// True when `ip` has no bits set past the prefix.
    fn masked(&self, ip: IpAddr) -> bool {
        let (v, bits) = match ip {
            IpAddr::V4(a) => (u32::from(a) as u128, 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        };
        let host = bits - u32::from(self.prefix);
        let mask = if host >= 128 {
            u128::MAX
        } else {
            (1u128 << host) - 1
        };
        v & mask == 0
    }
}

fn prefix_eq(net: u128, addr: u128, prefix: u8, bits: u32) -> bool {
    let host = bits - u32::from(prefix);
    if host >= 128 {
        return true;
    }
    net >> host == addr >> host
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().map_err(|_| CidrError::Address(s.into()))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| CidrError::Prefix(s.into()))?,
        };
        Cidr::new(net, prefix).ok_or_else(|| CidrError::HostBits(s.into()))
    }
}

impl TryFrom<String> for Cidr {
    type Error = CidrError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_networks_and_hosts() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        let one: Cidr = "127.0.0.5".parse().unwrap();
        assert_eq!(one.to_string(), "127.0.0.5/32");
        assert!(one.contains(ip("127.0.0.5")));
        assert!(!one.contains(ip("127.0.0.9")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        assert!(!all.contains(ip("2001:db8::1")), "families never mix");
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains(ip("2001:db8::1")));
    }

    #[test]
    fn refuses_what_is_not_a_network() {
        assert!(matches!(
            "nonsense".parse::<Cidr>(),
            Err(CidrError::Address(_))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::Prefix(_))
        ));
        assert!(matches!(
            "10.0.0.0/x".parse::<Cidr>(),
            Err(CidrError::Prefix(_))
        ));
        assert!(matches!(
            "10.0.0.1/8".parse::<Cidr>(),
            Err(CidrError::HostBits(_))
        ));
        assert!(matches!(
            "fd00::1/8".parse::<Cidr>(),
            Err(CidrError::HostBits(_))
        ));
    }
}
