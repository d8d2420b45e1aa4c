//! The SIP actor: the shell around the sans-IO transaction layer.
//!
//! It feeds inbound bytes and timer wake-ups to [`TransactionLayer`], drains its output —
//! transmissions go straight to the sockets, events are routed — and schedules one actix timer
//! for the layer's next deadline. Routing decisions are the cores' (`sip::uas` screening,
//! `sip::auth` digest checks, `sip::registrar` bindings); this file only wires them to I/O.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;

use super::registration::{Register, RegistrationActor};
use super::transport::{ConnClosed, SipInbound, Sockets};
use crate::sip::auth::{Authenticator, StoredCredentials};
use crate::sip::message::{HeaderName, Method, Request, Response};
use crate::sip::registrar::{
    admit, Admission, Aor, Binding, Domains, EndpointAuth, RegistrarConfig,
};
use crate::sip::transaction::{Output, TransactionLayer, TxEvent, TxId};
use crate::sip::uas::{self, Capabilities};
use crate::sip::Peer;
use crate::store::{GroupCommit, Store};

/// Wall-clock Unix seconds (bindings and nonces outlive the process).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A response a registration actor decided, to send on a server transaction.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Respond {
    pub tx: TxId,
    pub response: Response,
}

/// An endpoint was removed or disabled: its bindings go at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EndpointGone(pub Aor);

/// A registration actor stopped (no bindings left).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RegistrationIdle(pub Aor);

/// Registrations loaded from the store at start-up.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Restore(pub Vec<(Aor, Vec<Binding>)>);

/// The live bindings of an address of record.
#[derive(Message)]
#[rtype(result = "Vec<Binding>")]
pub struct LookupBindings(pub Aor);

pub struct SipActor {
    layer: TransactionLayer,
    sockets: Option<Sockets>,
    caps: Capabilities,
    auth: Authenticator,
    registrar: RegistrarConfig,
    domains: Domains,
    store: Arc<dyn Store>,
    commit: GroupCommit,
    registrations: HashMap<Aor, Addr<RegistrationActor>>,
    timer: Option<(Instant, SpawnHandle)>,
}

impl SipActor {
    pub fn new(
        layer: TransactionLayer,
        auth: Authenticator,
        registrar: RegistrarConfig,
        domains: Domains,
        store: Arc<dyn Store>,
        commit: GroupCommit,
    ) -> Self {
        SipActor {
            layer,
            sockets: None,
            caps: Capabilities::default(),
            auth,
            registrar,
            domains,
            store,
            commit,
            registrations: HashMap::new(),
            timer: None,
        }
    }

    /// Hands the actor its sockets (bound after the actor started, since they need its
    /// address to deliver to).
    pub fn set_sockets(&mut self, s: Sockets) {
        self.sockets = Some(s);
    }

    /// Drains the layer, then re-arms the timer for its next deadline.
    fn drain(&mut self, ctx: &mut Context<Self>) {
        while let Some(out) = self.layer.poll_output() {
            match out {
                Output::Transmit(t) => {
                    if let Some(s) = &self.sockets {
                        s.send(t);
                    }
                }
                Output::Event(ev) => self.on_event(ev, ctx),
            }
        }
        let next = self.layer.poll_timeout();
        let current = self.timer.as_ref().map(|(at, _)| *at);
        if next != current {
            if let Some((_, h)) = self.timer.take() {
                ctx.cancel_future(h);
            }
            if let Some(at) = next {
                let delay = at.saturating_duration_since(Instant::now());
                let h = ctx.run_later(delay, |act, ctx| {
                    act.timer = None;
                    act.layer.handle_timeout(Instant::now());
                    act.drain(ctx);
                });
                self.timer = Some((at, h));
            }
        }
    }

    fn on_event(&mut self, ev: TxEvent, ctx: &mut Context<Self>) {
        match ev {
            TxEvent::Request { tx, request, peer } => self.on_request(tx, request, peer, ctx),
            TxEvent::Malformed {
                peer,
                error,
                answered,
            } => {
                tracing::debug!(source = %peer.addr, %error, ?answered, "malformed SIP message");
            }
            TxEvent::Overloaded { peer } => {
                tracing::warn!(source = %peer.addr, "transaction table full; answered 503");
            }
            // Dialogs and client transactions arrive with the calls issue.
            TxEvent::Ack { .. }
            | TxEvent::Cancelled { .. }
            | TxEvent::Response { .. }
            | TxEvent::Timeout { .. }
            | TxEvent::TransportError { .. } => {}
        }
    }

    fn on_request(&mut self, tx: TxId, req: Request, peer: Peer, ctx: &mut Context<Self>) {
        let tag = self.layer.token(10);
        if let Err(resp) = uas::screen(&req, &self.caps, &tag) {
            self.respond(tx, *resp);
            return;
        }
        match req.method {
            Method::Options => {
                let resp = uas::options_response(&req, &self.caps, &tag);
                self.respond(tx, resp);
            }
            Method::Register => self.on_register(tx, req, peer, tag, ctx),
            _ => {
                let resp = uas::reject_with(&req, 501, &tag, "not served yet");
                self.respond(tx, resp);
            }
        }
    }

    /// Admission (§10.3 steps 1–5) is decided by the registrar core; an accepted REGISTER goes
    /// to its address of record's actor, which answers once the binding is durable.
    fn on_register(
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
                    credentials: StoredCredentials {
                        ha1_md5: ep.ha1_md5,
                        ha1_sha256: ep.ha1_sha256,
                    },
                    enabled: ep.enabled,
                })
            },
        );
        match decision {
            Admission::Respond { response, failure } => {
                if let Some(reason) = failure {
                    tracing::info!(
                        target: "security",
                        source = %peer.addr,
                        to = req.headers.get(&HeaderName::To).unwrap_or(""),
                        ?reason,
                        "digest authentication failed"
                    );
                }
                self.respond(tx, *response);
            }
            Admission::Accept { aor } => {
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
            self.registrar,
            self.store.clone(),
            self.commit.clone(),
            ctx.address(),
        )
        .start();
        self.registrations.insert(aor, actor.clone());
        actor
    }

    /// Starts registration actors for bindings loaded at start-up.
    fn restore(&mut self, loaded: Vec<(Aor, Vec<Binding>)>, ctx: &mut Context<Self>) {
        for (aor, bindings) in loaded {
            let actor = RegistrationActor::new(
                aor.clone(),
                bindings,
                self.registrar,
                self.store.clone(),
                self.commit.clone(),
                ctx.address(),
            )
            .start();
            self.registrations.insert(aor, actor);
        }
    }

    fn respond(&mut self, tx: TxId, resp: Response) {
        if let Err(e) = self.layer.respond(Instant::now(), tx, resp) {
            tracing::debug!(tx = tx.0, error = %e, "response not sent");
        }
    }
}

impl Actor for SipActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // SIP must not stall behind a full mailbox of HTTP-driven messages.
        ctx.set_mailbox_capacity(1 << 16);
    }
}

impl Handler<SipInbound> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: SipInbound, ctx: &mut Context<Self>) {
        self.layer.handle_inbound(Instant::now(), msg.0);
        self.drain(ctx);
    }
}

impl Handler<ConnClosed> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: ConnClosed, ctx: &mut Context<Self>) {
        self.layer.transport_error(msg.0);
        self.drain(ctx);
    }
}

impl Handler<Respond> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: Respond, ctx: &mut Context<Self>) {
        self.respond(msg.tx, msg.response);
        self.drain(ctx);
    }
}

impl Handler<EndpointGone> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: EndpointGone, _ctx: &mut Context<Self>) {
        if let Some(a) = self.registrations.remove(&msg.0) {
            a.do_send(super::registration::Purge);
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
                Some(a) => a
                    .send(super::registration::Current)
                    .await
                    .unwrap_or_default(),
                None => Vec::new(),
            }
        })
    }
}
