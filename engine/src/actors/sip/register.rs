//! REGISTER in the SIP actor: admission by the registrar core, then the address of record's
//! registration actor, which answers once the binding is durable.

use std::sync::Arc;

use actix::prelude::*;

use super::{EndpointGone, LookupBindings, Restore, SipActor};
use crate::actors::clock::unix_now;
use crate::actors::registration::{
    Current, FlowClosed, FlowSeen, Purge, Register, RegistrationActor, RegistrationIdle,
    RegistrationLink,
};
use crate::sip::auth::Identity;
use crate::sip::message::Request;
use crate::sip::registrar::{admit, Admission, Aor, Binding, EndpointAuth};
use crate::sip::transaction::TxId;
use crate::sip::Peer;

impl SipActor {
    /// Admission (§10.3 steps 1–5) is decided by the registrar core; an accepted REGISTER goes
    /// to its address of record's actor, which answers once the binding is durable.
    pub(super) fn on_register(
        &mut self,
        tx: TxId,
        req: Request,
        peer: Peer,
        tag: String,
        ctx: &mut Context<Self>,
    ) {
        let now = unix_now();
        let store = self.store.clone();
        let decision = admit(
            &mut self.auth,
            &self.domains,
            now,
            &req,
            &tag,
            |domain, user| {
                let ep = store.endpoint(domain, user).ok().flatten()?;
                Some(EndpointAuth {
                    credentials: ep.credential_set(now),
                    enabled: ep.enabled,
                })
            },
        );
        match decision {
            Admission::Respond {
                response,
                failure,
                identity,
            } => {
                let answer = self.refused(&req, &peer, &tag, identity.as_ref(), failure, *response);
                self.respond(tx, answer);
            }
            Admission::Accept { aor } => {
                let who = Identity {
                    user: aor.user.clone(),
                    realm: aor.domain.clone(),
                };
                if let Some(refused) = self.attempt_gate(&req, &peer, &who, &tag) {
                    return self.respond(tx, refused);
                }
                self.auth_succeeded(&peer, &who);
                let actor = self.registration(aor, ctx);
                actor.do_send(Register {
                    tx,
                    request: req,
                    peer,
                    now,
                    to_tag: tag,
                });
            }
        }
    }

    fn registration(&mut self, aor: Aor, ctx: &mut Context<Self>) -> Addr<RegistrationActor> {
        if let Some(a) = self.registrations.get(&aor) {
            if a.connected() {
                return a.clone();
            }
        }
        let actor = RegistrationActor::new(
            aor.clone(),
            Vec::new(),
            self.registrar.clone(),
            self.store.clone(),
            self.commit.clone(),
            self.registration_link(ctx),
        )
        .start();
        self.registrations.insert(aor, actor.clone());
        actor
    }

    /// Where registration actors send their answers and news: this actor, as recipients made
    /// once and shared by every registration actor.
    fn registration_link(&mut self, ctx: &mut Context<Self>) -> Arc<RegistrationLink> {
        let link = self.registration_link.get_or_insert_with(|| {
            let me = ctx.address();
            Arc::new(RegistrationLink {
                respond: me.clone().recipient(),
                flow: me.clone().recipient(),
                idle: me.recipient(),
            })
        });
        Arc::clone(link)
    }

    /// Starts registration actors for bindings loaded at start-up.
    fn restore(&mut self, loaded: Vec<(Aor, Vec<Binding>)>, ctx: &mut Context<Self>) {
        for (aor, bindings) in loaded {
            let actor = RegistrationActor::new(
                aor.clone(),
                bindings,
                self.registrar.clone(),
                self.store.clone(),
                self.commit.clone(),
                self.registration_link(ctx),
            )
            .start();
            self.registrations.insert(aor, actor);
        }
    }
}

impl Handler<EndpointGone> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: EndpointGone, _ctx: &mut Context<Self>) {
        if let Some(a) = self.registrations.remove(&msg.0) {
            a.do_send(Purge);
        }
    }
}

impl Handler<FlowSeen> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: FlowSeen, _ctx: &mut Context<Self>) {
        let now = unix_now();
        if let Some(s) = &self.sockets {
            let left = std::time::Duration::from_secs(msg.until.saturating_sub(now));
            s.set_flow(msg.conn, std::time::Instant::now() + left);
        }
        // Which addresses of record ride on which connection, for when it closes.
        if msg.until > now {
            self.flows.entry(msg.conn).or_default().insert(msg.aor);
        } else if let Some(aors) = self.flows.get_mut(&msg.conn) {
            aors.remove(&msg.aor);
            if aors.is_empty() {
                self.flows.remove(&msg.conn);
            }
        }
    }
}

impl SipActor {
    /// A stream connection closed: the registration actors whose bindings rode on it drop
    /// those that cannot be reached any other way.
    pub(super) fn flow_closed(&mut self, conn: crate::sip::ConnId, peer: Peer) {
        for aor in self.flows.remove(&conn).unwrap_or_default() {
            if let Some(a) = self.registrations.get(&aor) {
                a.do_send(FlowClosed(peer));
            }
        }
    }
}

impl Handler<Restore> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: Restore, ctx: &mut Context<Self>) {
        self.restore(msg.0, ctx);
    }
}

impl Handler<RegistrationIdle> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: RegistrationIdle, _ctx: &mut Context<Self>) {
        if self
            .registrations
            .get(&msg.0)
            .is_some_and(|a| !a.connected())
        {
            self.registrations.remove(&msg.0);
        }
    }
}

impl Handler<LookupBindings> for SipActor {
    type Result = ResponseFuture<Vec<Binding>>;
    fn handle(&mut self, msg: LookupBindings, _ctx: &mut Context<Self>) -> Self::Result {
        let actor = self.registrations.get(&msg.0).cloned();
        Box::pin(async move {
            match actor {
                Some(a) => a.send(Current).await.unwrap_or_default(),
                None => Vec::new(),
            }
        })
    }
}
