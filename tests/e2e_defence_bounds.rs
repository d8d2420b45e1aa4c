//! Floods and bounds through the real binary on loopback: the per-source rate limit drops a
//! flood while another address is served; one address cannot hold more than its share of the
//! transaction table; TCP connections that never complete a message are closed (slowloris)
//! while idle ones that did are kept; header lines over 8 KiB and messages over 64 KiB are
//! refused on the wire.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use support::wire::{
    answers_options, closed_within, metric, options, statuses_in, tcp_exchange, udp_on,
};
use support::Server;

fn start(dir: &std::path::Path, toml: &str) -> Server {
    let cfg = dir.join("ringmaster.toml");
    std::fs::write(&cfg, toml).unwrap();
    Server::start(dir, &["--config", cfg.to_str().unwrap()])
}

/// Collects every status that arrives on `sock` within `wait`.
fn statuses(sock: &std::net::UdpSocket, wait: Duration) -> Vec<u16> {
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65_536];
    let mut out = Vec::new();
    while Instant::now() < deadline {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            out.extend(statuses_in(&buf[..n]));
        }
    }
    out
}

#[test]
fn a_flood_from_one_address_is_cut_to_its_rate_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(
        dir.path(),
        "[defence]\nrate_per_source = 50\nburst_per_source = 50\n",
    );
    let flood = udp_on([127, 0, 0, 20]);
    let from = flood.local_addr().unwrap();
    let t0 = Instant::now();
    for _ in 0..500 {
        flood.send_to(&options(from, srv.sip), srv.sip).unwrap();
    }
    assert!(
        answers_options(srv.sip, [127, 0, 0, 21], Duration::from_secs(2)),
        "another address is served during the flood; log:\n{}",
        srv.log()
    );
    let got = statuses(&flood, Duration::from_millis(1500));
    let allowed = 50 + (t0.elapsed().as_secs_f64() * 50.0) as usize;
    assert!(
        !got.is_empty() && got.len() <= allowed,
        "{} answers, at most {allowed} allowed",
        got.len()
    );
    // What the server read beyond the rate was dropped unparsed (the kernel may have dropped
    // more before it was read: the socket buffer does not hold 500 datagrams).
    let dropped = metric(srv.http, "ringmaster_sip_flood_dropped_total").unwrap();
    assert!(dropped >= 1.0, "dropped {dropped}");
    let log = srv.log();
    assert_eq!(
        log.matches("per-source message rate exceeded").count(),
        1,
        "one log line per run of drops, not one per packet"
    );
}

/// An INVITE nobody acknowledges: its 407 is retransmitted and the transaction stays live
/// (Timer H, 32 s), unlike an answered OPTIONS.
fn unacked_invite(from: std::net::SocketAddr, to: std::net::SocketAddr, n: usize) -> Vec<u8> {
    format!(
        "INVITE sip:bob@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-inv-{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=i{n}\r\nTo: <sip:bob@{to}>\r\nCall-ID: inv-{n}@example.com\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{from}>\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn one_address_cannot_fill_the_transaction_table() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "[sip]\nmax_transactions_per_source = 20\n");
    let sock = udp_on([127, 0, 0, 22]);
    let from = sock.local_addr().unwrap();
    for n in 0..40 {
        // Distinct INVITEs, never acknowledged: each holds a live transaction.
        sock.send_to(&unacked_invite(from, srv.sip, n), srv.sip)
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let got = statuses(&sock, Duration::from_secs(1));
    // One 100 Trying per admitted INVITE (their 407s are retransmitted, Timer G).
    assert_eq!(got.iter().filter(|s| **s == 100).count(), 20, "{got:?}");
    assert!(got.iter().filter(|s| **s == 407).count() >= 20, "{got:?}");
    assert_eq!(got.iter().filter(|s| **s == 503).count(), 20, "{got:?}");
    // Answered requests do not hold the source's share: 40 OPTIONS in a row are all served.
    let pinger = udp_on([127, 0, 0, 24]);
    let ping_from = pinger.local_addr().unwrap();
    for _ in 0..40 {
        pinger
            .send_to(&options(ping_from, srv.sip), srv.sip)
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let pongs = statuses(&pinger, Duration::from_secs(1));
    assert_eq!(pongs.iter().filter(|s| **s == 200).count(), 40, "{pongs:?}");
    assert!(answers_options(
        srv.sip,
        [127, 0, 0, 23],
        Duration::from_secs(2)
    ));
    // 20 live INVITEs + 41 answered OPTIONS kept for retransmissions.
    assert_eq!(metric(srv.http, "ringmaster_sip_transactions"), Some(61.0));
}

#[test]
fn tcp_connections_without_a_complete_message_are_closed_and_idle_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "[sip]\ntcp_incomplete_timeout_secs = 2\n");
    // Nothing at all.
    let mut silent = std::net::TcpStream::connect(srv.sip).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    // Half a message.
    let mut half = std::net::TcpStream::connect(srv.sip).unwrap();
    half.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let msg = options("127.0.0.1:5999".parse().unwrap(), srv.sip);
    half.write_all(&msg[..msg.len() / 2]).unwrap();
    // A complete message, then idle.
    let (status, mut idle) = tcp_exchange(srv.sip, &msg, Duration::from_secs(2));
    assert_eq!(status, Some(200));
    let t0 = Instant::now();
    assert!(!closed_within(&mut silent, Duration::from_millis(1500)));
    assert!(
        closed_within(&mut silent, Duration::from_secs(3)),
        "silent connection closed"
    );
    assert!(
        closed_within(&mut half, Duration::from_secs(1)),
        "half message closed"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(
        !closed_within(&mut idle, Duration::from_secs(1)),
        "idle after a message: kept"
    );
}

#[test]
fn header_lines_over_8_kib_and_messages_over_64_kib_are_refused_on_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "");
    let with_header = |len: usize| {
        let msg = String::from_utf8(options("127.0.0.1:5999".parse().unwrap(), srv.sip)).unwrap();
        msg.replace(
            "Content-Length: 0",
            &format!("X-Pad: {}\r\nContent-Length: 0", "a".repeat(len)),
        )
        .into_bytes()
    };
    let sock = udp_on([127, 0, 0, 24]);
    let ok =
        support::wire::udp_exchange(&sock, srv.sip, &with_header(8000), Duration::from_secs(2));
    assert_eq!(ok, Some(200), "a header line under 8 KiB");
    let long =
        support::wire::udp_exchange(&sock, srv.sip, &with_header(8300), Duration::from_secs(2));
    assert_eq!(long, Some(400), "a header line over 8 KiB");

    // Over a stream: a body that would make the message larger than 64 KiB is refused and
    // the connection closed; one under the limit is served.
    let body = |len: usize| {
        let msg = String::from_utf8(options("127.0.0.1:5999".parse().unwrap(), srv.sip)).unwrap();
        let mut m = msg
            .replace("UDP", "TCP")
            .replace(
                "Content-Length: 0",
                &format!("Content-Type: application/sdp\r\nContent-Length: {len}"),
            )
            .into_bytes();
        m.extend(std::iter::repeat_n(b'v', len));
        m
    };
    let (status, _) = tcp_exchange(srv.sip, &body(60_000), Duration::from_secs(3));
    assert_eq!(status, Some(200), "a 60 kB message");
    let (status, mut conn) = tcp_exchange(srv.sip, &body(70_000), Duration::from_millis(500));
    assert_eq!(status, None, "a 70 kB message gets no answer");
    assert!(
        closed_within(&mut conn, Duration::from_secs(2)),
        "and its connection is closed"
    );
    assert!(answers_options(
        srv.sip,
        [127, 0, 0, 25],
        Duration::from_secs(2)
    ));
}

#[test]
fn one_address_cannot_take_every_tcp_connection() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "[sip]\nmax_tcp_connections_per_source = 3\n");
    let msg = options("127.0.0.1:5999".parse().unwrap(), srv.sip);
    let mut open = Vec::new();
    for _ in 0..3 {
        let (status, conn) = tcp_exchange(srv.sip, &msg, Duration::from_secs(2));
        assert_eq!(status, Some(200));
        open.push(conn);
    }
    let mut fourth = std::net::TcpStream::connect(srv.sip).unwrap();
    fourth
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert!(
        closed_within(&mut fourth, Duration::from_secs(2)),
        "the fourth is refused"
    );
    assert_eq!(
        metric(srv.http, "ringmaster_sip_tcp_connections"),
        Some(3.0)
    );
    drop(open);
    assert_eq!(
        support::wire::metric_settles(
            srv.http,
            "ringmaster_sip_tcp_connections",
            0.0,
            Duration::from_secs(5)
        ),
        Some(0.0)
    );
}
