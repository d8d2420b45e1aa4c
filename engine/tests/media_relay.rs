//! The media forwarder on loopback: fake endpoints send RTP/RTCP through an allocated call.
//! Everything binds 127.0.0.1, waits are bounded, and every engine is shut down at the end.
//! These check behaviour, not speed (that is `examples/media_bench.rs`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use engine::media::{
    Channel, Command, Event, Leg, MediaCall, MediaConfig, MediaEngine, MediaError, PortError,
    RelayConfig, RuntimeLayout, Stats,
};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(5);
/// How long we listen to be sure something did *not* arrive.
const QUIET: Duration = Duration::from_millis(200);

/// A media engine on `range`. Each test has its own range, all within 31000-31699: below the
/// kernel's ephemeral ports (32768-60999), where the port-0 sockets of the tests' peers, or any
/// outgoing connection, could otherwise take one of them while a test runs.
fn engine(range: &str, relay: RelayConfig) -> MediaEngine {
    let ports = range.parse().unwrap_or_else(|e| panic!("{range}: {e}"));
    let mut config = MediaConfig::new(ports, LOCALHOST, LOCALHOST);
    config.threads = 1;
    config.relay = relay;
    MediaEngine::new(config).unwrap_or_else(|e| panic!("media engine: {e}"))
}

/// A fake endpoint: an RTP and an RTCP socket.
struct Endpoint {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl Endpoint {
    async fn new() -> Self {
        let bind = || UdpSocket::bind((LOCALHOST, 0));
        match (bind().await, bind().await) {
            (Ok(rtp), Ok(rtcp)) => Endpoint { rtp, rtcp },
            _ => panic!("cannot bind a loopback endpoint"),
        }
    }

    fn addr(socket: &UdpSocket) -> SocketAddr {
        socket.local_addr().unwrap_or_else(|e| panic!("{e}"))
    }

    fn set_remote(&self, leg: Leg) -> Command {
        Command::SetRemote {
            leg,
            rtp: Self::addr(&self.rtp),
            rtcp: Some(Self::addr(&self.rtcp)),
        }
    }
}

fn rtp_packet(seq: u16) -> [u8; 172] {
    let mut p = [0u8; 172];
    p[0] = 0x80;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p
}

const RTCP_RR: [u8; 8] = [0x80, 201, 0, 1, 0, 0, 0, 7];

async fn send(socket: &UdpSocket, packet: &[u8], to: SocketAddr) {
    socket
        .send_to(packet, to)
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
}

/// Receive one datagram, or `None` if nothing comes within `wait`.
async fn recv(socket: &UdpSocket, wait: Duration) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 2048];
    let (len, from) = timeout(wait, socket.recv_from(&mut buf)).await.ok()?.ok()?;
    Some((buf[..len].to_vec(), from))
}

fn command(call: &MediaCall, command: Command) {
    call.send(command)
        .unwrap_or_else(|e| panic!("command: {e}"));
}

async fn next_event(call: &mut MediaCall) -> Event {
    match timeout(WAIT, call.events().recv()).await {
        Ok(Some(event)) => event,
        other => panic!("no media event: {other:?}"),
    }
}

/// Stop the call and return its final counters (skipping earlier events).
async fn stop(call: &mut MediaCall) -> Stats {
    command(call, Command::Stop);
    loop {
        if let Event::Stats(stats) = next_event(call).await {
            return *stats;
        }
    }
}

#[tokio::test]
async fn rtp_and_rtcp_flow_both_ways_through_an_allocated_call() {
    for layout in [RuntimeLayout::PerCore, RuntimeLayout::Shared] {
        let ports = "31000-31009".parse().unwrap_or_else(|e| panic!("{e}"));
        let mut config = MediaConfig::new(ports, LOCALHOST, LOCALHOST);
        (config.threads, config.layout) = (2, layout);
        let media = MediaEngine::new(config).unwrap_or_else(|e| panic!("{e}"));
        let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (Endpoint::new().await, Endpoint::new().await);
        let (us_a, us_b) = (call.local(Leg::A), call.local(Leg::B));
        assert_eq!(call.anchor(Leg::B).rtp_port, us_b.rtp.port());
        assert_eq!(
            (us_a.rtp.port() % 2, us_a.rtcp.port()),
            (0, us_a.rtp.port() + 1)
        );
        command(&call, a.set_remote(Leg::A));
        command(&call, b.set_remote(Leg::B));
        command(&call, Command::Bridge);

        const N: u16 = 50;
        for seq in 0..N {
            send(&a.rtp, &rtp_packet(seq), us_a.rtp).await;
            let got = recv(&b.rtp, WAIT).await;
            // Relayed unchanged, and from our B-leg port (symmetric RTP towards B).
            assert_eq!(
                got,
                Some((rtp_packet(seq).to_vec(), us_b.rtp)),
                "{layout:?} A→B #{seq}"
            );
            send(&b.rtp, &rtp_packet(seq), us_b.rtp).await;
            assert_eq!(
                recv(&a.rtp, WAIT).await,
                Some((rtp_packet(seq).to_vec(), us_a.rtp))
            );
        }
        // RTCP follows its own port, and does not show up on the RTP socket.
        send(&a.rtcp, &RTCP_RR, us_a.rtcp).await;
        assert_eq!(
            recv(&b.rtcp, WAIT).await,
            Some((RTCP_RR.to_vec(), us_b.rtcp))
        );
        send(&b.rtcp, &RTCP_RR, us_b.rtcp).await;
        assert_eq!(
            recv(&a.rtcp, WAIT).await,
            Some((RTCP_RR.to_vec(), us_a.rtcp))
        );
        assert_eq!(recv(&b.rtp, QUIET).await, None);

        let stats = stop(&mut call).await;
        for dir in [stats.a_to_b, stats.b_to_a] {
            assert_eq!(
                (dir.packets, dir.bytes, dir.rtcp_packets),
                (u64::from(N), 172 * u64::from(N), 1)
            );
            assert_eq!(dir.dropped.total(), 0);
        }
        media.shutdown();
    }
}

#[tokio::test]
async fn latching_follows_the_nat_source_and_drops_a_third_party_after_the_window() {
    let window = Duration::from_millis(100);
    let media = engine(
        "31100-31109",
        RelayConfig {
            latch_window: window,
            ..RelayConfig::default()
        },
    );
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let (a, b, intruder) = (
        Endpoint::new().await,
        Endpoint::new().await,
        Endpoint::new().await,
    );
    let (us_a, us_b) = (call.local(Leg::A), call.local(Leg::B));
    // A's SDP shows an address A does not send from (a private address behind NAT).
    let sdp_addr = SocketAddr::new(LOCALHOST, 9);
    command(
        &call,
        Command::SetRemote {
            leg: Leg::A,
            rtp: sdp_addr,
            rtcp: None,
        },
    );
    command(&call, b.set_remote(Leg::B));
    command(&call, Command::OpenLatchWindow { leg: Leg::A });
    command(&call, Command::Bridge);

    send(&a.rtp, &rtp_packet(1), us_a.rtp).await;
    assert!(recv(&b.rtp, WAIT).await.is_some());
    let a_rtp = Endpoint::addr(&a.rtp);
    assert_eq!(
        next_event(&mut call).await,
        Event::Latched {
            leg: Leg::A,
            channel: Channel::Rtp,
            addr: a_rtp
        }
    );
    // B's media now reaches A at its real source.
    send(&b.rtp, &rtp_packet(2), us_b.rtp).await;
    assert_eq!(
        recv(&a.rtp, WAIT).await.map(|(p, _)| p),
        Some(rtp_packet(2).to_vec())
    );

    tokio::time::sleep(window * 3).await;
    send(&intruder.rtp, &rtp_packet(666), us_a.rtp).await;
    assert_eq!(
        recv(&b.rtp, QUIET).await,
        None,
        "a third party's RTP must not reach B"
    );
    send(&a.rtp, &rtp_packet(3), us_a.rtp).await;
    assert_eq!(
        recv(&b.rtp, WAIT).await.map(|(p, _)| p),
        Some(rtp_packet(3).to_vec())
    );

    let stats = stop(&mut call).await;
    assert_eq!(
        (stats.a_to_b.packets, stats.a_to_b.dropped.foreign_source),
        (2, 1)
    );
    media.shutdown();
}

#[tokio::test]
async fn malformed_and_unnegotiated_packets_are_counted_not_relayed() {
    let media = engine("31200-31209", RelayConfig::default());
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (Endpoint::new().await, Endpoint::new().await);
    let us_a = call.local(Leg::A);
    command(&call, a.set_remote(Leg::A));
    command(&call, b.set_remote(Leg::B));
    command(
        &call,
        Command::SetPayloadTypes {
            leg: Leg::A,
            allowed: [0, 8].into_iter().collect(),
        },
    );
    command(&call, Command::Bridge);
    send(&a.rtp, b"not rtp", us_a.rtp).await;
    let mut g722 = rtp_packet(1);
    g722[1] = 9;
    send(&a.rtp, &g722, us_a.rtp).await;
    send(&a.rtp, &rtp_packet(2), us_a.rtp).await;
    // Only the PCMU packet arrives, and it arrives after the two dropped ones were judged.
    assert_eq!(
        recv(&b.rtp, WAIT).await.map(|(p, _)| p),
        Some(rtp_packet(2).to_vec())
    );
    let stats = stop(&mut call).await;
    let dropped = stats.a_to_b.dropped;
    assert_eq!(
        (
            stats.a_to_b.packets,
            dropped.malformed,
            dropped.payload_type
        ),
        (1, 1, 1)
    );
    media.shutdown();
}

#[tokio::test]
async fn inactivity_raises_rtp_timeout_for_each_silent_leg() {
    let relay = RelayConfig {
        rtp_timeout: Some(Duration::from_millis(200)),
        ..RelayConfig::default()
    };
    let media = engine("31300-31309", relay);
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (Endpoint::new().await, Endpoint::new().await);
    command(&call, a.set_remote(Leg::A));
    command(&call, b.set_remote(Leg::B));
    command(&call, Command::Bridge);
    let mut legs = vec![];
    for _ in 0..2 {
        match next_event(&mut call).await {
            Event::RtpTimeout { leg } => legs.push(leg),
            other => panic!("expected RtpTimeout, got {other:?}"),
        }
    }
    legs.sort_by_key(|leg| *leg == Leg::B);
    assert_eq!(legs, vec![Leg::A, Leg::B]);
    stop(&mut call).await;
    media.shutdown();
}

#[tokio::test]
async fn ports_are_released_after_stop_or_drop_and_exhaustion_is_a_clear_error() {
    // Two pairs: exactly one call.
    let media = engine("31400-31403", RelayConfig::default());
    assert_eq!(media.free_pairs(), 2);
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let first = (call.local(Leg::A), call.local(Leg::B));
    assert_eq!(media.free_pairs(), 0);
    match media.allocate_call() {
        Err(e @ MediaError::Ports(PortError::Exhausted { pairs: 2, .. })) => {
            assert_eq!(
                e.to_string(),
                "all 2 RTP port pairs of 31400-31403 are in use"
            );
        }
        other => panic!("expected exhaustion, got {other:?}"),
    }

    stop(&mut call).await; // Stats come after the ports were released.
    assert_eq!(media.free_pairs(), 2);
    let again = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let mut ports = [
        again.local(Leg::A).rtp.port(),
        again.local(Leg::B).rtp.port(),
    ];
    ports.sort_unstable();
    let mut before = [first.0.rtp.port(), first.1.rtp.port()];
    before.sort_unstable();
    assert_eq!(ports, before);

    drop(again); // No Stop: dropping the handle ends the task too.
    let released = timeout(WAIT, async {
        while media.free_pairs() != 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(released.await.is_ok(), "ports not released after drop");
    media.shutdown();
}

#[tokio::test]
async fn ports_held_by_another_program_are_skipped() {
    let media = engine("31500-31505", RelayConfig::default());
    // Someone else holds the RTCP port of the first pair.
    let squatter = UdpSocket::bind((LOCALHOST, 31501))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let mut ports = [call.local(Leg::A).rtp.port(), call.local(Leg::B).rtp.port()];
    ports.sort_unstable();
    assert_eq!(ports, [31502, 31504]);
    drop((call, squatter));
    media.shutdown();
}

#[tokio::test]
async fn commands_to_a_stopped_call_say_so() {
    let media = engine("31600-31609", RelayConfig::default());
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    stop(&mut call).await;
    // The task reports its stats just before it returns and drops its command receiver.
    let mut answer = call.send(Command::Bridge);
    for _ in 0..200 {
        if matches!(answer, Err(MediaError::Stopped)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        answer = call.send(Command::Bridge);
    }
    assert!(matches!(answer, Err(MediaError::Stopped)), "{answer:?}");
    media.shutdown();
}
