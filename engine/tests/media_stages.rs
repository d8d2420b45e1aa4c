//! The media stages through real sockets: prompts, DTMF both ways, μ↔A transcoding and
//! recording, with fake endpoints on 127.0.0.1. Waits are bounded and every engine is shut
//! down at the end. The pure behaviour is tested in `engine::media::stage`; these check that
//! the forwarder wires it to the sockets, the timer and the writer thread.

// Test code: real sockets on real time (engine/clippy.toml keeps the clock out of the cores
// only).
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::media::codec::{AudioCodec, LegCodecs};
use engine::media::tone::{level, sine};
use engine::media::{g711, Command, Event, Leg, MediaCall, MediaConfig, MediaEngine, Stats};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);
const TE: u8 = 101;

/// A media engine on `range`. Each test has its own range, all within 32000-32059: below the
/// kernel's ephemeral ports (32768-60999), where the port-0 sockets of the tests' peers, or any
/// outgoing connection, could otherwise take one of them while a test runs.
fn engine(range: &str) -> MediaEngine {
    let ports = range.parse().unwrap_or_else(|e| panic!("{range}: {e}"));
    let mut config = MediaConfig::new(ports, LOCALHOST, LOCALHOST);
    config.threads = 1;
    MediaEngine::new(config).unwrap_or_else(|e| panic!("media engine: {e}"))
}

async fn endpoint() -> UdpSocket {
    UdpSocket::bind((LOCALHOST, 0))
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"))
}

fn addr(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().unwrap_or_else(|e| panic!("{e}"))
}

fn command(call: &MediaCall, command: Command) {
    call.send(command)
        .unwrap_or_else(|e| panic!("command: {e}"));
}

/// A call whose legs are `a` and `b`, with the given laws and telephone-event 101 on both.
fn connect(call: &MediaCall, a: &UdpSocket, b: &UdpSocket, laws: [AudioCodec; 2]) {
    for ((leg, socket), law) in [(Leg::A, a), (Leg::B, b)].into_iter().zip(laws) {
        let rtp = addr(socket);
        command(
            call,
            Command::SetRemote {
                leg,
                rtp,
                rtcp: None,
            },
        );
        let codecs = LegCodecs::new(law, Some(TE));
        command(call, Command::SetCodecs { leg, codecs });
    }
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

async fn send(socket: &UdpSocket, packet: &[u8], to: SocketAddr) {
    socket
        .send_to(packet, to)
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
}

async fn recv(socket: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = [0u8; 2048];
    let (len, _) = timeout(wait, socket.recv_from(&mut buf)).await.ok()?.ok()?;
    Some(buf[..len].to_vec())
}

async fn next_event(call: &mut MediaCall) -> Event {
    match timeout(WAIT, call.events().recv()).await {
        Ok(Some(event)) => event,
        other => panic!("no media event: {other:?}"),
    }
}

/// Events until `want` matches one (which is returned); earlier ones are kept in `seen`.
async fn event_where(
    call: &mut MediaCall,
    seen: &mut Vec<Event>,
    want: impl Fn(&Event) -> bool,
) -> Event {
    loop {
        let event = next_event(call).await;
        if want(&event) {
            return event;
        }
        seen.push(event);
    }
}

async fn stop(call: &mut MediaCall) -> Stats {
    command(call, Command::Stop);
    let mut seen = Vec::new();
    match event_where(call, &mut seen, |e| matches!(e, Event::Stats(_))).await {
        Event::Stats(stats) => *stats,
        _ => unreachable!(),
    }
}

/// (payload type, marker, seq, ts, ssrc)
fn header(p: &[u8]) -> (u8, bool, u16, u32, u32) {
    (
        p[1] & 0x7F,
        p[1] & 0x80 != 0,
        u16::from_be_bytes([p[2], p[3]]),
        u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
    )
}

#[tokio::test]
async fn a_one_second_tone_played_to_a_leg_arrives_as_50_pcmu_packets_in_real_time() {
    let media = engine("32000-32009");
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (endpoint().await, endpoint().await);
    connect(&call, &a, &b, [AudioCodec::Pcmu, AudioCodec::Pcmu]);
    let tone: Arc<[i16]> = sine(1000.0, 8000, 1.0, 10_000.0).into();
    let started = Instant::now();
    command(
        &call,
        Command::Play {
            id: 42,
            leg: Leg::A,
            audio: tone,
        },
    );

    let mut packets = Vec::new();
    let mut took = Duration::ZERO;
    while let Some(p) = recv(&a, if packets.is_empty() { WAIT } else { QUIET }).await {
        packets.push(p);
        took = started.elapsed();
    }
    assert_eq!(packets.len(), 50);
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(2000),
        "real-time pace: {took:?}"
    );
    let (_, _, seq0, ts0, ssrc) = header(&packets[0]);
    let mut decoded = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.len(), 172);
        let expected = (
            0,
            i == 0,
            seq0.wrapping_add(i as u16),
            ts0.wrapping_add(160 * i as u32),
            ssrc,
        );
        assert_eq!(header(p), expected, "packet {i}");
        decoded.extend(p[12..].iter().map(|&c| g711::ulaw_to_linear(c)));
    }
    assert!(level(&decoded, 1000.0, 8000) > 9000.0);
    assert!(level(&decoded, 1500.0, 8000) < 200.0);
    assert_eq!(
        next_event(&mut call).await,
        Event::PlayDone {
            id: 42,
            completed: true
        }
    );
    assert!(recv(&b, QUIET).await.is_none(), "nothing went to B");
    stop(&mut call).await;
    media.shutdown();
}

#[tokio::test]
async fn rfc_4733_digits_from_a_leg_are_reported_once_each() {
    let media = engine("32010-32019");
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (endpoint().await, endpoint().await);
    connect(&call, &a, &b, [AudioCodec::Pcmu, AudioCodec::Pcmu]);
    let us = call.local(Leg::A).rtp;
    for (press, digit) in [1u8, 2, 3, 11].into_iter().enumerate() {
        let ts = 8000 * (press as u32 + 1);
        let base = 7 + 5 * press as u16;
        // Start, update, three end packets, and the first end packet duplicated.
        let packets = [
            (0x0A, 400u16, 0u16),
            (0x0A, 800, 1),
            (0x8A, 800, 2),
            (0x8A, 800, 2),
            (0x8A, 800, 3),
            (0x8A, 800, 4),
        ];
        for (flags, duration, n) in packets {
            let [hi, lo] = duration.to_be_bytes();
            send(
                &a,
                &rtp(TE, base + n, ts, 0x1111, &[digit, flags, hi, lo]),
                us,
            )
            .await;
        }
    }
    let mut digits = String::new();
    while digits.len() < 4 {
        match next_event(&mut call).await {
            Event::Dtmf { leg: Leg::A, digit } => digits.push(digit),
            Event::Latched { leg: Leg::A, .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(digits, "123#");
    // Nothing more: no digit was reported twice.
    let late = timeout(QUIET, call.events().recv()).await;
    assert!(late.is_err(), "unexpected {late:?}");
    stop(&mut call).await;
    media.shutdown();
}

#[tokio::test]
async fn digits_sent_to_a_leg_go_out_as_telephone_events() {
    let media = engine("32020-32029");
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (endpoint().await, endpoint().await);
    connect(&call, &a, &b, [AudioCodec::Pcmu, AudioCodec::Pcma]);
    command(
        &call,
        Command::SendDtmf {
            leg: Leg::B,
            digits: "9*".into(),
        },
    );
    let mut detector = engine::media::dtmf::DtmfDetector::new();
    let mut heard = String::new();
    let mut got = Vec::new();
    let started = Instant::now();
    while let Some(p) = recv(&b, if got.is_empty() { WAIT } else { QUIET }).await {
        assert_eq!(p[1] & 0x7F, TE);
        heard.extend(detector.on_rtp(&p));
        got.push((started.elapsed().as_millis(), header(&p), p[12..].to_vec()));
    }
    assert_eq!((heard.as_str(), got.len()), ("9*", 10), "{got:?}");
    stop(&mut call).await;
    media.shutdown();
}

#[tokio::test]
async fn a_pcmu_leg_bridged_to_a_pcma_leg_hears_the_other_sides_tone() {
    let media = engine("32030-32039");
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (endpoint().await, endpoint().await);
    connect(&call, &a, &b, [AudioCodec::Pcmu, AudioCodec::Pcma]);
    command(&call, Command::Bridge);
    let (us_a, us_b) = (call.local(Leg::A).rtp, call.local(Leg::B).rtp);
    let tone = sine(800.0, 8000, 0.5, 12_000.0);
    let mut heard_by_a = Vec::new();
    let mut heard_by_b = Vec::new();
    for (i, frame) in tone.chunks(160).enumerate() {
        let alaw: Vec<u8> = frame.iter().map(|&s| g711::linear_to_alaw(s)).collect();
        let ulaw: Vec<u8> = frame.iter().map(|&s| g711::linear_to_ulaw(s)).collect();
        let (seq, ts) = (i as u16, 160 * i as u32);
        send(&b, &rtp(8, seq, ts, 0xB, &alaw), us_b).await;
        send(&a, &rtp(0, seq, ts, 0xA, &ulaw), us_a).await;
        let (Some(to_a), Some(to_b)) = (recv(&a, WAIT).await, recv(&b, WAIT).await) else {
            panic!("packet {i} was not relayed");
        };
        assert_eq!(
            (to_a[1] & 0x7F, to_b[1] & 0x7F),
            (0, 8),
            "payload types follow the leg"
        );
        heard_by_a.extend(to_a[12..].iter().map(|&c| g711::ulaw_to_linear(c)));
        heard_by_b.extend(to_b[12..].iter().map(|&c| g711::alaw_to_linear(c)));
    }
    for heard in [&heard_by_a, &heard_by_b] {
        assert_eq!(heard.len(), 4000);
        assert!(
            level(heard, 800.0, 8000) > 11_000.0,
            "tone level {}",
            level(heard, 800.0, 8000)
        );
        assert!(level(heard, 1200.0, 8000) < 200.0);
    }
    let stats = stop(&mut call).await;
    assert_eq!((stats.a_to_b.packets, stats.b_to_a.packets), (25, 25));
    media.shutdown();
}

#[tokio::test]
async fn a_recording_of_two_legs_has_each_tone_on_its_own_channel() {
    let media = engine("32040-32049");
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (endpoint().await, endpoint().await);
    connect(&call, &a, &b, [AudioCodec::Pcmu, AudioCodec::Pcma]);
    command(&call, Command::Bridge);
    let Ok(dir) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    let path = dir.path().join("rec/call.wav");
    command(
        &call,
        Command::Record {
            id: 3,
            path: path.clone(),
            layout: Default::default(),
        },
    );
    let (us_a, us_b) = (call.local(Leg::A).rtp, call.local(Leg::B).rtp);
    let tone_a = sine(600.0, 8000, 1.0, 8000.0);
    let tone_b = sine(1400.0, 8000, 1.0, 8000.0);
    let mut next = tokio::time::Instant::now();
    for i in 0..50usize {
        let frame = |tone: &[i16], encode: fn(i16) -> u8| -> Vec<u8> {
            tone[i * 160..(i + 1) * 160]
                .iter()
                .map(|&s| encode(s))
                .collect()
        };
        let (seq, ts) = (i as u16, 160 * i as u32);
        send(
            &a,
            &rtp(0, seq, ts, 0xA, &frame(&tone_a, g711::linear_to_ulaw)),
            us_a,
        )
        .await;
        send(
            &b,
            &rtp(8, seq, ts, 0xB, &frame(&tone_b, g711::linear_to_alaw)),
            us_b,
        )
        .await;
        next += Duration::from_millis(20);
        tokio::time::sleep_until(next).await;
    }
    command(&call, Command::StopRecord { id: 3 });
    let mut seen = Vec::new();
    let done = event_where(&mut call, &mut seen, |e| {
        matches!(e, Event::RecordDone { .. })
    })
    .await;
    let Event::RecordDone {
        id,
        path: written,
        duration_ms,
        ok,
    } = done
    else {
        unreachable!()
    };
    assert_eq!((id, &written, ok), (3, &path, true));
    assert!(
        (950..=1300).contains(&duration_ms),
        "{duration_ms} ms recorded"
    );

    let Ok(reader) = hound::WavReader::open(&path) else {
        panic!("no WAV")
    };
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .map(|s| s.unwrap_or(0))
        .collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!((left.len() as u64).abs_diff(duration_ms * 8) < 8);
    assert!(level(&left, 600.0, 8000) > 5000.0, "A's tone on the left");
    assert!(level(&left, 1400.0, 8000) < 200.0);
    assert!(
        level(&right, 1400.0, 8000) > 5000.0,
        "B's tone on the right"
    );
    assert!(level(&right, 600.0, 8000) < 200.0);
    stop(&mut call).await;
    media.shutdown();
}

#[tokio::test]
async fn stopping_a_call_ends_its_prompt_and_recording_before_the_stats() {
    let media = engine("32050-32059");
    let mut call = media.allocate_call().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (endpoint().await, endpoint().await);
    connect(&call, &a, &b, [AudioCodec::Pcma, AudioCodec::Pcma]);
    let Ok(dir) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    let path = dir.path().join("short.wav");
    command(
        &call,
        Command::Record {
            id: 1,
            path: path.clone(),
            layout: Default::default(),
        },
    );
    let long: Arc<[i16]> = vec![1000i16; 80_000].into();
    command(
        &call,
        Command::Play {
            id: 2,
            leg: Leg::B,
            audio: long,
        },
    );
    assert!(recv(&b, WAIT).await.is_some(), "the prompt started");
    tokio::time::sleep(Duration::from_millis(300)).await;
    command(&call, Command::Stop);
    let mut events = Vec::new();
    while let Ok(Some(event)) = timeout(WAIT, call.events().recv()).await {
        let last = matches!(event, Event::Stats(_));
        events.push(event);
        if last {
            break;
        }
    }
    assert!(events.contains(&Event::PlayDone {
        id: 2,
        completed: false
    }));
    let record = events.iter().position(|e| {
        matches!(
            e,
            Event::RecordDone {
                id: 1,
                ok: true,
                ..
            }
        )
    });
    assert!(
        record.is_some_and(|i| i + 1 < events.len()),
        "RecordDone before Stats: {events:?}"
    );
    assert!(matches!(events.last(), Some(Event::Stats(_))));
    // The prompt played to B was recorded on A's side (left).
    let Ok(reader) = hound::WavReader::open(&path) else {
        panic!("no WAV")
    };
    let left: Vec<i16> = reader
        .into_samples::<i16>()
        .step_by(2)
        .map(|s| s.unwrap_or(0))
        .collect();
    assert!(
        left.iter().filter(|&&s| s != 0).count() > 1600,
        "at least 200 ms of the prompt"
    );
    media.shutdown();
}
