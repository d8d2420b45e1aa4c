use super::*;

const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc7616(alg: &str, response: &str) -> String {
    format!(
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", algorithm={alg}, nonce=\"{RFC7616_NONCE}\", nc=00000001, cnonce=\"{RFC7616_CNONCE}\", qop=auth, response=\"{response}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    )
}

#[test]
fn rfc7616_example_md5() {
    let c = Credentials::parse(&rfc7616("MD5", "8ca523f5e9506fed4657c9700eebdbec")).unwrap();
    let h = ha1(
        Algorithm::Md5,
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
    );
    assert_eq!(
        expected_response(&c, "GET", &h),
        "8ca523f5e9506fed4657c9700eebdbec"
    );
    assert!(verify(&c, "GET", &h));
    assert!(!verify(&c, "POST", &h));
    let wrong = ha1(
        Algorithm::Md5,
        "Mufasa",
        "http-auth@example.org",
        "Circle of life",
    );
    assert!(!verify(&c, "GET", &wrong));
}

#[test]
fn rfc7616_example_sha256() {
    let resp = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";
    let c = Credentials::parse(&rfc7616("SHA-256", resp)).unwrap();
    assert_eq!(c.algorithm, Algorithm::Sha256);
    let h = ha1(
        Algorithm::Sha256,
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
    );
    assert_eq!(expected_response(&c, "GET", &h), resp);
    assert!(verify(&c, "GET", &h));
}

#[test]
fn sip_register_without_qop_rfc2069_style() {
    // response = MD5(HA1:nonce:MD5(REGISTER:sip:example.com))
    let h = ha1(Algorithm::Md5, "alice", "example.com", "wonderland");
    let ha2 = Algorithm::Md5.hex(&[b"REGISTER", b"sip:example.com"]);
    let resp = Algorithm::Md5.hex(&[h.as_bytes(), b"abc", ha2.as_bytes()]);
    let c = Credentials::parse(&format!(
        "Digest username=\"alice\",realm=\"example.com\",nonce=\"abc\",uri=\"sip:example.com\",response=\"{}\"",
        resp.to_uppercase()
    ))
    .unwrap();
    assert_eq!(c.qop, None);
    assert!(
        verify(&c, "REGISTER", &h),
        "hex compared case-insensitively"
    );
}

#[test]
fn parser_edge_cases() {
    // LWS around '=' and ',', escapes in quoted strings, unknown params, case of names.
    let c = Credentials::parse(
        "digest  USERNAME = \"a\\\"b\" ,realm=\"r\",  nonce=\"n\",uri=\"sip:x\", response=\"00\", foo=bar",
    )
    .unwrap();
    assert_eq!(c.username, "a\"b");
    assert_eq!(c.algorithm, Algorithm::Md5);
    assert_eq!(
        Credentials::parse("NoOneKnowsThisScheme opaque-data=here"),
        Err(DigestError::UnsupportedScheme)
    );
    assert!(Credentials::parse("Digest username=\"a\", username=\"b\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\"").is_err());
    assert_eq!(
        Credentials::parse("Digest realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\""),
        Err(DigestError::Missing("username"))
    );
    assert!(Credentials::parse("Digest username=\"unterminated").is_err());
    assert!(Credentials::parse("Digest username=").is_err());
    assert_eq!(
        Credentials::parse(&format!("Digest username=\"{}\"", "a".repeat(5000))),
        Err(DigestError::TooLong)
    );
    assert_eq!(
        Credentials::parse("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", qop=auth-int, nc=00000001, cnonce=\"c\""),
        Err(DigestError::UnsupportedQop)
    );
    assert_eq!(
        Credentials::parse("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", algorithm=SHA-512-256"),
        Err(DigestError::UnsupportedAlgorithm)
    );
    assert_eq!(
        Credentials::parse("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", qop=auth, nc=1, cnonce=\"c\""),
        Err(DigestError::BadNonceCount)
    );
    // Never panics on odd bytes.
    for s in [
        "",
        "Digest",
        "Digest ,,,",
        "Digest a",
        "Digest a=\"\\",
        "Digest =x",
        "Digest a=b c=d",
    ] {
        let _ = Credentials::parse(s);
    }
}

#[test]
fn qop_without_cnonce_does_not_verify() {
    let c = Credentials::parse(
        "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", qop=auth",
    )
    .unwrap();
    assert!(!verify(&c, "REGISTER", "00"));
}

#[test]
fn nonces_are_stateless_expire_and_resist_forgery() {
    let s = NonceSigner::new([1; 32], 300);
    let n = s.issue(1000, "example.com");
    assert_eq!(s.check(&n, "example.com", 1000), NonceStatus::Valid);
    assert_eq!(s.check(&n, "example.com", 1300), NonceStatus::Valid);
    assert_eq!(s.check(&n, "example.com", 1301), NonceStatus::Stale);
    assert_eq!(s.check(&n, "other.com", 1000), NonceStatus::Invalid);
    assert_eq!(
        NonceSigner::new([2; 32], 300).check(&n, "example.com", 1000),
        NonceStatus::Invalid
    );
    assert_eq!(
        s.check("garbage", "example.com", 1000),
        NonceStatus::Invalid
    );
    assert_eq!(s.check("", "example.com", 1000), NonceStatus::Invalid);
    // Issued "in the future" beyond the skew: refused.
    let future = s.issue(2000, "example.com");
    assert_eq!(s.check(&future, "example.com", 1000), NonceStatus::Invalid);
    // Tampering with the time part breaks the tag.
    let mut raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &n).unwrap();
    raw[7] ^= 1;
    let forged = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
    assert_eq!(s.check(&forged, "example.com", 1000), NonceStatus::Invalid);
    // Same second, same realm: still two different nonces.
    assert_ne!(s.issue(1000, "example.com"), s.issue(1000, "example.com"));
}

fn creds(nonce: &str, nc: Option<u32>) -> Credentials {
    let qop = if nc.is_some() {
        ", qop=auth, cnonce=\"c\""
    } else {
        ""
    };
    let nc = nc.map(|n| format!(", nc={n:08x}")).unwrap_or_default();
    Credentials::parse(&format!(
        "Digest username=\"a\", realm=\"r\", nonce=\"{nonce}\", uri=\"u\", response=\"x\"{qop}{nc}"
    ))
    .unwrap()
}

#[test]
fn nonce_counts_must_grow_and_no_qop_nonces_are_single_use() {
    let mut counts = NonceCounts::new(300);
    assert!(counts.accept(&creds("n1", Some(1)), 10));
    assert!(!counts.accept(&creds("n1", Some(1)), 11), "replayed count");
    assert!(counts.accept(&creds("n1", Some(2)), 12));
    assert!(!counts.accept(&creds("n1", Some(1)), 13), "older count");
    assert!(counts.accept(&creds("n2", None), 10));
    assert!(
        !counts.accept(&creds("n2", None), 11),
        "no-qop nonce reused"
    );
}

#[test]
fn nonce_counts_are_bounded_and_expire() {
    let mut counts = NonceCounts::with_capacity(300, 3);
    for i in 0..10 {
        assert!(counts.accept(&creds(&format!("n{i}"), Some(1)), 10));
    }
    assert_eq!(counts.len(), 3);
    let mut counts = NonceCounts::new(300);
    counts.accept(&creds("old", Some(1)), 10);
    counts.accept(&creds("new", Some(1)), 1000);
    assert_eq!(counts.len(), 1, "the nonce first seen 990 s ago is gone");
}

#[test]
fn challenge_values() {
    assert_eq!(
        challenge("example.com", Algorithm::Sha256, "abc", true),
        "Digest realm=\"example.com\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\", stale=true"
    );
}

/// Found by the `digest` fuzz target: a carrier's challenge with a 3 kB realm parsed, and our
/// answer to it was longer than any server accepts (our own credentials parser refused it as
/// too long). Challenges that large are now refused when read.
#[test]
fn an_oversized_challenge_is_refused_and_every_answer_we_send_parses() {
    let big = format!("Digest realm=\"{}\", nonce=\"n\"", "r".repeat(3000));
    assert_eq!(Challenge::parse(&big), Err(DigestError::TooLong));
    let largest = format!(
        "Digest realm=\"{}\", nonce=\"{}\"",
        "r".repeat(1000),
        "n".repeat(1000)
    );
    let ch = Challenge::parse(&largest).unwrap();
    let answer = ch.answer("alice", "pw", "REGISTER", "sip:example.com", "cn", 1);
    let c = Credentials::parse(&answer).unwrap();
    let ha1 = super::ha1(ch.algorithm, "alice", &ch.realm, "pw");
    assert!(super::verify(&c, "REGISTER", &ha1));
}
