//! A quick loopback measurement of the media forwarder: N G.711-like calls, 50 packets/s per
//! direction each (172-byte RTP), relayed both ways. Prints offered and relayed packets/s,
//! loss, one-way delay percentiles, and the CPU the media threads used per packet.
//!
//! `cargo run --release -p engine --example media_bench -- --calls 1000 --seconds 10 --threads 1`
//!
//! Two generator sockets stand for every call's leg A and leg B endpoints (each call's remote
//! is set to them, so latching admits them by the SDP-address rule); a sender thread spreads
//! each 20 ms round over 20 one-millisecond slots, and one receiver thread per generator socket
//! counts packets and reads the send time stamped into the payload. Loopback only.

// A measuring tool: it times with the real clock and drives load from threads
// (engine/clippy.toml keeps both out of the cores only).
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use engine::media::{Command, Leg, MediaConfig, MediaEngine, RuntimeLayout};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PACKET: usize = 172;

struct Args {
    calls: usize,
    seconds: u64,
    threads: usize,
    layout: RuntimeLayout,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        calls: 500,
        seconds: 10,
        threads: 1,
        layout: RuntimeLayout::PerCore,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--calls" => args.calls = number()?,
            "--seconds" => args.seconds = number()? as u64,
            "--threads" => args.threads = number()?,
            "--layout" if value == "shared" => args.layout = RuntimeLayout::Shared,
            "--layout" if value == "percore" => args.layout = RuntimeLayout::PerCore,
            _ => return Err(format!("unknown argument {flag} {value}")),
        }
    }
    Ok(args)
}

fn generator_socket() -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind((LOCALHOST, 0))?;
    let sock = socket2::SockRef::from(&socket);
    sock.set_recv_buffer_size(4 << 20)?;
    sock.set_send_buffer_size(4 << 20)?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    Ok(socket)
}

/// Receive until told to stop; returns (packets, one-way delays in µs).
fn receive(socket: UdpSocket, start: Instant, stop: Arc<AtomicBool>) -> (u64, Vec<u32>) {
    let mut buf = [0u8; 2048];
    let (mut count, mut delays) = (0u64, Vec::with_capacity(1 << 20));
    while !stop.load(Ordering::Relaxed) {
        if let Ok((len, _)) = socket.recv_from(&mut buf) {
            if len == PACKET {
                count += 1;
                let sent = u64::from_be_bytes(buf[12..20].try_into().unwrap_or_default());
                let now = start.elapsed().as_nanos() as u64;
                delays.push((now.saturating_sub(sent) / 1000) as u32);
            }
        }
    }
    (count, delays)
}

/// utime + stime of the media runtime's threads, in clock ticks (100 per second on Linux).
fn media_cpu_ticks() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            // "media-N" (per-core shards) or "media" (shared runtime workers); not this
            // program's own "media_bench" threads.
            let comm = comm.trim_end();
            if comm != "media" && !comm.starts_with("media-") {
                return None;
            }
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let after_name = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            // Fields 14 and 15 of stat(5), counted after the ") " that ends the name.
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let mut config = MediaConfig::new("20000-39999".parse()?, LOCALHOST, LOCALHOST);
    (config.threads, config.layout) = (args.threads, args.layout);
    let media = MediaEngine::new(config)?;

    let (gen_a, gen_b) = (generator_socket()?, generator_socket()?);
    let (addr_a, addr_b) = (gen_a.local_addr()?, gen_b.local_addr()?);
    let mut calls = Vec::with_capacity(args.calls);
    let mut targets: Vec<(SocketAddr, SocketAddr)> = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let call = media.allocate_call()?;
        call.send(Command::SetRemote {
            leg: Leg::A,
            rtp: addr_a,
            rtcp: None,
        })?;
        call.send(Command::SetRemote {
            leg: Leg::B,
            rtp: addr_b,
            rtcp: None,
        })?;
        call.send(Command::Bridge)?;
        targets.push((call.local(Leg::A).rtp, call.local(Leg::B).rtp));
        calls.push(call);
    }

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let receivers: Vec<_> = [gen_a.try_clone()?, gen_b.try_clone()?]
        .into_iter()
        .map(|socket| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || receive(socket, start, stop))
        })
        .collect();

    let cpu_before = media_cpu_ticks();
    let run = Duration::from_secs(args.seconds);
    let mut packet = [0u8; PACKET];
    packet[0] = 0x80;
    let mut sent = 0u64;
    let mut slot = 0usize;
    let mut deadline = Instant::now();
    let send_start = Instant::now();
    while send_start.elapsed() < run {
        // Slot k of each 20 ms round sends one packet each way for every call i with i % 20 == k.
        for (a, b) in targets.iter().skip(slot).step_by(20) {
            let now = start.elapsed().as_nanos() as u64;
            packet[12..20].copy_from_slice(&now.to_be_bytes());
            sent += u64::from(gen_a.send_to(&packet, a).is_ok());
            sent += u64::from(gen_b.send_to(&packet, b).is_ok());
        }
        slot = (slot + 1) % 20;
        deadline += Duration::from_millis(1);
        thread::sleep(deadline.saturating_duration_since(Instant::now()));
    }
    let elapsed = send_start.elapsed().as_secs_f64();
    thread::sleep(Duration::from_millis(500));
    let cpu_ticks = media_cpu_ticks().saturating_sub(cpu_before);
    stop.store(true, Ordering::Relaxed);

    let mut received = 0u64;
    let mut delays = Vec::new();
    for receiver in receivers {
        let (count, d) = receiver.join().map_err(|_| "receiver thread panicked")?;
        received += count;
        delays.extend(d);
    }
    delays.sort_unstable();
    let pct = |p: f64| {
        delays
            .get(((delays.len() as f64 * p) as usize).min(delays.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let cpu_secs = cpu_ticks as f64 / 100.0;
    println!(
        "calls {} layout {:?} threads {}: offered {:.0} pkt/s, relayed {:.0} pkt/s, lost {} of {} ({:.3}%), \
         delay p50 {} µs p99 {} µs max {} µs, media CPU {:.2} s = {:.0}% of one core, {:.2} µs/packet",
        args.calls,
        args.layout,
        args.threads,
        sent as f64 / elapsed,
        received as f64 / elapsed,
        sent.saturating_sub(received),
        sent,
        100.0 * sent.saturating_sub(received) as f64 / sent.max(1) as f64,
        pct(0.50),
        pct(0.99),
        delays.last().copied().unwrap_or(0),
        cpu_secs,
        100.0 * cpu_secs / elapsed,
        cpu_secs * 1e6 / received.max(1) as f64,
    );
    drop(calls);
    media.shutdown();
    Ok(())
}
