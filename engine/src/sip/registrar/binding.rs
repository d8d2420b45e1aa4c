//! Address-of-record and binding records.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::sip::Transport;

/// An address of record: `user@domain`. The domain is kept in lower case (host names are
/// case-insensitive, RFC 3261 §19.1.4); the user part is case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Aor {
    pub user: String,
    pub domain: String,
}

impl Aor {
    pub fn new(user: impl Into<String>, domain: impl AsRef<str>) -> Self {
        Aor {
            user: user.into(),
            domain: domain.as_ref().to_ascii_lowercase(),
        }
    }
}

impl std::fmt::Display for Aor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.user, self.domain)
    }
}

/// One contact bound to an address of record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The Contact URI exactly as the device sent it (without the header's parameters).
    pub contact: String,
    /// `+sip.instance` (RFC 5626), when the device sent one.
    #[serde(default)]
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626), when the device sent one.
    #[serde(default)]
    pub reg_id: Option<u32>,
    /// The `q` parameter as sent (e.g. "0.5"), kept for the 200 listing.
    #[serde(default)]
    pub q: Option<String>,
    /// Call-ID and CSeq of the REGISTER that last refreshed this binding (§10.3 step 7).
    pub call_id: String,
    pub cseq: u32,
    /// Absolute expiry, Unix seconds.
    pub expires_at: u64,
    /// When the binding was first created, Unix seconds.
    pub registered_at: u64,
    /// Where the REGISTER came from and on which transport: calls to this contact go back the
    /// same way, which is what makes devices behind NAT reachable.
    pub transport: Transport,
    pub source: SocketAddr,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The node holding this binding's flow, when several nodes share one store (`None`: this
    /// single node). A call for it from another node goes through that node (RFC 3327 Path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}
