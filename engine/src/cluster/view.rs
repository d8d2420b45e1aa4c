//! Which nodes are alive at a moment, read from their heartbeats.
//!
//! A node writes its heartbeat every `heartbeat_secs`; one whose last heartbeat is older than
//! `dead_after` is dead: its live calls and connection-bound flows are gone, and nobody routes
//! to its flows any more. The view is made per decision (a call's target lookup, a proxied
//! request) from the store's node table and the wall time, so it needs no invalidation.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::sip::registrar::Binding;
use crate::store::NodeInfo;

/// The nodes alive at one moment, and which of them is this one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeView {
    /// This node's id; `None` on a single node (a store nobody shares): every binding is ours.
    me: Option<String>,
    /// Alive nodes other than this one: id → SIP address.
    alive: BTreeMap<String, SocketAddr>,
}

/// How a call reaches one binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingReach {
    /// Its flow is ours: straight to the device.
    Local,
    /// Its flow is on another node, alive: through that node's SIP address.
    Through { node: String, sip: SocketAddr },
    /// Its node is dead (or unknown): its flow is gone, skip it.
    Unreachable,
}

impl NodeView {
    /// A single node: everything is local.
    pub fn single() -> NodeView {
        NodeView::default()
    }

    /// The view of node `me` at `now_ms` (Unix ms): every other node whose heartbeat is at
    /// most `dead_after_ms` old is alive.
    pub fn at(me: &str, nodes: &[NodeInfo], now_ms: u64, dead_after_ms: u64) -> NodeView {
        let alive = nodes
            .iter()
            .filter(|n| n.id != me && n.alive_at(now_ms, dead_after_ms))
            .map(|n| (n.id.clone(), n.sip))
            .collect();
        NodeView {
            me: Some(me.to_string()),
            alive,
        }
    }

    /// This node's id (`None` on a single node).
    pub fn me(&self) -> Option<&str> {
        self.me.as_deref()
    }

    /// The other nodes alive, by id.
    pub fn alive(&self) -> impl Iterator<Item = (&str, SocketAddr)> {
        self.alive.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Whether `id` names another node that is alive.
    pub fn is_alive(&self, id: &str) -> bool {
        self.alive.contains_key(id)
    }

    /// The alive node whose SIP address is `addr`, if any.
    pub fn node_at(&self, addr: SocketAddr) -> Option<&str> {
        self.alive
            .iter()
            .find(|(_, a)| **a == addr)
            .map(|(id, _)| id.as_str())
    }

    /// How a call from this node reaches `b`. A binding without a node was written by a
    /// single node (or before nodes were recorded): it is treated as ours.
    pub fn reach(&self, b: &Binding) -> BindingReach {
        match (&self.me, b.node.as_deref()) {
            (None, _) | (_, None) => BindingReach::Local,
            (Some(me), Some(n)) if me == n => BindingReach::Local,
            (Some(_), Some(n)) => match self.alive.get(n) {
                Some(sip) => BindingReach::Through {
                    node: n.to_string(),
                    sip: *sip,
                },
                None => BindingReach::Unreachable,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Transport;

    const S: u64 = 1000;

    fn node(id: &str, port: u16, heartbeat_ms: u64) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            sip: SocketAddr::from(([192, 0, 2, 1], port)),
            internal_http: None,
            started_ms: 0,
            heartbeat_ms,
        }
    }

    fn binding(node: Option<&str>) -> Binding {
        Binding {
            contact: "sip:alice@198.51.100.7:5062".into(),
            instance: None,
            reg_id: None,
            q: None,
            call_id: "r1".into(),
            cseq: 1,
            expires_at: 0,
            registered_at: 0,
            transport: Transport::Udp,
            source: "198.51.100.7:5062".parse().unwrap(),
            user_agent: None,
            node: node.map(str::to_string),
        }
    }

    #[test]
    fn a_node_is_dead_once_its_heartbeat_is_older_than_dead_after() {
        let nodes = [node("n1", 5060, 100 * S), node("n2", 5061, 100 * S)];
        let dead_after = 10 * S;
        // Exactly `dead_after` old: still alive; one millisecond more: dead.
        let v = NodeView::at("n1", &nodes, 110 * S, dead_after);
        assert!(v.is_alive("n2"));
        let v = NodeView::at("n1", &nodes, 110 * S + 1, dead_after);
        assert!(!v.is_alive("n2"));
        // A heartbeat from the future (clock skew between nodes) is alive, not a panic.
        let v = NodeView::at("n1", &nodes, 50 * S, dead_after);
        assert!(v.is_alive("n2"));
        // This node is never among the others.
        assert!(!v.is_alive("n1"));
        assert_eq!(v.me(), Some("n1"));
    }

    #[test]
    fn bindings_are_reached_locally_through_their_node_or_not_at_all() {
        let nodes = [
            node("n1", 5060, 100 * S),
            node("n2", 5061, 99 * S),
            node("n3", 5062, 80 * S),
        ];
        let v = NodeView::at("n1", &nodes, 100 * S, 10 * S);
        assert_eq!(v.reach(&binding(Some("n1"))), BindingReach::Local);
        assert_eq!(v.reach(&binding(None)), BindingReach::Local);
        assert_eq!(
            v.reach(&binding(Some("n2"))),
            BindingReach::Through {
                node: "n2".into(),
                sip: "192.0.2.1:5061".parse().unwrap()
            }
        );
        // n3 stopped beating 20 s ago; n4 never did.
        assert_eq!(v.reach(&binding(Some("n3"))), BindingReach::Unreachable);
        assert_eq!(v.reach(&binding(Some("n4"))), BindingReach::Unreachable);
        assert_eq!(v.node_at("192.0.2.1:5061".parse().unwrap()), Some("n2"));
        assert_eq!(v.node_at("192.0.2.1:5062".parse().unwrap()), None);
        // A single node reaches everything itself, whatever the binding says.
        assert_eq!(
            NodeView::single().reach(&binding(Some("n9"))),
            BindingReach::Local
        );
    }
}
