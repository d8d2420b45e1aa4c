//! `benchkit streamgen`: voice-agent load — calls whose PCMO script is `stream` to a WebSocket
//! agent this tool also runs, measured end to end.
//!
//! Per call: a real SIP call to ringmaster (digest, answer URL → `stream` to `--agent`), and
//! one 20 ms PCMU frame per 20 ms on the caller's RTP (one socket for every call), each
//! carrying its call number and sequence in its first 8 bytes (nibbles as 0x10–0x1F, which
//! survive ringmaster's μ-law decode and re-encode). The agent (tokio-tungstenite, in this
//! process: same clock) stamps each `media` frame's arrival — the RTP in → WebSocket out delay
//! — and sends it straight back as `media`; ringmaster queues it and plays it to the caller,
//! where its arrival gives the round trip (RTP → WS → RTP). Steps: `--steps 20,50,100 --secs
//! 5`: calls are added before each step; a step passes when no frame is lost (every frame
//! sent in the step's window reaches the agent and comes back) and the one-way p99 is at most
//! 20 ms. `--pids` adds ringmaster's CPU per streamed call. Prints one line per step and
//! `best N`.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::rtpgen::{cpu_ticks, pid_list, quantile, step_list, BUCKETS, BUCKET_NS, FRAME};
use crate::sip_uac::Uac;
use crate::Opts;

const MAX_CALLS: usize = 2048;
/// Send times kept per call: 256 frames (5 s), far more than a frame's round trip.
const SEQS: usize = 256;

/// Send times (ns since start) by (call, seq % SEQS).
struct Clock {
    start: Instant,
    sent: Vec<AtomicU64>,
}

impl Clock {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    fn slot(&self, call: usize, seq: usize) -> &AtomicU64 {
        &self.sent[call * SEQS + seq % SEQS]
    }
}

fn mark(call: usize, seq: usize, out: &mut [u8]) {
    let v = ((call as u32) << 16) | (seq as u32 & 0xffff);
    for (i, b) in out.iter_mut().take(8).enumerate() {
        *b = 0x10 | ((v >> (28 - 4 * i)) & 0xf) as u8;
    }
}

fn read_mark(p: &[u8]) -> Option<(usize, usize)> {
    if p.len() < 8 || !p[..8].iter().all(|b| b & 0xf0 == 0x10) {
        return None;
    }
    let v = p[..8]
        .iter()
        .fold(0u32, |acc, b| (acc << 4) | u32::from(b & 0xf));
    Some(((v >> 16) as usize, (v & 0xffff) as usize))
}

#[derive(Default)]
struct Meter {
    /// Frames at the agent, and their one-way delays.
    at_agent: u64,
    one_way: Vec<u32>,
    /// Frames back at the caller, and their round trips.
    back: u64,
    round: Vec<u32>,
}

impl Meter {
    fn reset(&mut self) {
        self.at_agent = 0;
        self.back = 0;
        self.one_way = vec![0; BUCKETS + 1];
        self.round = vec![0; BUCKETS + 1];
    }
}

fn bucket(ns: u64) -> usize {
    ((ns / BUCKET_NS) as usize).min(BUCKETS)
}

fn relay_addr(sdp: &str) -> Option<SocketAddr> {
    let ip = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?;
    let port = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))?
        .split_whitespace()
        .next()?;
    format!("{ip}:{port}").parse().ok()
}

async fn agent(listener: tokio::net::TcpListener, clock: Arc<Clock>, meter: Arc<Mutex<Meter>>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    while let Ok((tcp, _)) = listener.accept().await {
        let (clock, meter) = (clock.clone(), meter.clone());
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let (mut tx, mut rx) = ws.split();
            while let Some(Ok(msg)) = rx.next().await {
                let Message::Text(t) = msg else { continue };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) else {
                    continue;
                };
                if v["event"] != "media" {
                    continue;
                }
                let Some(b64) = v["media"]["payload"].as_str() else {
                    continue;
                };
                use base64::Engine as _;
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                    continue;
                };
                if let Some((call, seq)) = read_mark(&bytes) {
                    let now = clock.now();
                    let sent = clock.slot(call, seq).load(Ordering::Relaxed);
                    let mut m = meter.lock().unwrap();
                    m.at_agent += 1;
                    let b = bucket(now.saturating_sub(sent));
                    m.one_way[b] += 1;
                }
                let back = serde_json::json!({"event": "media", "media": {"payload": b64}});
                if tx.send(Message::text(back.to_string())).await.is_err() {
                    return;
                }
            }
        });
    }
}

pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let server: SocketAddr = opts.req("sip")?.parse()?;
    let user = opts.req("user")?.to_string();
    let pass = opts.req("password")?.to_string();
    let domain = opts.req("domain")?.to_string();
    let callee = opts.get("callee").unwrap_or("5000").to_string();
    let agent_addr: SocketAddr = opts.req("agent")?.parse()?;
    let secs: u64 = opts.num("secs", 5)?;
    let max_p99: f64 = opts.num("max-p99-ms", 20.0)?;
    let steps = step_list(opts)?;
    let pids = pid_list(opts);
    let clk: f64 = opts.num("clk-tck", 100.0)?;
    let label = opts.get("label").unwrap_or("ringmaster").to_string();
    let clock = Arc::new(Clock {
        start: Instant::now(),
        sent: (0..MAX_CALLS * SEQS).map(|_| AtomicU64::new(0)).collect(),
    });
    let meter = Arc::new(Mutex::new(Meter::default()));
    meter.lock().unwrap().reset();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind(agent_addr))?;
    let (c2, m2) = (clock.clone(), meter.clone());
    let agent_thread = thread::spawn(move || rt.block_on(agent(listener, c2, m2)));
    drop(agent_thread);

    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0")?);
    let local = sock.local_addr()?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (rs, rc, rm, rstop) = (sock.clone(), clock.clone(), meter.clone(), stop.clone());
    thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while !rstop.load(Ordering::Relaxed) {
            let Ok((n, _)) = rs.recv_from(&mut buf) else {
                continue;
            };
            if n < 12 + 8 {
                continue;
            }
            if let Some((call, seq)) = read_mark(&buf[12..n]) {
                let now = rc.now();
                let sent = rc.slot(call, seq).load(Ordering::Relaxed);
                let mut m = rm.lock().unwrap();
                m.back += 1;
                let b = bucket(now.saturating_sub(sent));
                m.round[b] += 1;
            }
        }
    });

    let mut uac = Uac::new(server, &user, &pass, &domain)?;
    let sdp = format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", local.port());
    let mut calls: Vec<(crate::sip_uac::Dialog, SocketAddr)> = Vec::new();
    let seqs: Arc<Mutex<HashMap<usize, u16>>> = Arc::default();
    let mut best = 0;
    for n in steps {
        while calls.len() < n.min(MAX_CALLS) {
            let (d, answer) = uac.invite(&callee, &sdp)?;
            let relay = relay_addr(&answer)
                .ok_or_else(|| anyhow::anyhow!("no relay address in {answer}"))?;
            calls.push((d, relay));
        }
        // Let the streams connect and the queues settle before measuring.
        send_for(&sock, &calls, &clock, &seqs, Duration::from_millis(1000));
        thread::sleep(Duration::from_millis(300));
        meter.lock().unwrap().reset();
        let cpu0: u64 = pids.iter().map(|p| cpu_ticks(*p)).sum();
        let t0 = Instant::now();
        let sent = send_for(&sock, &calls, &clock, &seqs, Duration::from_secs(secs));
        let elapsed = t0.elapsed();
        thread::sleep(Duration::from_millis(400)); // drain
        let cpu = (pids.iter().map(|p| cpu_ticks(*p)).sum::<u64>() - cpu0) as f64 / clk;
        let m = meter.lock().unwrap();
        let p50 = quantile(&[&m.one_way], m.at_agent, 0.5);
        let p99 = quantile(&[&m.one_way], m.at_agent, 0.99);
        let rt99 = quantile(&[&m.round], m.back, 0.99);
        let lost = sent.saturating_sub(m.at_agent);
        let lost_back = sent.saturating_sub(m.back);
        let cpu_pct = 100.0 * cpu / elapsed.as_secs_f64();
        let per_call = if n > 0 { cpu_pct / n as f64 } else { 0.0 };
        let ok = lost == 0 && lost_back == 0 && p99 <= max_p99;
        println!(
            "streamgen: {label} calls={n} sent={sent} at_agent={} back={} lost={lost} lost_back={lost_back} one_way_p50={p50:.2}ms one_way_p99={p99:.2}ms round_trip_p99={rt99:.2}ms cpu={cpu_pct:.1}% cpu_per_call={per_call:.3}% {}",
            m.at_agent,
            m.back,
            if ok { "ok" } else { "FAIL" }
        );
        drop(m);
        if !ok {
            break;
        }
        best = n;
    }
    stop.store(true, Ordering::Relaxed);
    for (d, _) in &calls {
        let _ = uac.bye(d);
    }
    println!("best {best}");
    Ok(())
}

/// Sends one frame per call per 20 ms for `how_long`, spread over the 20 ms; returns frames
/// sent.
fn send_for(
    sock: &UdpSocket,
    calls: &[(crate::sip_uac::Dialog, SocketAddr)],
    clock: &Clock,
    seqs: &Mutex<HashMap<usize, u16>>,
    how_long: Duration,
) -> u64 {
    let start = Instant::now();
    let mut sent = 0;
    let mut tick = 0u64;
    let mut pkt = [0xFFu8; 172];
    pkt[0] = 0x80;
    pkt[1] = 0x00; // PCMU
    pkt[8..12].copy_from_slice(&0x5eed_0000u32.to_be_bytes());
    let mut seqs = seqs.lock().unwrap();
    while start.elapsed() < how_long {
        let frame_start = start + FRAME * tick as u32;
        for (i, (_, relay)) in calls.iter().enumerate() {
            let at = frame_start + FRAME * i as u32 / calls.len().max(1) as u32;
            let wait = at.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                thread::sleep(wait);
            }
            let seq = seqs.entry(i).or_insert(0);
            *seq = seq.wrapping_add(1);
            let s = usize::from(*seq);
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&(u32::from(*seq) * 160).to_be_bytes());
            pkt[8..12].copy_from_slice(&(0x5eed_0000u32 + i as u32).to_be_bytes());
            mark(i, s, &mut pkt[12..]);
            clock.slot(i, s).store(clock.now(), Ordering::Relaxed);
            if sock.send_to(&pkt, relay).is_ok() {
                sent += 1;
            }
        }
        tick += 1;
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip() {
        let mut p = [0u8; 160];
        mark(513, 4095, &mut p);
        assert_eq!(read_mark(&p), Some((513, 4095)));
        assert!(read_mark(&[0xff; 8]).is_none());
    }
}
