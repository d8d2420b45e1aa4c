//! WebRTC legs of the media forwarder on loopback: a browser-like str0m peer (full ICE agent,
//! controlling, DTLS client, SRTP) on one leg, a plain RTP endpoint on the other. Everything
//! binds 127.0.0.1; waits are bounded; the engine is shut down at the end.

// A test on real sockets reads the clock like any shell.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use engine::media::control::WebRtcSession;
use engine::media::sdp::webrtc::{Setup, WebRtcLocal, WebRtcRemote};
use engine::media::{Command, Event, Leg, MediaCall, MediaConfig, MediaEngine};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event as RtcEvent, IceCreds, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const BROWSER_SSRC: u32 = 0x1111;

fn engine(range: &str) -> MediaEngine {
    let ports = range.parse().unwrap_or_else(|e| panic!("{range}: {e}"));
    let mut config = MediaConfig::new(ports, LOCALHOST, LOCALHOST);
    config.threads = 1;
    MediaEngine::new(config).unwrap_or_else(|e| panic!("media engine: {e}"))
}

/// The browser: a str0m peer in RTP mode with PCMU and telephone-events.
struct Browser {
    rtc: Rtc,
    socket: UdpSocket,
    addr: SocketAddr,
    ufrag: String,
    pwd: String,
    fingerprint: String,
    mid: Mid,
    connected: bool,
    /// Payloads received.
    heard: Vec<(u8, Vec<u8>)>,
    /// Video packets received (sequence numbers) and keyframe requests got.
    video_seqs: Vec<u16>,
    keyframe_requests: usize,
}

const BROWSER_VIDEO_SSRC: u32 = 0x2222;

impl Browser {
    async fn new() -> Self {
        Self::with_codecs(&[(0, Codec::PCMU, 8000), (101, Codec::Tele, 8000)]).await
    }

    async fn with_codecs(list: &[(u8, Codec, u32)]) -> Self {
        let socket = UdpSocket::bind((LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = socket.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let mut config = Rtc::builder()
            .set_rtp_mode(true)
            .set_crypto_provider(std::sync::Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs();
        let codecs = config.codec_config();
        for &(pt, codec, rate) in list {
            let rate = std::num::NonZeroU32::new(rate).unwrap_or_else(|| unreachable!());
            let channels = (codec == Codec::Opus).then_some(2);
            codecs.add_config(
                pt.into(),
                None,
                codec,
                Frequency::from(rate),
                channels,
                FormatParams::default(),
            );
        }
        let mut rtc = config.build(Instant::now());
        let host = Candidate::host(addr, "udp").unwrap_or_else(|e| panic!("{e}"));
        rtc.add_local_candidate(host);
        let mut api = rtc.direct_api();
        let creds = api.local_ice_credentials();
        let fingerprint = api.local_dtls_fingerprint().to_string();
        let mid: Mid = "0".into();
        api.declare_media(mid, MediaKind::Audio);
        api.declare_stream_tx(Ssrc::from(BROWSER_SSRC), None, mid, None);
        Browser {
            rtc,
            socket,
            addr,
            ufrag: creds.ufrag,
            pwd: creds.pass,
            fingerprint,
            mid,
            connected: false,
            heard: Vec::new(),
            video_seqs: Vec::new(),
            keyframe_requests: 0,
        }
    }

    /// Adds a video m-line (mid "1", VP8 at 96), sending with its own SSRC.
    fn with_video(mut self) -> Self {
        let mut api = self.rtc.direct_api();
        api.declare_media("1".into(), MediaKind::Video);
        api.declare_stream_tx(Ssrc::from(BROWSER_VIDEO_SSRC), None, "1".into(), None);
        self
    }

    fn expect_video_from(&mut self, ssrc: u32) {
        self.rtc
            .direct_api()
            .expect_stream_rx(Ssrc::from(ssrc), None, "1".into(), None);
    }

    fn send_video(&mut self, seq: u16, ts: u32, marker: bool, payload: &[u8]) {
        let write = RtpWrite::new(
            96.into(),
            SeqNo::from(u64::from(seq)),
            ts,
            Instant::now(),
            payload.to_vec(),
        )
        .marker(marker);
        let mut api = self.rtc.direct_api();
        if let Some(tx) = api.stream_tx(&Ssrc::from(BROWSER_VIDEO_SSRC)) {
            tx.write_rtp(write);
        }
    }

    fn ask_keyframe(&mut self) {
        let mut api = self.rtc.direct_api();
        if let Some(rx) = api.stream_rx_by_mid("1".into(), None) {
            rx.request_keyframe(str0m::media::KeyframeRequestKind::Pli);
        }
    }

    /// What the browser's offer said, as the call core would read it.
    fn as_remote(&self) -> WebRtcRemote {
        WebRtcRemote {
            ufrag: self.ufrag.clone(),
            pwd: self.pwd.clone(),
            fingerprint: self.fingerprint.clone(),
            setup: Setup::ActPass,
            mid: Some("0".into()),
            ssrcs: vec![BROWSER_SSRC],
            mid_extension: None,
        }
    }

    /// What our answer said: connect to it as a full, controlling ICE agent, DTLS client.
    fn connect_to(&mut self, ours: &WebRtcLocal, at: SocketAddr) {
        let remote = Candidate::host(at, "udp").unwrap_or_else(|e| panic!("{e}"));
        self.rtc.add_remote_candidate(remote);
        let mut api = self.rtc.direct_api();
        api.set_remote_ice_credentials(IceCreds {
            ufrag: ours.ufrag.clone(),
            pass: ours.pwd.clone(),
        });
        api.set_remote_fingerprint(ours.fingerprint.parse().unwrap_or_else(|e| panic!("{e}")));
        api.set_ice_controlling(true);
        api.expect_stream_rx(Ssrc::from(ours.ssrc), None, self.mid, None);
        api.start_dtls(true).unwrap_or_else(|e| panic!("{e}"));
    }

    fn send_rtp(&mut self, seq: u16, payload: &[u8]) {
        self.send_pt(0, seq, u32::from(seq) * 160, payload);
    }

    fn send_pt(&mut self, pt: u8, seq: u16, ts: u32, payload: &[u8]) {
        let write = RtpWrite::new(
            pt.into(),
            SeqNo::from(u64::from(seq)),
            ts,
            Instant::now(),
            payload.to_vec(),
        );
        let mut api = self.rtc.direct_api();
        if let Some(tx) = api.stream_tx(&Ssrc::from(BROWSER_SSRC)) {
            tx.write_rtp(write);
        }
    }

    /// Run the peer for `wait`: timers, socket input, outputs.
    async fn run_for(&mut self, wait: Duration) {
        let end = Instant::now() + wait;
        let mut buf = vec![0u8; 2048];
        loop {
            let deadline = loop {
                match self.rtc.poll_output() {
                    Ok(Output::Timeout(at)) => break at,
                    Ok(Output::Transmit(t)) => {
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                    Ok(Output::Event(RtcEvent::Connected)) => self.connected = true,
                    Ok(Output::Event(RtcEvent::RtpPacket(p))) if *p.header.payload_type == 96 => {
                        self.video_seqs.push(p.header.sequence_number);
                    }
                    Ok(Output::Event(RtcEvent::RtpPacket(p))) => {
                        self.heard
                            .push((*p.header.payload_type, p.payload.to_vec()));
                    }
                    Ok(Output::Event(RtcEvent::KeyframeRequest(_))) => self.keyframe_requests += 1,
                    Ok(Output::Event(_)) => {}
                    Err(e) => panic!("browser peer: {e}"),
                }
            };
            let now = Instant::now();
            if now >= end {
                return;
            }
            let wake = deadline.min(end).saturating_duration_since(now);
            match timeout(wake, self.socket.recv_from(&mut buf)).await {
                Ok(Ok((len, from))) => {
                    let receive = Receive::new(Protocol::Udp, from, self.addr, &buf[..len])
                        .unwrap_or_else(|e| panic!("{e}"));
                    let _ = self
                        .rtc
                        .handle_input(Input::Receive(Instant::now(), receive));
                }
                _ => {
                    let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
                }
            }
        }
    }
}

fn command(call: &MediaCall, command: Command) {
    call.send(command)
        .unwrap_or_else(|e| panic!("command: {e}"));
}

#[tokio::test]
async fn a_browser_leg_connects_and_audio_crosses_to_a_plain_leg_both_ways() {
    let media = engine("31700-31709");
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let ours = call
        .webrtc()
        .unwrap_or_else(|| panic!("no WebRTC identity"));
    let a_port = call.anchor(Leg::A).rtp_port;
    let b_port = call.anchor(Leg::B).rtp_port;
    let phone = UdpSocket::bind((LOCALHOST, 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let phone_addr = phone.local_addr().unwrap_or_else(|e| panic!("{e}"));

    let mut browser = Browser::new().await;
    command(
        &call,
        Command::SetWebRtc {
            leg: Leg::A,
            session: Some(Box::new(WebRtcSession {
                local: ours[0].clone(),
                remote: browser.as_remote(),
                payload_types: vec![
                    (0, "PCMU".into(), 8000),
                    (101, "telephone-event".into(), 8000),
                ],
                video: None,
                opus: None,
            })),
        },
    );
    command(
        &call,
        Command::SetRemote {
            leg: Leg::B,
            rtp: phone_addr,
            rtcp: None,
        },
    );
    command(&call, Command::OpenLatchWindow { leg: Leg::B });
    command(&call, Command::Bridge);
    browser.connect_to(&ours[0], SocketAddr::new(LOCALHOST, a_port));
    browser.run_for(Duration::from_secs(3)).await;
    assert!(browser.connected, "ICE and DTLS with the ICE-lite leg");
    match timeout(Duration::from_secs(2), call.events().recv()).await {
        Ok(Some(Event::WebRtc {
            leg: Leg::A,
            connected: true,
            reason: None,
        })) => {}
        other => panic!("expected the leg to report connected: {other:?}"),
    }

    // Browser → phone: SRTP in, plain G.711 out, payload intact.
    for seq in 1..=5u16 {
        browser.send_rtp(seq, &[0x55; 160]);
        browser.run_for(Duration::from_millis(20)).await;
    }
    let mut buf = [0u8; 2048];
    let (len, from) = timeout(Duration::from_secs(2), phone.recv_from(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("nothing reached the phone"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from.port(), b_port);
    assert_eq!(len, 172, "a plain 12-byte header and 160 bytes of G.711");
    assert_eq!(buf[1] & 0x7f, 0);
    assert!(buf[12..len].iter().all(|&b| b == 0x55));

    // Phone → browser: plain in, SRTP out, decrypted by the browser.
    for seq in 1..=5u16 {
        let mut p = [0u8; 172];
        p[0] = 0x80;
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[8..12].copy_from_slice(&7u32.to_be_bytes());
        p[12..].fill(0x33);
        let _ = phone.send_to(&p, SocketAddr::new(LOCALHOST, b_port)).await;
    }
    browser.run_for(Duration::from_millis(500)).await;
    assert!(
        browser
            .heard
            .iter()
            .any(|(pt, p)| *pt == 0 && p.len() == 160 && p.iter().all(|&b| b == 0x33)),
        "the browser heard the phone: {} packets",
        browser.heard.len()
    );

    // A stranger's plain RTP to the browser leg's port is not relayed.
    while timeout(Duration::from_millis(100), phone.recv_from(&mut buf))
        .await
        .is_ok()
    {}
    let stranger = UdpSocket::bind((LOCALHOST, 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut p = [0u8; 172];
    p[0] = 0x80;
    let _ = stranger
        .send_to(&p, SocketAddr::new(LOCALHOST, a_port))
        .await;
    assert!(
        timeout(Duration::from_millis(300), phone.recv_from(&mut buf))
            .await
            .is_err(),
        "unauthenticated plain RTP reached the phone"
    );
    command(&call, Command::Stop);
    drop(call);
    media.shutdown();
}

#[tokio::test]
async fn a_browser_with_another_certificate_than_its_sdp_said_is_refused_and_reported() {
    let media = engine("31710-31719");
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let ours = call
        .webrtc()
        .unwrap_or_else(|| panic!("no WebRTC identity"));
    let a_port = call.anchor(Leg::A).rtp_port;
    let mut browser = Browser::new().await;
    let mut remote = browser.as_remote();
    // The SDP names a certificate the browser does not hold (a man in the middle's view).
    remote.fingerprint = format!("sha-256 {}", ["AB"; 32].join(":"));
    command(
        &call,
        Command::SetWebRtc {
            leg: Leg::A,
            session: Some(Box::new(WebRtcSession {
                local: ours[0].clone(),
                remote,
                payload_types: vec![(0, "PCMU".into(), 8000)],
                video: None,
                opus: None,
            })),
        },
    );
    browser.connect_to(&ours[0], SocketAddr::new(LOCALHOST, a_port));
    browser.run_for(Duration::from_secs(3)).await;
    let event = timeout(Duration::from_secs(3), async {
        loop {
            match call.events().recv().await {
                Some(Event::WebRtc {
                    connected, reason, ..
                }) => break (connected, reason),
                Some(_) => continue,
                None => panic!("events ended"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no WebRTC event"));
    assert_eq!(event, (false, Some("dtls-failed")));
    command(&call, Command::Stop);
    drop(call);
    media.shutdown();
}

fn sine(freq: f64, rate: u32, from: usize, n: usize) -> Vec<i16> {
    (from..from + n)
        .map(|i| {
            ((2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() * 8000.0) as i16
        })
        .collect()
}

/// How strongly `freq` is in `pcm` against a probe frequency: their level ratio.
fn dominance(pcm: &[i16], rate: u32, freq: f64, probe: f64) -> f64 {
    engine::media::tone::level(pcm, freq, rate)
        / engine::media::tone::level(pcm, probe, rate).max(1e-9)
}

#[tokio::test]
async fn an_opus_only_browser_is_transcoded_to_and_from_g711_at_its_leg() {
    let media = engine("31720-31729");
    let call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let ours = call
        .webrtc()
        .unwrap_or_else(|| panic!("no WebRTC identity"));
    let a_port = call.anchor(Leg::A).rtp_port;
    let b_port = call.anchor(Leg::B).rtp_port;
    let phone = UdpSocket::bind((LOCALHOST, 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let phone_addr = phone.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let mut browser =
        Browser::with_codecs(&[(111, Codec::Opus, 48_000), (126, Codec::Tele, 8000)]).await;
    command(
        &call,
        Command::SetWebRtc {
            leg: Leg::A,
            session: Some(Box::new(WebRtcSession {
                local: ours[0].clone(),
                remote: browser.as_remote(),
                payload_types: vec![
                    (111, "opus".into(), 48_000),
                    (126, "telephone-event".into(), 8000),
                ],
                video: None,
                opus: Some(111),
            })),
        },
    );
    command(
        &call,
        Command::SetRemote {
            leg: Leg::B,
            rtp: phone_addr,
            rtcp: None,
        },
    );
    command(&call, Command::OpenLatchWindow { leg: Leg::B });
    command(&call, Command::Bridge);
    browser.connect_to(&ours[0], SocketAddr::new(LOCALHOST, a_port));
    browser.run_for(Duration::from_secs(3)).await;
    assert!(browser.connected);

    // Browser → phone: a 600 Hz tone in Opus (48 kHz) arrives as μ-law.
    let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut frame = [0u8; 400];
    for n in 0..40u16 {
        let pcm = sine(600.0, 48_000, usize::from(n) * 960, 960);
        let len = encoder
            .encode(&pcm, &mut frame)
            .unwrap_or_else(|e| panic!("{e}"));
        browser.send_pt(111, n + 1, u32::from(n) * 960, &frame[..len]);
        browser.run_for(Duration::from_millis(5)).await;
    }
    let mut heard = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(Ok((len, _))) =
        timeout(Duration::from_millis(300), phone.recv_from(&mut buf)).await
    {
        assert_eq!(buf[1] & 0x7f, 0, "μ-law towards the phone");
        heard.extend(
            buf[12..len]
                .iter()
                .map(|&c| engine::media::AudioCodec::Pcmu.decode(c)),
        );
    }
    assert!(
        heard.len() >= 160 * 30,
        "{} samples reached the phone",
        heard.len()
    );
    let tail = &heard[heard.len() / 2..];
    assert!(
        dominance(tail, 8000, 600.0, 1000.0) > 10.0,
        "the phone hears 600 Hz"
    );

    // Phone → browser: a 1,000 Hz tone in μ-law arrives as Opus.
    for n in 0..40u16 {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
        p[2..4].copy_from_slice(&(n + 1).to_be_bytes());
        p[4..8].copy_from_slice(&(u32::from(n) * 160).to_be_bytes());
        p.extend(
            sine(1000.0, 8000, usize::from(n) * 160, 160)
                .iter()
                .map(|&s| engine::media::AudioCodec::Pcmu.encode(s)),
        );
        let _ = phone.send_to(&p, SocketAddr::new(LOCALHOST, b_port)).await;
        browser.run_for(Duration::from_millis(5)).await;
    }
    browser.run_for(Duration::from_millis(300)).await;
    let mut decoder =
        opus::Decoder::new(48_000, opus::Channels::Mono).unwrap_or_else(|e| panic!("{e}"));
    let mut pcm = Vec::new();
    let mut out = [0i16; 5760];
    for (pt, payload) in &browser.heard {
        assert_eq!(*pt, 111, "Opus towards the browser");
        let n = decoder
            .decode(payload, &mut out, false)
            .unwrap_or_else(|e| panic!("{e}"));
        pcm.extend_from_slice(&out[..n]);
    }
    assert!(
        pcm.len() >= 960 * 30,
        "{} samples reached the browser",
        pcm.len()
    );
    let tail = &pcm[pcm.len() / 2..];
    assert!(
        dominance(tail, 48_000, 1000.0, 600.0) > 10.0,
        "the browser hears 1,000 Hz"
    );
    command(&call, Command::Stop);
    drop(call);
    media.shutdown();
}

/// Two browsers in one call: video goes from one peer to the other undecoded, every packet of
/// a burst (a keyframe is dozens of full-size packets at once), and keyframe requests cross.
#[tokio::test]
async fn video_passes_between_two_browser_legs_whole_and_keyframe_requests_cross() {
    let media = engine("31730-31739");
    let call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let ours = call
        .webrtc()
        .unwrap_or_else(|| panic!("no WebRTC identity"));
    let codecs = [(0u8, Codec::PCMU, 8000u32), (96, Codec::Vp8, 90_000)];
    let mut a = Browser::with_codecs(&codecs).await.with_video();
    let mut b = Browser::with_codecs(&codecs).await.with_video();
    let payload_types = vec![(0, "PCMU".to_owned(), 8000)];
    for (leg, browser) in [(Leg::A, &a), (Leg::B, &b)] {
        command(
            &call,
            Command::SetWebRtc {
                leg,
                session: Some(Box::new(WebRtcSession {
                    local: ours[leg_index(leg)].clone(),
                    remote: browser.as_remote(),
                    payload_types: payload_types.clone(),
                    video: Some(engine::media::control::WebRtcVideo {
                        mid: "1".into(),
                        ssrcs: vec![BROWSER_VIDEO_SSRC],
                        payload_types: vec![(96, "VP8".into(), 90_000)],
                    }),
                    opus: None,
                })),
            },
        );
    }
    command(&call, Command::Bridge);
    for (leg, browser) in [(Leg::A, &mut a), (Leg::B, &mut b)] {
        let port = call.anchor(leg).rtp_port;
        browser.connect_to(&ours[leg_index(leg)], SocketAddr::new(LOCALHOST, port));
        browser.expect_video_from(ours[leg_index(leg)].video_ssrc);
    }
    for _ in 0..30 {
        a.run_for(Duration::from_millis(50)).await;
        b.run_for(Duration::from_millis(50)).await;
        if a.connected && b.connected {
            break;
        }
    }
    assert!(a.connected && b.connected);
    // Ten frames of 30 full-size packets each, sent in bursts.
    let mut seq = 100u16;
    for frame in 0..10u32 {
        for i in 0..30 {
            a.send_video(seq, frame * 3000, i == 29, &[0x42; 1100]);
            seq += 1;
        }
        a.run_for(Duration::from_millis(30)).await;
        b.run_for(Duration::from_millis(30)).await;
    }
    for _ in 0..10 {
        a.run_for(Duration::from_millis(30)).await;
        b.run_for(Duration::from_millis(30)).await;
    }
    let got: std::collections::BTreeSet<u16> = b.video_seqs.iter().copied().collect();
    assert_eq!(got.len(), 300, "video packets B got of 300: {}", got.len());
    b.ask_keyframe();
    for _ in 0..10 {
        b.run_for(Duration::from_millis(30)).await;
        a.run_for(Duration::from_millis(30)).await;
    }
    assert!(a.keyframe_requests > 0, "B's keyframe request reached A");
    drop(call);
    media.shutdown();
}

fn leg_index(leg: Leg) -> usize {
    match leg {
        Leg::A => 0,
        Leg::B => 1,
    }
}
