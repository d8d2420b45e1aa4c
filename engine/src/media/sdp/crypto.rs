//! SDES (RFC 4568): the `a=crypto` attribute, and the SRTP decisions of one leg's audio
//! m-line under the `[media] srtp` policy.
//!
//! ringmaster terminates SRTP per leg: a leg's `a=crypto` key is what it encrypts with, and
//! the `a=crypto` we write towards a leg carries our own key for it (fresh per leg and call).
//! The far leg's keys never cross (the anchor strips them), so a plain RTP phone and an SRTP
//! phone talk through the relay.
//!
//! * `RTP/SAVP` / `RTP/SAVPF` (mandatory SRTP, baresip's `srtp-mand`): accepted with the first
//!   `a=crypto` we can use; with none, or under policy `never`, the offer is refused (488).
//! * `RTP/AVP` / `RTP/AVPF` with `a=crypto` (best effort, baresip's `srtp`): SRTP if a line is
//!   usable and the policy is not `never`, else plain RTP.
//! * Plain offers are refused under policy `require`.
//!
//! Usable means: suite AES_CM_128_HMAC_SHA1_80 or _32, one `inline:` key of 30 bytes, an
//! optional lifetime (we never send 2³¹ packets on one key), no MKI (it would add bytes to
//! every packet) and no session parameters but `WSH=` (RFC 4568 §6.3: a crypto line with a
//! parameter not understood must not be used).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{Attribute, Field, MediaDescription};
use crate::media::srtp::{LegKeys, MasterKey, Suite, MASTER_LEN};

/// Whether legs use SRTP (`[media] srtp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// SRTP where a leg asks for it (`RTP/SAVP`, or `a=crypto` on `RTP/AVP`); B legs are
    /// offered plain RTP.
    #[default]
    Optional,
    /// Every leg uses SRTP: plain offers are refused (488), B legs are offered `RTP/SAVP`.
    Require,
    /// No SRTP: `RTP/SAVP` offers are refused (488), `a=crypto` on `RTP/AVP` is ignored.
    Never,
}

impl std::str::FromStr for SrtpPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "optional" => Ok(SrtpPolicy::Optional),
            "require" => Ok(SrtpPolicy::Require),
            "never" => Ok(SrtpPolicy::Never),
            other => Err(format!(
                "SRTP policy {other:?}: expected optional, require or never"
            )),
        }
    }
}

/// `a=crypto:<tag> <suite> inline:<key‖salt>[|<lifetime>]`, one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttr {
    pub tag: u32,
    pub suite: Suite,
    pub key: MasterKey,
}

/// Why an `a=crypto` line cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("malformed a=crypto")]
    Malformed,
    #[error("crypto suite {0} is not supported")]
    Suite(String),
    #[error("the key is not 30 bytes of base64")]
    Key,
    #[error("MKIs are not supported")]
    Mki,
    #[error("more than one key")]
    SeveralKeys,
    #[error("session parameter {0} is not supported")]
    SessionParam(String),
}

/// Why a leg's SDP cannot be used under the SRTP policy (answered 488).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpRefusal {
    #[error("RTP/SAVP offered but SRTP is off (policy never)")]
    Disabled,
    #[error("SRTP is required (policy require) and the offer is plain RTP")]
    Required,
    #[error("no usable a=crypto line for RTP/SAVP")]
    NoUsableCrypto,
}

impl CryptoAttr {
    /// The value after `a=crypto:`.
    pub fn parse(value: &str) -> Result<Self, CryptoError> {
        let mut parts = value.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(params)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let tag = tag
            .parse::<u32>()
            .ok()
            .filter(|t| *t < 1_000_000_000)
            .ok_or(CryptoError::Malformed)?;
        let suite = Suite::from_name(suite).ok_or_else(|| CryptoError::Suite(suite.into()))?;
        if params.contains(';') {
            return Err(CryptoError::SeveralKeys);
        }
        let inline = params
            .strip_prefix("inline:")
            .ok_or(CryptoError::Malformed)?;
        let mut fields = inline.split('|');
        let key = fields.next().unwrap_or_default();
        match (fields.next(), fields.next()) {
            (None, _) => {}
            // A lifetime (`2^31` or decimal); an MKI is `<value>:<length>`.
            (Some(lifetime), None) if !lifetime.contains(':') => {}
            _ => return Err(CryptoError::Mki),
        }
        let bytes = STANDARD.decode(key).map_err(|_| CryptoError::Key)?;
        let key = MasterKey::from_slice(&bytes).ok_or(CryptoError::Key)?;
        for param in parts {
            if !param.starts_with("WSH=") {
                return Err(CryptoError::SessionParam(param.into()));
            }
        }
        Ok(CryptoAttr { tag, suite, key })
    }

    /// The value to write after `a=crypto:`.
    pub fn value(&self) -> String {
        let key: &[u8; MASTER_LEN] = self.key.as_bytes();
        format!(
            "{} {} inline:{}",
            self.tag,
            self.suite.name(),
            STANDARD.encode(key)
        )
    }
}

/// What one leg's audio m-line settled for SRTP: the crypto line chosen and its key (what the
/// leg sends with), our key towards it, and whether its profile is `RTP/SAVP(F)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdes {
    pub tag: u32,
    pub suite: Suite,
    pub remote: MasterKey,
    pub local: MasterKey,
    pub mandatory: bool,
}

impl Sdes {
    /// The keys for the leg's media task.
    pub fn keys(&self) -> LegKeys {
        LegKeys {
            suite: self.suite,
            inbound: self.remote.clone(),
            outbound: self.local.clone(),
        }
    }
}

/// Whether the profile is a secure RTP one we terminate.
pub fn is_savp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/SAVP") || proto.eq_ignore_ascii_case("RTP/SAVPF")
}

/// The plain profile for a secure one (`RTP/SAVP` → `RTP/AVP`, `RTP/SAVPF` → `RTP/AVPF`).
fn plain_profile(proto: &str) -> String {
    if proto.eq_ignore_ascii_case("RTP/SAVPF") {
        "RTP/AVPF".into()
    } else {
        "RTP/AVP".into()
    }
}

fn secure_profile(proto: &str) -> String {
    if proto.eq_ignore_ascii_case("RTP/AVPF") || proto.eq_ignore_ascii_case("RTP/SAVPF") {
        "RTP/SAVPF".into()
    } else {
        "RTP/SAVP".into()
    }
}

/// The first usable `a=crypto` of an m-line.
fn first_usable(media: &MediaDescription) -> Option<CryptoAttr> {
    media
        .attributes()
        .filter(|a| a.name == "crypto")
        .filter_map(|a| CryptoAttr::parse(a.value.as_deref()?).ok())
        .next()
}

/// Read an offered m-line under `policy`, and turn it into the plain form the relay plans
/// with (the secure profile becomes its `RTP/AVP(F)` twin). `local` is our key for the leg.
pub fn take_offer(
    media: &mut MediaDescription,
    policy: SrtpPolicy,
    local: &MasterKey,
) -> Result<Option<Sdes>, SrtpRefusal> {
    let mandatory = is_savp(&media.proto);
    let crypto = match policy {
        SrtpPolicy::Never if mandatory => return Err(SrtpRefusal::Disabled),
        SrtpPolicy::Never => None,
        _ => first_usable(media),
    };
    if mandatory {
        media.proto = plain_profile(&media.proto);
    }
    match crypto {
        Some(c) => Ok(Some(Sdes {
            tag: c.tag,
            suite: c.suite,
            remote: c.key,
            local: local.clone(),
            mandatory,
        })),
        None if mandatory => Err(SrtpRefusal::NoUsableCrypto),
        None if policy == SrtpPolicy::Require => Err(SrtpRefusal::Required),
        None => Ok(None),
    }
}

/// Read an answer to an offer of ours: `offered` is what we offered the leg (tag, suite and
/// our key), `None` if we offered plain RTP. The m-line is turned into its plain form.
pub fn take_answer(
    media: &mut MediaDescription,
    offered: Option<&Sdes>,
) -> Result<Option<Sdes>, SrtpRefusal> {
    if is_savp(&media.proto) {
        media.proto = plain_profile(&media.proto);
    }
    let Some(offered) = offered else {
        return Ok(None);
    };
    let answered = media
        .attributes()
        .filter(|a| a.name == "crypto")
        .filter_map(|a| CryptoAttr::parse(a.value.as_deref()?).ok())
        .find(|c| c.tag == offered.tag && c.suite == offered.suite)
        .ok_or(SrtpRefusal::NoUsableCrypto)?;
    Ok(Some(Sdes {
        remote: answered.key,
        ..offered.clone()
    }))
}

/// Write our side of SRTP onto an m-line we send (after anchoring, which dropped every
/// `a=crypto`): the secure profile if the leg uses it, and our key under the leg's tag.
pub fn seal(media: &mut MediaDescription, sdes: &Sdes) {
    if sdes.mandatory {
        media.proto = secure_profile(&media.proto);
    }
    let ours = CryptoAttr {
        tag: sdes.tag,
        suite: sdes.suite,
        key: sdes.local.clone(),
    };
    media.fields.push(Field::Attribute(Attribute::new(
        "crypto",
        Some(&ours.value()),
    )));
}

/// What we offer a B leg under `policy`: `RTP/SAVP` with our key under `require`, else plain.
pub fn offer_to_b(policy: SrtpPolicy, local: &MasterKey) -> Option<Sdes> {
    (policy == SrtpPolicy::Require).then(|| Sdes {
        tag: 1,
        suite: Suite::AesCm128HmacSha1_80,
        // Not known until B answers; the answer replaces it.
        remote: local.clone(),
        local: local.clone(),
        mandatory: true,
    })
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
