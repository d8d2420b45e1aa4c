//! The CPU cost of the per-packet rules without sockets: the relay's checks alone, then the
//! relay plus the media stages (splice rewrite; μ↔A transcoding), on a 172-byte G.711 packet.
//! A loopback benchmark (`media_bench`) is dominated by system calls and by whatever else the
//! machine runs; this isolates what the media stages add to each relayed packet.
//!
//! `cargo run --release -p engine --example stage_cost -- 5000000`

// A measuring tool: it times with the real clock and drives load from threads
// (engine/clippy.toml keeps both out of the cores only).
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use engine::media::codec::{AudioCodec, LegCodecs};
use engine::media::relay::{Relay, Verdict};
use engine::media::splice::OutStream;
use engine::media::stage::Stages;
use engine::media::{Channel, Command, Leg, RelayConfig};

fn main() {
    let packets: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000_000);
    let a = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4000);
    let b = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5000);
    for (name, stages_on, law_b) in [
        ("relay only", false, AudioCodec::Pcmu),
        ("relay + stages, same law", true, AudioCodec::Pcmu),
        ("relay + stages, PCMU→PCMA", true, AudioCodec::Pcma),
    ] {
        let now = Instant::now();
        let mut relay = Relay::new(RelayConfig::default(), now);
        let mut stages = Stages::new(OutStream::new(1, 2, 3), OutStream::new(4, 5, 6));
        let commands = [
            Command::SetRemote {
                leg: Leg::A,
                rtp: a,
                rtcp: None,
            },
            Command::SetRemote {
                leg: Leg::B,
                rtp: b,
                rtcp: None,
            },
            Command::SetCodecs {
                leg: Leg::A,
                codecs: LegCodecs::new(AudioCodec::Pcmu, Some(101)),
            },
            Command::SetCodecs {
                leg: Leg::B,
                codecs: LegCodecs::new(law_b, Some(101)),
            },
            Command::Bridge,
        ];
        for command in &commands {
            relay.handle(now, command);
            stages.handle(command, now);
        }
        let mut packet = [0u8; 172];
        packet[0] = 0x80;
        let started = Instant::now();
        let mut sent = 0u32;
        for seq in 0..packets {
            packet[1] = 0; // the previous round may have rewritten it
            packet[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
            packet[4..8].copy_from_slice(&(seq.wrapping_mul(160)).to_be_bytes());
            let outcome = relay.on_packet(Leg::A, Channel::Rtp, a, black_box(&packet), now);
            if let Verdict::Forward(_) = outcome.verdict {
                let send = !stages_on || stages.on_rtp(Leg::A, &mut packet, true, now);
                sent += u32::from(black_box(send));
            }
        }
        let per_packet = started.elapsed().as_nanos() as f64 / f64::from(packets);
        println!("{name}: {per_packet:.0} ns/packet ({sent} of {packets} forwarded)");
    }
}
