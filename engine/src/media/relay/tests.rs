use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::media::control::Drops;

fn addr(last: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, last], port))
}

fn rtp(pt: u8) -> [u8; 172] {
    let mut p = [0u8; 172];
    p[0] = 0x80;
    p[1] = pt;
    p
}

const RR: [u8; 8] = [0x80, 201, 0, 1, 1, 2, 3, 4];

/// A bridged relay with A at .10:4000 and B at .20:5000 (RTCP on +1), no latch windows.
fn bridged(now: Instant) -> Relay {
    let mut relay = Relay::new(RelayConfig::default(), now);
    relay.handle(
        now,
        &Command::SetRemote {
            leg: Leg::A,
            rtp: addr(10, 4000),
            rtcp: None,
        },
    );
    relay.handle(
        now,
        &Command::SetRemote {
            leg: Leg::B,
            rtp: addr(20, 5000),
            rtcp: Some(addr(21, 7777)),
        },
    );
    relay.handle(now, &Command::Bridge);
    relay
}

fn verdict(
    relay: &mut Relay,
    leg: Leg,
    ch: Channel,
    from: SocketAddr,
    p: &[u8],
    now: Instant,
) -> Verdict {
    relay.on_packet(leg, ch, from, p, now).verdict
}

#[test]
fn bridged_rtp_and_rtcp_go_to_the_other_legs_remotes() {
    let t = Instant::now();
    let mut relay = bridged(t);
    assert_eq!(
        verdict(&mut relay, Leg::A, Channel::Rtp, addr(10, 4000), &rtp(0), t),
        Verdict::Forward(addr(20, 5000))
    );
    assert_eq!(
        verdict(&mut relay, Leg::B, Channel::Rtp, addr(20, 5000), &rtp(0), t),
        Verdict::Forward(addr(10, 4000))
    );
    // RTCP follows its own port: B's a=rtcp address, A's RTP port + 1.
    assert_eq!(
        verdict(&mut relay, Leg::A, Channel::Rtcp, addr(10, 4001), &RR, t),
        Verdict::Forward(addr(21, 7777))
    );
    assert_eq!(
        verdict(&mut relay, Leg::B, Channel::Rtcp, addr(21, 7777), &RR, t),
        Verdict::Forward(addr(10, 4001))
    );

    relay.on_sent(Leg::A, Channel::Rtp, 172);
    relay.on_sent(Leg::A, Channel::Rtcp, 8);
    relay.on_send_failed(Leg::B);
    let stats = relay.stats();
    assert_eq!(
        (
            stats.a_to_b.packets,
            stats.a_to_b.bytes,
            stats.a_to_b.rtcp_packets,
            stats.a_to_b.rtcp_bytes
        ),
        (1, 172, 1, 8)
    );
    assert_eq!(
        stats.b_to_a.dropped,
        Drops {
            send_failed: 1,
            ..Drops::default()
        }
    );
}

#[test]
fn the_first_source_in_the_window_latches_and_a_third_party_is_dropped_afterwards() {
    let t = Instant::now();
    let mut relay = bridged(t);
    relay.handle(
        t,
        &Command::SetSignallingSource {
            leg: Leg::A,
            ip: addr(99, 5060).ip(),
        },
    );
    relay.handle(t, &Command::OpenLatchWindow { leg: Leg::A });
    let stranger = relay.on_packet(Leg::A, Channel::Rtp, addr(66, 6666), &rtp(0), t);
    assert_eq!(
        stranger.verdict,
        Verdict::Drop(DropReason::ForeignSource),
        "first in the window, but neither the SDP nor the SIP source address"
    );
    let nat = addr(99, 31000);
    let outcome = relay.on_packet(Leg::A, Channel::Rtp, nat, &rtp(0), t);
    assert_eq!(
        outcome,
        Outcome {
            verdict: Verdict::Forward(addr(20, 5000)),
            latched: Some(nat)
        }
    );
    // B's media now goes to the NAT address, not to the SDP one.
    assert_eq!(
        verdict(&mut relay, Leg::B, Channel::Rtp, addr(20, 5000), &rtp(0), t),
        Verdict::Forward(nat)
    );
    let later = t + Duration::from_secs(5);
    let hijack = verdict(
        &mut relay,
        Leg::A,
        Channel::Rtp,
        addr(66, 6666),
        &rtp(0),
        later,
    );
    assert_eq!(hijack, Verdict::Drop(DropReason::ForeignSource));
    assert_eq!(relay.stats().a_to_b.dropped.foreign_source, 2);
}

#[test]
fn malformed_and_unnegotiated_packets_are_dropped_before_they_can_latch() {
    let t = Instant::now();
    let mut relay = bridged(t);
    relay.handle(t, &Command::OpenLatchWindow { leg: Leg::A });
    relay.handle(
        t,
        &Command::SetPayloadTypes {
            leg: Leg::A,
            allowed: [0, 101].into_iter().collect(),
        },
    );
    let stranger = addr(66, 6666);
    assert_eq!(
        verdict(&mut relay, Leg::A, Channel::Rtp, stranger, b"hello", t),
        Verdict::Drop(DropReason::Malformed)
    );
    assert_eq!(
        verdict(&mut relay, Leg::A, Channel::Rtp, stranger, &rtp(8), t),
        Verdict::Drop(DropReason::PayloadType)
    );
    assert_eq!(
        verdict(&mut relay, Leg::A, Channel::Rtcp, stranger, &rtp(0), t),
        Verdict::Drop(DropReason::Malformed)
    );
    // None of those latched: the real endpoint still can.
    let outcome = relay.on_packet(Leg::A, Channel::Rtp, addr(10, 4000), &rtp(101), t);
    assert_eq!(outcome.latched, Some(addr(10, 4000)));
    let drops = relay.stats().a_to_b.dropped;
    assert_eq!(
        (drops.malformed, drops.payload_type, drops.total()),
        (2, 1, 3)
    );
}

#[test]
fn unbridged_or_remote_less_packets_are_dropped_and_counted() {
    let t = Instant::now();
    let mut relay = Relay::new(RelayConfig::default(), t);
    relay.handle(
        t,
        &Command::SetRemote {
            leg: Leg::A,
            rtp: addr(10, 4000),
            rtcp: None,
        },
    );
    assert_eq!(
        verdict(&mut relay, Leg::A, Channel::Rtp, addr(10, 4000), &rtp(0), t),
        Verdict::Drop(DropReason::NotBridged)
    );
    relay.handle(t, &Command::Bridge);
    assert!(relay.is_bridged());
    assert_eq!(
        verdict(&mut relay, Leg::A, Channel::Rtp, addr(10, 4000), &rtp(0), t),
        Verdict::Drop(DropReason::NoRemote)
    );
    relay.handle(t, &Command::Unbridge);
    assert_eq!(
        verdict(&mut relay, Leg::A, Channel::Rtp, addr(10, 4000), &rtp(0), t),
        Verdict::Drop(DropReason::NotBridged)
    );
    let drops = relay.stats().a_to_b.dropped;
    assert_eq!((drops.not_bridged, drops.no_remote), (2, 1));
}

#[test]
fn inactivity_is_reported_once_per_silence_and_only_while_bridged() {
    let t = Instant::now();
    let config = RelayConfig {
        rtp_timeout: Some(Duration::from_secs(60)),
        ..RelayConfig::default()
    };
    let mut relay = Relay::new(config, t);
    relay.handle(
        t,
        &Command::SetRemote {
            leg: Leg::A,
            rtp: addr(10, 4000),
            rtcp: None,
        },
    );
    assert_eq!(relay.on_tick(t + Duration::from_secs(61)), [None, None]); // not bridged yet
    let t1 = t + Duration::from_secs(100);
    relay.handle(t1, &Command::Bridge);
    relay.on_packet(
        Leg::A,
        Channel::Rtp,
        addr(10, 4000),
        &rtp(0),
        t1 + Duration::from_secs(30),
    );
    assert_eq!(relay.on_tick(t1 + Duration::from_secs(30)), [None, None]);
    assert_eq!(
        relay.on_tick(t1 + Duration::from_secs(60)),
        [None, Some(Leg::B)]
    );
    assert_eq!(relay.on_tick(t1 + Duration::from_secs(89)), [None, None]); // B reported already
    assert_eq!(
        relay.on_tick(t1 + Duration::from_secs(90)),
        [Some(Leg::A), None]
    );
    // Activity re-arms the report.
    relay.on_packet(
        Leg::A,
        Channel::Rtp,
        addr(10, 4000),
        &rtp(0),
        t1 + Duration::from_secs(91),
    );
    assert_eq!(relay.on_tick(t1 + Duration::from_secs(91)), [None, None]);
    assert_eq!(
        relay.on_tick(t1 + Duration::from_secs(151)),
        [Some(Leg::A), None]
    );
    // Switching the timeout off (hold with a=inactive) silences it.
    relay.handle(t1, &Command::SetRtpTimeout { after: None });
    assert_eq!(relay.on_tick(t1 + Duration::from_secs(1000)), [None, None]);
    assert_eq!(relay.tick_interval(), Duration::from_secs(1));
}

#[test]
fn tick_interval_follows_the_timeout_within_bounds() {
    let t = Instant::now();
    let at = |timeout| {
        Relay::new(
            RelayConfig {
                rtp_timeout: Some(timeout),
                ..RelayConfig::default()
            },
            t,
        )
        .tick_interval()
    };
    assert_eq!(at(Duration::from_millis(200)), Duration::from_millis(50));
    assert_eq!(at(Duration::from_millis(1)), Duration::from_millis(10));
    assert_eq!(at(Duration::from_secs(60)), Duration::from_secs(1));
}

#[test]
fn any_latch_mode_takes_the_first_source_in_the_window() {
    let t = Instant::now();
    let mut relay = Relay::new(
        RelayConfig {
            latch: crate::media::latch::LatchMode::Any,
            ..RelayConfig::default()
        },
        t,
    );
    relay.handle(
        t,
        &Command::SetRemote {
            leg: Leg::A,
            rtp: addr(10, 4000),
            rtcp: None,
        },
    );
    relay.handle(t, &Command::OpenLatchWindow { leg: Leg::A });
    let media_relay = addr(77, 40000);
    let outcome = relay.on_packet(Leg::A, Channel::Rtp, media_relay, &rtp(0), t);
    assert_eq!(outcome.latched, Some(media_relay));
}
