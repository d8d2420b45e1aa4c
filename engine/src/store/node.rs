//! The nodes sharing one store: who they are, where other nodes reach them, and when each last
//! proved it was alive.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// One node's entry in the shared store, rewritten at each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `--node-id` (default: the host name); unique among the nodes of one store.
    pub id: String,
    /// Where other nodes send SIP for this node's flows (its UDP/TCP SIP address).
    pub sip: SocketAddr,
    /// Its internal HTTP listener (REST commands for the calls it owns), when it has one.
    #[serde(default)]
    pub internal_http: Option<SocketAddr>,
    /// When it started (Unix ms): a restarted node is a new incarnation.
    pub started_ms: u64,
    /// Its last heartbeat (Unix ms).
    pub heartbeat_ms: u64,
}

impl NodeInfo {
    /// Alive when its last heartbeat is at most `dead_after_ms` old at `now_ms`.
    pub fn alive_at(&self, now_ms: u64, dead_after_ms: u64) -> bool {
        now_ms.saturating_sub(self.heartbeat_ms) <= dead_after_ms
    }
}
