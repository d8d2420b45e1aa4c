//! The client side of digest: reading a challenge and answering it, for requests ringmaster
//! sends to a carrier that authenticates us (RFC 3261 §22.2, RFC 7616 §3.4).

use super::credentials::auth_params;
use super::{ha1, Algorithm, DigestError};

/// One WWW-Authenticate / Proxy-Authenticate challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    /// The server offered `qop=auth` (we then answer with qop, cnonce and nc).
    pub qop_auth: bool,
    pub opaque: Option<String>,
}

impl Challenge {
    pub fn parse(value: &str) -> Result<Challenge, DigestError> {
        // Our answer repeats the challenge's realm, nonce and opaque; a challenge over half the
        // credentials limit would make an answer that no server (ours included) accepts.
        if value.len() > super::credentials::MAX_LEN / 2 {
            return Err(DigestError::TooLong);
        }
        let v = value.trim_start();
        let scheme_len = v.find([' ', '\t']).unwrap_or(v.len());
        if !v[..scheme_len].eq_ignore_ascii_case("Digest") {
            return Err(DigestError::UnsupportedScheme);
        }
        let (mut realm, mut nonce, mut algorithm, mut qop, mut opaque) =
            (None, None, None, None, None);
        for (name, val) in auth_params(&v[scheme_len..])? {
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(val),
                "nonce" => nonce = Some(val),
                "algorithm" => algorithm = Some(val),
                "qop" => qop = Some(val),
                "opaque" => opaque = Some(val),
                _ => {}
            }
        }
        let algorithm = match algorithm.as_deref() {
            None => Algorithm::Md5,
            Some(a) => Algorithm::from_name(a).ok_or(DigestError::UnsupportedAlgorithm)?,
        };
        Ok(Challenge {
            realm: realm.ok_or(DigestError::Missing("realm"))?,
            nonce: nonce.ok_or(DigestError::Missing("nonce"))?,
            algorithm,
            qop_auth: qop
                .is_some_and(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth"))),
            opaque,
        })
    }

    /// The Authorization / Proxy-Authorization value answering this challenge for `method`
    /// on `uri`, as request `nc` of this nonce with client nonce `cnonce`.
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let alg = self.algorithm;
        let h1 = ha1(alg, username, &self.realm, password);
        let h2 = alg.hex(&[method.as_bytes(), uri.as_bytes()]);
        let nc_text = format!("{nc:08x}");
        let response = if self.qop_auth {
            alg.hex(&[
                h1.as_bytes(),
                self.nonce.as_bytes(),
                nc_text.as_bytes(),
                cnonce.as_bytes(),
                b"auth",
                h2.as_bytes(),
            ])
        } else {
            alg.hex(&[h1.as_bytes(), self.nonce.as_bytes(), h2.as_bytes()])
        };
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
            quote(username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            alg.name()
        );
        if self.qop_auth {
            v.push_str(&format!(
                ", qop=auth, nc={nc_text}, cnonce=\"{}\"",
                quote(cnonce)
            ));
        }
        if let Some(o) = &self.opaque {
            v.push_str(&format!(", opaque=\"{}\"", quote(o)));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::{verify, Credentials};

    #[test]
    fn answers_verify_with_our_own_server_side() {
        for (challenge, alg) in [
            ("Digest realm=\"carrier.example\", nonce=\"n1\", algorithm=MD5, qop=\"auth,auth-int\", opaque=\"op\"", Algorithm::Md5),
            ("Digest realm=\"carrier.example\", nonce=\"n2\", algorithm=SHA-256, qop=\"auth\"", Algorithm::Sha256),
            ("Digest realm=\"carrier.example\", nonce=\"n3\"", Algorithm::Md5),
        ] {
            let c = Challenge::parse(challenge).unwrap();
            let value = c.answer("trunkuser", "s3cret", "INVITE", "sip:15551234@carrier.example", "abc", 1);
            let creds = Credentials::parse(&value).unwrap();
            assert_eq!(creds.algorithm, alg);
            let h = ha1(alg, "trunkuser", "carrier.example", "s3cret");
            assert!(verify(&creds, "INVITE", &h), "{value}");
            assert!(!verify(&creds, "BYE", &h));
        }
    }

    #[test]
    fn refuses_other_schemes_and_incomplete_challenges() {
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Err(DigestError::UnsupportedScheme)
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"x\""),
            Err(DigestError::Missing("realm"))
        );
        assert!(
            Challenge::parse("Digest realm=\"x\", nonce=\"y\", algorithm=SHA-512-256").is_err()
        );
    }
}
