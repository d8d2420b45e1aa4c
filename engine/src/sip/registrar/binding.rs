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

impl Binding {
    /// Whether `node` holds this binding's flow: a binding without a node (written by a single
    /// node) is everyone's, and on a single node (`None`) every binding is ours.
    pub fn held_by(&self, node: Option<&str>) -> bool {
        match (self.node.as_deref(), node) {
            (Some(held), Some(me)) => held == me,
            _ => true,
        }
    }
}

/// The whole set of an address of record's bindings when `node` writes `ours`: what the store
/// holds for the other nodes, untouched, then ours. A REGISTER, an expiry or a closed flow on
/// one node must not drop the bindings other nodes hold for the same AOR.
pub fn with_others(ours: &[Binding], stored: &[Binding], node: Option<&str>) -> Vec<Binding> {
    stored
        .iter()
        .filter(|b| !b.held_by(node))
        .chain(ours.iter())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(contact: &str, node: Option<&str>) -> Binding {
        Binding {
            contact: contact.into(),
            instance: None,
            reg_id: None,
            q: None,
            call_id: "r".into(),
            cseq: 1,
            expires_at: 10,
            registered_at: 0,
            transport: Transport::Udp,
            source: "192.0.2.1:5060".parse().unwrap(),
            user_agent: None,
            node: node.map(str::to_string),
        }
    }

    #[test]
    fn a_node_rewrites_its_own_bindings_and_keeps_the_others() {
        let stored = [
            b("sip:a@192.0.2.1", Some("n1")),
            b("sip:b@192.0.2.2", Some("n2")),
            b("sip:c@192.0.2.3", None),
        ];
        let ours = [b("sip:a2@192.0.2.1", Some("n1"))];
        let all = with_others(&ours, &stored, Some("n1"));
        let contacts: Vec<_> = all.iter().map(|b| b.contact.as_str()).collect();
        // n1's old binding and the node-less one (n1 counts it as its own) are replaced.
        assert_eq!(contacts, ["sip:b@192.0.2.2", "sip:a2@192.0.2.1"]);
        // A single node owns everything it reads.
        assert_eq!(with_others(&ours, &stored, None), ours.to_vec());
        assert!(b("x", Some("n2")).held_by(None));
        assert!(!b("x", Some("n2")).held_by(Some("n1")));
    }
}
