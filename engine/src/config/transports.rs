//! `[transports]`: SIP over WebSocket (RFC 7118) and over TLS, and the certificate they use.
//!
//! Each listener is on by default on its own port and can be turned off with `"off"`. With no
//! certificate configured, `serve` makes a self-signed one in the data directory (see
//! `actors::transport::certs`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A listener's address, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<SocketAddr>);

/// Why a listener setting does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither an address:port nor `off`")]
pub struct ListenError(String);

impl Listen {
    pub const OFF: Listen = Listen(None);

    fn on(addr: &str) -> Listen {
        Listen(Some(addr.parse().expect("constant address")))
    }
}

impl std::str::FromStr for Listen {
    type Err = ListenError;
    fn from_str(s: &str) -> Result<Listen, ListenError> {
        match s.trim() {
            "off" | "none" | "false" => Ok(Listen::OFF),
            other => other
                .parse()
                .map(|a| Listen(Some(a)))
                .map_err(|_| ListenError(s.to_string())),
        }
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("off"),
        }
    }
}

impl Serialize for Listen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Listen, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The stream transports beyond UDP and TCP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransportSettings {
    /// SIP over WebSocket (`ws://`, `Sec-WebSocket-Protocol: sip`). Default `0.0.0.0:8088`.
    pub ws_listen: Listen,
    /// SIP over secure WebSocket (`wss://`). Default `0.0.0.0:8089`.
    pub wss_listen: Listen,
    /// SIP over TLS (`sips:`, `transport=tls`). Default `0.0.0.0:5061`.
    pub tls_listen: Listen,
    /// PEM certificate chain for wss and TLS; with `tls_key`. Unset: a self-signed
    /// certificate made in the data directory on first start.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for connections we open over TLS (trunks with
    /// `transport tls`, `transport=tls` SIP URIs), besides the public roots (Mozilla's, as
    /// webpki-roots ships them). For a carrier with a private CA.
    pub tls_trust: Option<PathBuf>,
    /// A TLS handshake or WebSocket upgrade that has not finished within this many seconds
    /// is dropped (and counted).
    pub handshake_timeout_secs: u64,
}

impl Default for TransportSettings {
    fn default() -> Self {
        TransportSettings {
            ws_listen: Listen::on("0.0.0.0:8088"),
            wss_listen: Listen::on("0.0.0.0:8089"),
            tls_listen: Listen::on("0.0.0.0:5061"),
            tls_cert: None,
            tls_key: None,
            tls_trust: None,
            handshake_timeout_secs: 10,
        }
    }
}

impl TransportSettings {
    /// Whether any listener needs a certificate.
    pub fn needs_certificate(&self) -> bool {
        self.wss_listen.0.is_some() || self.tls_listen.0.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_default_on_and_turn_off() {
        let t = TransportSettings::default();
        assert_eq!(t.ws_listen.0.unwrap().port(), 8088);
        assert_eq!(t.wss_listen.0.unwrap().port(), 8089);
        assert_eq!(t.tls_listen.0.unwrap().port(), 5061);
        assert!(t.needs_certificate());
        let t: TransportSettings = toml::from_str(
            "ws_listen = \"127.0.0.1:9000\"\nwss_listen = \"off\"\ntls_listen = \"off\"\n",
        )
        .unwrap();
        assert_eq!(t.ws_listen, Listen(Some("127.0.0.1:9000".parse().unwrap())));
        assert_eq!(t.wss_listen, Listen::OFF);
        assert!(!t.needs_certificate());
        let e = toml::from_str::<TransportSettings>("ws_listen = \"8088\"").unwrap_err();
        assert!(e.to_string().contains("neither an address"), "{e}");
        assert_eq!("off".parse::<Listen>().unwrap().to_string(), "off");
    }
}
