//! Issue 15 item 3: SRTP (SDES, RFC 4568) for SIP phones, through the real binary on loopback.
//! - The test's own UA offers `RTP/SAVP` with a key it chose and is connected by the answer
//!   URL to a plain-RTP phone (Debian's baresip): what ringmaster sends the UA is not G.711
//!   (the raw payloads carry no tone) but decrypts, with the key of ringmaster's answer, to
//!   the phone's tone; the phone hears the UA's tone, which went out as SRTP.
//! - baresip with `srtp-mand` (`RTP/SAVP`; its own SRTP, libre's) and with `srtp` (best
//!   effort, `RTP/AVP` with `a=crypto`) calls a plain baresip: each hears the other's tone
//!   frequency, and baresip's SRTP authenticates with ours.
//! - baresip registered over SIP/TLS with `srtp-mand` places a call through the answer URL to
//!   a plain phone: audio flows both ways, and its ACK and the BYE's answer go over TLS (our
//!   Contact names the transport).
//! - Policy `require`: a plain offer gets 488; the callee is offered `RTP/SAVP` with our key and
//!   both legs run SRTP with their own keys.
//!
//! Every process is stopped by PID (drop); nothing leaves 127.0.0.0/8.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use engine::media::sdp::crypto::CryptoAttr;
use engine::media::srtp::{MasterKey, Receiver, Sender, Suite};
use engine::media::tone;
use support::audio::{decode, tone_frames, Capture, Law, Packet, FRAME, RATE};
use support::baresip::{Baresip, PhoneSpec, Secure};
use support::http::Reply;
use support::rig::Rig;
use support::stream_ua;
use support::transports::{connect, registrations_of, rig_with, Ports};
use support::wire::metric_settles;

const SEC: Duration = Duration::from_secs(1);
/// RFC 4568 §5's example key: the test UA's key for what it sends.
const UA_KEY: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

fn phone(rig: &Rig, user: &str, tone: u32, dial: Option<&str>, secure: &Secure<'_>) -> Baresip {
    let aor = format!("{user}@test.local");
    let password = format!("pw-{user}");
    let phone = Baresip::start_secure(
        rig.dir.path(),
        &PhoneSpec {
            aor: &aor,
            password: &password,
            server: rig.srv.sip,
            tone,
            dial,
            seconds: 40,
        },
        secure,
    );
    phone
}

/// Waits (bounded) until `phone` heard at least `n` 20 ms frames of `hz`.
fn hears(phone: &Baresip, hz: f64, n: usize) -> usize {
    let deadline = Instant::now() + 10 * SEC;
    loop {
        let got = tone_frames(&phone.heard(), hz);
        if got >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn savp_offer(rtp: SocketAddr) -> String {
    let ip = rtp.ip();
    format!(
        "v=0\r\no=ua 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {} RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{UA_KEY}\r\na=sendrecv\r\n",
        rtp.port()
    )
}

/// The `a=crypto` of an SDP body, and whether its audio is `RTP/SAVP`.
fn crypto_of(sdp: &[u8]) -> (CryptoAttr, bool) {
    let text = String::from_utf8_lossy(sdp);
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=crypto:"))
        .unwrap_or_else(|| panic!("no a=crypto in\n{text}"));
    let savp = text
        .lines()
        .any(|l| l.starts_with("m=audio") && l.contains(" RTP/SAVP "));
    (CryptoAttr::parse(line).unwrap(), savp)
}

/// Sends `seconds` of a `hz` tone in PCMU as SRTP with `key`, one packet per 20 ms, from the
/// capture's socket (so ringmaster latches to it).
fn send_srtp_tone(cap: &Capture, to: SocketAddr, key: MasterKey, hz: f64, seconds: f64) {
    let sock = cap.socket();
    std::thread::spawn(move || {
        let mut sender = Sender::new(Suite::AesCm128HmacSha1_80, &key);
        let samples = tone::sine(hz, RATE, seconds, 8000.0);
        let start = Instant::now();
        let mut buf = [0u8; 256];
        for (i, frame) in samples.chunks(FRAME).enumerate() {
            buf[..2].copy_from_slice(&[0x80, 0]);
            buf[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            buf[4..8].copy_from_slice(&((i * FRAME) as u32).to_be_bytes());
            buf[8..12].copy_from_slice(&0x5ec0_0001u32.to_be_bytes());
            for (b, s) in buf[12..12 + FRAME].iter_mut().zip(frame) {
                *b = Law::Mu.encode(*s);
            }
            let n = sender.protect_rtp(&mut buf, 12 + FRAME).unwrap();
            let _ = sock.send_to(&buf[..n], to);
            let next = start + Duration::from_millis(20 * (i as u64 + 1));
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    });
}

/// The packets decrypted with `key` (those that fail are left out), as linear samples.
fn decrypt(packets: &[Packet], key: &MasterKey) -> (Vec<i16>, usize) {
    let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_80, key);
    let mut plain = Vec::new();
    let mut failed = 0;
    for p in packets {
        let mut raw = p.raw.clone();
        match receiver.unprotect_rtp(&mut raw) {
            Ok(n) if n >= 12 && raw[1] & 0x7f == 0 => plain.push(Packet {
                payload: raw[12..n].to_vec(),
                ..p.clone()
            }),
            Ok(_) => {}
            Err(_) => failed += 1,
        }
    }
    (decode(&plain, Law::Mu), failed)
}

#[test]
fn an_srtp_caller_and_a_plain_phone_hear_each_other_and_the_srtp_leg_carries_no_g711() {
    let rig = Rig::start(vec![Reply::Json(connect("bob"))]);
    rig.endpoint("ann");
    rig.endpoint("bob");
    let bob = phone(&rig, "bob", 1400, None, &Secure::default());
    assert!(
        bob.wait_log("200 OK", 10 * SEC),
        "bob did not register:\n{}",
        bob.log()
    );

    let mut ann = rig.phone("ann");
    let cap = Capture::bind();
    let mut out = ann.invite_sdp("5000", &savp_offer(cap.addr));
    let mut dialog = ann
        .final_response(&mut out, 15 * SEC)
        .unwrap_or_else(|s| panic!("the SRTP call failed with {s}\n{}", bob.log()));
    let (ours, savp) = crypto_of(&dialog.remote_sdp);
    assert!(savp, "ringmaster answers RTP/SAVP with RTP/SAVP");
    assert_eq!((ours.tag, ours.suite), (1, Suite::AesCm128HmacSha1_80));
    let ua_key = CryptoAttr::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{UA_KEY}"))
        .unwrap()
        .key;
    assert_ne!(
        ours.key, ua_key,
        "ringmaster writes its own key, never the caller's"
    );
    let to = dialog.remote_rtp.expect("our RTP address");
    assert!(rig.is_rtp_port(to.port()));
    send_srtp_tone(&cap, to, ua_key, 600.0, 4.0);

    let at_bob = hears(&bob, 600.0, 50);
    assert!(
        at_bob >= 50,
        "bob heard {at_bob} frames of ann's 600 Hz (sent as SRTP)\n{}",
        bob.log()
    );
    let packets = cap.wait(10 * SEC, |p| p.len() >= 150);
    assert!(
        packets.len() >= 150,
        "{} packets from ringmaster",
        packets.len()
    );
    // On the wire: 160 bytes of payload and the 80-bit tag, and no tone in it.
    assert!(
        packets.iter().all(|p| p.payload.len() == FRAME + 10),
        "SRTP-sized packets"
    );
    let raw_tone = tone_frames(&decode(&packets, Law::Mu), 1400.0);
    assert!(
        raw_tone <= 2,
        "{raw_tone} frames of bob's tone readable as plain G.711"
    );
    let (plain, failed) = decrypt(&packets, &ours.key);
    assert_eq!(
        failed, 0,
        "every packet authenticates with the key of our answer"
    );
    let at_ann = tone_frames(&plain, 1400.0);
    assert!(
        at_ann >= 50,
        "ann decrypted {at_ann} frames of bob's 1400 Hz"
    );
    // Forged and replayed SRTP is refused and counted, not relayed.
    let sock = cap.socket();
    let mut forged = packets[0].raw.clone();
    forged[0] = 0x80;
    forged[20] ^= 0xff;
    for _ in 0..3 {
        sock.send_to(&forged, to).unwrap();
    }
    let plain_rtp = [
        &[0x80u8, 0, 0, 1, 0, 0, 0, 0, 0x5e, 0xc0, 0, 1][..],
        &[0xff; 170][..],
    ]
    .concat();
    sock.send_to(&plain_rtp, to).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ann.bye(&mut dialog), 200);
    let refused = metric_settles(
        rig.srv.http,
        "ringmaster_rtp_srtp_refused_total",
        4.0,
        5 * SEC,
    );
    assert_eq!(refused, Some(4.0), "3 forged and 1 plain packet refused");
}

#[test]
fn baresip_with_mandatory_srtp_calls_a_plain_phone_and_both_hear_each_other() {
    srtp_phone_calls_a_plain_phone("srtp-mand");
}

/// Best effort: `RTP/AVP` with `a=crypto` is answered with our key, and the call is SRTP.
#[test]
fn baresip_with_best_effort_srtp_calls_a_plain_phone_and_both_hear_each_other() {
    srtp_phone_calls_a_plain_phone("srtp");
}

fn srtp_phone_calls_a_plain_phone(mediaenc: &str) {
    let rig = Rig::start(vec![Reply::Json(connect("bob"))]);
    rig.endpoint("ann");
    rig.endpoint("bob");
    let bob = phone(&rig, "bob", 1400, None, &Secure::default());
    assert!(
        bob.wait_log("200 OK", 10 * SEC),
        "bob did not register:\n{}",
        bob.log()
    );
    let srtp = Secure {
        mediaenc: Some(mediaenc),
        ..Secure::default()
    };
    let ann = phone(&rig, "ann", 600, Some("5000"), &srtp);
    let at_bob = hears(&bob, 600.0, 50);
    let at_ann = hears(&ann, 1400.0, 50);
    assert!(
        ann.log().contains("SRTP is Enabled"),
        "ann's call is not SRTP:\n{}",
        ann.log()
    );
    assert!(
        at_ann >= 50,
        "ann heard {at_ann} frames of bob's 1400 Hz\n{}",
        ann.log()
    );
    assert!(
        at_bob >= 50,
        "bob heard {at_bob} frames of ann's 600 Hz\n{}",
        bob.log()
    );
    // Every SRTP packet baresip (libre's SRTP) sent authenticated with our implementation.
    // At most one is refused: the plain RTCP APP "PINGPONG" baresip sends when its stream
    // starts (a NAT pinhole packet, not SRTCP).
    let refused = support::wire::metric(rig.srv.http, "ringmaster_rtp_srtp_refused_total");
    assert!(refused.is_some_and(|n| n <= 1.0), "{refused:?} refused");
}

#[test]
fn baresip_over_tls_with_srtp_places_a_call_and_its_dialog_stays_on_tls() {
    let ports = Ports::new();
    let rig = rig_with(vec![Reply::Json(connect("bob"))], &ports, &[]);
    rig.endpoint("ann");
    rig.endpoint("bob");
    let mut bob = rig.phone("bob");
    let ca = stream_ua::self_signed(&rig.srv.dir);
    let secure = Secure {
        mediaenc: Some("srtp-mand"),
        tls: Some((ports.tls, &ca)),
    };
    let ann = phone(&rig, "ann", 600, None, &secure);
    let deadline = Instant::now() + 10 * SEC;
    while registrations_of(&rig, "ann").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let regs = registrations_of(&rig, "ann");
    assert_eq!(
        regs.len(),
        1,
        "ann did not register over TLS:\n{}",
        ann.log()
    );
    assert_eq!(regs[0]["transport"], "tls");
    drop(ann);
    // The same account again, now dialling (baresip dials at start only).
    let ann = phone(&rig, "ann", 600, Some("5000"), &secure);

    let inc = bob.expect_request("INVITE", None, 15 * SEC);
    let cap = Capture::bind();
    let mut dialog = bob.answer(&inc, cap.addr);
    let to = dialog.remote_rtp.expect("our RTP address");
    cap.send_tone(to, Law::Mu, 1400.0, 4.0);
    let at_ann = hears(&ann, 1400.0, 50);
    assert!(
        at_ann >= 50,
        "ann heard {at_ann} frames of bob's 1400 Hz\n{}",
        ann.log()
    );
    let heard = decode(&cap.wait(10 * SEC, |p| p.len() >= 150), Law::Mu);
    let at_bob = tone_frames(&heard, 600.0);
    assert!(
        at_bob >= 50,
        "bob heard {at_bob} frames of ann's 600 Hz\n{}",
        ann.log()
    );
    assert!(ann.log().contains("SRTP is Enabled"), "{}", ann.log());

    assert_eq!(bob.bye(&mut dialog), 200);
    assert!(ann.wait_log("terminated", 5 * SEC), "{}", ann.log());
    let log = ann.log();
    let trace = trace_transports(&log);
    // The ACK of our 200 goes to our Contact (RFC 3261 §13.2.2.4), unlike the ACK of the 407.
    let ack = trace
        .iter()
        .find(|(_, first)| first.starts_with("ACK sip:ringmaster@"));
    assert!(
        ack.is_some_and(|(t, first)| t == "TLS" && first.contains(";transport=tls")),
        "ann's ACK of the 200 went {ack:?}, not over its TLS connection\n{log}"
    );
    let bye_ok = trace
        .iter()
        .find(|(_, first)| first.starts_with("SIP/2.0 200") && first.ends_with(" BYE"));
    assert!(bye_ok.is_some_and(|(t, _)| t == "TLS"), "{log}");
}

/// The messages baresip's SIP trace (`-s`) shows, sent and received: (transport, the
/// message's first line and its CSeq).
fn trace_transports(log: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = log.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let mut t = line.split_whitespace();
        let (Some(transport), Some(_src), Some("->")) = (t.next(), t.next(), t.next()) else {
            continue;
        };
        let first = lines.get(i + 1).copied().unwrap_or_default();
        let cseq = lines[i + 1..]
            .iter()
            .take(20)
            .find(|l| l.starts_with("CSeq:"))
            .copied()
            .unwrap_or_default();
        out.push((transport.to_string(), format!("{first} {cseq}")));
    }
    out
}

/// `a=crypto` for a test phone's own key (30 bytes of `fill`).
fn crypto_line(fill: u8) -> (String, MasterKey) {
    use base64::Engine as _;
    let key = [fill; 30];
    let b64 = base64::engine::general_purpose::STANDARD.encode(key);
    (
        format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{b64}"),
        MasterKey::new(key),
    )
}

#[test]
fn policy_require_refuses_plain_callers_and_offers_srtp_to_the_callee() {
    let config = format!("{}[media]\nsrtp = \"require\"\n", support::rig::CONFIG);
    let rig = Rig::configured(vec![Reply::Json(connect("bob"))], None, &config);
    rig.endpoint("ann");
    rig.endpoint("bob");
    let mut bob = rig.phone("bob");
    let mut ann = rig.phone("ann");
    let cap = Capture::bind();
    let mut plain = ann.invite("5000", cap.addr);
    assert_eq!(ann.final_response(&mut plain, 10 * SEC).err(), Some(488));

    let mut out = ann.invite_sdp("5000", &savp_offer(cap.addr));
    let inc = bob.expect_request("INVITE", None, 15 * SEC);
    let (to_bob, savp) = crypto_of(&inc.req.body);
    assert!(savp, "the callee is offered RTP/SAVP under require");
    let ua_key = CryptoAttr::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{UA_KEY}"))
        .unwrap()
        .key;
    assert_ne!(to_bob.key, ua_key, "the caller's key does not cross");
    let bob_cap = Capture::bind();
    let (bob_line, bob_key) = crypto_line(0x42);
    let answer = format!(
        "v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n{bob_line}\r\na=sendrecv\r\n",
        bob_cap.addr.port()
    );
    bob.reply_with(&inc, 200, Some(answer));
    bob.expect_request("ACK", Some(inc.call_id()), 5 * SEC);
    let mut dialog = ann.final_response(&mut out, 10 * SEC).expect("answered");
    let (to_ann, _) = crypto_of(&dialog.remote_sdp);
    let a_port = dialog.remote_rtp.expect("our A-side RTP");
    let b_port = support::ua::sdp_audio_addr(&inc.req.body).expect("our B-side RTP");
    send_srtp_tone(&cap, a_port, ua_key, 600.0, 3.0);
    send_srtp_tone(&bob_cap, b_port, bob_key, 1400.0, 3.0);

    let at_bob = cap_tone(&bob_cap, &to_bob.key, 600.0);
    let at_ann = cap_tone(&cap, &to_ann.key, 1400.0);
    assert!(
        at_bob >= 50,
        "bob decrypted {at_bob} frames of ann's 600 Hz"
    );
    assert!(
        at_ann >= 50,
        "ann decrypted {at_ann} frames of bob's 1400 Hz"
    );
    assert_eq!(ann.bye(&mut dialog), 200);
}

/// Waits (bounded) for 100 packets at `cap` and counts the `hz` frames they decrypt to.
fn cap_tone(cap: &Capture, key: &MasterKey, hz: f64) -> usize {
    let packets = cap.wait(10 * SEC, |p| p.len() >= 100);
    let (samples, failed) = decrypt(&packets, key);
    assert_eq!(failed, 0, "every packet authenticates");
    tone_frames(&samples, hz)
}
