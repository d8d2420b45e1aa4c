//! A `webrtcgen` worker thread: many browser-style peers driven in one poll loop (mio, one
//! UDP socket per peer). The loop runs in ticks of 500 µs: it sleeps to the next tick, takes
//! every readable socket at once (a zero-timeout poll), then sends the frames that are due and
//! runs str0m's timers. Waking per datagram instead cost the generator most of its CPU in
//! context switches (perf: 35% of its samples in the scheduler at 200 calls); the batching
//! adds at most a tick to the measured delay, the same for every relay. The main thread steers the
//! steps through `Control` and hands over peers as their calls are set up, so ICE and DTLS
//! start right after each call is answered, as a browser's would.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::rtpgen::{StepStats, BUCKETS, BUCKET_NS, FRAME};
use crate::webrtc_peer::{Happening, Peer};

const TICK: Duration = Duration::from_micros(500);

/// Shared between the main thread and the workers.
#[derive(Default)]
pub struct Control {
    /// Current step number (0: none). Written last, after `calls`, `frames` and `start_ns`.
    pub step: AtomicU32,
    /// Calls (lowest indices) sending in the current step.
    pub calls: AtomicUsize,
    /// Frames each sending call sends in the step.
    pub frames: AtomicU64,
    /// Step start, ns since the generator's epoch.
    pub start_ns: AtomicU64,
    pub stop: AtomicBool,
    pub connected: AtomicUsize,
    pub failed: AtomicUsize,
    /// Frames written toward the relay in the current step.
    pub sent: AtomicU64,
    /// Worst lateness of a frame behind its schedule in the current step, ns.
    pub max_lag_ns: AtomicU64,
    pub send_errors: AtomicU64,
    /// SRTP datagrams the peers' str0m actually sent (frames written may wait or be dropped
    /// by str0m, e.g. while ICE has no nominated pair).
    pub rtp_out: AtomicU64,
}

struct Slot {
    peer: Peer,
    next_send: Instant,
    frames_left: u64,
    frames_total: u64,
    connected: bool,
    failed: bool,
}

impl Slot {
    /// When this peer next needs the loop: a frame to send or a str0m timer.
    fn due(&self) -> Instant {
        if self.frames_left > 0 {
            self.next_send.min(self.peer.next_timeout)
        } else {
            self.peer.next_timeout
        }
    }
}

/// Runs until `ctl.stop`; `stats` gets the one-way delays of media that came in.
pub fn run(
    epoch: Instant,
    ctl: Arc<Control>,
    stats: Arc<Mutex<StepStats>>,
    new_peers: Receiver<Peer>,
) -> anyhow::Result<()> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Slot> = Vec::new();
    // slots[i].due(), kept beside them.
    let mut dues: Vec<Instant> = Vec::new();
    let mut buf = vec![0u8; 2048];
    let mut payload = [0u8; 160];
    let mut cur_step = 0u32;
    let mut next_tick = Instant::now();
    while !ctl.stop.load(Ordering::Relaxed) {
        while let Ok(mut peer) = new_peers.try_recv() {
            poll.registry()
                .register(&mut peer.sock, Token(slots.len()), Interest::READABLE)?;
            let now = Instant::now();
            slots.push(Slot {
                peer,
                next_send: now,
                frames_left: 0,
                frames_total: 0,
                connected: false,
                failed: false,
            });
            dues.push(now);
        }
        let step = ctl.step.load(Ordering::Acquire);
        if step != cur_step {
            cur_step = step;
            let calls = ctl.calls.load(Ordering::Relaxed);
            let frames = ctl.frames.load(Ordering::Relaxed);
            let start = epoch + Duration::from_nanos(ctl.start_ns.load(Ordering::Relaxed));
            for s in &mut slots {
                let call = s.peer.call;
                if call < calls {
                    // Calls spread evenly over the 20 ms, as rtpgen spreads them.
                    s.next_send = start + FRAME * call as u32 / calls as u32;
                    s.frames_left = frames;
                    s.frames_total = frames;
                } else {
                    s.frames_left = 0;
                }
            }
            dues.iter_mut().zip(&slots).for_each(|(d, s)| *d = s.due());
        }
        let wait = next_tick.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        if let Err(e) = poll.poll(&mut events, Some(Duration::ZERO)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e.into());
            }
        }
        let now = Instant::now();
        let on = |slot_connected: &mut bool, slot_failed: &mut bool, h: Happening| match h {
            Happening::Connected => {
                if !*slot_connected {
                    *slot_connected = true;
                    ctl.connected.fetch_add(1, Ordering::Relaxed);
                }
            }
            Happening::Failed(why) => {
                if !*slot_failed {
                    *slot_failed = true;
                    ctl.failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("webrtcgen: a peer failed: {why}");
                }
            }
            // The step the main thread runs now (this loop may not have seen it yet).
            Happening::Media(p) => record(&stats, epoch, ctl.step.load(Ordering::Acquire), p),
        };
        for ev in events.iter() {
            let Some(s) = slots.get_mut(ev.token().0) else {
                continue;
            };
            // Edge-triggered: read until the socket is empty.
            while let Ok((n, from)) = s.peer.sock.recv_from(&mut buf) {
                let (c, f) = (&mut s.connected, &mut s.failed);
                s.peer.receive(now, from, &buf[..n], &mut |h| on(c, f, h));
            }
            dues[ev.token().0] = s.due();
        }
        next_tick = now + TICK;
        for (s, due) in slots.iter_mut().zip(&mut dues) {
            // Most peers have nothing due in a given tick; their deadlines sit in a dense array.
            if *due > now {
                continue;
            }
            let (c, f) = (&mut s.connected, &mut s.failed);
            while s.frames_left > 0 && s.next_send <= now {
                let lag = now.saturating_duration_since(s.next_send).as_nanos() as u64;
                ctl.max_lag_ns.fetch_max(lag, Ordering::Relaxed);
                let sent_ns = epoch.elapsed().as_nanos() as u64;
                payload[0..8].copy_from_slice(&sent_ns.to_le_bytes());
                payload[8..12].copy_from_slice(&cur_step.to_le_bytes());
                payload[12] = 0;
                // Which call and which frame of the step, for WEBRTCGEN_LOSS_DETAIL.
                payload[13..17].copy_from_slice(&(s.peer.call as u32).to_le_bytes());
                payload[17..21]
                    .copy_from_slice(&(s.frames_total - s.frames_left).to_le_bytes()[..4]);
                s.peer
                    .send_frame(Instant::now(), &payload, &mut |h| on(c, f, h));
                s.next_send += FRAME;
                s.frames_left -= 1;
                ctl.sent.fetch_add(1, Ordering::Relaxed);
            }
            if s.peer.next_timeout <= now {
                s.peer.timeout(now, &mut |h| on(c, f, h));
            }
            if s.peer.rtp_out > 0 {
                ctl.rtp_out
                    .fetch_add(std::mem::take(&mut s.peer.rtp_out), Ordering::Relaxed);
            }
            if s.peer.send_errors > 0 {
                ctl.send_errors
                    .fetch_add(std::mem::take(&mut s.peer.send_errors), Ordering::Relaxed);
            }
            *due = s.due();
        }
    }
    Ok(())
}

/// Counts one frame that came back through the relay, if it belongs to the current step.
fn record(stats: &Mutex<StepStats>, epoch: Instant, step: u32, payload: &[u8]) {
    if payload.len() < 13 {
        return;
    }
    let now = epoch.elapsed().as_nanos() as u64;
    let sent = u64::from_le_bytes(payload[0..8].try_into().unwrap_or([0; 8]));
    let tag = u32::from_le_bytes(payload[8..12].try_into().unwrap_or([0; 4]));
    let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
    if tag != step || step == 0 {
        s.wrong_step += 1;
        return;
    }
    s.received += 1;
    let bucket = (now.saturating_sub(sent) / BUCKET_NS).min(BUCKETS as u64);
    s.hist[bucket as usize] += 1;
}
