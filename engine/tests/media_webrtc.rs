//! WebRTC legs of the media forwarder on loopback: a browser-like str0m peer (full ICE agent,
//! controlling, DTLS client, SRTP) on one leg, a plain RTP endpoint on the other. Everything
//! binds 127.0.0.1; waits are bounded; the engine is shut down at the end.

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
}

impl Browser {
    async fn new() -> Self {
        let socket = UdpSocket::bind((LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = socket.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let mut config = Rtc::builder()
            .set_rtp_mode(true)
            .set_crypto_provider(std::sync::Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs();
        let codecs = config.codec_config();
        for (pt, codec) in [(0u8, Codec::PCMU), (101, Codec::Tele)] {
            let rate = std::num::NonZeroU32::new(8000).unwrap_or_else(|| unreachable!());
            codecs.add_config(
                pt.into(),
                None,
                codec,
                Frequency::from(rate),
                None,
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
        let write = RtpWrite::new(
            0.into(),
            SeqNo::from(u64::from(seq)),
            u32::from(seq) * 160,
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
                    Ok(Output::Event(RtcEvent::RtpPacket(p))) => {
                        self.heard
                            .push((*p.header.payload_type, p.payload.to_vec()));
                    }
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

    // A burst (a browser catching up after a stall sends frames back to back): every frame
    // of it crosses, not just the last one read in a batch.
    while timeout(Duration::from_millis(100), phone.recv_from(&mut buf))
        .await
        .is_ok()
    {}
    for seq in 6..=15u16 {
        browser.send_rtp(seq, &[seq as u8; 160]);
    }
    browser.run_for(Duration::from_millis(20)).await;
    let mut burst = Vec::new();
    while let Ok(Ok((len, _))) =
        timeout(Duration::from_millis(300), phone.recv_from(&mut buf)).await
    {
        if len == 172 {
            burst.push(buf[12]);
        }
    }
    assert_eq!(
        burst,
        (6..=15u8).collect::<Vec<_>>(),
        "all ten frames of the burst, in order"
    );

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
