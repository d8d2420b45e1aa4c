//! Session keys (RFC 3711 §4.3, key derivation rate 0) and the two primitives of the suites:
//! AES in counter mode (§4.1.1) and HMAC-SHA1 (§4.2.1).

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
use aes::Aes128;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::MasterKey;

type Ctr = ctr::Ctr128BE<Aes128>;

/// The labels of §4.3.1 for one of SRTP or SRTCP: encryption key, authentication key, salt.
pub(super) const RTP_LABELS: [u8; 3] = [0x00, 0x01, 0x02];
pub(super) const RTCP_LABELS: [u8; 3] = [0x03, 0x04, 0x05];

/// The derived keys of one direction of SRTP or SRTCP, expanded once.
#[derive(Clone)]
pub(super) struct SessionKeys {
    cipher: Aes128,
    salt: [u8; 14],
    /// Keyed once; cloned per packet (a copy of two SHA-1 states, no allocation).
    auth: Hmac<Sha1>,
}

impl SessionKeys {
    pub fn derive(master: &MasterKey, labels: [u8; 3]) -> Self {
        // Fixed-size keys: the cipher is built from arrays, so no length can be wrong.
        let prf = Aes128::new(&master.key().into());
        let mut enc = [0u8; 16];
        let mut auth = [0u8; 20];
        let mut salt = [0u8; 14];
        derive_into(&prf, master.salt(), labels[0], &mut enc);
        derive_into(&prf, master.salt(), labels[1], &mut auth);
        derive_into(&prf, master.salt(), labels[2], &mut salt);
        SessionKeys {
            cipher: Aes128::new(&enc.into()),
            salt,
            auth: <Hmac<Sha1> as Mac>::new_from_slice(&auth).expect("HMAC takes any key"),
        }
    }

    /// XOR `data` with the keystream for `ssrc` and packet `index` (§4.1.1: IV = salt·2¹⁶ ⊕
    /// SSRC·2⁶⁴ ⊕ index·2¹⁶).
    pub fn apply(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        let mut ctr = Ctr::from_core(ctr::CtrCore::inner_iv_init(self.cipher.clone(), &iv.into()));
        ctr.apply_keystream(data);
    }

    /// HMAC-SHA1 over `data` then `trailer` (the ROC for SRTP, nothing for SRTCP).
    pub fn tag(&self, data: &[u8], trailer: &[u8]) -> [u8; 20] {
        let mut mac = self.auth.clone();
        mac.update(data);
        mac.update(trailer);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is the first `tag.len()` bytes of the HMAC, compared in constant time.
    pub fn verify(&self, data: &[u8], trailer: &[u8], tag: &[u8]) -> bool {
        let full = self.tag(data, trailer);
        full[..tag.len()].ct_eq(tag).into()
    }
}

/// One session key: AES-CM keyed with the master key over IV = (salt ⊕ label·2⁴⁸)·2¹⁶
/// (the key id is `label ‖ r` with r = 0 for key derivation rate 0).
fn derive_into(prf: &Aes128, master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    Ctr::from_core(ctr::CtrCore::inner_iv_init(prf.clone(), &iv.into())).apply_keystream(out);
}

#[cfg(test)]
pub(super) fn derive_for_test(master: &MasterKey, label: u8, out: &mut [u8]) {
    let prf = Aes128::new(&master.key().into());
    derive_into(&prf, master.salt(), label, out);
}

#[cfg(test)]
pub(super) fn keystream_for_test(key: &[u8; 16], iv: [u8; 16], out: &mut [u8]) {
    let cipher = Aes128::new_from_slice(key).expect("16-byte key");
    out.fill(0);
    Ctr::from_core(ctr::CtrCore::inner_iv_init(cipher, &iv.into())).apply_keystream(out);
}
