//! One call's media task: four sockets, the relay rules, the media stages, a command queue and
//! an event sink.
//!
//! The task is one hand-written poll loop rather than `select!` over futures: on each wakeup it
//! applies queued commands, runs the inactivity tick if due, then drains every socket with
//! `poll_recv_from` → [`Relay::on_packet`] → [`Stages::on_rtp`] → `try_send_to`, up to
//! [`BATCH`] datagrams per socket before yielding so that one busy call cannot starve the
//! others on the same thread. Then it sends what the stages have due (prompt frames, DTMF
//! packets) and sleeps until their next deadline, and passes their outputs on: events to the
//! call core, recording jobs to the writer thread.
//!
//! Datagrams are read into a per-thread scratch buffer (a task's `poll` never awaits, so the
//! buffer is never shared), which keeps 64 KiB datagrams whole without 64 KiB per call, and
//! are rewritten in place. No allocation happens per relayed packet; the clock is read once
//! per wakeup, not per packet.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::time::{Interval, MissedTickBehavior, Sleep};

use super::bind::PortLease;
use super::link::{EventSink, Receiver};
use super::protect::Protection;
use super::recording::Recordings;
use super::webrtc::{PeerState, WebRtcPeer};
use crate::media::control::{Channel, Command, Event, Leg};
use crate::media::relay::{DropReason, Relay, Verdict};
use crate::media::stage::{Output, Stages};

/// Datagrams read from one socket per wakeup before the task yields.
const BATCH: usize = 32;
/// The largest UDP payload.
const SCRATCH_LEN: usize = 65_535;

/// Socket slots: leg A RTP, leg A RTCP, leg B RTP, leg B RTCP.
const SLOTS: [(Leg, Channel); 4] = [
    (Leg::A, Channel::Rtp),
    (Leg::A, Channel::Rtcp),
    (Leg::B, Channel::Rtp),
    (Leg::B, Channel::Rtcp),
];

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_LEN].into_boxed_slice());
}

fn slot(leg: Leg, channel: Channel) -> usize {
    leg.index() * 2
        + match channel {
            Channel::Rtp => 0,
            Channel::Rtcp => 1,
        }
}

pub(super) struct CallTask {
    /// Indexed by [`slot`]. Declared before `leases` so they close before the ports are freed.
    pub sockets: [UdpSocket; 4],
    pub leases: [PortLease; 2],
    /// Whether the sockets are IPv6 (dual-stack when bound to `::`).
    pub ipv6: bool,
    pub commands: Receiver,
    pub sink: EventSink,
    pub relay: Relay,
    pub tick: Interval,
    pub stages: Stages,
    /// Sleeps until the stages' next deadline (allocated once per call, reset in place).
    pub pacer: Pin<Box<Sleep>>,
    pub recordings: Recordings,
    /// SRTP legs' keys and contexts.
    pub protection: Protection,
    /// The engine-wide count of packets refused by a latch (metrics).
    pub foreign: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Per leg: the WebRTC peer terminating it, if the leg is a browser.
    pub peers: [Option<Box<WebRtcPeer>>; 2],
    /// What WebRTC legs need from the engine: its certificate, and per leg our host
    /// candidate (the advertised address and the leg's RTP port).
    pub webrtc: super::WebRtcShared,
    /// The `stream` in progress: its id and the end its session will report.
    pub stream: Option<(
        u64,
        tokio::sync::oneshot::Receiver<crate::media::stream::StreamEnd>,
    )>,
}

pub(super) fn tick_interval(period: Duration) -> Interval {
    let start = tokio::time::Instant::now() + period;
    let mut interval = tokio::time::interval_at(start, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

impl CallTask {
    /// Relay until `Stop` or until every command sender is gone; then release the ports and
    /// report the counters.
    ///
    /// Takes the task boxed: an async fn keeps its by-value argument and the binding it moves
    /// into as two slots of its state, which made every call's future 3.1 KiB for a 1.5 KiB
    /// task.
    pub async fn run(mut self: Box<Self>) {
        // A socket registered this turn has no readiness yet, and tokio's `try_send_to`
        // refuses to send until the reactor has seen it writable: a prompt or DTMF packet sent
        // in the task's first poll would be lost. Loopback and fresh UDP sockets are writable
        // at once, so this costs one reactor turn.
        for socket in &self.sockets {
            let _ = socket.writable().await;
        }
        poll_fn(|cx| self.poll(cx)).await;
        // Boxed too: inline, the ending's state (the parts moved apart, the recordings' wait)
        // would size every call's future for the few milliseconds it runs.
        Box::pin(self.finish()).await;
    }

    async fn finish(mut self: Box<Self>) {
        // Prompts end unfinished; the recording is closed and waited for, so its
        // `RecordDone` comes before the final `Stats`.
        self.stages.finish(Instant::now());
        self.pass_outputs();
        let stats = self.relay.stats();
        let CallTask {
            sockets,
            leases,
            mut sink,
            recordings,
            commands,
            ..
        } = *self;
        drop(sockets);
        drop(leases);
        // Commands sent from here on fail with `Stopped`.
        drop(commands);
        for event in recordings.finish().await {
            sink(event);
        }
        sink(Event::Stats(Box::new(stats)));
    }

    /// `Ready` means stop.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        loop {
            match self.commands.poll_recv(cx) {
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Ready(Some(Command::Stop)) => return Poll::Ready(()),
                Poll::Ready(Some(Command::SetWebRtc { leg, session })) => {
                    self.set_webrtc(leg, session.as_deref(), now);
                }
                Poll::Ready(Some(Command::RestartIce { leg, local, remote })) => {
                    if let Some(peer) = self.peers[leg.index()].as_mut() {
                        peer.restart_ice(local, remote);
                    }
                }
                Poll::Ready(Some(Command::Stream { id, spec })) => {
                    self.start_stream(id, *spec, now)
                }
                Poll::Ready(Some(Command::StopStream { id })) => self.stages.stop_stream(id),
                Poll::Ready(Some(Command::SetRemote { leg, .. }))
                    if self.peers[leg.index()].is_some() =>
                {
                    // A browser's SDP address means nothing: its media comes from where ICE
                    // found it (set when the peer reports its source).
                }
                Poll::Ready(Some(command)) => {
                    let before = self.relay.tick_interval();
                    self.relay.handle(now, &command);
                    if self.relay.tick_interval() != before {
                        self.tick = tick_interval(self.relay.tick_interval());
                    }
                    self.stages.handle(&command, now);
                    self.protection.handle(&command);
                }
                Poll::Pending => break,
            }
        }
        while self.tick.poll_tick(cx).is_ready() {
            for leg in self.relay.on_tick(now).into_iter().flatten() {
                (self.sink)(Event::RtpTimeout { leg });
            }
        }
        let more = SCRATCH.with_borrow_mut(|buf| self.drain_sockets(cx, buf, now));
        if more {
            // A socket still had data after its batch: come back after the other tasks ran.
            cx.waker().wake_by_ref();
        }
        self.flush_peers(now);
        self.pace(cx, now);
        self.flush_peers(now);
        self.pass_outputs();
        let (recordings, sink) = (&mut self.recordings, &mut self.sink);
        recordings.poll_done(cx, sink);
        self.poll_stream(cx);
        Poll::Pending
    }

    /// Starts a stream's session (replacing one in progress) and its stage.
    fn start_stream(&mut self, id: u64, spec: crate::media::stream::StreamSpec, now: Instant) {
        use crate::media::stream::{Playout, TAP_QUEUE};
        if let Some((old, _)) = self.stream.take() {
            self.stages.stop_stream(old);
        }
        let (tap, tap_rx) = tokio::sync::mpsc::channel(TAP_QUEUE);
        let (done, done_rx) = tokio::sync::oneshot::channel();
        let playout = std::sync::Arc::new(std::sync::Mutex::new(Playout::default()));
        let sid = format!("MZ{:032x}", rand::random::<u128>());
        self.stages
            .start_stream(id, spec.tracks, tap, playout.clone(), now);
        tokio::spawn(super::stream::run(spec, sid, tap_rx, playout, done));
        self.stream = Some((id, done_rx));
    }

    /// A session that ended: its stage goes, the call core hears why.
    fn poll_stream(&mut self, cx: &mut Context<'_>) {
        let Some((id, done)) = self.stream.as_mut() else {
            return;
        };
        if let Poll::Ready(end) = std::pin::Pin::new(done).poll(cx) {
            let id = *id;
            self.stream = None;
            self.stages.stop_stream(id);
            let end = end.unwrap_or(crate::media::stream::StreamEnd::Ended);
            (self.sink)(Event::StreamDone { id, end });
        }
    }

    /// Send what the stages have due, then sleep until their next deadline.
    fn pace(&mut self, cx: &mut Context<'_>, now: Instant) {
        let mut peers_run = false;
        loop {
            let stages = self.stages.poll_timeout();
            let mut peers = self
                .peers
                .iter()
                .flatten()
                .filter_map(|p| p.deadline())
                .min();
            if peers.is_some_and(|p| p <= now) {
                if !peers_run {
                    peers_run = true;
                    self.flush_peers(now);
                    continue;
                }
                // Still due after a run: come back in a millisecond rather than spin.
                peers = Some(now + Duration::from_millis(1));
            }
            let Some(at) = [stages, peers].into_iter().flatten().min() else {
                break;
            };
            if at <= now {
                let (sockets, relay, ipv6) = (&self.sockets, &self.relay, self.ipv6);
                let peers = &mut self.peers;
                let protection = &mut self.protection;
                self.stages.on_timeout(now, &mut |leg, packet| {
                    if let Some(peer) = peers[leg.index()].as_mut() {
                        peer.write_rtp(packet, now);
                    } else if let Some(to) = relay.remote(leg, Channel::Rtp) {
                        let socket = &sockets[slot(leg, Channel::Rtp)];
                        protection.send_made(leg, socket, packet, fit_family(ipv6, to));
                    }
                });
                continue;
            }
            let deadline = tokio::time::Instant::from_std(at);
            if self.pacer.deadline() != deadline {
                self.pacer.as_mut().reset(deadline);
            }
            if self.pacer.as_mut().poll(cx).is_ready() {
                // Due already by the timer's clock: run again now rather than spin.
                cx.waker().wake_by_ref();
            }
            break;
        }
    }

    /// Events to the call core, recording jobs to the writer.
    fn pass_outputs(&mut self) {
        while let Some(output) = self.stages.poll_output() {
            match output {
                Output::Event(event) => (self.sink)(event),
                Output::Record(job) => {
                    if let Some(event) = self.recordings.handle(job) {
                        (self.sink)(event);
                    }
                }
            }
        }
    }

    /// Read and relay what the sockets hold; `true` if a socket may hold more.
    fn drain_sockets(&mut self, cx: &mut Context<'_>, buf: &mut [u8], now: Instant) -> bool {
        let mut more = false;
        for (index, &(leg, channel)) in SLOTS.iter().enumerate() {
            let mut budget = BATCH;
            loop {
                if budget == 0 {
                    more = true;
                    break;
                }
                budget -= 1;
                let mut read = ReadBuf::new(buf);
                let from = match self.sockets[index].poll_recv_from(cx, &mut read) {
                    Poll::Ready(Ok(from)) => from,
                    // ICMP errors of earlier sends can surface here; they concern no datagram.
                    Poll::Ready(Err(error)) => {
                        tracing::trace!(%error, "media socket receive error");
                        continue;
                    }
                    Poll::Pending => break,
                };
                let len = read.filled().len();
                let relay = &mut self.relay;
                let Some(len) = self
                    .protection
                    .inbound(leg, channel, &mut buf[..len], relay)
                else {
                    continue;
                };
                let from = SocketAddr::new(from.ip().to_canonical(), from.port());
                if let Some(peer) = self.peers[leg.index()].as_mut() {
                    // A browser leg: everything arrives on its RTP socket (rtcp-mux) and
                    // goes to its peer; the plain RTP it yields is relayed by `flush_peers`.
                    if channel == Channel::Rtcp || !peer.receive(from, &buf[..len], now) {
                        self.foreign
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        continue;
                    }
                    // str0m must be polled after every input: what one datagram yields is
                    // only kept until the next input.
                    peer.drain(&self.sockets[slot(leg, Channel::Rtp)], now);
                    continue;
                }
                self.relay_packet(leg, channel, from, buf, len, now);
            }
        }
        more
    }
}

impl CallTask {
    /// One admitted datagram from `leg`, plain: the relay rules, the media stages, and the
    /// send to the other leg (its socket, or its WebRTC peer).
    ///
    /// `buf[..len]` is the packet; `buf` has room behind it for an SRTP tag.
    fn relay_packet(
        &mut self,
        leg: Leg,
        channel: Channel,
        from: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
    ) {
        let packet = &mut buf[..len];
        let outcome = self.relay.on_packet(leg, channel, from, packet, now);
        if let Some(addr) = outcome.latched {
            (self.sink)(Event::Latched { leg, channel, addr });
        }
        let forward = match outcome.verdict {
            Verdict::Forward(to) => Some(to),
            // Admitted but not relayed: DTMF and recording still see it.
            Verdict::Drop(DropReason::NotBridged | DropReason::NoRemote) => None,
            Verdict::Drop(DropReason::ForeignSource) => {
                // Rare (a stranger, or a moved endpoint's stale packets): one atomic add is
                // fine off the fast path.
                self.foreign
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            Verdict::Drop(_) => return,
        };
        if channel == Channel::Rtp
            && !self.stages.on_rtp(leg, packet, forward.is_some(), now)
            && forward.is_some()
        {
            self.relay.on_suppressed(leg);
            return;
        }
        let Some(to) = forward else {
            return;
        };
        if let Some(peer) = self.peers[leg.other().index()].as_mut() {
            // The browser's peer makes its own RTCP; the other leg's is not passed on.
            if channel == Channel::Rtp {
                peer.write_rtp(packet, now);
                self.relay.on_sent(leg, channel, len);
            }
            return;
        }
        let out = &self.sockets[slot(leg.other(), channel)];
        let Some(len) = self.protection.outbound(leg.other(), channel, buf, len) else {
            self.relay.on_send_failed(leg);
            return;
        };
        match out.try_send_to(&buf[..len], fit_family(self.ipv6, to)) {
            Ok(_) => self.relay.on_sent(leg, channel, len),
            Err(_) => self.relay.on_send_failed(leg),
        }
    }

    /// Let each WebRTC peer send what it has (handshakes, SRTP, RTCP), report its state
    /// changes, and relay the media it decrypted.
    fn flush_peers(&mut self, now: Instant) {
        for leg in [Leg::A, Leg::B] {
            let known = self.relay.remote(leg, Channel::Rtp);
            let idle =
                |p: &WebRtcPeer| !p.has_work(now) && (p.remote.is_none() || p.remote == known);
            if self.peers[leg.index()].as_deref().is_none_or(idle) {
                continue;
            }
            let Some(mut peer) = self.peers[leg.index()].take() else {
                continue;
            };
            if peer.needs_drain(now) {
                peer.drain(&self.sockets[slot(leg, Channel::Rtp)], now);
            }
            if let Some(state) = peer.state_change() {
                let (connected, reason) = match state {
                    PeerState::Connected => (true, None),
                    PeerState::Failed(reason) => (false, Some(reason)),
                    PeerState::Connecting => (false, None),
                };
                let counter = match connected {
                    true => &crate::metrics::metrics().webrtc_connected,
                    false => &crate::metrics::metrics().webrtc_failures,
                };
                counter.inc();
                (self.sink)(Event::WebRtc {
                    leg,
                    connected,
                    reason,
                });
            }
            if let Some(remote) = peer.remote.filter(|r| Some(*r) != known) {
                // ICE authenticated this source: the relay sends the leg's media there and
                // admits what comes from it.
                self.relay.handle(
                    now,
                    &Command::SetRemote {
                        leg,
                        rtp: remote,
                        rtcp: Some(remote),
                    },
                );
            }
            while let Some((from, mut packet)) = peer.inbound() {
                let len = packet.len();
                // Room for an SRTP tag, should the other leg be an SDES one.
                packet.resize(len + 32, 0);
                self.relay_packet(leg, Channel::Rtp, from, &mut packet, len, now);
            }
            // Bundled video goes from browser to browser as it is (never decoded), while
            // the legs are bridged; a keyframe request goes back the same way.
            let bridged = self.relay.is_bridged();
            let other = self.peers[leg.other().index()].as_mut().filter(|_| bridged);
            match other {
                Some(other) => {
                    while let Some(video) = peer.video_inbound() {
                        other.write_video(video, now);
                    }
                    if peer.take_keyframe_request() {
                        other.request_keyframe();
                    }
                }
                None => while peer.video_inbound().is_some() {},
            }
            self.peers[leg.index()] = Some(peer);
        }
        // Relaying may have written to the other leg's peer: let it send now.
        for (leg, peer) in [Leg::A, Leg::B].into_iter().zip(self.peers.iter_mut()) {
            if let Some(peer) = peer.as_mut().filter(|p| p.needs_drain(now)) {
                peer.drain(&self.sockets[slot(leg, Channel::Rtp)], now);
            }
        }
    }

    /// Make `leg` a WebRTC peer (or plain again).
    fn set_webrtc(
        &mut self,
        leg: Leg,
        session: Option<&crate::media::control::WebRtcSession>,
        now: Instant,
    ) {
        let Some(session) = session else {
            self.peers[leg.index()] = None;
            return;
        };
        let local = self.webrtc.candidates[leg.index()];
        let peer = self
            .webrtc
            .identity
            .as_ref()
            .ok_or_else(|| "no DTLS certificate".to_owned())
            .and_then(|id| WebRtcPeer::new(session, id, local, now).map_err(|e| e.to_string()));
        match peer {
            Ok(peer) => self.peers[leg.index()] = Some(Box::new(peer)),
            Err(error) => {
                tracing::info!(%error, "WebRTC leg not set up");
                crate::metrics::metrics().webrtc_failures.inc();
                self.peers[leg.index()] = None;
                (self.sink)(Event::WebRtc {
                    leg,
                    connected: false,
                    reason: Some("dtls-failed"),
                });
            }
        }
    }
}

/// A dual-stack IPv6 socket reaches IPv4 peers through IPv4-mapped addresses.
fn fit_family(ipv6: bool, to: SocketAddr) -> SocketAddr {
    match (ipv6, to) {
        (true, SocketAddr::V4(v4)) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        _ => to,
    }
}
