use super::context::estimate_for_test;
use super::keys::{derive_for_test, keystream_for_test};
use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 3711 Appendix B.3's master key and salt (also libsrtp's reference key).
fn rfc_master() -> MasterKey {
    MasterKey::from_slice(&hex(
        "E1F97A0D3E018BE0D64FA32C06DE41390EC675AD498AFEEBB6960B3AABE6",
    ))
    .unwrap()
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Protect into a buffer with room for the tag, as the forwarder does.
fn protect(sender: &mut Sender, packet: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; packet.len() + 32];
    buf[..packet.len()].copy_from_slice(packet);
    let n = sender.protect_rtp(&mut buf, packet.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(receiver: &mut Receiver, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = packet.to_vec();
    let n = receiver.unprotect_rtp(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn aes_cm_keystream_of_rfc_3711_b2() {
    let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
    let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
    let mut out = [0u8; 48];
    keystream_for_test(&key, iv, &mut out);
    assert_eq!(
        out.to_vec(),
        hex(concat!(
            "E03EAD0935C95E80E166B16DD92B4EB4",
            "D23513162B02D0F72A43A2FE4A5F97AB",
            "41E95B3BB0A2E8DD477901E4FCA894C0"
        ))
    );
}

#[test]
fn key_derivation_of_rfc_3711_b3() {
    let master = rfc_master();
    let mut enc = [0u8; 16];
    let mut salt = [0u8; 14];
    let mut auth = [0u8; 20];
    derive_for_test(&master, 0x00, &mut enc);
    derive_for_test(&master, 0x02, &mut salt);
    derive_for_test(&master, 0x01, &mut auth);
    assert_eq!(enc.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
    assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    assert_eq!(
        auth.to_vec(),
        hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
}

/// libsrtp's reference packet (srtp_driver's `srtp_validate`): SSRC 0xcafebabe, SEQ 0x1234.
#[test]
fn reference_srtp_packet_both_ways() {
    let plain = hex("800f1234decafbadcafebabeabababababababababababababababab");
    let cipher = hex(concat!(
        "800f1234decafbadcafebabe",
        "4e55dc4ce79978d88ca4d215949d2402",
        "b78d6acc99ea179b8dbb"
    ));
    let mut sender = Sender::new(Suite::AesCm128HmacSha1_80, &rfc_master());
    assert_eq!(protect(&mut sender, &plain), cipher);
    let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_80, &rfc_master());
    assert_eq!(unprotect(&mut receiver, &cipher).unwrap(), plain);
}

/// libsrtp's reference SRTCP packet (`srtcp_validate`): SRTCP index 1 after one packet 0.
#[test]
fn reference_srtcp_packet_both_ways() {
    let plain = hex("81c8000bcafebabeabababababababababababababababab");
    let cipher = hex(concat!(
        "81c8000bcafebabe",
        "7128035be487b9bdbef89041f977a5a8",
        "80000001",
        "993e08cd54d6c1230798"
    ));
    let mut sender = Sender::new(Suite::AesCm128HmacSha1_80, &rfc_master());
    let mut buf = vec![0u8; 64];
    buf[..plain.len()].copy_from_slice(&plain);
    sender.protect_rtcp(&mut buf, plain.len()).unwrap();
    buf[..plain.len()].copy_from_slice(&plain);
    let n = sender.protect_rtcp(&mut buf, plain.len()).unwrap();
    assert_eq!(&buf[..n], &cipher[..]);
    let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_80, &rfc_master());
    let mut got = cipher.clone();
    let n = receiver.unprotect_rtcp(&mut got).unwrap();
    assert_eq!(&got[..n], &plain[..]);
    let mut again = cipher.clone();
    assert_eq!(receiver.unprotect_rtcp(&mut again), Err(SrtpError::Replay));
}

#[test]
fn round_trip_with_the_32_bit_tag_and_header_extensions() {
    let key = MasterKey::new([7; MASTER_LEN]);
    let mut sender = Sender::new(Suite::AesCm128HmacSha1_32, &key);
    let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_32, &key);
    // One CSRC and a one-word header extension: both stay in clear.
    let mut packet = vec![0x91, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4];
    packet.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0, 0]);
    packet.extend_from_slice(&[0x55; 160]);
    let sent = protect(&mut sender, &packet);
    assert_eq!(sent.len(), packet.len() + 4);
    assert_eq!(sent[..24], packet[..24], "header in clear");
    assert_ne!(sent[24..184], packet[24..], "payload encrypted");
    assert_eq!(unprotect(&mut receiver, &sent).unwrap(), packet);
}

#[test]
fn tampering_wrong_keys_and_truncation_are_refused() {
    let key = MasterKey::new([1; MASTER_LEN]);
    let mut sender = Sender::new(Suite::AesCm128HmacSha1_80, &key);
    let sent = protect(&mut sender, &rtp(10, 42, &[0xff; 160]));
    for at in [1, 5, 20, sent.len() - 1] {
        let mut bad = sent.clone();
        bad[at] ^= 0x01;
        let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_80, &key);
        assert_eq!(
            unprotect(&mut receiver, &bad),
            Err(SrtpError::Auth),
            "byte {at}"
        );
        // A forgery leaves no state: the real packet still passes.
        assert!(unprotect(&mut receiver, &sent).is_ok());
    }
    let mut other = Receiver::new(Suite::AesCm128HmacSha1_80, &MasterKey::new([2; 30]));
    assert_eq!(unprotect(&mut other, &sent), Err(SrtpError::Auth));
    let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_80, &key);
    assert_eq!(
        unprotect(&mut receiver, &sent[..15]),
        Err(SrtpError::Malformed)
    );
    assert_eq!(unprotect(&mut receiver, &[]), Err(SrtpError::Malformed));
    // Plain RTP is not SRTP.
    let plain = rtp(11, 42, &[0xff; 160]);
    assert_eq!(unprotect(&mut receiver, &plain), Err(SrtpError::Auth));
    let mut srtcp = vec![0x80, 200, 0, 1, 0, 0, 0, 42];
    srtcp.extend_from_slice(&[0; 14]);
    assert_eq!(receiver.unprotect_rtcp(&mut srtcp), Err(SrtpError::Auth));
    assert_eq!(
        receiver.unprotect_rtcp(&mut [0x80; 10]),
        Err(SrtpError::Malformed)
    );
}

#[test]
fn replays_and_packets_older_than_the_window_are_refused() {
    let key = MasterKey::new([3; MASTER_LEN]);
    let mut sender = Sender::new(Suite::AesCm128HmacSha1_80, &key);
    let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_80, &key);
    let sent: Vec<Vec<u8>> = (100..300)
        .map(|seq| protect(&mut sender, &rtp(seq, 9, &[seq as u8; 20])))
        .collect();
    // Out of order within the window is fine, each packet once.
    assert!(unprotect(&mut receiver, &sent[1]).is_ok());
    assert!(unprotect(&mut receiver, &sent[0]).is_ok());
    assert_eq!(unprotect(&mut receiver, &sent[0]), Err(SrtpError::Replay));
    assert!(unprotect(&mut receiver, &sent[150]).is_ok());
    assert_eq!(
        unprotect(&mut receiver, &sent[50]),
        Err(SrtpError::Replay),
        "100 behind the highest: outside the 64-packet window"
    );
    assert!(unprotect(&mut receiver, &sent[120]).is_ok(), "30 behind");
}

#[test]
fn rollover_counter_follows_the_sequence_number_wrap() {
    let key = MasterKey::new([4; MASTER_LEN]);
    let mut sender = Sender::new(Suite::AesCm128HmacSha1_80, &key);
    let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_80, &key);
    let seqs: Vec<u16> = (65_530..=65_535).chain(0..10).collect();
    let sent: Vec<(u16, Vec<u8>)> = seqs
        .iter()
        .map(|&s| (s, protect(&mut sender, &rtp(s, 5, &[s as u8; 40]))))
        .collect();
    // Deliver with one late packet from before the wrap after it.
    let order = [0, 1, 2, 3, 4, 6, 7, 5, 8, 9, 10, 11, 12, 13, 14, 15];
    for i in order {
        let (seq, packet) = &sent[i];
        let plain = unprotect(&mut receiver, packet).unwrap_or_else(|e| panic!("{seq}: {e}"));
        assert_eq!(plain, rtp(*seq, 5, &[*seq as u8; 40]));
    }
    // The ROC is in the tag: a receiver that missed the wrap by a whole cycle fails.
    assert_eq!(estimate_for_test(0x0000_fffe, 3), Some(0x0001_0003));
    assert_eq!(estimate_for_test(0x0001_0003, 0xfffe), Some(0x0000_fffe));
    assert_eq!(estimate_for_test(0x0000_0003, 0xfffe), None, "before ROC 0");
    assert_eq!(estimate_for_test(0x0005_1000, 0x1010), Some(0x0005_1010));
}

#[test]
fn no_room_for_the_tag_is_an_error_not_a_panic() {
    let key = MasterKey::new([5; MASTER_LEN]);
    let mut sender = Sender::new(Suite::AesCm128HmacSha1_80, &key);
    let packet = rtp(1, 1, &[0; 20]);
    let mut exact = packet.clone();
    let len = exact.len();
    assert_eq!(sender.protect_rtp(&mut exact, len), Err(SrtpError::NoRoom));
    assert_eq!(
        sender.protect_rtcp(&mut [0x80; 20], 20),
        Err(SrtpError::NoRoom)
    );
    assert_eq!(
        sender.protect_rtp(&mut [0u8; 40], 8),
        Err(SrtpError::Malformed)
    );
}

#[test]
fn many_ssrcs_reuse_the_fixed_table() {
    let key = MasterKey::new([6; MASTER_LEN]);
    let mut sender = Sender::new(Suite::AesCm128HmacSha1_80, &key);
    let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_80, &key);
    for ssrc in 0..(MAX_STREAMS as u32 * 3) {
        let sent = protect(&mut sender, &rtp(7, ssrc, &[1; 10]));
        assert!(unprotect(&mut receiver, &sent).is_ok());
    }
}

#[test]
fn suite_names_and_a_secret_free_debug() {
    assert_eq!(
        Suite::from_name("aes_cm_128_hmac_sha1_32"),
        Some(Suite::AesCm128HmacSha1_32)
    );
    assert_eq!(Suite::from_name("AEAD_AES_256_GCM"), None);
    let key = MasterKey::new([0xab; MASTER_LEN]);
    assert!(!format!("{key:?}").contains("171"));
}

/// `cargo test --release -p engine --lib srtp::tests::cost -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a test"]
fn cost_per_packet() {
    #[allow(clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    let key = MasterKey::new([9; MASTER_LEN]);
    let mut sender = Sender::new(Suite::AesCm128HmacSha1_80, &key);
    let mut receiver = Receiver::new(Suite::AesCm128HmacSha1_80, &key);
    let mut buf = [0u8; 200];
    let rounds = 200_000u32;
    for i in 0..rounds {
        let packet = rtp(i as u16, 1, &[0x55; 160]);
        buf[..172].copy_from_slice(&packet);
        let n = sender.protect_rtp(&mut buf, 172).unwrap();
        receiver.unprotect_rtp(&mut buf[..n]).unwrap();
    }
    let ns = start.elapsed().as_nanos() / u128::from(rounds);
    println!("protect + unprotect of a 172-byte G.711 packet: {ns} ns");
}
