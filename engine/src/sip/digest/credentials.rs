//! Parsing the value of an `Authorization` or `Proxy-Authorization` header.
//!
//! Grammar (RFC 3261 §25.1, RFC 7616 §3.4): `Digest` then comma-separated `name=value` pairs,
//! where a value is a token or a quoted string with backslash escapes, and linear white space
//! (spaces, tabs, folded lines) may surround `=` and `,`. Names are case-insensitive; unknown
//! names are ignored; a known name given twice is refused (which value would we trust?). Every
//! value is accepted quoted or bare: clients differ (`qop="auth"` is common) and the hash uses
//! the unquoted text either way.
//!
//! The input is bounded ([`MAX_CREDENTIALS_LEN`]) and scanned once, so the work is linear and
//! small; no input panics (there is a test that feeds it every prefix and garbage).

use super::{Algorithm, DigestError};

/// The longest header value we parse. Real credentials are a few hundred bytes.
pub const MAX_CREDENTIALS_LEN: usize = 4096;

/// The only `qop` we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    Auth,
}

/// A nonce count: the eight hex digits as sent (they enter the hash as text) and their value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceCount {
    text: String,
    value: u32,
}

impl NonceCount {
    /// Accepts 1 to 8 hex digits (RFC 7616 says exactly 8; some clients drop leading zeros).
    pub fn parse(text: &str) -> Result<NonceCount, DigestError> {
        if text.is_empty() || text.len() > 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError::InvalidNonceCount);
        }
        let value = u32::from_str_radix(text, 16).map_err(|_| DigestError::InvalidNonceCount)?;
        Ok(NonceCount {
            text: text.to_owned(),
            value,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn value(&self) -> u32 {
        self.value
    }
}

/// Parsed digest credentials. `Debug` leaves out the response.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    /// The client's response, as sent (normally lowercase hex).
    pub response: String,
    /// MD5 when the client sent no `algorithm`.
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
    /// `None`: an RFC 2069 style response without qop.
    pub qop: Option<Qop>,
    pub nc: Option<NonceCount>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .field("uri", &self.uri)
            .field("response", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("cnonce", &self.cnonce)
            .field("opaque", &self.opaque)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .finish()
    }
}

/// Parameter names we read, in the order of the fields below.
const NAMES: [&str; 10] = [
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "algorithm",
    "cnonce",
    "opaque",
    "qop",
    "nc",
];

impl Credentials {
    /// Parses a header value such as `Digest username="alice", realm="example.com", ...`.
    pub fn parse(value: &str) -> Result<Credentials, DigestError> {
        if value.len() > MAX_CREDENTIALS_LEN {
            return Err(DigestError::TooLong);
        }
        let mut scan = Scanner {
            bytes: value.as_bytes(),
            pos: 0,
        };
        scan.skip_lws();
        let scheme = scan.token();
        if scheme.is_empty() {
            return Err(DigestError::Malformed { at: scan.pos });
        }
        if !scheme.eq_ignore_ascii_case(b"Digest") {
            return Err(DigestError::UnknownScheme);
        }
        // `Digestx` was read whole as another scheme above; here `Digest` must end with white
        // space or the value.
        if !scan.at_end() && !scan.skip_lws() {
            return Err(DigestError::Malformed { at: scan.pos });
        }

        let mut found: [Option<String>; 10] = Default::default();
        loop {
            scan.skip_lws();
            if scan.at_end() {
                break;
            }
            if scan.eat(b',') {
                continue; // empty list elements are allowed (RFC 7230 §7)
            }
            let name_at = scan.pos;
            let name = scan.token();
            if name.is_empty() {
                return Err(DigestError::Malformed { at: name_at });
            }
            scan.skip_lws();
            if !scan.eat(b'=') {
                return Err(DigestError::Malformed { at: scan.pos });
            }
            scan.skip_lws();
            let value = scan.value()?;
            if let Some(i) = NAMES
                .iter()
                .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
            {
                if found[i].replace(value).is_some() {
                    return Err(DigestError::DuplicateParam(NAMES[i]));
                }
            }
            scan.skip_lws();
            if !scan.at_end() && !scan.eat(b',') {
                return Err(DigestError::Malformed { at: scan.pos });
            }
        }

        let [username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc] = found;
        let required = |v: Option<String>, name| v.ok_or(DigestError::MissingParam(name));
        let algorithm = match algorithm {
            None => Algorithm::Md5,
            Some(name) => Algorithm::from_name(&name).ok_or(DigestError::UnsupportedAlgorithm)?,
        };
        let qop = match qop {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => Some(Qop::Auth),
            Some(_) => return Err(DigestError::UnsupportedQop),
        };
        // With qop, cnonce and nc are required (RFC 7616 §3.4); without, they mean nothing.
        let (cnonce, nc) = match qop {
            Some(Qop::Auth) => (
                Some(required(cnonce, "cnonce")?),
                Some(NonceCount::parse(&required(nc, "nc")?)?),
            ),
            None => (None, None),
        };
        Ok(Credentials {
            username: required(username, "username")?,
            realm: required(realm, "realm")?,
            nonce: required(nonce, "nonce")?,
            uri: required(uri, "uri")?,
            response: required(response, "response")?,
            algorithm,
            cnonce,
            opaque,
            qop,
            nc,
        })
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.pos += usize::from(hit);
        hit
    }

    /// Skips spaces, tabs and line folds; true if it skipped anything.
    fn skip_lws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// An RFC 3261 token (possibly empty).
    fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_token_char) {
            self.pos += 1;
        }
        &self.bytes[start..self.pos]
    }

    /// A quoted string (unescaped) or a bare value up to the next separator. Bare values may
    /// hold more than token characters (`uri=sip:alice@example.com` from lax clients).
    fn value(&mut self) -> Result<String, DigestError> {
        let start = self.pos;
        if !self.eat(b'"') {
            while self
                .peek()
                .is_some_and(|b| !matches!(b, b',' | b'"' | b' ' | b'\t' | b'\r' | b'\n'))
            {
                self.pos += 1;
            }
            if self.pos == start {
                return Err(DigestError::Malformed { at: start });
            }
            return text(&self.bytes[start..self.pos], start);
        }
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(DigestError::Malformed { at: start }),
                Some(b'"') => {
                    self.pos += 1;
                    return text(&out, start);
                }
                Some(b'\\') => {
                    // quoted-pair: the next byte stands for itself. Escaping the first byte of
                    // a multi-byte character copies the rest as plain bytes, so UTF-8 survives.
                    let escaped = self
                        .bytes
                        .get(self.pos + 1)
                        .ok_or(DigestError::Malformed { at: self.pos })?;
                    out.push(*escaped);
                    self.pos += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }
}

fn text(bytes: &[u8], at: usize) -> Result<String, DigestError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DigestError::Malformed { at })
}

/// `token` characters of RFC 3261 §25.1.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

#[cfg(test)]
mod tests;
