use super::*;
use crate::media::sdp::SessionDescription;

/// RFC 4568 §5's example key.
const KEY: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

fn media(proto: &str, crypto: &[&str]) -> MediaDescription {
    let mut sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 {proto} 0\r\n"
    );
    for c in crypto {
        sdp.push_str(&format!("a=crypto:{c}\r\n"));
    }
    SessionDescription::parse(sdp.as_bytes())
        .unwrap()
        .media
        .remove(0)
}

fn ours() -> MasterKey {
    MasterKey::new([0x11; 30])
}

#[test]
fn crypto_lines_parse_and_print() {
    let c = CryptoAttr::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20")).unwrap();
    assert_eq!((c.tag, c.suite), (1, Suite::AesCm128HmacSha1_80));
    assert_eq!(STANDARD.encode(c.key.as_bytes()), KEY);
    assert_eq!(
        CryptoAttr::parse(&c.value()).unwrap(),
        c,
        "what we write reads back"
    );
    assert!(c.value().starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:"));
    let c = CryptoAttr::parse(&format!("7 AES_CM_128_HMAC_SHA1_32 inline:{KEY} WSH=64")).unwrap();
    assert_eq!((c.tag, c.suite), (7, Suite::AesCm128HmacSha1_32));
}

#[test]
fn unusable_crypto_lines_are_refused_clearly() {
    let cases = [
        ("1 AES_CM_128_HMAC_SHA1_80", CryptoError::Malformed),
        ("x AES_CM_128_HMAC_SHA1_80 inline:k", CryptoError::Malformed),
        (
            "1 AEAD_AES_256_GCM inline:k",
            CryptoError::Suite("AEAD_AES_256_GCM".into()),
        ),
        (
            "1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=",
            CryptoError::Key,
        ),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:!!!", CryptoError::Key),
        ("1 AES_CM_128_HMAC_SHA1_80 key:abc", CryptoError::Malformed),
    ];
    for (value, want) in cases {
        assert_eq!(CryptoAttr::parse(value), Err(want), "{value}");
    }
    let mki = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|1:4");
    assert_eq!(CryptoAttr::parse(&mki), Err(CryptoError::Mki));
    let two = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY};inline:{KEY}");
    assert_eq!(CryptoAttr::parse(&two), Err(CryptoError::SeveralKeys));
    let kdr = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY} KDR=10");
    assert_eq!(
        CryptoAttr::parse(&kdr),
        Err(CryptoError::SessionParam("KDR=10".into()))
    );
}

#[test]
fn mandatory_srtp_offers_under_each_policy() {
    let line = format!("2 AES_CM_128_HMAC_SHA1_80 inline:{KEY}");
    let gcm = "1 AEAD_AES_128_GCM inline:AAAA".to_string();
    for policy in [SrtpPolicy::Optional, SrtpPolicy::Require] {
        let mut m = media("RTP/SAVP", &[&gcm, &line]);
        let sdes = take_offer(&mut m, policy, &ours()).unwrap().unwrap();
        assert_eq!((sdes.tag, sdes.mandatory), (2, true), "first usable line");
        assert_eq!(m.proto, "RTP/AVP", "planned as plain RTP");
        assert_eq!(STANDARD.encode(sdes.remote.as_bytes()), KEY);
    }
    let mut m = media("RTP/SAVP", &[&line]);
    assert_eq!(
        take_offer(&mut m, SrtpPolicy::Never, &ours()),
        Err(SrtpRefusal::Disabled)
    );
    let mut m = media("RTP/SAVPF", &[&gcm]);
    assert_eq!(
        take_offer(&mut m, SrtpPolicy::Optional, &ours()),
        Err(SrtpRefusal::NoUsableCrypto)
    );
}

#[test]
fn best_effort_and_plain_offers_under_each_policy() {
    let line = format!("1 AES_CM_128_HMAC_SHA1_32 inline:{KEY}");
    let mut m = media("RTP/AVP", &[&line]);
    let sdes = take_offer(&mut m, SrtpPolicy::Optional, &ours())
        .unwrap()
        .unwrap();
    assert!(!sdes.mandatory);
    assert_eq!(sdes.suite, Suite::AesCm128HmacSha1_32);
    let mut m = media("RTP/AVP", &[&line]);
    assert_eq!(take_offer(&mut m, SrtpPolicy::Never, &ours()), Ok(None));
    let mut m = media("RTP/AVP", &["1 F8_128_HMAC_SHA1_80 inline:AAAA"]);
    assert_eq!(take_offer(&mut m, SrtpPolicy::Optional, &ours()), Ok(None));
    let mut m = media("RTP/AVP", &[]);
    assert_eq!(take_offer(&mut m, SrtpPolicy::Optional, &ours()), Ok(None));
    assert_eq!(
        take_offer(&mut m, SrtpPolicy::Require, &ours()),
        Err(SrtpRefusal::Required)
    );
}

#[test]
fn our_answer_carries_our_key_under_the_offered_tag() {
    let line = format!("5 AES_CM_128_HMAC_SHA1_80 inline:{KEY}");
    let mut m = media("RTP/SAVPF", &[&line]);
    let sdes = take_offer(&mut m, SrtpPolicy::Optional, &ours())
        .unwrap()
        .unwrap();
    assert_eq!(m.proto, "RTP/AVPF");
    m.retain_attributes(|a| a.name != "crypto");
    seal(&mut m, &sdes);
    assert_eq!(m.proto, "RTP/SAVPF");
    let written = m.attribute("crypto").unwrap().value.clone().unwrap();
    let c = CryptoAttr::parse(&written).unwrap();
    assert_eq!((c.tag, c.suite, c.key), (5, sdes.suite, ours()));
    let keys = sdes.keys();
    assert_eq!((keys.inbound, keys.outbound), (sdes.remote, ours()));
}

#[test]
fn b_legs_are_offered_srtp_only_under_require_and_must_answer_with_our_tag() {
    assert_eq!(offer_to_b(SrtpPolicy::Optional, &ours()), None);
    let offered = offer_to_b(SrtpPolicy::Require, &ours()).unwrap();
    let mut m = media("RTP/AVP", &[]);
    seal(&mut m, &offered);
    assert_eq!(m.proto, "RTP/SAVP");
    let line = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}");
    let mut answer = media("RTP/SAVP", &[&line]);
    let got = take_answer(&mut answer, Some(&offered)).unwrap().unwrap();
    assert_eq!(answer.proto, "RTP/AVP");
    assert_eq!(STANDARD.encode(got.remote.as_bytes()), KEY);
    assert_eq!(got.local, ours());
    let wrong_tag = format!("3 AES_CM_128_HMAC_SHA1_80 inline:{KEY}");
    let mut answer = media("RTP/SAVP", &[&wrong_tag]);
    assert_eq!(
        take_answer(&mut answer, Some(&offered)),
        Err(SrtpRefusal::NoUsableCrypto)
    );
    // Offered plain: whatever B writes, B is plain.
    let mut answer = media("RTP/AVP", &[&line]);
    assert_eq!(take_answer(&mut answer, None), Ok(None));
}
