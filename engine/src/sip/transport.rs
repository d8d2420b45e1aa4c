//! Transport names (RFC 3261 §18, RFC 7118 for WebSocket) and the peer/transmit records the
//! shell and the cores exchange. Stream framing is in `sip::stream`; WebSocket frames carry one
//! message each and need none.

use serde::{Deserialize, Serialize};

/// The transport a message came in on or leaves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    /// TCP with TLS (RFC 3261 §26.2; `sips:` and `transport=tls`).
    Tls,
    /// SIP over WebSocket (RFC 7118), one message per frame.
    Ws,
    /// SIP over secure WebSocket (RFC 7118).
    Wss,
}

impl Transport {
    /// The token used in Via headers and `transport=` URI parameters.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// The transport a `transport=` URI parameter names (lower case; `None` for UDP's default
    /// and anything unknown, which callers treat as UDP).
    pub fn from_param(p: &str) -> Option<Transport> {
        match p.to_ascii_lowercase().as_str() {
            "udp" => Some(Transport::Udp),
            "tcp" => Some(Transport::Tcp),
            "tls" => Some(Transport::Tls),
            "ws" => Some(Transport::Ws),
            "wss" => Some(Transport::Wss),
            _ => None,
        }
    }

    /// True for transports whose connections only the far end can open: a WebSocket client
    /// (a browser) accepts no connection, so a message for it goes over the connection it
    /// opened or nowhere.
    pub fn is_inbound_only(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }

    /// True for transports whose connections are gone after a restart and cannot be opened
    /// again towards the device (WebSocket), or should not be (TLS: the device's certificate
    /// is not the server's to check, and its listening port is unknown): bindings made over
    /// them are not restored.
    pub fn binding_needs_its_connection(self) -> bool {
        matches!(self, Transport::Tls | Transport::Ws | Transport::Wss)
    }

    /// True for connection-oriented transports (framing by Content-Length, no retransmission
    /// of requests by timer A/E beyond the first, per RFC 3261 §17.1.1.2).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        })
    }
}

/// The name a TLS connection opened for this request must prove (RFC 5922 §4: the host of the
/// URI being reached, here the Request-URI, as `through_trunk` and SIP URI targets build it):
/// a DNS name, or an IP literal without brackets. `None` for a response or a URI without a
/// host.
pub fn tls_server_name(msg: &[u8]) -> Option<String> {
    let line_end = msg.iter().position(|b| *b == b'\r')?;
    let line = std::str::from_utf8(&msg[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let (_method, uri) = (parts.next()?, parts.next()?);
    if line.starts_with("SIP/") {
        return None;
    }
    match super::message::Uri::parse(uri).ok()? {
        super::message::Uri::Sip(u) => Some(match u.host {
            super::message::Host::Name(n) => n,
            super::message::Host::V4(a) => a.to_string(),
            super::message::Host::V6(a) => a.to_string(),
        }),
        _ => None,
    }
}

/// A stream connection, numbered by the shell that owns the sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The far end of a message: the transport, the socket address, and for streams the connection
/// it arrived on (responses go back on the same connection, RFC 3261 §18.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: std::net::SocketAddr,
    pub conn: Option<ConnId>,
}

impl Peer {
    pub fn udp(addr: std::net::SocketAddr) -> Peer {
        Peer {
            transport: Transport::Udp,
            addr,
            conn: None,
        }
    }
}

/// Bytes that arrived.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub peer: Peer,
    pub bytes: bytes::Bytes,
}

/// Bytes to send. For a stream transport, `peer.conn` names the connection to use when it is
/// still open; otherwise the shell connects to `peer.addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub peer: Peer,
    pub bytes: bytes::Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_tokens_and_params() {
        for t in [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ] {
            assert_eq!(Transport::from_param(&t.to_string()), Some(t));
            assert_eq!(t.via_token().to_ascii_lowercase(), t.to_string());
        }
        assert_eq!(Transport::from_param("SCTP"), None);
        assert!(!Transport::Udp.is_reliable() && Transport::Wss.is_reliable());
        assert!(Transport::Ws.is_inbound_only() && !Transport::Tls.is_inbound_only());
        assert!(Transport::Tls.binding_needs_its_connection());
        assert!(!Transport::Tcp.binding_needs_its_connection());
    }

    #[test]
    fn the_tls_name_is_the_request_uri_host() {
        let name = |m: &str| tls_server_name(m.as_bytes());
        assert_eq!(
            name("INVITE sip:1415@sip.carrier.example:5061;transport=tls SIP/2.0\r\n"),
            Some("sip.carrier.example".into())
        );
        assert_eq!(
            name("BYE sips:1415@[2001:db8::1] SIP/2.0\r\n"),
            Some("2001:db8::1".into())
        );
        assert_eq!(name("SIP/2.0 200 OK\r\n"), None);
        assert_eq!(name("INVITE tel:+1415 SIP/2.0\r\n"), None);
        assert_eq!(name("garbage"), None);
    }
}
