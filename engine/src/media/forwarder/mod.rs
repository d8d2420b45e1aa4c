//! The socket side of the media plane: [`MediaEngine`] owns the media runtime(s) and the port
//! allocator; [`MediaEngine::allocate_call`] binds a call's four sockets and starts its task.
//!
//! # Run-loop contract
//!
//! * One task per call owns that call's sockets (leg A RTP+RTCP, leg B RTP+RTCP). RTP never
//!   passes through an actor mailbox.
//! * The call core drives it with [`Command`]s over a bounded queue
//!   ([`MediaControl::send`] never blocks: a full queue is an error, not a wait). Its
//!   [`Event`]s go to the [`EventSink`] given to [`MediaEngine::allocate_call_with`], called
//!   on the media thread (the call actor's sink posts to its mailbox), or, for tools and
//!   tests, to the queue of [`MediaCall::events`] ([`MediaEngine::allocate_call`]).
//! * `Stop`, or dropping every [`MediaControl`], ends the task: sockets close, the port pairs
//!   return to the allocator, then a final [`Event::Stats`] is sent.
//!
//! # Runtime layout
//!
//! [`RuntimeLayout::PerCore`] (the default) runs one current-thread tokio runtime per thread
//! and deals calls to them in turn; a call's packets are then handled on one thread with no
//! work stealing and no cross-thread wakeups. [`RuntimeLayout::Shared`] is one multi-thread
//! runtime, kept for comparison (see the `media_bench` example). Dropping the engine stops
//! every call task.

mod bind;
mod link;
mod protect;
mod recording;
mod stream;
mod task;
mod webrtc;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::sync::{mpsc, oneshot};

pub use link::EventSink;
pub use webrtc::WebRtcIdentity;

use super::control::{Command, Event, Leg};
use super::ports::{PortAllocator, PortError, PortRange};
use super::record::RecordWriter;
use super::relay::{Relay, RelayConfig};
use super::sdp::webrtc::WebRtcLocal;
use super::sdp::Anchor;
use super::splice::OutStream;
use super::stage::Stages;
use bind::{bind_pair, SharedPorts};
use link::Link;
use recording::Recordings;
use task::{tick_interval, CallTask};

/// How the media runtime is laid out over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeLayout {
    /// One current-thread runtime per thread; calls dealt round-robin.
    PerCore,
    /// One multi-thread runtime with work stealing.
    Shared,
}

/// Settings of the media plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// RTP ports to use (`--rtp-ports`).
    pub ports: PortRange,
    /// Where sockets are bound; `::` binds dual-stack.
    pub bind_ip: IpAddr,
    /// The address written into SDP (differs from `bind_ip` behind 1:1 NAT or when bound to
    /// a wildcard).
    pub advertised_ip: IpAddr,
    /// Media threads; 0 means one per available core.
    pub threads: usize,
    pub layout: RuntimeLayout,
    pub relay: RelayConfig,
}

impl MediaConfig {
    /// Defaults: one thread per core, per-core layout, 3 s latch window, 60 s RTP timeout.
    pub fn new(ports: PortRange, bind_ip: IpAddr, advertised_ip: IpAddr) -> Self {
        MediaConfig {
            ports,
            bind_ip,
            advertised_ip,
            threads: 0,
            layout: RuntimeLayout::PerCore,
            relay: RelayConfig::default(),
        }
    }
}

/// Why the media plane could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    #[error(transparent)]
    Ports(#[from] PortError),
    #[error("no free RTP port pair could be bound ({tried} tried; the others are held by other programs)")]
    NoBindablePorts { tried: usize },
    #[error("cannot bind UDP port {port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the media runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the media task of this call has stopped")]
    Stopped,
    #[error("the media task's command queue is full")]
    Busy,
}

/// The addresses of one leg's sockets as bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegAddrs {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
}

/// Sends commands to one call's media task. Cheap to clone; the task ends when every clone is
/// dropped.
#[derive(Debug, Clone)]
pub struct MediaControl {
    commands: link::Sender,
}

impl MediaControl {
    /// Queue a command without waiting (safe inside an actor's `handle`).
    pub fn send(&self, command: Command) -> Result<(), MediaError> {
        self.commands.send(command).map_err(|e| match e {
            link::SendError::Full => MediaError::Busy,
            link::SendError::Closed => MediaError::Stopped,
        })
    }
}

/// What a call's media task needs for WebRTC legs.
pub(super) struct WebRtcShared {
    /// The engine's DTLS identity; `None` if it could not be made (WebRTC legs then fail).
    identity: Option<WebRtcIdentity>,
    /// Our host candidate per leg: the advertised address and the leg's RTP port.
    candidates: [SocketAddr; 2],
}

/// One call's media as its owner holds it: the local addresses and the control handle (the
/// events go to the sink given at allocation).
#[derive(Debug)]
pub struct CallMedia {
    legs: [LegAddrs; 2],
    advertised_ip: IpAddr,
    control: MediaControl,
    /// Our side of each leg should it be a browser (fresh ICE credentials per leg).
    webrtc: Option<Box<[WebRtcLocal; 2]>>,
}

impl CallMedia {
    /// Where `leg`'s media arrives at us, as bound.
    pub fn local(&self, leg: Leg) -> LegAddrs {
        self.legs[leg.index()]
    }

    /// The anchor to write into the SDP sent to `leg` (advertised address, our ports).
    pub fn anchor(&self, leg: Leg) -> Anchor {
        let local = self.local(leg);
        Anchor {
            addr: self.advertised_ip,
            rtp_port: local.rtp.port(),
            rtcp_port: local.rtcp.port(),
        }
    }

    pub fn control(&self) -> &MediaControl {
        &self.control
    }

    /// Our ICE credentials, fingerprint and SSRC for each leg (A, B), for SDP towards a
    /// browser; `None` when the engine has no DTLS identity.
    pub fn webrtc(&self) -> Option<Box<[WebRtcLocal; 2]>> {
        self.webrtc.clone()
    }

    pub fn send(&self, command: Command) -> Result<(), MediaError> {
        self.control.send(command)
    }

    pub fn into_control(self) -> MediaControl {
        self.control
    }
}

/// A call's media with its events queued for the holder to read (tools and tests; the
/// queue is unbounded, which is fine for a reader that keeps up).
#[derive(Debug)]
pub struct MediaCall {
    media: CallMedia,
    events: mpsc::UnboundedReceiver<Event>,
}

impl MediaCall {
    pub fn events(&mut self) -> &mut mpsc::UnboundedReceiver<Event> {
        &mut self.events
    }
}

/// A `MediaCall` is its media plus the queue: addresses and control come from there.
impl std::ops::Deref for MediaCall {
    type Target = CallMedia;

    fn deref(&self) -> &CallMedia {
        &self.media
    }
}

/// A current-thread runtime on its own thread.
struct Shard {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

enum Runtimes {
    PerCore {
        shards: Vec<Shard>,
        next: AtomicUsize,
    },
    Shared(Option<Runtime>),
}

/// The media plane: runtimes, ports, the recording writer, and the factory for call media.
pub struct MediaEngine {
    config: MediaConfig,
    ports: SharedPorts,
    runtimes: Runtimes,
    writer: RecordWriter,
    /// RTP/RTCP packets refused by a leg's latch, over every call so far.
    foreign: Arc<std::sync::atomic::AtomicU64>,
    /// The DTLS identity of every WebRTC leg.
    identity: Option<WebRtcIdentity>,
}

impl MediaEngine {
    pub fn new(config: MediaConfig) -> Result<Self, MediaError> {
        let threads = match config.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let runtimes = match config.layout {
            RuntimeLayout::Shared => Runtimes::Shared(Some(
                Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("media")
                    .enable_all()
                    .build()
                    .map_err(MediaError::Runtime)?,
            )),
            RuntimeLayout::PerCore => Runtimes::PerCore {
                shards: (0..threads).map(start_shard).collect::<Result<_, _>>()?,
                next: AtomicUsize::new(0),
            },
        };
        Ok(MediaEngine {
            ports: Arc::new(Mutex::new(PortAllocator::new(config.ports))),
            config,
            runtimes,
            writer: RecordWriter::start().map_err(MediaError::Runtime)?,
            foreign: Arc::default(),
            identity: WebRtcIdentity::generate(Instant::now()),
        })
    }

    /// Bind two port pairs (leg A, leg B) and start the call's media task; its events are
    /// queued in the returned [`MediaCall`].
    pub fn allocate_call(&self) -> Result<MediaCall, MediaError> {
        let (events, queue) = mpsc::unbounded_channel();
        let media = self.allocate_call_with(Box::new(move |event| {
            let _ = events.send(event);
        }))?;
        Ok(MediaCall {
            media,
            events: queue,
        })
    }

    /// Bind two port pairs (leg A, leg B) and start the call's media task; its events go to
    /// `sink`, on the media thread.
    pub fn allocate_call_with(&self, sink: EventSink) -> Result<CallMedia, MediaError> {
        let a = bind_pair(&self.ports, self.config.bind_ip)?;
        let b = bind_pair(&self.ports, self.config.bind_ip)?;
        let legs = [leg_addrs(&a.rtp, &a.rtcp)?, leg_addrs(&b.rtp, &b.rtcp)?];
        let handle = self.next_handle().ok_or(MediaError::Stopped)?;
        // Sockets register with the reactor of the runtime whose context is entered.
        let _context = handle.enter();
        let register = |s| UdpSocket::from_std(s).map_err(MediaError::Runtime);
        let sockets = [
            register(a.rtp)?,
            register(a.rtcp)?,
            register(b.rtp)?,
            register(b.rtcp)?,
        ];
        let (command_tx, command_rx) = Link::pair();
        let now = Instant::now();
        let relay = Relay::new(self.config.relay, now);
        // RFC 3550 §5.1: random SSRC, first sequence number and timestamp per stream.
        let stream = || OutStream::new(rand::random(), rand::random(), rand::random());
        let task = CallTask {
            sockets,
            leases: [a.lease, b.lease],
            ipv6: self.config.bind_ip.is_ipv6(),
            commands: command_rx,
            sink,
            tick: tick_interval(relay.tick_interval()),
            relay,
            stages: Stages::new(stream(), stream()),
            pacer: Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(
                now + Duration::from_secs(86_400),
            ))),
            recordings: Recordings::new(self.writer.sink()),
            protection: Default::default(),
            foreign: self.foreign.clone(),
            peers: [None, None],
            webrtc: WebRtcShared {
                identity: self.identity.clone(),
                candidates: legs.map(|l| SocketAddr::new(self.config.advertised_ip, l.rtp.port())),
            },
            stream: None,
        };
        handle.spawn(Box::new(task).run());
        Ok(CallMedia {
            legs,
            advertised_ip: self.config.advertised_ip,
            control: MediaControl {
                commands: command_tx,
            },
            webrtc: self.identity.as_ref().map(|id| {
                let local = || WebRtcLocal {
                    ufrag: ice_token(8),
                    pwd: ice_token(24),
                    fingerprint: id.fingerprint().to_owned(),
                    ssrc: rand::random::<u32>().max(1),
                    video_ssrc: rand::random::<u32>().max(1),
                };
                Box::new([local(), local()])
            }),
        })
    }

    /// The engine's WebRTC identity (its fingerprint is in every SDP to a browser).
    pub fn webrtc_identity(&self) -> Option<&WebRtcIdentity> {
        self.identity.as_ref()
    }

    /// Packets dropped because their source was not the leg's latched (or a consistent)
    /// address, over every call since start (`media::latch`; for metrics).
    pub fn foreign_dropped(&self) -> u64 {
        self.foreign.load(Ordering::Relaxed)
    }

    /// Free port pairs right now (for metrics and tests).
    pub fn free_pairs(&self) -> usize {
        bind::lock(&self.ports).free_pairs()
    }

    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// Stop every call task and wait for the media threads to end. Must not be called from a
    /// media thread. Dropping the engine does the same without waiting.
    pub fn shutdown(mut self) {
        self.stop(true);
    }

    /// The runtime for the next call; `None` once the engine is stopping.
    fn next_handle(&self) -> Option<Handle> {
        match &self.runtimes {
            Runtimes::PerCore { shards, next } => {
                let i = next.fetch_add(1, Ordering::Relaxed) % shards.len().max(1);
                shards.get(i).map(|shard| shard.handle.clone())
            }
            Runtimes::Shared(runtime) => runtime.as_ref().map(|r| r.handle().clone()),
        }
    }

    fn stop(&mut self, wait: bool) {
        self.stop_runtimes(wait);
        // After the call tasks: they hold the writer's senders until they end.
        self.writer.stop(wait);
    }

    fn stop_runtimes(&mut self, wait: bool) {
        match &mut self.runtimes {
            Runtimes::PerCore { shards, .. } => {
                for shard in shards.iter_mut() {
                    if let Some(stop) = shard.stop.take() {
                        let _ = stop.send(());
                    }
                }
                for shard in shards.iter_mut() {
                    if let Some(thread) = shard.thread.take().filter(|_| wait) {
                        let _ = thread.join();
                    }
                }
            }
            Runtimes::Shared(runtime) => {
                // Waiting blocks, which tokio forbids inside an async context (it panics);
                // there the runtime is shut down in the background instead.
                let may_block = wait && Handle::try_current().is_err();
                if let Some(runtime) = runtime.take() {
                    if may_block {
                        runtime.shutdown_timeout(Duration::from_secs(1));
                    } else {
                        runtime.shutdown_background();
                    }
                }
            }
        }
    }
}

impl Drop for MediaEngine {
    fn drop(&mut self) {
        self.stop(false);
    }
}

/// A random ICE credential of `len` characters from the `ice-char` set (RFC 8839 §5.4:
/// ufrag at least 4, password at least 22 characters, 128 bits of randomness for the latter).
fn ice_token(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..len)
        .map(|_| char::from(CHARS[usize::from(rand::random::<u8>() & 63)]))
        .collect()
}

fn leg_addrs(
    rtp: &std::net::UdpSocket,
    rtcp: &std::net::UdpSocket,
) -> Result<LegAddrs, MediaError> {
    Ok(LegAddrs {
        rtp: rtp.local_addr().map_err(MediaError::Runtime)?,
        rtcp: rtcp.local_addr().map_err(MediaError::Runtime)?,
    })
}

/// Start a thread that drives a current-thread runtime until told to stop; dropping the
/// runtime there cancels its call tasks, which closes their sockets and frees their ports.
fn start_shard(index: usize) -> Result<Shard, MediaError> {
    let runtime = Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(MediaError::Runtime)?;
    let handle = runtime.handle().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("media-{index}"))
        .spawn(move || {
            runtime.block_on(async {
                let _ = stopped.await;
            });
        })
        .map_err(MediaError::Runtime)?;
    Ok(Shard {
        handle,
        stop: Some(stop),
        thread: Some(thread),
    })
}
