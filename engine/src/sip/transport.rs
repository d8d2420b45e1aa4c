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
