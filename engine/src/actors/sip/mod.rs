//! The SIP actor: the shell around the sans-IO transaction layer.
//!
//! It feeds inbound bytes and timer wake-ups to [`TransactionLayer`], drains its output —
//! transmissions go straight to the sockets, events are routed — and schedules one actix timer
//! for the layer's next deadline. Routing decisions are the cores' (`sip::uas` screening,
//! `sip::auth` digest checks, `sip::registrar` bindings, `call::admission`); this module only
//! wires them to I/O and keeps the routing tables ([`routes`]) that send each transaction
//! event to the actor it belongs to.

mod invite;
mod proxy;
mod register;
pub mod routes;
mod security;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

pub use invite::{CallDeps, LivePlacement, PlaceCall, PlaceError};
pub use proxy::EnableCluster;
use routes::{
    CallEnded, CallSignal, CancelRequest, Respond, RouteDialog, Routes, SendAck, SendRequest,
    TxOutcome, TxReport,
};
pub use security::{ApplyDefences, BanEntry, Drain, GetSipStats, ListBans, SipStats, Unban};

use super::call::CallEnv;
use super::registration::{RegistrationActor, RegistrationLink};
use super::transport::{ConnClosed, SipInbound, Sockets};
use crate::sip::auth::Authenticator;
use crate::sip::defence::{AuthGuard, BanConfig};
use crate::sip::message::{HeaderView, Method, Request, Response};
use crate::sip::registrar::{Aor, Binding, Domains, RegistrarConfig};
use crate::sip::transaction::{Output, TransactionLayer, TxEvent, TxId};
use crate::sip::uas::{self, Capabilities};
use crate::sip::Peer;
use crate::store::{GroupCommit, Store};

/// An endpoint was removed or disabled: its bindings go at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EndpointGone(pub Aor);

/// Registrations loaded from the store at start-up.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Restore(pub Vec<(Aor, Vec<Binding>)>);

/// The live bindings of an address of record.
#[derive(Message)]
#[rtype(result = "Vec<Binding>")]
pub struct LookupBindings(pub Aor);

/// Hands the SIP actor what calls need (the media engine, the HTTP client, the report sink).
#[derive(Message)]
#[rtype(result = "()")]
pub struct EnableCalls(pub CallDeps);

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
    /// The addresses of record with live bindings over each stream connection (flows).
    flows: HashMap<crate::sip::ConnId, HashSet<Aor>>,
    /// What registration actors answer through, made once (see `register.rs`).
    registration_link: Option<Arc<RegistrationLink>>,
    timer: Option<(Instant, SpawnHandle)>,
    routes: Routes,
    calls: Option<CallDeps>,
    /// What every call actor shares, made once from `calls` (see [`SipActor::call_env`]).
    call_env: Option<Arc<CallEnv>>,
    /// Per-source bans and per-user slow-downs after failed authentications.
    guard: AuthGuard,
    ban_secs: u64,
    /// Set once a drain began: new INVITEs get 503 with this Retry-After.
    draining: Option<Duration>,
    /// This node among others sharing the store (`None`: a single node).
    cluster: Option<super::cluster::Cluster>,
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
            flows: HashMap::new(),
            registration_link: None,
            timer: None,
            routes: Routes::default(),
            calls: None,
            call_env: None,
            guard: AuthGuard::new(BanConfig::default()),
            ban_secs: BanConfig::default().ban.as_secs(),
            draining: None,
            cluster: None,
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
            TxEvent::Ack { request, .. } => {
                // An ACK for a 2xx, in a dialog: matched by Call-ID and tags like any request.
                if let Some((owner, leg)) = self.routes.dialog_owner(&request) {
                    owner.do_send(CallSignal::Ack { leg });
                }
            }
            TxEvent::Cancelled { invite } => {
                if let Some(owner) = self.routes.invite_owner(invite) {
                    owner.do_send(CallSignal::CallerCancelled);
                }
            }
            TxEvent::Response { tx, response } => {
                self.routes.report(tx, TxOutcome::Response(response));
            }
            TxEvent::Timeout { tx } | TxEvent::TransportError { tx } => {
                if !self.routes.report(tx, TxOutcome::Failed) {
                    // A server INVITE whose 2xx (or error) was never acknowledged.
                    if let Some(owner) = self.routes.invite_owner(tx) {
                        owner.do_send(CallSignal::AckTimeout);
                    }
                }
            }
            TxEvent::Terminated { tx } => self.routes.terminated(tx),
        }
    }

    fn on_request(&mut self, tx: TxId, req: Request, peer: Peer, ctx: &mut Context<Self>) {
        let tag = self.layer.token(10);
        // A banned source gets nothing else; a draining engine takes no new calls.
        if let Some(resp) = self
            .ban_gate(&req, &peer, &tag)
            .or_else(|| self.drain_gate(&req, &tag))
        {
            self.respond(tx, resp);
            return;
        }
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
            _ if has_to_tag(&req) => self.in_dialog(tx, req, tag),
            Method::Invite => self.on_invite(tx, req, peer, tag, ctx),
            _ => {
                // BYE, INFO... outside any dialog (§12.2.2).
                let resp = uas::reject_with(&req, 481, &tag, "no such dialog");
                self.respond(tx, resp);
            }
        }
    }

    /// A request in an existing dialog goes to the call that owns it — by Call-ID and both
    /// tags (§12.2.2); one whose tags match no dialog gets 481, whatever its Call-ID.
    fn in_dialog(&mut self, tx: TxId, req: Request, tag: String) {
        match self.routes.dialog_owner(&req) {
            Some((owner, leg)) => owner.do_send(CallSignal::Request {
                leg,
                tx,
                request: Box::new(req),
            }),
            None => {
                let resp = uas::reject_with(&req, 481, &tag, "no such dialog");
                self.respond(tx, resp);
            }
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
        if self.proxied(&msg.0) {
            return;
        }
        self.layer.handle_inbound(Instant::now(), msg.0);
        self.drain(ctx);
    }
}

impl Handler<ConnClosed> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: ConnClosed, ctx: &mut Context<Self>) {
        self.layer.transport_error(msg.conn);
        self.flow_closed(msg.conn, msg.peer);
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

impl Handler<SendRequest> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: SendRequest, ctx: &mut Context<Self>) {
        match self
            .layer
            .send_request(Instant::now(), msg.request, msg.peer)
        {
            Ok(tx) => self.routes.client_sent(tx, msg.key, msg.owner),
            Err(e) => {
                tracing::warn!(error = %e, "request not sent");
                msg.owner.do_send(TxReport {
                    key: msg.key,
                    outcome: TxOutcome::Failed,
                });
            }
        }
        self.drain(ctx);
    }
}

impl Handler<CancelRequest> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: CancelRequest, ctx: &mut Context<Self>) {
        if let Some(tx) = self.routes.tx_of(msg.0) {
            let _ = self.layer.cancel(Instant::now(), tx);
        }
        self.drain(ctx);
    }
}

impl Handler<SendAck> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: SendAck, ctx: &mut Context<Self>) {
        if let Err(e) = self.layer.send_ack(msg.request, msg.peer) {
            tracing::debug!(error = %e, "ACK not sent");
        }
        self.drain(ctx);
    }
}

impl Handler<RouteDialog> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: RouteDialog, _ctx: &mut Context<Self>) {
        if !self.routes.dialog(msg.dialog, msg.owner, msg.leg) {
            tracing::warn!("a dialog's identifiers are already routed to another call; kept");
        }
    }
}

impl Handler<CallEnded> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: CallEnded, _ctx: &mut Context<Self>) {
        self.routes.forget_dialogs(&msg.dialogs, &msg.owner);
        self.routes.call_ended(msg.appid);
    }
}

impl Handler<EnableCalls> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: EnableCalls, _ctx: &mut Context<Self>) {
        self.calls = Some(msg.0);
        // Calls from now on share an environment made from these.
        self.call_env = None;
    }
}

/// A To tag means an existing dialog (§12.2).
fn has_to_tag(req: &Request) -> bool {
    req.hdr_to().is_ok_and(|t| t.tag().is_some())
}
