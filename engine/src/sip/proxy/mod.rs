//! The stateless proxy a node runs for the flows it holds, so calls placed on other nodes reach
//! devices registered here (RFC 3327 Path semantics, RFC 3261 §16.11 stateless proxying).
//!
//! A node that places a call for a binding whose flow node N holds sends the INVITE to N's
//! SIP address with a Route naming N and the flow ([`route`]). N checks the MAC, removes its
//! Route, adds its Via and a Record-Route, and sends the request over the flow; responses come
//! back to N by its Via and go on by the Via below. In-dialog requests from either end carry
//! N's Record-Route and pass the same way: towards the device when the Request-URI is not a
//! live node's address, towards that node otherwise. Media never passes here: SDP is
//! forwarded untouched, and the calling node relays the RTP.
//!
//! Stateless on purpose: nothing to lose when this node restarts, nothing to time out, and
//! retransmissions (both ends keep their own transactions) pass like the first copy. What a
//! stateful proxy would remember travels in the message, authenticated: the way back in our
//! Via (`rm-back`, with a branch that is a MAC over it), the flow and the cluster's consent in
//! the Route.
//!
//! Pure: [`Proxy::on_message`] takes a parsed message, where it came from and which nodes are
//! alive, and says what to send where. The SIP actor asks it first about any message
//! [`might_concern`] flags, and gives the transaction layer what it passes on.

pub mod route;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use crate::cluster::NodeView;
use crate::sip::message::{
    response_to, split_list, HeaderName, HeaderView, Message, Method, NameAddr, Request, Response,
    Uri, Via,
};
use crate::sip::{Peer, Transmit};
use route::{flow_peer, flow_token, record_route, same_mac, RouteKey, PROXY_BRANCH};

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not a proxied message: the transaction layer takes it as it came.
    Pass,
    /// Forward it (a request to its next hop, a response back by the Via).
    Forward(Transmit),
    /// Refuse the request with this stateless response (403, 483).
    Refuse { status: u16, transmit: Transmit },
    /// Nothing to send (a forged response, an ACK that cannot be checked...).
    Drop(&'static str),
}

/// This node's proxy: its id, its SIP address (in our Vias and Record-Routes) and the key.
#[derive(Debug, Clone)]
pub struct Proxy {
    node: String,
    sip: SocketAddr,
    key: RouteKey,
}

/// A cheap look at raw bytes before parsing: only messages that name a node in a Route or
/// carry one of our proxy branches can be the proxy's.
pub fn might_concern(bytes: &[u8]) -> bool {
    contains(bytes, b"rm-node=") || contains(bytes, PROXY_BRANCH.as_bytes())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

impl Proxy {
    pub fn new(node: impl Into<String>, sip: SocketAddr, key: RouteKey) -> Proxy {
        Proxy {
            node: node.into(),
            sip,
            key,
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn key(&self) -> &RouteKey {
        &self.key
    }

    /// Decides about `msg`, which came from `from`; `nodes` says which nodes are alive now.
    pub fn on_message(&self, msg: Message, from: Peer, nodes: &NodeView) -> Verdict {
        match msg {
            Message::Request(r) => self.on_request(r, from, nodes),
            Message::Response(r) => self.on_response(r),
        }
    }

    fn on_request(&self, mut req: Request, from: Peer, nodes: &NodeView) -> Verdict {
        let Some(first) = req.headers.get(&HeaderName::Route) else {
            return Verdict::Pass;
        };
        let Ok(items) = split_list(first) else {
            return Verdict::Pass;
        };
        let Some(Uri::Sip(top)) = items
            .first()
            .and_then(|v| NameAddr::parse(v).ok())
            .map(|a| a.uri)
        else {
            return Verdict::Pass;
        };
        if top.params.value("rm-node") != Some(self.node.as_str()) {
            return Verdict::Pass;
        }
        let rest: Vec<String> = items[1..].iter().map(|s| s.to_string()).collect();
        let token = top.params.value("rm-flow").unwrap_or_default().to_string();
        let call_id = req.call_id().unwrap_or_default().to_string();
        let authentic = match (top.params.value("rm-mac"), top.params.value("rm-dmac")) {
            (Some(mac), _) => {
                let from_tag = req
                    .hdr_from()
                    .ok()
                    .and_then(|f| f.tag().map(str::to_string))
                    .unwrap_or_default();
                let want = self.key.request_mac(
                    &self.node,
                    &token,
                    &call_id,
                    &from_tag,
                    &req.uri.to_string(),
                );
                same_mac(mac, &want)
            }
            (None, Some(mac)) => same_mac(mac, &self.key.dialog_mac(&self.node, &token, &call_id)),
            (None, None) => false,
        };
        let flow = flow_peer(&token);
        let (true, Some(flow)) = (authentic, flow) else {
            return self.refuse(&req, from, 403, "not routed by a node of this cluster");
        };
        // Loop bound (§16.6 step 3), as any proxy.
        let hops = match req.headers.get(&HeaderName::MaxForwards) {
            None => 70,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(0) => return self.refuse(&req, from, 483, ""),
                Ok(n) => n,
                Err(_) => return self.refuse(&req, from, 400, "Max-Forwards"),
            },
        };
        req.headers
            .set(HeaderName::MaxForwards, (hops - 1).to_string());
        if rest.is_empty() {
            req.headers.remove_first(&HeaderName::Route);
        } else {
            req.headers
                .replace_first(&HeaderName::Route, rest.join(", "));
        }
        // Only one hop of ours per path: a route set past this node is not one we made.
        if req.headers.get(&HeaderName::Route).is_some() {
            return self.refuse(&req, from, 403, "unexpected route after this node");
        }
        // Towards a node (an in-dialog request from the device to the call's node), or the
        // device over its flow.
        let to = match request_uri_addr(&req.uri) {
            Some(a) if nodes.node_at(a).is_some() => Peer::udp(a),
            _ => flow,
        };
        let previous = req
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_string))
            .unwrap_or_default();
        let back = flow_token(from.transport, from.addr);
        let branch = self.key.via_branch(&back, &previous);
        req.headers.push_front(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {};branch={branch};rm-back={back}",
                to.transport.via_token(),
                self.sip
            ),
        );
        let initial_invite = req.method == Method::Invite
            && req.hdr_to().map(|t| t.tag().is_none()).unwrap_or(false);
        if initial_invite {
            req.headers.push_front(
                HeaderName::RecordRoute,
                record_route(
                    &self.key,
                    &self.node,
                    self.sip,
                    &token,
                    flow.transport,
                    &call_id,
                ),
            );
        }
        match req.encode() {
            Ok(bytes) => Verdict::Forward(Transmit { peer: to, bytes }),
            Err(_) => Verdict::Drop("request not encodable"),
        }
    }

    fn on_response(&self, mut resp: Response) -> Verdict {
        let Ok(top) = resp.top_via() else {
            return Verdict::Pass;
        };
        let Some(branch) = top.branch().filter(|b| b.starts_with(PROXY_BRANCH)) else {
            return Verdict::Pass;
        };
        let Some(back) = top.params.value("rm-back") else {
            return Verdict::Drop("proxy Via without its way back");
        };
        let previous = resp
            .headers
            .get_all(&HeaderName::Via)
            .nth(1)
            .and_then(|v| Via::parse(v).ok())
            .and_then(|v| v.branch().map(str::to_string))
            .unwrap_or_default();
        if !same_mac(branch, &self.key.via_branch(back, &previous)) {
            return Verdict::Drop("proxy branch not ours");
        }
        let Some(to) = flow_peer(back) else {
            return Verdict::Drop("proxy Via without its way back");
        };
        resp.headers.remove_first(&HeaderName::Via);
        match resp.encode() {
            Ok(bytes) => Verdict::Forward(Transmit { peer: to, bytes }),
            Err(_) => Verdict::Drop("response not encodable"),
        }
    }

    /// A stateless refusal, back where the request came from (an ACK gets none).
    fn refuse(&self, req: &Request, from: Peer, status: u16, why: &str) -> Verdict {
        if req.method == Method::Ack {
            return Verdict::Drop("ACK refused");
        }
        let mut r = response_to(req, status, Some("rmproxy"));
        if !why.is_empty() {
            r.reason = format!("{} ({why})", r.reason);
        }
        match r.encode() {
            Ok(bytes) => Verdict::Refuse {
                status,
                transmit: Transmit { peer: from, bytes },
            },
            Err(_) => Verdict::Drop("refusal not encodable"),
        }
    }
}

/// The address a Request-URI names when its host is an IP literal (5060 when it names no
/// port): how a node's Contact is recognised.
fn request_uri_addr(uri: &Uri) -> Option<SocketAddr> {
    let u = uri.as_sip()?;
    Some(SocketAddr::new(u.host.ip()?, u.port.unwrap_or(5060)))
}
