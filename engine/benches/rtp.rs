//! Micro-benchmark of the RTP fast path, pure: the per-packet verdict of a bridged call's
//! relay (`Relay::on_packet`: header check, payload type, latch, bridge, target) plus the
//! counter update after the send, for a 172-byte G.711 packet (12-byte header + 160 bytes).
//!
//! `cargo bench -p engine --bench rtp`. The socket cost (recv/send system calls) is not here;
//! `scripts/bench/rtp` measures the whole relay.

// A benchmark: it times with the real clock (engine/clippy.toml keeps it out of the cores only).
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine::media::relay::{Relay, Verdict};
use engine::media::rtp::check_rtp;
use engine::media::{Channel, Command, Leg, PayloadTypes, RelayConfig};

fn packet() -> [u8; 172] {
    let mut p = [0xd5u8; 172];
    p[0] = 0x80; // V=2
    p[1] = 0; // PT 0 (PCMU)
    p[2..4].copy_from_slice(&1234u16.to_be_bytes());
    p[4..8].copy_from_slice(&160_000u32.to_be_bytes());
    p[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    p
}

fn relay_fast_path(c: &mut Criterion) {
    let now = Instant::now();
    let a: SocketAddr = "192.0.2.10:40000".parse().expect("addr");
    let b: SocketAddr = "192.0.2.20:50000".parse().expect("addr");
    let mut relay = Relay::new(RelayConfig::default(), now);
    for (leg, addr) in [(Leg::A, a), (Leg::B, b)] {
        relay.handle(
            now,
            &Command::SetRemote {
                leg,
                rtp: addr,
                rtcp: None,
            },
        );
        relay.handle(
            now,
            &Command::SetPayloadTypes {
                leg,
                allowed: PayloadTypes::NONE.with(0).with(101),
            },
        );
        relay.handle(now, &Command::OpenLatchWindow { leg });
    }
    relay.handle(now, &Command::Bridge);
    let pkt = packet();
    let first = relay.on_packet(Leg::A, Channel::Rtp, a, &pkt, now);
    assert_eq!(first.verdict, Verdict::Forward(b));

    let mut g = c.benchmark_group("rtp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("check_rtp", |bch| {
        bch.iter(|| check_rtp(black_box(&pkt)).expect("valid"))
    });
    g.bench_function("relay_on_packet_and_on_sent", |bch| {
        bch.iter(|| {
            let out = relay.on_packet(Leg::A, Channel::Rtp, black_box(a), black_box(&pkt), now);
            if let Verdict::Forward(_) = out.verdict {
                relay.on_sent(Leg::A, Channel::Rtp, pkt.len());
            }
            out
        })
    });
    g.finish();
}

criterion_group!(benches, relay_fast_path);
criterion_main!(benches);
