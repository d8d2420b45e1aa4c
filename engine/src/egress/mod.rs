//! The egress policy: which addresses ringmaster may contact on an app's say-so.
//!
//! An app supplies URLs (`pcmo_make_call` `answer_url`, PCMO `action_url` and `file_url`) and
//! SIP targets (`connect` to a SIP URI). Left alone, those turn the server into a proxy into
//! its own network: loopback services, cloud metadata on 169.254.169.254, private hosts. So
//! every address reached for an app first passes [`EgressPolicy::check`]: the special-purpose
//! classes below are refused unless the operator put the address inside one of
//! `[policy] allow_networks`; every other (public) address passes. What the operator set with
//! the admin token (the app's stored answer URL, its event URL, trunks) is not checked.
//!
//! This module is pure: it decides on an address already resolved. The shells check the
//! address they actually connect to (a DNS resolver that filters, and IP-literal hosts before
//! the request), so a name that resolves differently a second time (DNS rebinding) gains
//! nothing.

pub mod cidr;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use cidr::{Cidr, CidrError};

/// The special-purpose address classes refused by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 0.0.0.0/8 ("this network", which Linux connects to itself), ::.
    Unspecified,
    /// 169.254.0.0/16 (cloud metadata lives here), fe80::/10.
    LinkLocal,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), fc00::/7 unique local, fec0::/10 site-local.
    Private,
    /// 100.64.0.0/10, carrier-grade NAT (RFC 6598).
    SharedAddressSpace,
    /// 64:ff9b::/96 and 64:ff9b:1::/48: NAT64 prefixes that reach IPv4 hosts, private ones
    /// included (RFC 6052, RFC 8215).
    Nat64,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 240.0.0.0/4, reserved for future use.
    Reserved,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Loopback => "loopback",
            AddressClass::Unspecified => "unspecified",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Private => "private",
            AddressClass::SharedAddressSpace => "shared (CGNAT)",
            AddressClass::Nat64 => "NAT64",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Reserved => "reserved",
        })
    }
}

/// An address the policy refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{ip} is a {class} address, not inside [policy] allow_networks")]
pub struct Refused {
    pub ip: IpAddr,
    pub class: AddressClass,
}

/// The policy: the operator's allowed networks over the built-in refusals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allow: Vec<Cidr>,
}

impl EgressPolicy {
    pub fn new(allow: Vec<Cidr>) -> Self {
        EgressPolicy { allow }
    }

    /// `Ok` when `ip` may be contacted for an app: it is in no refused class, or inside an
    /// allowed network (compared in both forms for IPv4-mapped/compatible IPv6 addresses).
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let Some(class) = classify(ip) else {
            return Ok(());
        };
        let v4 = embedded_v4(ip).map(IpAddr::V4);
        let allowed = self
            .allow
            .iter()
            .any(|n| n.contains(ip) || v4.is_some_and(|a| n.contains(a)));
        if allowed {
            Ok(())
        } else {
            Err(Refused { ip, class })
        }
    }

    /// For a host written as an IP address (in any form a resolver accepts, `127.1` and
    /// `[::1]` included): that address, checked. `None` for a name, which must be resolved
    /// and its addresses checked.
    pub fn check_literal(&self, host: &str) -> Option<Result<IpAddr, Refused>> {
        let ip = host_literal(host)?;
        Some(self.check(ip).map(|()| ip))
    }
}

/// The refused class `ip` belongs to, if any. IPv4-mapped (`::ffff:a.b.c.d`) and
/// IPv4-compatible (`::a.b.c.d`) IPv6 addresses are classified by their IPv4 address.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: Ipv4Addr) -> Option<AddressClass> {
    let [o0, o1, _, _] = a.octets();
    Some(match o0 {
        0 => AddressClass::Unspecified,
        127 => AddressClass::Loopback,
        10 => AddressClass::Private,
        172 if (16..32).contains(&o1) => AddressClass::Private,
        192 if o1 == 168 => AddressClass::Private,
        169 if o1 == 254 => AddressClass::LinkLocal,
        100 if (64..128).contains(&o1) => AddressClass::SharedAddressSpace,
        224..=239 => AddressClass::Multicast,
        255 if a == Ipv4Addr::BROADCAST => AddressClass::Broadcast,
        240..=255 => AddressClass::Reserved,
        _ => return None,
    })
}

fn classify_v6(a: Ipv6Addr) -> Option<AddressClass> {
    if a.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if a.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    if let Some(v4) = embedded_v4(IpAddr::V6(a)) {
        return classify_v4(v4);
    }
    let s = a.segments();
    Some(match s[0] {
        0x64 if s[1] == 0xff9b && (s[2..6] == [0, 0, 0, 0] || s[2] == 1) => AddressClass::Nat64,
        x if x & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        x if x & 0xffc0 == 0xfec0 => AddressClass::Private,
        x if x & 0xfe00 == 0xfc00 => AddressClass::Private,
        x if x & 0xff00 == 0xff00 => AddressClass::Multicast,
        _ => return None,
    })
}

/// The IPv4 address inside an IPv4-mapped or IPv4-compatible IPv6 address (except `::` and
/// `::1`, which are IPv6's own).
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(a) = ip else { return None };
    if let Some(v4) = a.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = a.segments();
    (s[..6] == [0; 6] && !a.is_unspecified() && !a.is_loopback()).then(|| {
        let [.., hi, lo] = s;
        Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
    })
}

/// A host written as an address: IPv6 (bracketed or not), dotted IPv4, or the shorter and
/// numeric forms `inet_aton` (and so `getaddrinfo`) accepts: `127.1`, `2130706433`,
/// `0x7f.0.0.1`, `0177.0.0.1`.
pub fn host_literal(host: &str) -> Option<IpAddr> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Some(ip);
    }
    let parts: Vec<&str> = h.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| aton_part(p))
        .collect::<Option<Vec<u32>>>()?;
    let (last, first) = nums.split_last()?;
    // Leading parts are one byte each; the last fills the bytes that remain.
    if first.iter().any(|n| *n > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - first.len() as u32);
    if rest_bits < 32 && u64::from(*last) >= 1u64 << rest_bits {
        return None;
    }
    let mut v: u32 = 0;
    for (i, n) in first.iter().enumerate() {
        v |= n << (24 - 8 * i as u32);
    }
    Some(IpAddr::V4(Ipv4Addr::from(v | last)))
}

fn aton_part(p: &str) -> Option<u32> {
    if p.is_empty() {
        return None;
    }
    if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        return match hex {
            "" => Some(0),
            h if h.bytes().all(|b| b.is_ascii_hexdigit()) => u32::from_str_radix(h, 16).ok(),
            _ => None,
        };
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if p.len() > 1 && p.starts_with('0') {
        return u32::from_str_radix(&p[1..], 8).ok();
    }
    p.parse().ok()
}

#[cfg(test)]
mod tests;
