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
        self.pace(cx, now);
        self.pass_outputs();
        let (recordings, sink) = (&mut self.recordings, &mut self.sink);
        recordings.poll_done(cx, sink);
        Poll::Pending
    }

    /// Send what the stages have due, then sleep until their next deadline.
    fn pace(&mut self, cx: &mut Context<'_>, now: Instant) {
        while let Some(at) = self.stages.poll_timeout() {
            if at <= now {
                let (sockets, relay, ipv6) = (&self.sockets, &self.relay, self.ipv6);
                let protection = &mut self.protection;
                self.stages.on_timeout(now, &mut |leg, packet| {
                    if let Some(to) = relay.remote(leg, Channel::Rtp) {
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
                let outcome = self.relay.on_packet(leg, channel, from, &buf[..len], now);
                if let Some(addr) = outcome.latched {
                    (self.sink)(Event::Latched { leg, channel, addr });
                }
                let forward = match outcome.verdict {
                    Verdict::Forward(to) => Some(to),
                    // Admitted but not relayed: DTMF and recording still see it.
                    Verdict::Drop(DropReason::NotBridged | DropReason::NoRemote) => None,
                    Verdict::Drop(DropReason::ForeignSource) => {
                        // Rare (a stranger, or a moved endpoint's stale packets): one atomic
                        // add is fine off the fast path.
                        self.foreign
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        continue;
                    }
                    Verdict::Drop(_) => continue,
                };
                if channel == Channel::Rtp
                    && !self
                        .stages
                        .on_rtp(leg, &mut buf[..len], forward.is_some(), now)
                    && forward.is_some()
                {
                    self.relay.on_suppressed(leg);
                    continue;
                }
                if let Some(to) = forward {
                    let out = &self.sockets[slot(leg.other(), channel)];
                    let Some(len) = self.protection.outbound(leg.other(), channel, buf, len) else {
                        self.relay.on_send_failed(leg);
                        continue;
                    };
                    match out.try_send_to(&buf[..len], fit_family(self.ipv6, to)) {
                        Ok(_) => self.relay.on_sent(leg, channel, len),
                        Err(_) => self.relay.on_send_failed(leg),
                    }
                }
            }
        }
        more
    }
}

/// A dual-stack IPv6 socket reaches IPv4 peers through IPv4-mapped addresses.
fn fit_family(ipv6: bool, to: SocketAddr) -> SocketAddr {
    match (ipv6, to) {
        (true, SocketAddr::V4(v4)) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        _ => to,
    }
}
