//! Parsing an Authorization / Proxy-Authorization value (RFC 7616 §3.4, RFC 3261 §25.1).

use super::Algorithm;

/// Why a credentials value was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    #[error("not a Digest credential")]
    UnsupportedScheme,
    #[error("malformed parameter list")]
    Malformed,
    #[error("parameter {0} given twice")]
    Duplicate(&'static str),
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    #[error("unsupported qop")]
    UnsupportedQop,
    #[error("malformed nonce count")]
    BadNonceCount,
    #[error("credentials too long")]
    TooLong,
}

impl DigestError {
    /// Credentials of another scheme are ignored rather than refused (RFC 4475 regaut01).
    pub fn is_unsupported_scheme(&self) -> bool {
        matches!(self, DigestError::UnsupportedScheme)
    }
}

/// Quality of protection. Only `auth` is supported (`auth-int` would need the body hashed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    Auth,
}

/// A parsed Digest credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub qop: Option<Qop>,
    pub cnonce: Option<String>,
    /// The nonce count, and its text exactly as sent (it is hashed as text).
    pub nc: Option<u32>,
    pub nc_text: Option<String>,
    pub opaque: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("algorithm", &self.algorithm)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .finish_non_exhaustive()
    }
}

pub(super) const MAX_LEN: usize = 4096;

impl Credentials {
    pub fn parse(value: &str) -> Result<Credentials, DigestError> {
        if value.len() > MAX_LEN {
            return Err(DigestError::TooLong);
        }
        let v = value.trim_start();
        let scheme_len = v.find([' ', '\t']).unwrap_or(v.len());
        if !v[..scheme_len].eq_ignore_ascii_case("Digest") {
            return Err(DigestError::UnsupportedScheme);
        }
        let mut p = Params::default();
        for (name, val) in auth_params(&v[scheme_len..])? {
            let slot = match name.to_ascii_lowercase().as_str() {
                "username" => &mut p.username,
                "realm" => &mut p.realm,
                "nonce" => &mut p.nonce,
                "uri" => &mut p.uri,
                "response" => &mut p.response,
                "algorithm" => &mut p.algorithm,
                "qop" => &mut p.qop,
                "cnonce" => &mut p.cnonce,
                "nc" => &mut p.nc,
                "opaque" => &mut p.opaque,
                _ => continue,
            };
            if slot.is_some() {
                return Err(DigestError::Duplicate(static_name(&name)));
            }
            *slot = Some(val);
        }
        let algorithm = match p.algorithm.as_deref() {
            None => Algorithm::Md5,
            Some(a) => Algorithm::from_name(a).ok_or(DigestError::UnsupportedAlgorithm)?,
        };
        let qop = match p.qop.as_deref() {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => Some(Qop::Auth),
            Some(_) => return Err(DigestError::UnsupportedQop),
        };
        let nc = match p.nc.as_deref() {
            None => None,
            Some(t) if t.len() == 8 => {
                Some(u32::from_str_radix(t, 16).map_err(|_| DigestError::BadNonceCount)?)
            }
            Some(_) => return Err(DigestError::BadNonceCount),
        };
        Ok(Credentials {
            username: p.username.ok_or(DigestError::Missing("username"))?,
            realm: p.realm.ok_or(DigestError::Missing("realm"))?,
            nonce: p.nonce.ok_or(DigestError::Missing("nonce"))?,
            uri: p.uri.ok_or(DigestError::Missing("uri"))?,
            response: p.response.ok_or(DigestError::Missing("response"))?,
            algorithm,
            qop,
            cnonce: p.cnonce,
            nc,
            nc_text: p.nc,
            opaque: p.opaque,
        })
    }
}

#[derive(Default)]
struct Params {
    username: Option<String>,
    realm: Option<String>,
    nonce: Option<String>,
    uri: Option<String>,
    response: Option<String>,
    algorithm: Option<String>,
    qop: Option<String>,
    cnonce: Option<String>,
    nc: Option<String>,
    opaque: Option<String>,
}

fn static_name(n: &str) -> &'static str {
    const NAMES: [&str; 10] = [
        "username",
        "realm",
        "nonce",
        "uri",
        "response",
        "algorithm",
        "qop",
        "cnonce",
        "nc",
        "opaque",
    ];
    NAMES
        .iter()
        .find(|k| k.eq_ignore_ascii_case(n))
        .copied()
        .unwrap_or("parameter")
}

/// `name=token` / `name="quoted \" string"` pairs separated by commas, LWS anywhere between.
pub(super) fn auth_params(s: &str) -> Result<Vec<(String, String)>, DigestError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\r' | b'\n') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        while i < b.len() && b[i] == b',' {
            i += 1;
            skip_ws(&mut i);
        }
        if i >= b.len() {
            return Ok(out);
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'-' | b'_' | b'.')) {
            i += 1;
        }
        if i == start {
            return Err(DigestError::Malformed);
        }
        let name = s[start..i].to_string();
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'=' {
            return Err(DigestError::Malformed);
        }
        i += 1;
        skip_ws(&mut i);
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = Vec::new();
            loop {
                match b.get(i) {
                    None => return Err(DigestError::Malformed),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let c = *b.get(i + 1).ok_or(DigestError::Malformed)?;
                        v.push(c);
                        i += 2;
                    }
                    Some(c) => {
                        v.push(*c);
                        i += 1;
                    }
                }
            }
            String::from_utf8(v).map_err(|_| DigestError::Malformed)?
        } else {
            let vs = i;
            while i < b.len() && !matches!(b[i], b',' | b' ' | b'\t' | b'"') {
                i += 1;
            }
            if vs == i {
                return Err(DigestError::Malformed);
            }
            s[vs..i].to_string()
        };
        out.push((name, value));
        skip_ws(&mut i);
        if i < b.len() && b[i] != b',' {
            return Err(DigestError::Malformed);
        }
    }
}
