//! Several ringmaster nodes sharing one store, as the cores see them: which nodes are alive
//! ([`NodeView`], from the heartbeats in the store), and how a call reaches a binding whose
//! flow another node holds. Pure: the shells read the store and the clock and pass both in
//! (`actors::cluster` writes the heartbeats; `sip::proxy` carries calls between nodes).
//!
//! A binding records the node that holds its flow (`Binding::node`). A call for it from any
//! other node is sent to that node in SIP, which forwards it over the flow (RFC 3327 Path
//! semantics); a binding of a node declared dead (no heartbeat for `dead_after`) is skipped,
//! since its flow died with it.

mod view;

pub use view::{BindingReach, NodeView};
