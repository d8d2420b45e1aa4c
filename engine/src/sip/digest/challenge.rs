//! Building `WWW-Authenticate` / `Proxy-Authenticate` values (RFC 7616 §3.3, RFC 8760).
//!
//! One header per offered algorithm, in the configured order, each with `qop="auth"`. The order
//! matters more than the RFCs suggest: RFC 8760 would put SHA-256 first, but clients that know
//! only MD5 often read just the first challenge (Debian's SIPp 3.6.1 does), so the default
//! offers MD5 first and SHA-256 second. Clients that prefer SHA-256 pick it from the list.

use std::str::FromStr;

use super::{Algorithm, DigestError};

/// One challenge header value:
/// `Digest realm="…", nonce="…", algorithm=MD5, qop="auth"[, opaque="…"][, stale=true]`.
pub fn challenge(
    realm: &str,
    algorithm: Algorithm,
    nonce: &str,
    stale: bool,
    opaque: Option<&str>,
) -> String {
    let mut value = format!(
        "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
        Escaped(realm),
        Escaped(nonce),
        algorithm.name()
    );
    if let Some(opaque) = opaque {
        value.push_str(&format!(", opaque=\"{}\"", Escaped(opaque)));
    }
    if stale {
        value.push_str(", stale=true");
    }
    value
}

/// Writes text as the inside of a quoted string: `"` and `\` get a backslash; CR and LF (which
/// would end the header) become spaces.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for c in self.0.chars() {
            match c {
                '"' | '\\' => {
                    f.write_char('\\')?;
                    f.write_char(c)?;
                }
                '\r' | '\n' => f.write_char(' ')?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// The algorithms to offer, in order: configuration, not protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    algorithms: Vec<Algorithm>,
}

impl Default for Offer {
    /// MD5 first, then SHA-256 (see the module doc for why).
    fn default() -> Offer {
        Offer {
            algorithms: vec![Algorithm::Md5, Algorithm::Sha256],
        }
    }
}

impl Offer {
    /// A non-empty list without repeats.
    pub fn new(algorithms: Vec<Algorithm>) -> Result<Offer, DigestError> {
        let repeats = algorithms
            .iter()
            .enumerate()
            .any(|(i, a)| algorithms[..i].contains(a));
        if algorithms.is_empty() || repeats {
            return Err(DigestError::InvalidOffer);
        }
        Ok(Offer { algorithms })
    }

    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Whether credentials in `algorithm` answer one of our challenges.
    pub fn offers(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }

    /// One header value per algorithm, in order, all with the same nonce.
    pub fn challenges(
        &self,
        realm: &str,
        nonce: &str,
        stale: bool,
        opaque: Option<&str>,
    ) -> Vec<String> {
        self.algorithms
            .iter()
            .map(|&alg| challenge(realm, alg, nonce, stale, opaque))
            .collect()
    }
}

impl FromStr for Offer {
    type Err = DigestError;

    /// A comma-separated list as in a config file: `"MD5, SHA-256"`.
    fn from_str(list: &str) -> Result<Offer, DigestError> {
        let algorithms = list
            .split(',')
            .map(|name| Algorithm::from_name(name.trim()).ok_or(DigestError::UnsupportedAlgorithm))
            .collect::<Result<Vec<_>, _>>()?;
        Offer::new(algorithms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::Credentials;

    #[test]
    fn a_challenge_has_the_rfc_shape() {
        assert_eq!(
            challenge("example.com", Algorithm::Sha256, "abc", false, None),
            r#"Digest realm="example.com", nonce="abc", algorithm=SHA-256, qop="auth""#
        );
        assert_eq!(
            challenge("example.com", Algorithm::Md5, "abc", true, Some("xyz")),
            r#"Digest realm="example.com", nonce="abc", algorithm=MD5, qop="auth", opaque="xyz", stale=true"#
        );
    }

    #[test]
    fn realms_are_escaped_and_cannot_break_the_header() {
        let value = challenge("a\"b\\c\r\nVia: x", Algorithm::Md5, "n", false, None);
        assert!(
            value.starts_with(r#"Digest realm="a\"b\\c  Via: x", "#),
            "{value}"
        );
        assert!(!value.contains('\n'));
        // Our own parser reads the realm back (the same grammar serves both directions).
        let reply = value.replacen(
            "Digest ",
            "Digest username=\"u\", uri=\"sip:x\", response=\"r\", ",
            1,
        );
        let reply = reply.replace("qop=\"auth\"", "qop=auth, nc=00000001, cnonce=\"c\"");
        assert_eq!(Credentials::parse(&reply).unwrap().realm, "a\"b\\c  Via: x");
    }

    #[test]
    fn the_default_offer_is_md5_then_sha256() {
        let offer = Offer::default();
        let values = offer.challenges("example.com", "n", false, None);
        assert_eq!(values.len(), 2);
        assert!(values[0].contains("algorithm=MD5,"));
        assert!(values[1].contains("algorithm=SHA-256,"));
        assert!(offer.offers(Algorithm::Sha256));
    }

    #[test]
    fn offers_parse_from_config_text() {
        let only_sha: Offer = " sha-256 ".parse().unwrap();
        assert_eq!(only_sha.algorithms(), [Algorithm::Sha256]);
        assert!(!only_sha.offers(Algorithm::Md5));
        let both: Offer = "SHA-256,MD5".parse().unwrap();
        assert_eq!(both.algorithms(), [Algorithm::Sha256, Algorithm::Md5]);
        assert_eq!("MD5,md5".parse::<Offer>(), Err(DigestError::InvalidOffer));
        assert_eq!("".parse::<Offer>(), Err(DigestError::UnsupportedAlgorithm));
        assert_eq!(
            "MD5-sess".parse::<Offer>(),
            Err(DigestError::UnsupportedAlgorithm)
        );
        assert_eq!(Offer::new(vec![]), Err(DigestError::InvalidOffer));
    }
}
