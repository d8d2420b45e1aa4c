//! This node among the nodes sharing one store: its id, its heartbeat in the store, and the
//! [`Cluster`] handle through which the SIP actor (the proxy for the flows this node holds)
//! and calls (routing to flows other nodes hold) see which nodes are alive.
//!
//! Only with a shared store (`[store] url`; its node id and cluster secret come from
//! `backend`, which opened it): a single node writes no heartbeat, records no node on its
//! bindings and routes nothing through anyone. The liveness rule itself is pure
//! (`cluster::NodeView`); this shell reads the store's node table and the wall clock.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::clock::wall_ms;
use crate::cluster::NodeView;
use crate::config::Settings;
use crate::sip::proxy::route::RouteKey;
use crate::sip::proxy::Proxy;
use crate::store::{NodeInfo, Store};

/// The node the registrar records on bindings: this node's id when the store is shared,
/// `None` on a single node.
pub fn registrar_node(settings: &Settings) -> Option<String> {
    settings
        .store
        .url
        .is_some()
        .then(|| super::backend::node_id(settings))
}

/// This node in a cluster, as the SIP actor and calls use it.
#[derive(Clone)]
pub struct Cluster {
    id: String,
    store: Arc<dyn Store>,
    dead_after_ms: u64,
    proxy: Arc<Proxy>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("id", &self.id).finish()
    }
}

impl Cluster {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The nodes alive now, as the store's heartbeats say (a read of the store's mirror).
    pub fn view(&self) -> NodeView {
        let nodes = self.store.nodes().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the nodes; treating the others as dead");
            Vec::new()
        });
        NodeView::at(&self.id, &nodes, wall_ms(), self.dead_after_ms)
    }

    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    pub fn key(&self) -> &RouteKey {
        self.proxy.key()
    }
}

/// With a shared store (`shared`: this node's id and the cluster secret, as the store was
/// opened with): starts the heartbeat and returns the handle. `sip` is this node's advertised
/// SIP address (UDP and TCP), where other nodes send calls for the flows it holds. `None` on a
/// single node.
pub fn start(
    shared: Option<&super::backend::Cluster>,
    settings: &Settings,
    store: Arc<dyn Store>,
    sip: SocketAddr,
) -> Option<Cluster> {
    let shared = shared?;
    let key = RouteKey::from_secret(&shared.secret);
    let id = shared.node.clone();
    let c = &settings.cluster;
    let me = NodeInfo {
        id: id.clone(),
        sip,
        internal_http: c.internal_listen,
        started_ms: wall_ms(),
        heartbeat_ms: 0,
    };
    HeartbeatActor {
        me,
        store: store.clone(),
        every: Duration::from_secs(u64::from(c.heartbeat_secs.max(1))),
        dead_after_ms: shared.dead_after_ms,
        alive: BTreeSet::new(),
    }
    .start();
    tracing::info!(node = %id, %sip, heartbeat_secs = c.heartbeat_secs, dead_after_secs = c.dead_after_secs, "cluster: this node joined");
    Some(Cluster {
        proxy: Arc::new(Proxy::new(id.clone(), sip, key)),
        id,
        store,
        dead_after_ms: shared.dead_after_ms,
    })
}

/// Writes this node's heartbeat every `every`, and says in the log when another node is seen
/// alive or declared dead.
struct HeartbeatActor {
    me: NodeInfo,
    store: Arc<dyn Store>,
    every: Duration,
    dead_after_ms: u64,
    /// The other nodes alive at the last beat.
    alive: BTreeSet<String>,
}

impl HeartbeatActor {
    fn beat(&mut self) {
        let now = wall_ms();
        self.me.heartbeat_ms = now;
        // A write to the store's mirror, committed by its flusher: no database round trip
        // blocks this thread.
        if let Err(e) = self.store.put_node(&self.me) {
            tracing::warn!(error = %e, "cluster: heartbeat not written");
        }
        let Ok(nodes) = self.store.nodes() else {
            return;
        };
        let view = NodeView::at(&self.me.id, &nodes, now, self.dead_after_ms);
        let alive: BTreeSet<String> = view.alive().map(|(id, _)| id.to_string()).collect();
        for id in alive.difference(&self.alive) {
            tracing::info!(node = %id, "cluster: node alive");
        }
        for id in self.alive.difference(&alive) {
            tracing::warn!(node = %id, "cluster: node declared dead (no heartbeat); its flows are no longer routed to");
        }
        self.alive = alive;
    }
}

impl Actor for HeartbeatActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.beat();
        ctx.run_interval(self.every, |act, _| act.beat());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restarting_node_prunes_only_its_own_bindings() {
        use crate::sip::registrar::Aor;
        use crate::sip::Transport;
        use crate::store::conformance::{app, binding, endpoint};
        use crate::store::MemoryStore;
        let store = MemoryStore::default();
        store.insert_app(&app(1, "example.com")).unwrap();
        store
            .insert_endpoint(&endpoint(1, "example.com", "alice"))
            .unwrap();
        let aor = Aor::new("alice", "example.com");
        let far = super::super::clock::unix_now() + 600;
        let on = |contact: &str, node: &str, transport| crate::sip::registrar::Binding {
            node: Some(node.into()),
            transport,
            instance: None,
            reg_id: None,
            ..binding(contact, far)
        };
        store
            .put_bindings(
                &aor,
                &[
                    on("sip:a@192.0.2.1", "n1", Transport::Udp),
                    on("sip:b@192.0.2.2", "n1", Transport::Ws),
                    on("sip:c@192.0.2.3", "n2", Transport::Ws),
                ],
            )
            .unwrap();
        // n1 restarts: its WS binding died with its connection; n2's did not.
        let live = super::super::restore_bindings(&store, Some("n1")).unwrap();
        assert_eq!(live.len(), 1);
        let restored: Vec<_> = live[0].1.iter().map(|b| b.contact.as_str()).collect();
        assert_eq!(restored, ["sip:a@192.0.2.1"]);
        let mut stored: Vec<_> = store
            .bindings(&aor)
            .unwrap()
            .into_iter()
            .map(|b| b.contact)
            .collect();
        stored.sort();
        assert_eq!(stored, ["sip:a@192.0.2.1", "sip:c@192.0.2.3"]);
        // A single node (no node id) prunes every connection-bound binding, as before.
        super::super::restore_bindings(&store, None).unwrap();
        let stored: Vec<_> = store
            .bindings(&aor)
            .unwrap()
            .into_iter()
            .map(|b| b.contact)
            .collect();
        assert_eq!(stored, ["sip:a@192.0.2.1"]);
    }

    #[test]
    fn a_single_node_records_no_node_on_its_bindings() {
        let mut s = Settings::default();
        s.cluster.node_id = Some("n7".into());
        assert_eq!(registrar_node(&s), None);
        s.store.url = Some("postgres://db/rm".into());
        assert_eq!(registrar_node(&s).as_deref(), Some("n7"));
        s.cluster.node_id = None;
        assert_eq!(registrar_node(&s), Some(super::super::host_name()));
    }
}
