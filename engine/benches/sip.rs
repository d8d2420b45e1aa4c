//! Micro-benchmarks of the SIP hot path, sans-IO: parsing and printing a REGISTER and an
//! INVITE with SDP, and digest verification (the credential parse, the hash check, and the whole
//! `Authenticator::verify` with its nonce check and replay memory).
//!
//! `cargo bench -p engine --bench sip`. These are timings, never pass/fail tests.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use engine::sip::auth::{AuthConfig, Authenticator, ChallengeKind, StoredCredentials, Verdict};
use engine::sip::digest::{self, Algorithm, Challenge, Credentials};
use engine::sip::message::{parse, HeaderName, Message, Request};

const REALM: &str = "bench.example.com";
const NOW: u64 = 1_800_000_000;

const REGISTER: &str = "REGISTER sip:bench.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-524287-1---77ba16b04c1bd4b8;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:alice@192.0.2.10:5062;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"\r\n\
To: <sip:alice@bench.example.com>\r\n\
From: <sip:alice@bench.example.com>;tag=37a4c8b2\r\n\
Call-ID: NjY0ZDc2YjRkMzE2ZGZhNmI1YjM0ZjA0MjQ1ZmQ1ZTM\r\n\
CSeq: 2 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
User-Agent: Bench Phone 1.0\r\n\
Authorization: Digest username=\"alice\",realm=\"bench.example.com\",nonce=\"MTgwMDAwMDAwMDpmZjAxMjM0NTY3ODk\",uri=\"sip:bench.example.com\",response=\"0123456789abcdef0123456789abcdef\",cnonce=\"0a4f113b\",nc=00000001,qop=auth,algorithm=MD5\r\n\
Content-Length: 0\r\n\r\n";

const INVITE: &str = "INVITE sip:bob@bench.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-524287-1---a8e1b0f2c3d4e5f6;rport\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:alice@192.0.2.10:5062;transport=udp>\r\n\
To: <sip:bob@bench.example.com>\r\n\
From: \"Alice\" <sip:alice@bench.example.com>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@192.0.2.10\r\n\
CSeq: 2 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Supported: replaces, norefersub, timer\r\n\
User-Agent: Bench Phone 1.0\r\n\
Proxy-Authorization: Digest username=\"alice\",realm=\"bench.example.com\",nonce=\"MTgwMDAwMDAwMDpmZjAxMjM0NTY3ODk\",uri=\"sip:bob@bench.example.com\",response=\"0123456789abcdef0123456789abcdef\",cnonce=\"0a4f113b\",nc=00000001,qop=auth,algorithm=MD5\r\n\
Content-Type: application/sdp\r\n";

const SDP: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n";

/// The INVITE with its SDP body and the body's real Content-Length.
fn invite() -> String {
    format!("{INVITE}Content-Length: {}\r\n\r\n{SDP}", SDP.len())
}

fn parse_ok(text: &str) -> Message {
    parse(Bytes::copy_from_slice(text.as_bytes())).expect("bench message parses")
}

fn parser_and_printer(c: &mut Criterion) {
    let mut g = c.benchmark_group("sip");
    let invite = invite();
    for (name, text) in [("register", REGISTER), ("invite_sdp", invite.as_str())] {
        // The parser takes `Bytes` (what the socket hands it); cloning `Bytes` is a refcount.
        let wire = Bytes::copy_from_slice(text.as_bytes());
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| parse(black_box(wire.clone())).expect("parses"))
        });
        let msg = parse_ok(text);
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| match black_box(&msg) {
                Message::Request(r) => r.encode(),
                Message::Response(r) => r.encode(),
            })
        });
    }
    g.finish();
}

/// A REGISTER carrying a correct answer to a fresh challenge of `auth`.
fn answered_register(auth: &mut Authenticator, nc: u32) -> Request {
    let Message::Request(bare) = parse_ok(
        "REGISTER sip:bench.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1\r\nFrom: <sip:alice@bench.example.com>;tag=1\r\nTo: <sip:alice@bench.example.com>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n",
    ) else {
        unreachable!("a request")
    };
    let challenge = auth.challenge(NOW, &bare, ChallengeKind::Www, REALM, false, "t");
    let value = challenge.encode().expect("encodes");
    let value = std::str::from_utf8(&value).expect("utf-8");
    let line = value
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .expect("a challenge header");
    let ch = Challenge::parse(line).expect("challenge parses");
    let authz = ch.answer(
        "alice",
        "wonderland1",
        "REGISTER",
        "sip:bench.example.com",
        "0a4f113b",
        nc,
    );
    let text = format!(
        "REGISTER sip:bench.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK2\r\nFrom: <sip:alice@bench.example.com>;tag=1\r\nTo: <sip:alice@bench.example.com>\r\nCall-ID: c1\r\nCSeq: 2 REGISTER\r\nAuthorization: {authz}\r\nContent-Length: 0\r\n\r\n"
    );
    let Message::Request(req) = parse_ok(&text) else {
        unreachable!("a request")
    };
    req
}

fn digest_verification(c: &mut Criterion) {
    let cfg = AuthConfig::from_names(&["MD5".to_string()], 300).expect("config");
    let stored = StoredCredentials {
        ha1_md5: digest::ha1(Algorithm::Md5, "alice", REALM, "wonderland1"),
        ha1_sha256: digest::ha1(Algorithm::Sha256, "alice", REALM, "wonderland1"),
    };
    let mut auth = Authenticator::new([7; 32], cfg.clone());
    let req = answered_register(&mut auth, 1);
    let header = req
        .headers
        .get(&HeaderName::Authorization)
        .expect("authorization")
        .to_string();
    let creds = Credentials::parse(&header).expect("credentials parse");
    assert!(digest::verify(&creds, "REGISTER", &stored.ha1_md5));

    let mut g = c.benchmark_group("digest");
    g.bench_function("credentials_parse", |b| {
        b.iter(|| Credentials::parse(black_box(&header)).expect("parses"))
    });
    g.bench_function("verify_md5", |b| {
        b.iter(|| digest::verify(black_box(&creds), "REGISTER", black_box(&stored.ha1_md5)))
    });
    // The whole check a REGISTER gets: header lookup and parse, nonce HMAC, hash, replay
    // memory. Each iteration uses a fresh nonce count so it is never a replay.
    // Nonces are stateless (an HMAC keyed by the shared key), so a second authenticator with
    // the same key can issue the challenges while `auth` verifies.
    let mut issuer = Authenticator::new([7; 32], cfg);
    let mut nc = 1u32;
    g.bench_function("authenticator_verify_md5", |b| {
        b.iter_batched(
            || {
                nc += 1;
                answered_register(&mut issuer, nc)
            },
            |req| {
                let v = auth.verify(NOW, &req, ChallengeKind::Www, REALM, |_| {
                    Some(stored.clone())
                });
                assert!(matches!(v, Verdict::Authenticated { .. }), "{v:?}");
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, parser_and_printer, digest_verification);
criterion_main!(benches);
