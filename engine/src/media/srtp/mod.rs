//! SRTP and SRTCP (RFC 3711) for the SDES crypto suites of RFC 4568: AES_CM_128_HMAC_SHA1_80
//! and AES_CM_128_HMAC_SHA1_32. Pure: bytes in, bytes out, no clock, no allocation per packet.
//!
//! # Contract
//!
//! * One [`MasterKey`] (30 bytes: a 128-bit key and a 112-bit salt) per direction. The session
//!   keys are derived once (key derivation rate 0, RFC 3711 §4.3) when a context is made.
//! * [`Sender::protect_rtp`] / [`Sender::protect_rtcp`] rewrite a packet in place in a buffer
//!   with room behind it: SRTP grows by the suite's tag (10 or 4 bytes), SRTCP by its 4-byte
//!   E‖index word and a 10-byte tag (RFC 4568 §6.2: SRTCP keeps the 80-bit tag for both).
//! * [`Receiver::unprotect_rtp`] / [`Receiver::unprotect_rtcp`] check the tag (in constant
//!   time) and the replay window before decrypting in place, and return the plain length.
//!   A refused packet leaves no trace in the context: a forger cannot move the window or fill
//!   the stream table.
//! * The rollover counter is estimated per SSRC from the highest index seen (RFC 3711
//!   §3.3.1), on both sides; the replay window is 64 packets per SSRC (the §3.3.2 minimum).
//! * At most [`MAX_STREAMS`] SSRCs per direction are tracked; a new one replaces the least
//!   recently used (a leg's streams are few: its own, and ringmaster's prompts go out on the
//!   relayed stream's SSRC).
//!
//! MKIs, key lifetimes and key derivation rates other than 0 are not supported: the SDP side
//! (`media::sdp::crypto`) refuses offers that need them.

mod context;
mod keys;

pub use context::{Receiver, Sender, MAX_STREAMS};

use std::fmt;

/// An SDES crypto suite we implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl Suite {
    /// The RFC 4568 name, as written in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn from_name(name: &str) -> Option<Suite> {
        [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32]
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// The SRTP authentication tag length in bytes.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// Bytes of a master key and salt together (the `inline:` value of `a=crypto`, decoded).
pub const MASTER_LEN: usize = 30;
/// What SRTCP adds to a packet: the E‖index word and the 80-bit tag.
pub const SRTCP_OVERHEAD: usize = 4 + 10;

/// A master key (16 bytes) and master salt (14 bytes). Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; MASTER_LEN]);

impl MasterKey {
    pub fn new(bytes: [u8; MASTER_LEN]) -> Self {
        MasterKey(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(MasterKey(bytes.try_into().ok()?))
    }

    pub fn as_bytes(&self) -> &[u8; MASTER_LEN] {
        &self.0
    }

    fn key(&self) -> [u8; 16] {
        let mut key = [0u8; 16];
        key.copy_from_slice(&self.0[..16]);
        key
    }

    fn salt(&self) -> &[u8] {
        &self.0[16..]
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<secret>)")
    }
}

/// The SDES keys of one leg: what it sends us (`inbound`, from its `a=crypto`) and what we
/// send it (`outbound`, the key in our SDP to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegKeys {
    pub suite: Suite,
    pub inbound: MasterKey,
    pub outbound: MasterKey,
}

/// Why a packet was not protected or unprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    #[error("not an RTP/RTCP version 2 packet, or truncated")]
    Malformed,
    #[error("no room in the buffer for the authentication tag")]
    NoRoom,
    #[error("authentication failed")]
    Auth,
    #[error("replayed or too old")]
    Replay,
    #[error("the SRTCP index is exhausted; the leg needs a new key")]
    Exhausted,
}

#[cfg(test)]
mod tests;
