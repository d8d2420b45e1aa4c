//! One browser-style peer of `webrtcgen`: a str0m `Rtc` in RTP mode on its own UDP socket,
//! set up through str0m's direct API from the relay's SDP. It is the full ICE agent
//! (controlling when the relay is ICE-lite or when it made the offer), DTLS client against a
//! passive relay, SRTP both ways, one PCMU stream out and whatever SSRC the relay sends in.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::media::{MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

use crate::browser_sdp::{self, RemoteWebrtc};

/// What a peer reports to its worker while draining str0m's output.
pub enum Happening<'a> {
    Connected,
    Failed(&'static str),
    /// The payload of an RTP packet that came in (decrypted).
    Media(&'a [u8]),
}

pub struct Peer {
    pub call: usize,
    rtc: Rtc,
    pub sock: mio::net::UdpSocket,
    local: SocketAddr,
    mid: Mid,
    tx_ssrc: Ssrc,
    rx_ssrcs: Vec<u32>,
    seq: u16,
    pub next_timeout: Instant,
    pub send_errors: u64,
    /// SRTP (not SRTCP) datagrams handed to the socket: frames str0m actually sent.
    pub rtp_out: u64,
}

impl Peer {
    pub fn new(call: usize, now: Instant) -> anyhow::Result<Peer> {
        let std_sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
        std_sock.set_nonblocking(true)?;
        let local = std_sock.local_addr()?;
        // PCMU only, no header extensions (a relay that negotiated none gets none), raw RTP.
        let mut rtc = RtcConfig::new()
            .clear_codecs()
            .enable_pcmu(true, false)
            .clear_extension_map()
            .set_rtp_mode(true)
            .build(now);
        rtc.add_local_candidate(Candidate::host(local, "udp")?);
        let mid: Mid = "0".into();
        // SSRC 0 is str0m's bandwidth-probe stream; keep clear of it.
        let tx_ssrc: Ssrc = (0x4000_0000 + call as u32).into();
        {
            let mut api = rtc.direct_api();
            api.declare_media(mid, MediaKind::Audio);
            api.declare_stream_tx(tx_ssrc, None, mid, None);
        }
        Ok(Peer {
            call,
            rtc,
            sock: mio::net::UdpSocket::from_std(std_sock),
            local,
            mid,
            tx_ssrc,
            rx_ssrcs: Vec::new(),
            seq: 0,
            next_timeout: now,
            send_errors: 0,
            rtp_out: 0,
        })
    }

    /// This peer's SDP: `actpass` when it offers, `active` when it answers a passive relay.
    pub fn local_sdp(&mut self, setup: &str) -> String {
        let api = self.rtc.direct_api();
        let creds = api.local_ice_credentials();
        let fingerprint = api.local_dtls_fingerprint().to_string();
        browser_sdp::local_sdp(&browser_sdp::LocalWebrtc {
            addr: self.local,
            ufrag: &creds.ufrag,
            pwd: &creds.pass,
            fingerprint: &fingerprint,
            setup,
            mid: "0",
            ssrc: *self.tx_ssrc,
            session: self.call as u64 + 1,
        })
    }

    /// Starts ICE and DTLS toward the relay described by its SDP.
    pub fn configure(
        &mut self,
        remote: &RemoteWebrtc,
        we_offered: bool,
        now: Instant,
    ) -> anyhow::Result<()> {
        let fingerprint = remote
            .fingerprint
            .parse()
            .map_err(|e| anyhow::anyhow!("fingerprint {:?}: {e}", remote.fingerprint))?;
        let active = match remote.setup.as_str() {
            "passive" | "actpass" => true,
            "active" => false,
            other => anyhow::bail!("relay's a=setup:{other} is not one of active/passive/actpass"),
        };
        self.rtc
            .add_remote_candidate(Candidate::host(remote.candidate, "udp")?);
        let mut api = self.rtc.direct_api();
        // RFC 8445 6.1.1: against an ICE-lite peer the full agent controls; otherwise the offerer.
        api.set_ice_controlling(remote.ice_lite || we_offered);
        api.set_remote_ice_credentials(str0m::IceCreds {
            ufrag: remote.ufrag.clone(),
            pass: remote.pwd.clone(),
        });
        api.set_remote_fingerprint(fingerprint);
        api.start_dtls(active)?;
        self.rtc.handle_input(Input::Timeout(now))?;
        Ok(())
    }

    /// One datagram from the socket.
    pub fn receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        buf: &[u8],
        on: &mut impl FnMut(Happening),
    ) {
        // An RTP (not RTCP) packet from an SSRC not seen yet: the relay chooses it, and its SDP
        // need not name it (a browser accepts such unsignalled streams in its one audio section).
        if buf.len() >= 12 && buf[0] >> 6 == 2 && !(64..96).contains(&(buf[1] & 0x7f)) {
            let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
            if ssrc != 0 && !self.rx_ssrcs.contains(&ssrc) {
                self.rx_ssrcs.push(ssrc);
                self.rtc
                    .direct_api()
                    .expect_stream_rx(ssrc.into(), None, self.mid, None);
            }
        }
        let Ok(contents) = Receive::new(Protocol::Udp, source, self.local, buf) else {
            return;
        };
        if self
            .rtc
            .handle_input(Input::Receive(now, contents))
            .is_err()
        {
            on(Happening::Failed("str0m refused a datagram"));
        }
        self.drain(on);
    }

    pub fn timeout(&mut self, now: Instant, on: &mut impl FnMut(Happening)) {
        if self.rtc.handle_input(Input::Timeout(now)).is_err() {
            on(Happening::Failed("str0m timeout handling failed"));
        }
        self.drain(on);
    }

    /// Sends one 20 ms PCMU frame with `payload` (160 bytes).
    pub fn send_frame(&mut self, now: Instant, payload: &[u8], on: &mut impl FnMut(Happening)) {
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        let mut api = self.rtc.direct_api();
        let Some(stream) = api.stream_tx(&self.tx_ssrc) else {
            return;
        };
        let data: Arc<[u8]> = payload.into();
        stream.write_rtp(RtpWrite::new(
            Pt::from(0),
            u64::from(seq).into(),
            u32::from(seq).wrapping_mul(160),
            now,
            data,
        ));
        self.timeout(now, on);
    }

    fn drain(&mut self, on: &mut impl FnMut(Happening)) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) => match self.sock.send_to(&t.contents, t.destination) {
                    Ok(_) => {
                        let c = &t.contents;
                        if c.len() > 12 && c[0] >> 6 == 2 && !(64..96).contains(&(c[1] & 0x7f)) {
                            self.rtp_out += 1;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => self.send_errors += 1,
                    Err(_) => self.send_errors += 1,
                },
                Ok(Output::Event(Event::Connected)) => on(Happening::Connected),
                Ok(Output::Event(Event::IceConnectionStateChange(
                    IceConnectionState::Disconnected,
                ))) => on(Happening::Failed("ICE disconnected")),
                Ok(Output::Event(Event::RtpPacket(p))) => on(Happening::Media(&p.payload)),
                Ok(Output::Event(_)) => {}
                Err(_) => {
                    on(Happening::Failed("str0m output error"));
                    // A broken Rtc keeps failing; look again in a second.
                    self.next_timeout = Instant::now() + std::time::Duration::from_secs(1);
                    return;
                }
            }
        }
    }
}
