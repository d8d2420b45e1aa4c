//! An IP network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`, or a bare address for a
//! single host), for the operator's trusted networks. IPv4-mapped IPv6 sources
//! (`::ffff:192.0.2.1`, what a dual-stack socket reports) match IPv4 networks.

use std::net::IpAddr;
use std::str::FromStr;

/// One network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

/// Why a network did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    #[error("`{0}` is not an IP address or network (e.g. 192.0.2.0/24, 2001:db8::/32)")]
    Address(String),
    #[error("`{0}`: the prefix length must be 0-32 for IPv4 and 0-128 for IPv6")]
    Prefix(String),
}

impl FromStr for Network {
    type Err = NetworkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| NetworkError::Address(s.to_string()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| NetworkError::Prefix(s.to_string()))?,
        };
        Ok(Network { addr, prefix })
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Leading `bits` of `a` and `b` agree.
fn same_prefix(a: u128, b: u128, bits: u8, width: u8) -> bool {
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (b >> shift)
}

impl Network {
    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                same_prefix(u32::from(n).into(), u32::from(a).into(), self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                same_prefix(u128::from(n), u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// In settings files a network is its text (`"192.0.2.0/24"`); a wrong one stops start-up
/// with the parse error naming it.
impl serde::Serialize for Network {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses every entry, naming the first that is wrong.
pub fn parse_networks(list: &[String]) -> Result<Vec<Network>, NetworkError> {
    list.iter().map(|s| s.parse()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_networks_hold_their_addresses_only() {
        let n: Network = "192.0.2.0/24".parse().unwrap();
        assert!(n.contains(ip("192.0.2.0")) && n.contains(ip("192.0.2.255")));
        assert!(!n.contains(ip("192.0.3.1")));
        assert!(n.contains(ip("::ffff:192.0.2.7")), "mapped form");
        assert!(!n.contains(ip("2001:db8::1")));
        let host: Network = "198.51.100.7".parse().unwrap();
        assert!(host.contains(ip("198.51.100.7")) && !host.contains(ip("198.51.100.8")));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        let odd: Network = "10.0.0.0/9".parse().unwrap();
        assert!(odd.contains(ip("10.127.255.255")) && !odd.contains(ip("10.128.0.0")));
    }

    #[test]
    fn v6_networks_hold_their_addresses_only() {
        let n: Network = "2001:db8::/32".parse().unwrap();
        assert!(n.contains(ip("2001:db8:ffff::1")));
        assert!(!n.contains(ip("2001:db9::1")));
        assert!(!n.contains(ip("192.0.2.1")));
        let all: Network = "::/0".parse().unwrap();
        assert!(all.contains(ip("2001:db8::1")));
    }

    #[test]
    fn bad_networks_are_named() {
        assert_eq!(
            "192.0.2.0/33".parse::<Network>(),
            Err(NetworkError::Prefix("192.0.2.0/33".into()))
        );
        assert_eq!(
            "pbx.example.com".parse::<Network>(),
            Err(NetworkError::Address("pbx.example.com".into()))
        );
        assert!("2001:db8::/129".parse::<Network>().is_err());
        assert!("192.0.2.0/".parse::<Network>().is_err());
        let list = ["192.0.2.0/24".to_string(), "x".to_string()];
        assert!(parse_networks(&list).is_err());
        assert_eq!(
            "192.0.2.0/24".parse::<Network>().unwrap().to_string(),
            "192.0.2.0/24"
        );
    }
}
