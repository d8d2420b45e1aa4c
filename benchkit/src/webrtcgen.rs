//! `benchkit webrtcgen`: concurrent browser-style calls bridged by a relay to plain RTP legs,
//! and the one-way delay and loss of their G.711 media both ways.
//!
//! Per call, leg A is a browser-style peer (`webrtc_peer.rs`: str0m with ICE, DTLS-SRTP,
//! rtcp-mux, its own UDP socket; `--threads` workers drive them, `webrtc_worker.rs`) and leg B
//! a plain RTP endpoint: one socket for all calls, as in `rtpgen`. Every call sends one 20 ms
//! PCMU frame (160 bytes, send time and step number in it) every 20 ms each way, calls spread
//! evenly over the 20 ms. Sessions come from one of:
//! * `--ng ADDR`: rtpengine over ng. `offer` with leg B's plain SDP and `ICE: force`,
//!   `DTLS: passive`, `transport-protocol: UDP/TLS/RTP/SAVPF`, rtcp-mux, SDES off (what goes to
//!   the browser side), `answer` with the peer's SDP (setup:active); rtpengine's reply names
//!   the plain port.
//! * `--sip ADDR --callee USER --phone-log FILE`: calls through ringmaster: an INVITE with the
//!   peer's WebRTC offer (`sip_uac.rs`, digest auth as `--user`), the 200's ICE-lite answer
//!   configures the peer; the B leg is a SIPp phone whose log names, per call in order, the
//!   relay port leg B sends to.
//!
//! Then steps as in `rtpgen` (`--steps`, `--secs`, `--max-p99-ms`, `--pids`), except that the
//! calls a step adds are set up just before it (idle WebRTC legs cost a relay) and that a
//! failed step runs once more (`--retries`, the machine is shared) before it ends the series;
//! `best N` is the last step that passed. Each step line also gives this generator's own CPU
//! (all its threads).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::browser_sdp::parse_remote;
use crate::ng::{self, Arg};
use crate::rtpgen::{
    bind, cpu_ticks, pid_list, quantile, step_list, StepStats, BUCKETS, BUCKET_NS, FRAME, PACKET,
};
use crate::sip_uac::{Dialog, Uac};
use crate::webrtc_peer::Peer;
use crate::webrtc_worker::{self, Control};
use crate::Opts;

/// How calls are made: rtpengine over ng, or ringmaster over SIP.
enum Signalling {
    Ng(ng::Client, String),
    Sip {
        uac: Uac,
        callee: String,
        dialogs: Vec<Dialog>,
    },
}

impl Signalling {
    /// Sets up call `i`; returns where the plain leg sends (None: read from the phone log).
    fn call(
        &mut self,
        i: usize,
        peer: &mut Peer,
        plain: SocketAddr,
    ) -> anyhow::Result<Option<SocketAddr>> {
        match self {
            Signalling::Ng(client, ice_lite) => {
                let call_id = format!("wbench-{i}-{}", std::process::id());
                let offer_sdp = ng::sdp(plain, i as u64);
                let mut args = vec![
                    ("command", Arg::Str("offer")),
                    ("call-id", Arg::Str(&call_id)),
                    ("from-tag", Arg::Str("ft")),
                    ("sdp", Arg::Str(&offer_sdp)),
                    ("ICE", Arg::Str("force")),
                    ("DTLS", Arg::Str("passive")),
                    ("transport-protocol", Arg::Str("UDP/TLS/RTP/SAVPF")),
                    ("rtcp-mux", Arg::List(&["offer"])),
                    ("SDES", Arg::List(&["off"])),
                ];
                if ice_lite.as_str() != "off" {
                    args.push(("ICE-lite", Arg::Str(ice_lite.as_str())));
                }
                let offer = client.call_args(&args)?;
                let to_browser = offer
                    .get("sdp")
                    .and_then(ng::Value::as_str)
                    .unwrap_or_default();
                let remote = parse_remote(to_browser)?;
                let answer_sdp = peer.local_sdp("active");
                show_sdp(
                    i,
                    &[
                        ("rtpengine to the browser", to_browser),
                        ("browser answer", &answer_sdp),
                    ],
                );
                let answer = client.call(&[
                    ("command", "answer"),
                    ("call-id", &call_id),
                    ("from-tag", "ft"),
                    ("to-tag", "tt"),
                    ("sdp", &answer_sdp),
                ])?;
                let to_plain = answer
                    .get("sdp")
                    .and_then(ng::Value::as_str)
                    .and_then(ng::media_addr)
                    .ok_or_else(|| {
                        anyhow::anyhow!("ng answer reply without a plain media address")
                    })?;
                peer.configure(&remote, false, Instant::now())?;
                Ok(Some(to_plain))
            }
            Signalling::Sip {
                uac,
                callee,
                dialogs,
            } => {
                let offer = peer.local_sdp("actpass");
                let (dialog, answer) = uac.invite(callee, &offer)?;
                dialogs.push(dialog);
                show_sdp(
                    i,
                    &[("browser offer", &offer), ("ringmaster answer", &answer)],
                );
                let remote = parse_remote(&answer)?;
                peer.configure(&remote, true, Instant::now())?;
                Ok(None)
            }
        }
    }
}

/// With `WEBRTCGEN_SHOW_SDP=1`, the first call's SDPs go to stderr (to see what each relay
/// offers and answers).
fn show_sdp(call: usize, sdps: &[(&str, &str)]) {
    if call == 0 && std::env::var_os("WEBRTCGEN_SHOW_SDP").is_some() {
        for (what, sdp) in sdps {
            eprintln!("--- {what}:\n{sdp}");
        }
    }
}

/// Relay ports for the plain legs from a SIPp log: lines `media c=IN IP4 ADDR m=audio PORT`.
fn phone_targets(path: &str, want: usize) -> anyhow::Result<Vec<SocketAddr>> {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let out: Vec<SocketAddr> = text
            .lines()
            .filter(|l| l.starts_with("media "))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                format!("{}:{}", f.get(3)?, f.get(5)?).parse().ok()
            })
            .collect();
        if out.len() >= want || started.elapsed() > Duration::from_secs(30) {
            anyhow::ensure!(
                out.len() >= want,
                "{path}: {} of {want} phone legs",
                out.len()
            );
            return Ok(out);
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// (call, frame) of every frame that reached the plain side in the step (loss detail only).
type SeenFrames = Arc<Mutex<Vec<(u32, u32)>>>;

/// The plain side's receiver: frames that crossed from the browser peers. It drains its
/// socket every 500 µs, as the workers do, rather than waking per datagram.
fn plain_receiver(
    sock: UdpSocket,
    epoch: Instant,
    step: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    st: Arc<Mutex<StepStats>>,
    seen: Option<SeenFrames>,
) {
    let _ = sock.set_nonblocking(true);
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            thread::sleep(Duration::from_micros(500));
            continue;
        };
        let now = epoch.elapsed().as_nanos() as u64;
        let pkt = &buf[..n];
        // RTP with PT 0 only (RTCP the relay passes on is not media).
        if n < 12 || pkt[0] >> 6 != 2 || pkt[1] & 0x7f != 0 {
            continue;
        }
        let mut off = 12 + 4 * usize::from(pkt[0] & 0x0f);
        if pkt[0] & 0x10 != 0 && n >= off + 4 {
            off += 4 + 4 * usize::from(u16::from_be_bytes([pkt[off + 2], pkt[off + 3]]));
        }
        let Some(p) = pkt.get(off..off + 21) else {
            continue;
        };
        let sent = u64::from_le_bytes(p[0..8].try_into().unwrap_or([0; 8]));
        let tag = u32::from_le_bytes(p[8..12].try_into().unwrap_or([0; 4]));
        let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
        if tag != step.load(Ordering::Acquire) {
            s.wrong_step += 1;
            continue;
        }
        s.received += 1;
        if let (Some(seen), Some(id)) = (seen.as_ref(), p.get(13..21)) {
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.push((
                u32::from_le_bytes([id[0], id[1], id[2], id[3]]),
                u32::from_le_bytes([id[4], id[5], id[6], id[7]]),
            ));
        }
        s.hist[(now.saturating_sub(sent) / BUCKET_NS).min(BUCKETS as u64) as usize] += 1;
    }
}

pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let secs: f64 = opts.num("secs", 5.0)?;
    let max_p99: f64 = opts.num("max-p99-ms", 20.0)?;
    let clk_tck: f64 = opts.num("clk-tck", 100.0)?;
    let threads: usize = opts.num("threads", 2)?;
    let label = opts.get("label").unwrap_or("relay").to_string();
    let pids = pid_list(opts);
    let steps = step_list(opts)?;
    let calls_total = steps.iter().copied().max().unwrap_or(0);
    let plain = bind(opts.num("plain-port", 31004)?)?;
    let plain_addr = plain.local_addr()?;
    let mut sig = if let Some(ng_addr) = opts.get("ng") {
        let ice_lite = opts.get("ice-lite").unwrap_or("forward").to_string();
        Signalling::Ng(ng::Client::new(ng_addr.parse()?)?, ice_lite)
    } else {
        let server: SocketAddr = opts.req("sip")?.parse()?;
        let uac = Uac::new(
            server,
            opts.req("user")?,
            opts.req("password")?,
            opts.get("domain").unwrap_or("bench.local"),
        )?;
        Signalling::Sip {
            uac,
            callee: opts.req("callee")?.to_string(),
            dialogs: Vec::new(),
        }
    };

    let epoch = Instant::now();
    let ctl = Arc::new(Control::default());
    let mut worker_stats = Vec::new();
    let mut feeds: Vec<Sender<Peer>> = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..threads.max(1) {
        let (tx, rx) = mpsc::channel();
        let st = Arc::new(Mutex::new(StepStats::new()));
        let (ctl, st2) = (ctl.clone(), st.clone());
        workers.push(thread::spawn(move || {
            webrtc_worker::run(epoch, ctl, st2, rx)
        }));
        feeds.push(tx);
        worker_stats.push(st);
    }

    let step_no = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let plain_stats = Arc::new(Mutex::new(StepStats::new()));
    // WEBRTCGEN_LOSS_DETAIL=1: which frames toward the plain side went missing in a failed step.
    let seen = std::env::var_os("WEBRTCGEN_LOSS_DETAIL").map(|_| Arc::new(Mutex::new(Vec::new())));
    let receiver = {
        let seen = seen.clone();
        let (sock, st, step, stop) = (
            plain.try_clone()?,
            plain_stats.clone(),
            step_no.clone(),
            stop.clone(),
        );
        thread::spawn(move || plain_receiver(sock, epoch, step, stop, st, seen))
    };
    let me = std::process::id();
    let mut best = 0usize;
    let mut best_line = String::from("none passed");
    let connect_secs: f64 = opts.num("connect-secs", 60.0)?;
    let mut targets: Vec<SocketAddr> = Vec::with_capacity(calls_total);
    let mut made = 0usize;
    let mut seqs: Vec<u16> = Vec::new();
    println!("webrtcgen: {label}: plain socket {plain_addr}, {threads} worker threads, {secs} s per step");
    // Another session's burst on the shared cores can stall the generator or the relay for a
    // moment: a failed step runs once more (`--retries`) before it ends the series.
    let retries: u32 = opts.num("retries", 1)?;
    let (mut k, mut tries, mut step) = (0usize, 0u32, 0u32);
    while let Some(&calls) = steps.get(k) {
        // The step's calls are all the calls there are: idle WebRTC legs cost a relay (timers,
        // consent checks, RTCP), so none is set up before its step. One after another; each
        // peer starts ICE and DTLS in its worker at once, as a browser does when answered.
        let started = Instant::now();
        while made < calls {
            let mut peer = Peer::new(made, Instant::now())?;
            if let Some(t) = sig.call(made, &mut peer, plain_addr)? {
                targets.push(t);
            }
            feeds[made % feeds.len()]
                .send(peer)
                .map_err(|_| anyhow::anyhow!("a worker thread ended early"))?;
            made += 1;
        }
        if let Signalling::Sip { .. } = sig {
            targets = phone_targets(opts.req("phone-log")?, calls)?;
        }
        seqs.resize(targets.len(), 0);
        while ctl.connected.load(Ordering::Relaxed) + ctl.failed.load(Ordering::Relaxed) < made
            && started.elapsed().as_secs_f64() < connect_secs
        {
            thread::sleep(Duration::from_millis(20));
        }
        let connected = ctl.connected.load(Ordering::Relaxed);
        if connected < calls {
            println!("webrtcgen: {label}: step {calls} calls: only {connected} peers connected (ICE + DTLS) within {connect_secs} s");
            break;
        }
        let setup_secs = started.elapsed().as_secs_f64();
        // Every run of a step has its own tag, so stragglers of a failed try are not counted.
        step += 1;
        for s in worker_stats.iter().chain([&plain_stats]) {
            s.lock().unwrap_or_else(|e| e.into_inner()).reset();
        }
        if let Some(seen) = &seen {
            seen.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        ctl.sent.store(0, Ordering::Relaxed);
        ctl.max_lag_ns.store(0, Ordering::Relaxed);
        ctl.send_errors.store(0, Ordering::Relaxed);
        ctl.rtp_out.store(0, Ordering::Relaxed);
        let frames = (secs * 50.0).round() as u64;
        let start = Instant::now() + Duration::from_millis(5);
        ctl.calls.store(calls, Ordering::Relaxed);
        ctl.frames.store(frames, Ordering::Relaxed);
        ctl.start_ns
            .store((start - epoch).as_nanos() as u64, Ordering::Relaxed);
        step_no.store(step, Ordering::Release);
        ctl.step.store(step, Ordering::Release);
        let cpu0: u64 = pids.iter().map(|&p| cpu_ticks(p)).sum();
        let gen0 = cpu_ticks(me);
        let wall0 = Instant::now();

        // The plain side's frames, paced as rtpgen paces them.
        let units_total = frames * calls as u64;
        let (mut sent_units, mut plain_errors, mut plain_lag) = (0u64, 0u64, Duration::ZERO);
        let mut pkt = [0u8; PACKET];
        pkt[0] = 0x80;
        while sent_units < units_total {
            let elapsed = Instant::now().saturating_duration_since(start);
            let frame_ns = FRAME.as_nanos();
            let due = ((elapsed.as_nanos() / frame_ns) as u64 * calls as u64
                + (elapsed.as_nanos() % frame_ns * calls as u128 / frame_ns) as u64)
                .min(units_total);
            if due > sent_units + calls as u64 / 10 + 1 {
                let behind = (due - sent_units) as u128 * frame_ns / calls as u128;
                plain_lag = plain_lag.max(Duration::from_nanos(behind as u64));
            }
            while sent_units < due {
                let i = (sent_units % calls as u64) as usize;
                let seq = seqs[i];
                seqs[i] = seq.wrapping_add(1);
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                pkt[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                pkt[8..12].copy_from_slice(&(0x1000 + i as u32).to_be_bytes());
                pkt[12..20].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes());
                pkt[20..24].copy_from_slice(&step.to_le_bytes());
                pkt[24] = 1;
                if plain.send_to(&pkt, targets[i]).is_err() {
                    plain_errors += 1;
                }
                sent_units += 1;
            }
            // The workers' tick: fewer wakeups than rtpgen's 200 µs, the generator's CPU counts here.
            thread::sleep(Duration::from_micros(500));
        }
        // The workers finish their share of the step too (bounded: a worker far behind loses).
        let deadline = Instant::now() + Duration::from_secs(2);
        while ctl.sent.load(Ordering::Relaxed) < units_total && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let send_secs = wall0.elapsed().as_secs_f64();
        thread::sleep(Duration::from_millis(500));
        let cpu1: u64 = pids.iter().map(|&p| cpu_ticks(p)).sum();
        let gen1 = cpu_ticks(me);
        let wall = wall0.elapsed().as_secs_f64();

        let browser_sent = ctl.sent.load(Ordering::Relaxed);
        let locked: Vec<_> = worker_stats
            .iter()
            .chain([&plain_stats])
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let to_browser: u64 = locked[..locked.len() - 1].iter().map(|s| s.received).sum();
        let to_plain = locked[locked.len() - 1].received;
        let received = to_browser + to_plain;
        let hists: Vec<&[u32]> = locked.iter().map(|s| s.hist.as_slice()).collect();
        let (p50, p99, p999, max) = (
            quantile(&hists, received, 0.50),
            quantile(&hists, received, 0.99),
            quantile(&hists, received, 0.999),
            quantile(&hists, received, 1.0),
        );
        drop(locked);
        let sent = units_total * 2;
        let lost = sent.saturating_sub(received);
        let pct = |ticks: u64| ticks as f64 / clk_tck / wall * 100.0;
        let relay_cpu = if pids.is_empty() {
            String::new()
        } else {
            format!(" relay_cpu={:.0}%", pct(cpu1 - cpu0))
        };
        let line = format!(
            "{label}: calls={calls} offered={:.0}pkt/s relayed={:.0}pkt/s lost={lost} ({:.3}%; to_plain {} to_browser {}) delay_ms p50={p50:.2} p99={p99:.2} p99.9={p999:.2} max={max:.2}{relay_cpu} gen_cpu={:.0}% send_errors={} sender_max_lag_ms plain={:.1} browser={:.1} browser_frames={browser_sent}/{units_total} browser_srtp_out={} setup_s={setup_secs:.1}",
            sent as f64 / send_secs,
            received as f64 / send_secs,
            lost as f64 * 100.0 / sent.max(1) as f64,
            units_total.saturating_sub(to_plain),
            units_total.saturating_sub(to_browser),
            pct(gen1 - gen0),
            plain_errors + ctl.send_errors.load(Ordering::Relaxed),
            plain_lag.as_secs_f64() * 1000.0,
            ctl.max_lag_ns.load(Ordering::Relaxed) as f64 / 1e6,
            ctl.rtp_out.load(Ordering::Relaxed),
        );
        println!("{line}");
        if let (Some(seen), true) = (&seen, to_plain < units_total) {
            let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            let mut got = vec![false; units_total as usize];
            for &(call, frame) in seen.iter() {
                if let Some(g) = got.get_mut(call as usize * frames as usize + frame as usize) {
                    *g = true;
                }
            }
            let missing: Vec<String> = (0..units_total as usize)
                .filter(|&u| !got[u])
                .take(50)
                .map(|u| format!("{}/{}", u / frames as usize, u % frames as usize))
                .collect();
            eprintln!(
                "webrtcgen: {label}: frames lost toward the plain side (call/frame): {}",
                missing.join(" ")
            );
        }
        if lost == 0 && p99 <= max_p99 {
            best = calls;
            best_line = line;
            k += 1;
            tries = 0;
        } else if tries < retries {
            tries += 1;
            println!("webrtcgen: {label}: step {calls} failed; once more");
        } else {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    ctl.stop.store(true, Ordering::Relaxed);
    let _ = receiver.join();
    for w in workers {
        if let Ok(Err(e)) = w.join() {
            eprintln!("webrtcgen: worker: {e}");
        }
    }
    if let Signalling::Sip { uac, dialogs, .. } = &mut sig {
        let ended = dialogs.iter().filter(|d| uac.bye(d).is_ok()).count();
        println!(
            "webrtcgen: {label}: {ended} of {} calls ended with BYE",
            dialogs.len()
        );
    }
    println!("webrtcgen: {label} best: {best_line}");
    println!("best {best}");
    Ok(())
}
