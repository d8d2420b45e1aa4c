//! The Via header (RFC 3261 §20.42, §18.2; RFC 3581 `rport`).

use std::fmt;

use super::params::Params;
use super::uri::Host;
use super::{ParseError, ParseErrorKind};

/// RFC 3261 branch prefix of transactions that follow §17 (anything else is RFC 2543 style).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Upper-cased transport token (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`...).
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn new(transport: &str, host: Host, port: Option<u16>, branch: &str) -> Via {
        let mut params = Params::new();
        params.set("branch", Some(branch.to_string()));
        Via {
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        }
    }

    /// Parses one Via value (a single hop; split lists with [`super::split_list`] first).
    pub fn parse(s: &str) -> Result<Via, ParseError> {
        let bad = || ParseError::new(ParseErrorKind::BadVia);
        // sent-protocol: name SLASH version SLASH transport, LWS allowed around each SLASH.
        let mut parts = s.splitn(3, '/');
        let name = parts.next().ok_or_else(bad)?.trim();
        let version = parts.next().ok_or_else(bad)?.trim();
        let rest = parts.next().ok_or_else(bad)?.trim_start();
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(bad());
        }
        let tn = rest.bytes().take_while(|b| is_token(*b)).count();
        if tn == 0 {
            return Err(bad());
        }
        let transport = rest[..tn].to_ascii_uppercase();
        let rest = rest[tn..].trim_start();
        let (host, rest) = Host::parse_prefix(rest).map_err(|_| bad())?;
        let (port, rest) = match rest.trim_start().strip_prefix(':') {
            Some(p) => {
                let p = p.trim_start();
                let n = p.bytes().take_while(u8::is_ascii_digit).count();
                let port = p[..n].parse::<u16>().map_err(|_| bad())?;
                (Some(port), &p[n..])
            }
            None => (None, rest),
        };
        let (params, rest) = Params::parse_prefix(rest, b",")?;
        if !rest.trim().is_empty() {
            return Err(bad());
        }
        Ok(Via {
            transport,
            host,
            port,
            params,
        })
    }

    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// True when the branch carries the RFC 3261 magic cookie and something after it (RFC 4475
    /// badbranch: a bare cookie is treated as RFC 2543 style).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }

    /// `sent-by` as text (host and port), the part of the server transaction key of §17.2.3.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{}", self.host, p),
            None => self.host.to_string(),
        }
    }

    pub fn received(&self) -> Option<Host> {
        let v = self.params.value("received")?;
        Host::parse_lenient(v.trim_start_matches('[').trim_end_matches(']'))
    }

    /// `Some(None)` for a bare `rport` (the client asks for it), `Some(Some(p))` when filled.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// RFC 3261 `token` characters.
pub(crate) fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_via() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK776;rport").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, Host::V4("192.0.2.1".parse().unwrap()));
        assert_eq!(v.port, Some(5062));
        assert_eq!(v.branch(), Some("z9hG4bK776"));
        assert_eq!(v.rport(), Some(None));
        assert!(v.has_rfc3261_branch());
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK776;rport"
        );
    }

    #[test]
    fn tolerates_lws_everywhere() {
        let v =
            Via::parse("SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.branch(), Some("z9hG4bK30239"));
        assert_eq!(v.port, None);
    }

    #[test]
    fn ipv6_and_received() {
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1]:5060;received=2001:db8::9:255;branch=z9hG4bKas3",
        )
        .unwrap();
        assert_eq!(v.host, Host::V6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(
            v.received(),
            Some(Host::V6("2001:db8::9:255".parse().unwrap()))
        );
        let v =
            Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3")
                .unwrap();
        assert_eq!(
            v.received(),
            Some(Host::V6("2001:db8::9:255".parse().unwrap()))
        );
    }

    #[test]
    fn rejects_bad_vias() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/3.0/UDP host").is_err());
        assert!(Via::parse("SIP/2.0 host").is_err());
        assert!(Via::parse("SIP/2.0/UDP host:99999").is_err());
        assert!(!Via::parse("SIP/2.0/UDP h;branch=z9hG4bK")
            .unwrap()
            .has_rfc3261_branch());
    }
}
