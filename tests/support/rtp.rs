//! An RTP endpoint for the call tests: sends paced G.711 PCMU (20 ms, 160-byte payload) and
//! counts the intact packets it receives, by source (SIPp cannot easily count RTP).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// An RTP endpoint: sends paced PCMU and counts intact packets received, by source.
pub struct Rtp {
    sock: Arc<UdpSocket>,
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<SocketAddr>>>,
    rx: Option<JoinHandle<()>>,
}

/// PCMU payload of one 20 ms packet.
const PAYLOAD: usize = 160;

impl Rtp {
    pub fn bind() -> Rtp {
        Rtp::bind_at("127.0.0.1")
    }

    /// An endpoint on another loopback address (a stranger on 127.0.0.9, say).
    pub fn bind_at(ip: &str) -> Rtp {
        let sock = Arc::new(UdpSocket::bind((ip, 0)).expect("bind rtp"));
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, st, rcv) = (sock.clone(), stop.clone(), received.clone());
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let rx = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !st.load(Ordering::SeqCst) {
                if let Ok((n, src)) = s.recv_from(&mut buf) {
                    if intact(&buf[..n]) {
                        rcv.lock().unwrap().push(src);
                    }
                }
            }
        });
        Rtp {
            sock,
            addr,
            stop,
            received,
            rx: Some(rx),
        }
    }

    /// Sends `packets` PCMU packets to `to`, one per 20 ms, from a thread.
    pub fn send(&self, to: SocketAddr, packets: u16) -> JoinHandle<()> {
        let sock = self.sock.clone();
        let ssrc = (std::process::id() ^ self.addr.port() as u32).to_be_bytes();
        std::thread::spawn(move || {
            let start = Instant::now();
            for i in 0..packets {
                let mut p = Vec::with_capacity(12 + PAYLOAD);
                p.extend_from_slice(&[0x80, 0x00]);
                p.extend_from_slice(&i.to_be_bytes());
                p.extend_from_slice(&(u32::from(i) * PAYLOAD as u32).to_be_bytes());
                p.extend_from_slice(&ssrc);
                p.extend(std::iter::repeat_n(0xD5u8, PAYLOAD));
                let _ = sock.send_to(&p, to);
                let next = start + Duration::from_millis(20 * (u64::from(i) + 1));
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    }

    /// Intact packets received so far.
    pub fn received(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// The distinct addresses they came from.
    pub fn sources(&self) -> Vec<SocketAddr> {
        let mut s = self.received.lock().unwrap().clone();
        s.sort();
        s.dedup();
        s
    }

    /// Waits (bounded) until `n` packets arrived; returns the count.
    pub fn wait_received(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while self.received() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.received()
    }
}

/// A PCMU packet as `Rtp::send` makes them: version 2, PT 0, 160 bytes of our pattern.
fn intact(p: &[u8]) -> bool {
    p.len() == 12 + PAYLOAD
        && p[0] & 0xC0 == 0x80
        && p[1] & 0x7F == 0
        && p[12..].iter().all(|b| *b == 0xD5)
}

impl Drop for Rtp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(rx) = self.rx.take() {
            let _ = rx.join();
        }
    }
}
