//! Audio for the media tests: an RTP socket that keeps every packet it receives (with its
//! arrival time) and can send a paced G.711 tone, the decoding of what it received, and the
//! measures the tests assert on (RMS, Goertzel purity, bursts separated by silence).
//!
//! The codec tables and the tone generator and meter are the engine's own
//! (`engine::media::g711`, `engine::media::tone`), which have their own unit tests against
//! known values; what is tested here is the path the audio took through the server.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use engine::media::{g711, tone};

/// Samples per second of G.711.
pub const RATE: u32 = 8000;
/// Samples in one 20 ms packet.
pub const FRAME: usize = 160;

/// A G.711 law and its static payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// PCMU, payload type 0.
    Mu,
    /// PCMA, payload type 8.
    A,
}

impl Law {
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Mu => 0,
            Law::A => 8,
        }
    }

    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Mu => g711::ulaw_to_linear(code),
            Law::A => g711::alaw_to_linear(code),
        }
    }

    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Mu => g711::linear_to_ulaw(sample),
            Law::A => g711::linear_to_alaw(sample),
        }
    }
}

/// One RTP packet as received.
#[derive(Debug, Clone)]
pub struct Packet {
    pub at: Instant,
    pub src: SocketAddr,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
    /// The datagram as it came.
    pub raw: Vec<u8>,
}

/// An RTP socket on loopback that records every packet it receives.
pub struct Capture {
    sock: Arc<UdpSocket>,
    pub addr: SocketAddr,
    packets: Arc<Mutex<Vec<Packet>>>,
    stop: Arc<AtomicBool>,
    rx: Option<JoinHandle<()>>,
}

impl Capture {
    /// On a fresh port.
    pub fn bind() -> Capture {
        Capture::on(UdpSocket::bind("127.0.0.1:0").expect("bind capture"))
    }

    /// On this socket (bound already).
    pub fn on(sock: UdpSocket) -> Capture {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let sock = Arc::new(sock);
        let addr = sock.local_addr().unwrap();
        let packets = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, p, st) = (sock.clone(), packets.clone(), stop.clone());
        let rx = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !st.load(Ordering::SeqCst) {
                let Ok((n, src)) = s.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(packet) = parse(&buf[..n], src) {
                    p.lock().unwrap().push(packet);
                }
            }
        });
        Capture {
            sock,
            addr,
            packets,
            stop,
            rx: Some(rx),
        }
    }

    /// The socket, to send from it (what is sent from here latches here).
    pub fn socket(&self) -> Arc<UdpSocket> {
        self.sock.clone()
    }

    /// Every RTP packet received so far, in arrival order.
    pub fn packets(&self) -> Vec<Packet> {
        self.packets.lock().unwrap().clone()
    }

    /// Audio packets of `law` received so far.
    pub fn audio(&self, law: Law) -> Vec<Packet> {
        let pt = law.payload_type();
        self.packets()
            .into_iter()
            .filter(|p| p.payload_type == pt)
            .collect()
    }

    /// Waits (bounded) until `done` holds for the packets received; returns them.
    pub fn wait(&self, timeout: Duration, done: impl Fn(&[Packet]) -> bool) -> Vec<Packet> {
        let deadline = Instant::now() + timeout;
        loop {
            let packets = self.packets();
            if done(&packets) || Instant::now() > deadline {
                return packets;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) until no packet came for `quiet`; returns the packets.
    pub fn wait_quiet(&self, quiet: Duration, timeout: Duration) -> Vec<Packet> {
        self.wait(timeout, |p| {
            p.last().is_some_and(|last| last.at.elapsed() >= quiet)
        })
    }

    /// Sends `seconds` of a `frequency` Hz sine (peak 8000) in `law` to `to`, one 20 ms packet
    /// per 20 ms, from a thread.
    pub fn send_tone(
        &self,
        to: SocketAddr,
        law: Law,
        frequency: f64,
        seconds: f64,
    ) -> JoinHandle<()> {
        let sock = self.sock.clone();
        let ssrc = 0x5eed_0000 | u32::from(self.addr.port());
        let samples = tone::sine(frequency, RATE, seconds, 8000.0);
        std::thread::spawn(move || {
            let start = Instant::now();
            for (i, frame) in samples.chunks(FRAME).enumerate() {
                let mut p = Vec::with_capacity(12 + FRAME);
                p.extend_from_slice(&[0x80, law.payload_type()]);
                p.extend_from_slice(&(i as u16).to_be_bytes());
                p.extend_from_slice(&((i * FRAME) as u32).to_be_bytes());
                p.extend_from_slice(&ssrc.to_be_bytes());
                p.extend(frame.iter().map(|s| law.encode(*s)));
                let _ = sock.send_to(&p, to);
                let next = start + Duration::from_millis(20 * (i as u64 + 1));
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    }
}

impl Capture {
    /// Presses `digit` (`0-9 * #`) towards `to` as RFC 4733 events on payload type 101: a
    /// 100 ms key press (marker on the first packet, the end bit on the last three, as phones
    /// send it), then 100 ms of quiet. Blocks for those 200 ms.
    pub fn press(&self, to: SocketAddr, digit: char) {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let event: u8 = match digit {
            '0'..='9' => digit as u8 - b'0',
            '*' => 10,
            '#' => 11,
            _ => panic!("not a DTMF digit: {digit}"),
        };
        let n = NEXT.fetch_add(8, Ordering::Relaxed);
        let ssrc = 0x5eed_0000 | u32::from(self.addr.port());
        let timestamp = n.wrapping_mul(1600);
        for i in 0..8u16 {
            let end = i >= 5;
            let duration: u16 = 160 * (i.min(5) + 1);
            let mut p = Vec::with_capacity(16);
            p.extend_from_slice(&[0x80, if i == 0 { 0x80 | 101 } else { 101 }]);
            p.extend_from_slice(&((n as u16).wrapping_add(i)).to_be_bytes());
            p.extend_from_slice(&timestamp.to_be_bytes());
            p.extend_from_slice(&ssrc.to_be_bytes());
            p.extend_from_slice(&[event, if end { 0x80 | 10 } else { 10 }]);
            p.extend_from_slice(&duration.to_be_bytes());
            let _ = self.sock.send_to(&p, to);
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(rx) = self.rx.take() {
            let _ = rx.join();
        }
    }
}

/// An RTP packet (version 2, no CSRC or extension handling beyond skipping them).
fn parse(b: &[u8], src: SocketAddr) -> Option<Packet> {
    if b.len() < 12 || b[0] >> 6 != 2 {
        return None;
    }
    let csrcs = usize::from(b[0] & 0x0F) * 4;
    let mut start = 12 + csrcs;
    if b[0] & 0x10 != 0 {
        let words = usize::from(u16::from_be_bytes([*b.get(start + 2)?, *b.get(start + 3)?]));
        start += 4 + words * 4;
    }
    Some(Packet {
        at: Instant::now(),
        src,
        payload_type: b[1] & 0x7F,
        seq: u16::from_be_bytes([b[2], b[3]]),
        timestamp: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        payload: b.get(start..)?.to_vec(),
        raw: b.to_vec(),
    })
}

/// The linear samples of `packets` decoded as `law`, in the order given.
pub fn decode(packets: &[Packet], law: Law) -> Vec<i16> {
    packets
        .iter()
        .flat_map(|p| p.payload.iter().map(move |c| law.decode(*c)))
        .collect()
}

/// Seconds of audio in `samples` (8 kHz).
pub fn seconds(samples: usize) -> f64 {
    samples as f64 / f64::from(RATE)
}

pub fn rms(samples: &[i16]) -> f64 {
    tone::rms(samples)
}

/// How much of a block is a sine at `frequency`: its Goertzel amplitude over the amplitude a
/// pure sine of the block's RMS would have. A pure tone reads ≈ 1, speech or another
/// frequency well under 0.5, silence 0.
pub fn purity(samples: &[i16], frequency: f64) -> f64 {
    let r = tone::rms(samples);
    if r < 1.0 {
        return 0.0;
    }
    tone::level(samples, frequency, RATE) / (r * std::f64::consts::SQRT_2)
}

/// 20 ms blocks of `samples` that are clearly the `frequency` tone (loud and pure).
pub fn tone_frames(samples: &[i16], frequency: f64) -> usize {
    samples
        .chunks_exact(FRAME)
        .filter(|f| tone::rms(f) > 1000.0 && purity(f, frequency) > 0.8)
        .count()
}

/// 20 ms blocks of `samples` that are not silence (RMS above ~-50 dBFS).
pub fn loud_frames(samples: &[i16]) -> usize {
    samples
        .chunks_exact(FRAME)
        .filter(|f| tone::rms(f) > 100.0)
        .count()
}

/// `packets` cut where nothing arrived for longer than `gap`.
pub fn bursts(packets: &[Packet], gap: Duration) -> Vec<Vec<Packet>> {
    let mut out: Vec<Vec<Packet>> = Vec::new();
    for p in packets {
        match out.last_mut() {
            Some(burst) if p.at.duration_since(burst.last().unwrap().at) <= gap => {
                burst.push(p.clone())
            }
            _ => out.push(vec![p.clone()]),
        }
    }
    out
}

/// Writes a WAV of a `frequency` Hz sine: `seconds` long at `rate` Hz, `channels` channels
/// (the same tone in each), 16-bit.
pub fn write_tone_wav(path: &Path, frequency: f64, rate: u32, channels: u16, seconds: f64) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for s in tone::sine(frequency, rate, seconds, 10_000.0) {
        for _ in 0..channels {
            w.write_sample(s).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// A WAV file's bytes as a tone prompt (for a `file_url` served by the test).
pub fn tone_wav_bytes(frequency: f64, seconds: f64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wav");
    write_tone_wav(&path, frequency, RATE, 1, seconds);
    std::fs::read(path).unwrap()
}

/// A downloaded WAV: its spec and its samples split by channel.
pub fn read_wav(bytes: &[u8]) -> (hound::WavSpec, Vec<Vec<i16>>) {
    let mut r = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("a WAV file");
    let spec = r.spec();
    let n = usize::from(spec.channels);
    let mut channels = vec![Vec::new(); n];
    for (i, s) in r.samples::<i16>().enumerate() {
        channels[i % n].push(s.expect("a 16-bit sample"));
    }
    (spec, channels)
}
