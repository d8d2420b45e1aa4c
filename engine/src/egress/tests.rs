//! The policy as a pure function: every refused class in its IPv4, IPv6, IPv4-mapped and
//! IPv4-compatible forms, public addresses, and the operator's allowed networks. No traffic.

use super::*;

fn ip(s: &str) -> IpAddr {
    host_literal(s).unwrap_or_else(|| panic!("{s} is an address"))
}

fn refused(policy: &EgressPolicy, s: &str) -> Option<AddressClass> {
    policy.check(ip(s)).err().map(|r| r.class)
}

/// Each class, with the IPv6 forms that reach the same IPv4 host.
const CLASSES: &[(&str, AddressClass)] = &[
    ("127.0.0.1", AddressClass::Loopback),
    ("127.0.0.9", AddressClass::Loopback),
    ("127.1", AddressClass::Loopback),
    ("2130706433", AddressClass::Loopback),
    ("0x7f.0.0.1", AddressClass::Loopback),
    ("0177.0.0.1", AddressClass::Loopback),
    ("::1", AddressClass::Loopback),
    ("[::1]", AddressClass::Loopback),
    ("::ffff:127.0.0.1", AddressClass::Loopback),
    ("::127.0.0.1", AddressClass::Loopback),
    ("0.0.0.0", AddressClass::Unspecified),
    ("0.1.2.3", AddressClass::Unspecified),
    ("::", AddressClass::Unspecified),
    ("::ffff:0.0.0.0", AddressClass::Unspecified),
    ("169.254.169.254", AddressClass::LinkLocal),
    ("::ffff:169.254.169.254", AddressClass::LinkLocal),
    ("fe80::1", AddressClass::LinkLocal),
    ("febf::1", AddressClass::LinkLocal),
    ("10.0.0.1", AddressClass::Private),
    ("10.255.255.255", AddressClass::Private),
    ("172.16.0.1", AddressClass::Private),
    ("172.31.255.254", AddressClass::Private),
    ("192.168.1.1", AddressClass::Private),
    ("::ffff:10.1.2.3", AddressClass::Private),
    ("::ffff:192.168.0.1", AddressClass::Private),
    ("::10.1.2.3", AddressClass::Private),
    ("fc00::1", AddressClass::Private),
    ("fd12:3456::1", AddressClass::Private),
    ("fec0::1", AddressClass::Private),
    ("100.64.0.1", AddressClass::SharedAddressSpace),
    ("100.127.255.254", AddressClass::SharedAddressSpace),
    ("::ffff:100.64.0.1", AddressClass::SharedAddressSpace),
    ("64:ff9b::7f00:1", AddressClass::Nat64),
    ("64:ff9b::a00:1", AddressClass::Nat64),
    ("64:ff9b::808:808", AddressClass::Nat64),
    ("64:ff9b:1::1", AddressClass::Nat64),
    ("224.0.0.1", AddressClass::Multicast),
    ("239.255.255.250", AddressClass::Multicast),
    ("::ffff:224.0.0.251", AddressClass::Multicast),
    ("ff02::1", AddressClass::Multicast),
    ("ff05::1:3", AddressClass::Multicast),
    ("255.255.255.255", AddressClass::Broadcast),
    ("::ffff:255.255.255.255", AddressClass::Broadcast),
    ("240.0.0.1", AddressClass::Reserved),
];

#[test]
fn every_special_class_is_refused_by_default() {
    let policy = EgressPolicy::default();
    for (addr, class) in CLASSES {
        assert_eq!(refused(&policy, addr), Some(*class), "{addr}");
    }
}

#[test]
fn public_addresses_pass() {
    let policy = EgressPolicy::default();
    for addr in [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "203.0.113.7",
        "172.15.255.255",
        "172.32.0.1",
        "100.63.255.255",
        "100.128.0.1",
        "169.253.1.1",
        "192.169.0.1",
        "223.255.255.255",
        "2001:db8::1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b:2::1",
    ] {
        assert_eq!(refused(&policy, addr), None, "{addr}");
    }
}

#[test]
fn allowed_networks_open_exactly_what_they_cover() {
    let allow = ["127.0.0.5/32", "10.1.0.0/16", "fd00::/8"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let policy = EgressPolicy::new(allow);
    assert_eq!(refused(&policy, "127.0.0.5"), None);
    assert_eq!(
        refused(&policy, "::ffff:127.0.0.5"),
        None,
        "the mapped form too"
    );
    assert_eq!(refused(&policy, "127.0.0.9"), Some(AddressClass::Loopback));
    assert_eq!(refused(&policy, "10.1.9.9"), None);
    assert_eq!(refused(&policy, "10.2.0.1"), Some(AddressClass::Private));
    assert_eq!(refused(&policy, "fd00::1"), None);
    assert_eq!(refused(&policy, "fc00::1"), Some(AddressClass::Private));
    assert_eq!(
        refused(&policy, "169.254.169.254"),
        Some(AddressClass::LinkLocal)
    );
}

#[test]
fn literal_hosts_are_checked_names_are_left_to_the_resolver() {
    let policy = EgressPolicy::default();
    let r = policy.check_literal("127.1").unwrap().unwrap_err();
    assert_eq!(r.ip, ip("127.0.0.1"));
    assert!(r.to_string().contains("loopback"), "{r}");
    assert!(policy.check_literal("[::ffff:7f00:1]").unwrap().is_err());
    assert_eq!(policy.check_literal("8.8.8.8").unwrap(), Ok(ip("8.8.8.8")));
    assert!(policy.check_literal("example.com").is_none());
    assert!(policy.check_literal("localhost").is_none());
    assert!(policy.check_literal("1.2.3.4.5").is_none());
    assert!(policy.check_literal("256.1.1.1").is_none());
    assert!(policy.check_literal("1.2.3.0x").is_some());
    assert!(policy.check_literal("12abc").is_none());
    assert!(policy.check_literal("+1.2.3.4").is_none());
}
