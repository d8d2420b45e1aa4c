//! `benchkit rtpgen`: offers G.711-shaped RTP to a relay and measures what comes back.
//!
//! Two generator sockets stand for every call's endpoints: socket A is leg A's media address
//! and socket B leg B's, for all calls (each call's relay has its own ports, so sharing the far
//! end costs the relay nothing and the generator two sockets). Per call and direction one
//! 172-byte RTP packet (12-byte header, PT 0, 160 bytes of payload) every 20 ms; calls are
//! spread evenly over the 20 ms. The payload carries the send time (ns since the generator
//! started), the step number and the direction; a receiver thread per socket computes the
//! one-way delay into a 10 µs histogram and counts packets of the current step.
//!
//! Sessions come from one of:
//! * `--map FILE`: lines `A_TARGET B_TARGET` (where socket A sends a call's packets, i.e. the
//!   relay port given to leg A, and where socket B sends them), e.g. read from SIPp logs of
//!   real calls through ringmaster;
//! * `--ng ADDR --calls N`: N sessions created on rtpengine with offer/answer over ng.
//!
//! Steps: `--steps 100,200,400 --secs 5`: for each number of calls, send for `secs`, drain,
//! and print one line. It stops at the first step that loses a packet or has p99 > `--max-p99-ms`
//! (default 20), then prints `best N` (the most calls that passed). `--pids 1,2 --clk-tck 100`
//! adds the CPU those processes used during each step.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::{ng, Opts};

pub(crate) const PACKET: usize = 172;
pub(crate) const FRAME: Duration = Duration::from_millis(20);
pub(crate) const BUCKET_NS: u64 = 10_000;
pub(crate) const BUCKETS: usize = 200_000; // 2 s

pub(crate) struct StepStats {
    pub(crate) received: u64,
    pub(crate) wrong_step: u64,
    pub(crate) hist: Vec<u32>,
}

impl StepStats {
    pub(crate) fn new() -> Self {
        StepStats {
            received: 0,
            wrong_step: 0,
            hist: vec![0; BUCKETS + 1],
        }
    }

    pub(crate) fn reset(&mut self) {
        self.received = 0;
        self.wrong_step = 0;
        self.hist.iter_mut().for_each(|b| *b = 0);
    }
}

/// The delay (ms) at quantile `q` of the merged histograms.
pub(crate) fn quantile(hists: &[&[u32]], total: u64, q: f64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let want = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    for i in 0..=BUCKETS {
        seen += hists.iter().map(|h| h[i] as u64).sum::<u64>();
        if seen >= want {
            return ((i as u64 + 1) * BUCKET_NS) as f64 / 1e6;
        }
    }
    f64::INFINITY
}

pub(crate) fn bind(port: u16) -> anyhow::Result<UdpSocket> {
    let s = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // As large as the system allows (rmem_max / wmem_max cap it).
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(8 << 20);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

pub(crate) fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may contain spaces) start at ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn read_map(path: &str) -> anyhow::Result<Vec<(SocketAddr, SocketAddr)>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(a), Some(b)) = (it.next(), it.next()) else {
            anyhow::bail!("bad map line {line:?}");
        };
        out.push((a.parse()?, b.parse()?));
    }
    Ok(out)
}

fn ng_sessions(
    server: SocketAddr,
    calls: usize,
    a: SocketAddr,
    b: SocketAddr,
) -> anyhow::Result<Vec<(SocketAddr, SocketAddr)>> {
    let mut client = ng::Client::new(server)?;
    let mut out = Vec::with_capacity(calls);
    let started = Instant::now();
    for i in 0..calls {
        let call_id = format!("bench-{i}-{}", std::process::id());
        let offer_sdp = ng::sdp(a, i as u64);
        let offer = client.call(&[
            ("command", "offer"),
            ("call-id", &call_id),
            ("from-tag", "ft"),
            ("sdp", &offer_sdp),
        ])?;
        // The offer rtpengine passes on to B names where B must send.
        let to_b = offer
            .get("sdp")
            .and_then(ng::Value::as_str)
            .and_then(ng::media_addr)
            .ok_or_else(|| anyhow::anyhow!("offer reply without SDP"))?;
        let answer_sdp = ng::sdp(b, i as u64);
        let answer = client.call(&[
            ("command", "answer"),
            ("call-id", &call_id),
            ("from-tag", "ft"),
            ("to-tag", "tt"),
            ("sdp", &answer_sdp),
        ])?;
        let to_a = answer
            .get("sdp")
            .and_then(ng::Value::as_str)
            .and_then(ng::media_addr)
            .ok_or_else(|| anyhow::anyhow!("answer reply without SDP"))?;
        out.push((to_a, to_b));
    }
    println!(
        "rtpgen: {calls} rtpengine sessions created over ng in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// `--pids 1,2`: the processes whose CPU each step reports.
pub(crate) fn pid_list(opts: &Opts) -> Vec<u32> {
    opts.get("pids")
        .map(|p| p.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default()
}

/// `--steps 100,200,400`: the call counts to step through.
pub(crate) fn step_list(opts: &Opts) -> anyhow::Result<Vec<usize>> {
    Ok(opts
        .req("steps")?
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?)
}

pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let a_port: u16 = opts.num("a-port", 31000)?;
    let b_port: u16 = opts.num("b-port", 31002)?;
    let secs: f64 = opts.num("secs", 5.0)?;
    let max_p99: f64 = opts.num("max-p99-ms", 20.0)?;
    let clk_tck: f64 = opts.num("clk-tck", 100.0)?;
    let label = opts.get("label").unwrap_or("relay").to_string();
    let pids = pid_list(opts);
    let steps = step_list(opts)?;
    let sock_a = bind(a_port)?;
    let sock_b = bind(b_port)?;
    let targets = if let Some(map) = opts.get("map") {
        read_map(map)?
    } else {
        let server: SocketAddr = opts.req("ng")?.parse()?;
        let calls = steps.iter().copied().max().unwrap_or(0);
        ng_sessions(server, calls, sock_a.local_addr()?, sock_b.local_addr()?)?
    };
    let epoch = Instant::now();
    let step_no = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut stats = Vec::new();
    let mut receivers = Vec::new();
    for sock in [&sock_a, &sock_b] {
        let sock = sock.try_clone()?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let st = Arc::new(Mutex::new(StepStats::new()));
        stats.push(st.clone());
        let (step_no, stop) = (step_no.clone(), stop.clone());
        receivers.push(thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                let Ok((n, _)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let now = epoch.elapsed().as_nanos() as u64;
                if n < 28 {
                    continue;
                }
                let sent = u64::from_le_bytes(buf[12..20].try_into().unwrap_or([0; 8]));
                let step = u32::from_le_bytes(buf[20..24].try_into().unwrap_or([0; 4]));
                let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
                if step != step_no.load(Ordering::Relaxed) {
                    s.wrong_step += 1;
                    continue;
                }
                s.received += 1;
                let bucket = ((now.saturating_sub(sent)) / BUCKET_NS).min(BUCKETS as u64);
                s.hist[bucket as usize] += 1;
            }
        }));
    }

    println!(
        "rtpgen: {label}: {} sessions, generator sockets A {} B {}, {secs} s per step",
        targets.len(),
        sock_a.local_addr()?,
        sock_b.local_addr()?
    );
    let mut best = 0usize;
    let mut best_line = String::from("none passed");
    let mut seqs = vec![0u16; targets.len()];
    for (k, &calls) in steps.iter().enumerate() {
        if calls > targets.len() {
            println!(
                "rtpgen: step {calls} calls skipped: only {} sessions",
                targets.len()
            );
            break;
        }
        let step = k as u32 + 1;
        step_no.store(step, Ordering::Relaxed);
        for s in &stats {
            s.lock().unwrap_or_else(|e| e.into_inner()).reset();
        }
        let cpu0: u64 = pids.iter().map(|&p| cpu_ticks(p)).sum();
        let start = Instant::now();
        let units_total = (secs * 50.0).round() as u64 * calls as u64;
        let mut sent_units = 0u64;
        let mut send_errors = 0u64;
        let mut max_lag = Duration::ZERO;
        let mut pkt = [0u8; PACKET];
        pkt[0] = 0x80;
        pkt[24] = 0;
        while sent_units < units_total {
            let elapsed = start.elapsed();
            let frames = elapsed.as_nanos() / FRAME.as_nanos();
            let within = elapsed.as_nanos() % FRAME.as_nanos();
            let due = (frames as u64 * calls as u64
                + (within * calls as u128 / FRAME.as_nanos()) as u64)
                .min(units_total);
            if due > sent_units + calls as u64 / 10 + 1 {
                // How far behind schedule the sender is.
                let behind = (due - sent_units) as u128 * FRAME.as_nanos() / calls as u128;
                max_lag = max_lag.max(Duration::from_nanos(behind as u64));
            }
            while sent_units < due {
                let i = (sent_units % calls as u64) as usize;
                let (to_a, to_b) = targets[i];
                let seq = seqs[i];
                seqs[i] = seq.wrapping_add(1);
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                pkt[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                pkt[8..12].copy_from_slice(&(i as u32).to_be_bytes());
                pkt[20..24].copy_from_slice(&step.to_le_bytes());
                for (sock, to, dir) in [(&sock_a, to_a, 0u8), (&sock_b, to_b, 1u8)] {
                    pkt[24] = dir;
                    let now = epoch.elapsed().as_nanos() as u64;
                    pkt[12..20].copy_from_slice(&now.to_le_bytes());
                    if sock.send_to(&pkt, to).is_err() {
                        send_errors += 1;
                    }
                }
                sent_units += 1;
            }
            thread::sleep(Duration::from_micros(200));
        }
        let send_secs = start.elapsed().as_secs_f64();
        thread::sleep(Duration::from_millis(500));
        let cpu1: u64 = pids.iter().map(|&p| cpu_ticks(p)).sum();
        let wall = start.elapsed().as_secs_f64();
        let sent = units_total * 2;
        let locked: Vec<_> = stats
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let received: u64 = locked.iter().map(|s| s.received).sum();
        let hists: Vec<&[u32]> = locked.iter().map(|s| s.hist.as_slice()).collect();
        let (p50, p99, p999) = (
            quantile(&hists, received, 0.50),
            quantile(&hists, received, 0.99),
            quantile(&hists, received, 0.999),
        );
        let max = quantile(&hists, received, 1.0);
        drop(locked);
        let lost = sent.saturating_sub(received);
        let cpu = if pids.is_empty() {
            String::new()
        } else {
            format!(
                " relay_cpu={:.0}%",
                (cpu1 - cpu0) as f64 / clk_tck / wall * 100.0
            )
        };
        let line = format!(
            "{label}: calls={calls} offered={:.0}pkt/s relayed={:.0}pkt/s lost={lost} ({:.3}%) delay_ms p50={p50:.2} p99={p99:.2} p99.9={p999:.2} max={max:.2}{cpu} send_errors={send_errors} sender_max_lag_ms={:.1}",
            sent as f64 / send_secs,
            received as f64 / send_secs,
            lost as f64 * 100.0 / sent.max(1) as f64,
            max_lag.as_secs_f64() * 1000.0
        );
        println!("{line}");
        let pass = lost == 0 && p99 <= max_p99;
        if pass {
            best = calls;
            best_line = line;
        } else {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in receivers {
        let _ = r.join();
    }
    println!("rtpgen: {label} best: {best_line}");
    println!("best {best}");
    Ok(())
}
