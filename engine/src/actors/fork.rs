//! The group-ring actor: one connect round's branches, driven by the fork core
//! (`call::fork`). It sends the INVITEs and CANCELs through the SIP actor, feeds the answers
//! back to the core, reports to its call, and stops once nothing of the round is alive.
//!
//! It holds recipients (its call's [`ForkReport`], the SIP actor's [`SipLink`]), not the
//! actors' addresses, so it imports neither the call actor that starts it nor the SIP actor.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use pcmo::TargetId;

use super::sip::routes::{
    CancelRequest, RequestKey, SendAck, SendRequest, SipLink, TxOutcome, TxReport,
};
use crate::call::fork::{BranchPlan, Fork, ForkEvent, ForkOutput};
use crate::call::{LegId, RingId};

/// What a group ring tells its call (the call routes the answered leg's dialog to itself,
/// then feeds the event to its core).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ForkReport {
    pub ring: RingId,
    pub event: ForkEvent,
}

/// Stop ringing these targets.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CancelTargets(pub Vec<TargetId>);

#[derive(Clone, Copy)]
enum Sent {
    Invite(LegId),
    Bye(LegId),
}

pub struct ForkActor {
    ring: RingId,
    fork: Fork,
    call: Recipient<ForkReport>,
    sip: Arc<SipLink>,
    sent: HashMap<RequestKey, Sent>,
    invites: HashMap<LegId, RequestKey>,
}

impl ForkActor {
    pub fn new(
        ring: RingId,
        branches: Vec<BranchPlan>,
        contact: &str,
        call: Recipient<ForkReport>,
        sip: Arc<SipLink>,
    ) -> Self {
        ForkActor {
            ring,
            fork: Fork::new(branches, contact),
            call,
            sip,
            sent: HashMap::new(),
            invites: HashMap::new(),
        }
    }

    fn drain(&mut self, ctx: &mut Context<Self>) {
        for out in self.fork.drain() {
            match out {
                ForkOutput::SendInvite { leg, request, peer } => {
                    tracing::debug!(ring = self.ring.0, leg = leg.0, to = %peer.addr, "branch INVITE");
                    let key = RequestKey::next();
                    self.sent.insert(key, Sent::Invite(leg));
                    self.invites.insert(leg, key);
                    self.sip.send.do_send(SendRequest {
                        key,
                        request,
                        peer,
                        owner: ctx.address().recipient(),
                    });
                }
                ForkOutput::Cancel { leg } => {
                    if let Some(key) = self.invites.get(&leg) {
                        self.sip.cancel.do_send(CancelRequest(*key));
                    }
                }
                ForkOutput::SendAck { request, peer } => {
                    self.sip.ack.do_send(SendAck { request, peer })
                }
                ForkOutput::SendBye { leg, request, peer } => {
                    let key = RequestKey::next();
                    self.sent.insert(key, Sent::Bye(leg));
                    self.sip.send.do_send(SendRequest {
                        key,
                        request,
                        peer,
                        owner: ctx.address().recipient(),
                    });
                }
                ForkOutput::Event(ev) => {
                    let done = matches!(ev, ForkEvent::Done);
                    self.call.do_send(ForkReport {
                        ring: self.ring,
                        event: ev,
                    });
                    if done {
                        ctx.stop();
                    }
                }
            }
        }
    }
}

impl Actor for ForkActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        tracing::debug!(ring = self.ring.0, "group ring started");
        self.fork.start();
        self.drain(ctx);
    }
}

impl Handler<TxReport> for ForkActor {
    type Result = ();
    fn handle(&mut self, msg: TxReport, ctx: &mut Context<Self>) {
        let Some(sent) = self.sent.get(&msg.key).copied() else {
            return;
        };
        // An INVITE answered with a challenge was sent again: only the latest one counts.
        if let Sent::Invite(leg) = sent {
            if self.invites.get(&leg) != Some(&msg.key) {
                return;
            }
        }
        match (sent, msg.outcome) {
            (Sent::Invite(leg), TxOutcome::Response(r)) => self.fork.on_response(leg, r),
            (Sent::Invite(leg), TxOutcome::Failed) => self.fork.on_timeout(leg),
            (Sent::Bye(leg), TxOutcome::Response(r)) if r.status >= 200 => {
                self.fork.on_bye_done(leg)
            }
            (Sent::Bye(_), TxOutcome::Response(_)) => {}
            (Sent::Bye(leg), TxOutcome::Failed) => self.fork.on_bye_done(leg),
        }
        self.drain(ctx);
    }
}

impl Handler<CancelTargets> for ForkActor {
    type Result = ();
    fn handle(&mut self, msg: CancelTargets, ctx: &mut Context<Self>) {
        self.fork.cancel_targets(&msg.0);
        self.drain(ctx);
    }
}
