//! The parameters nodes put in the SIP URIs they route each other's calls by, and the MACs
//! that make them unforgeable.
//!
//! * A **flow token** (`rm-flow`) names a binding's flow on the node holding it: the transport
//!   and the source address the device registered from. That node sends over the live
//!   connection from that address (TCP, TLS, WS) or to it (UDP).
//! * The **Route** a calling node puts on an INVITE for a binding on node N:
//!   `<sip:N-ADDR;lr;rm-node=N;rm-flow=TOKEN;rm-mac=MAC>`, the MAC over the node, the flow and
//!   the request's key fields (Call-ID, From tag, Request-URI), keyed by the cluster secret.
//!   The ACK and CANCEL the transaction layer builds for that INVITE copy its Route, Call-ID,
//!   From and Request-URI (RFC 3261 §9.1, §17.1.1.3), so they verify too.
//! * The **Record-Route** node N adds, so both ends send in-dialog requests through it:
//!   `<sip:N-ADDR;lr;rm-node=N;rm-flow=TOKEN;rm-dmac=MAC>`, the MAC over the node, the flow and
//!   the Call-ID (the one field both directions of a dialog share).
//! * The **Via** node N adds to what it forwards carries where the response goes back
//!   (`rm-back`, a flow token) and a branch that is a MAC over it and the previous hop's
//!   branch: a stateless proxy keeps nothing, so the response must carry its way back, and only
//!   a branch N made can send anything anywhere.

use std::net::SocketAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::sip::{Peer, Transport};

/// The Via branch prefix of this node's proxy hops (after the RFC 3261 magic cookie).
pub const PROXY_BRANCH: &str = "z9hG4bKrmp";

/// Hex characters kept of each MAC (128 bits).
const MAC_HEX: usize = 32;

/// The key nodes authenticate each other's routing with, derived from the cluster secret (so
/// this use never shares a key with another use of the same secret).
#[derive(Clone)]
pub struct RouteKey([u8; 32]);

impl std::fmt::Debug for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteKey(..)")
    }
}

impl PartialEq for RouteKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for RouteKey {}

impl RouteKey {
    /// The routing key of a cluster secret (at least 32 bytes; the shell checks).
    pub fn from_secret(secret: &[u8]) -> RouteKey {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
        mac.update(b"ringmaster sip routing between nodes v1");
        RouteKey(mac.finalize().into_bytes().into())
    }

    /// The MAC of `parts` (joined by LF, which no SIP header value can hold), as hex.
    fn mac(&self, parts: &[&str]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        for p in parts {
            mac.update(p.as_bytes());
            mac.update(b"\n");
        }
        let mut hex = hex::encode(mac.finalize().into_bytes());
        hex.truncate(MAC_HEX);
        hex
    }

    /// The MAC of an initial request's Route (`rm-mac`).
    pub fn request_mac(
        &self,
        node: &str,
        flow: &str,
        call_id: &str,
        from_tag: &str,
        ruri: &str,
    ) -> String {
        self.mac(&["i", node, flow, call_id, from_tag, ruri])
    }

    /// The MAC of a Record-Route (`rm-dmac`): every in-dialog request of the call carries it.
    pub fn dialog_mac(&self, node: &str, flow: &str, call_id: &str) -> String {
        self.mac(&["d", node, flow, call_id])
    }

    /// The branch of our Via on a request we forward: a MAC over where its responses go back
    /// and the branch of the hop before (so a retransmission, its CANCEL and its non-2xx ACK
    /// get the same branch, as §16.11 asks of a stateless proxy).
    pub fn via_branch(&self, back: &str, previous_branch: &str) -> String {
        let mut b = String::from(PROXY_BRANCH);
        b.push_str(&self.mac(&["v", back, previous_branch])[..20]);
        b
    }
}

/// Constant-time comparison of two MACs in hex.
pub fn same_mac(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `udp 198.51.100.7:5062` as hex: a flow's transport and address, safe in a URI parameter.
pub fn flow_token(transport: Transport, addr: SocketAddr) -> String {
    hex::encode(format!("{transport} {addr}"))
}

/// The peer a flow token names (`conn: None`: the shell finds the live connection from that
/// address). `None` for anything that is not a token we made.
pub fn flow_peer(token: &str) -> Option<Peer> {
    let text = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let (t, addr) = text.split_once(' ')?;
    Some(Peer {
        transport: Transport::from_param(t)?,
        addr: addr.parse().ok()?,
        conn: None,
    })
}

/// The Route a calling node puts on an initial request for a binding whose flow `node` (at
/// `node_sip`) holds.
pub fn request_route(
    key: &RouteKey,
    node: &str,
    node_sip: SocketAddr,
    flow: &str,
    call_id: &str,
    from_tag: &str,
    ruri: &str,
) -> String {
    let mac = key.request_mac(node, flow, call_id, from_tag, ruri);
    format!("<sip:{node_sip};lr;rm-node={node};rm-flow={flow};rm-mac={mac}>")
}

/// The Record-Route a flow node adds to an INVITE it forwards: `transport` is the flow's (the
/// device sends its in-dialog requests to it; nodes use the address the INVITE went to).
pub fn record_route(
    key: &RouteKey,
    node: &str,
    our_sip: SocketAddr,
    flow: &str,
    transport: Transport,
    call_id: &str,
) -> String {
    let mac = key.dialog_mac(node, flow, call_id);
    let tp = match transport {
        Transport::Udp => String::new(),
        t => format!(";transport={t}"),
    };
    format!("<sip:{our_sip}{tp};lr;rm-node={node};rm-flow={flow};rm-dmac={mac}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_tokens_round_trip_and_refuse_junk() {
        for (t, a) in [
            (Transport::Udp, "198.51.100.7:5062"),
            (Transport::Tcp, "[2001:db8::1]:40000"),
            (Transport::Wss, "192.0.2.9:443"),
        ] {
            let tok = flow_token(t, a.parse().unwrap());
            assert!(tok.bytes().all(|b| b.is_ascii_hexdigit()));
            let p = flow_peer(&tok).unwrap();
            assert_eq!((p.transport, p.addr), (t, a.parse().unwrap()));
        }
        for junk in [
            "",
            "zz",
            &hex::encode("sctp 192.0.2.1:1"),
            &hex::encode("udp nowhere"),
        ] {
            assert_eq!(flow_peer(junk), None, "{junk}");
        }
    }

    #[test]
    fn macs_depend_on_the_key_and_every_field() {
        let k = RouteKey::from_secret(&[7; 32]);
        let other = RouteKey::from_secret(&[8; 32]);
        let m = k.request_mac("n2", "f", "c1", "t1", "sip:a@192.0.2.1");
        assert_eq!(m.len(), 32);
        assert!(same_mac(
            &m,
            &k.request_mac("n2", "f", "c1", "t1", "sip:a@192.0.2.1")
        ));
        for changed in [
            other.request_mac("n2", "f", "c1", "t1", "sip:a@192.0.2.1"),
            k.request_mac("n3", "f", "c1", "t1", "sip:a@192.0.2.1"),
            k.request_mac("n2", "g", "c1", "t1", "sip:a@192.0.2.1"),
            k.request_mac("n2", "f", "c2", "t1", "sip:a@192.0.2.1"),
            k.request_mac("n2", "f", "c1", "t2", "sip:a@192.0.2.1"),
            k.request_mac("n2", "f", "c1", "t1", "sip:b@192.0.2.1"),
            k.dialog_mac("n2", "f", "c1"),
        ] {
            assert!(!same_mac(&m, &changed));
        }
        assert!(k.via_branch("b", "z9hG4bK1").starts_with(PROXY_BRANCH));
        assert_ne!(k.via_branch("b", "z9hG4bK1"), k.via_branch("c", "z9hG4bK1"));
        assert!(!same_mac("abc", "abcd"));
        assert_eq!(format!("{k:?}"), "RouteKey(..)");
    }
}
