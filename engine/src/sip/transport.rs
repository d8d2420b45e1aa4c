//! Transport names (RFC 3261 §18) and, later, stream framing.

use serde::{Deserialize, Serialize};

/// The transport a message came in on or leaves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// The token used in Via headers and `transport=` URI parameters.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    /// True for connection-oriented transports (framing by Content-Length, no retransmission
    /// of requests by timer A/E beyond the first, per RFC 3261 §17.1.1.2).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
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
