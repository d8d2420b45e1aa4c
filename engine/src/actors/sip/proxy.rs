//! The SIP actor's side of the proxy for flows this node holds (`sip::proxy` decides): a
//! message that may be a proxied one is asked about before the transaction layer sees it.

use actix::prelude::*;

use super::SipActor;
use crate::actors::cluster::Cluster;
use crate::sip::message::parse;
use crate::sip::proxy::{might_concern, Verdict};
use crate::sip::Inbound;

/// Several nodes share the store: this node proxies for its flows and calls reach other
/// nodes' flows through them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EnableCluster(pub Cluster);

impl Handler<EnableCluster> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: EnableCluster, _ctx: &mut Context<Self>) {
        self.cluster = Some(msg.0);
        // Calls from now on see the cluster.
        self.call_env = None;
    }
}

impl SipActor {
    /// True when the proxy took `inbound` (forwarded, refused or dropped it); false leaves it
    /// to the transaction layer.
    pub(super) fn proxied(&mut self, inbound: &Inbound) -> bool {
        let Some(cluster) = &self.cluster else {
            return false;
        };
        if !might_concern(&inbound.bytes) {
            return false;
        }
        let Ok(msg) = parse(inbound.bytes.clone()) else {
            return false;
        };
        let transmit = match cluster
            .proxy()
            .on_message(msg, inbound.peer, &cluster.view())
        {
            Verdict::Pass => return false,
            Verdict::Forward(t) => t,
            Verdict::Refuse { status, transmit } => {
                tracing::info!(source = %inbound.peer.addr, status, "proxy: request refused");
                transmit
            }
            Verdict::Drop(why) => {
                tracing::debug!(source = %inbound.peer.addr, why, "proxy: message dropped");
                return true;
            }
        };
        if let Some(s) = &self.sockets {
            s.send(transmit);
        }
        true
    }
}
