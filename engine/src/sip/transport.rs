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
