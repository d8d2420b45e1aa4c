//! One actor per address of record: it owns that AOR's bindings, applies REGISTERs to them in
//! arrival order (the §10.3 read-modify-write needs no lock that way), makes each change
//! durable before its 200 is sent, and purges bindings when they expire.
//!
//! When several nodes share the store, the actor owns only the bindings whose flows this node
//! holds (`RegistrarConfig::node`); those of other nodes for the same AOR come from the store,
//! are seen by a REGISTER (a device moving between nodes replaces its binding) and are written
//! back untouched with every change (`registrar::with_others`). Each node expires its own.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::clock::unix_now;
use super::sip::routes::Respond;
use crate::log_field::Escaped;
use crate::metrics::BindingCount;
use crate::sip::message::{response_to, Request};
use crate::sip::registrar::{self, Aor, Binding, RegistrarConfig};
use crate::sip::transaction::TxId;
use crate::sip::uas::reject_with;
use crate::sip::Peer;
use crate::store::{GroupCommit, Store, StoreError};

/// A binding was registered (or refreshed, or removed) over stream connection `conn`: the
/// connection is a flow until `until` (Unix seconds; the latest expiry of the bindings it
/// carries, now or earlier when none is left).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlowSeen {
    pub conn: crate::sip::ConnId,
    pub until: u64,
    /// Whose bindings ride on it.
    pub aor: Aor,
}

/// The connection a flow rode on closed: bindings made over it that cannot be reached any
/// other way (WS, WSS, TLS: `Transport::binding_needs_its_connection`) go now, so a call
/// does not ring a contact nobody can reach. TCP bindings stay: the device may be reached by
/// a new connection, as before.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlowClosed(pub Peer);

/// A registration actor stopped (no bindings left).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RegistrationIdle(pub Aor);

/// Where a registration actor's answers and news go (the SIP actor that started it), as
/// recipients: this module names messages (its own and `sip::routes`'), never the SIP actor
/// that starts it, so the two do not import each other.
pub struct RegistrationLink {
    pub respond: Recipient<Respond>,
    pub flow: Recipient<FlowSeen>,
    pub idle: Recipient<RegistrationIdle>,
}

/// An authenticated REGISTER for this actor's address of record.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Register {
    pub tx: TxId,
    pub request: Request,
    pub peer: Peer,
    pub now: u64,
    pub to_tag: String,
}

/// Drop every binding now (endpoint removed or disabled) and stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Purge;

/// The live bindings.
#[derive(Message)]
#[rtype(result = "Vec<Binding>")]
pub struct Current;

pub struct RegistrationActor {
    aor: Aor,
    bindings: Vec<Binding>,
    cfg: RegistrarConfig,
    store: Arc<dyn Store>,
    commit: GroupCommit,
    sip: Arc<RegistrationLink>,
    expiry: Option<SpawnHandle>,
    /// This actor's share of the `ringmaster_registrations` gauge.
    count: BindingCount,
}

impl RegistrationActor {
    pub fn new(
        aor: Aor,
        bindings: Vec<Binding>,
        cfg: RegistrarConfig,
        store: Arc<dyn Store>,
        commit: GroupCommit,
        sip: Arc<RegistrationLink>,
    ) -> Self {
        RegistrationActor {
            aor,
            bindings,
            cfg,
            store,
            commit,
            sip,
            expiry: None,
            count: BindingCount::default(),
        }
    }

    /// Arms one timer for the earliest expiry.
    fn schedule_expiry(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.expiry.take() {
            ctx.cancel_future(h);
        }
        let Some(next) = self.bindings.iter().map(|b| b.expires_at).min() else {
            return;
        };
        let delay =
            Duration::from_secs(next.saturating_sub(unix_now())) + Duration::from_millis(50);
        self.expiry = Some(ctx.run_later(delay, |act, ctx| {
            act.expiry = None;
            act.expire(ctx);
        }));
    }

    /// The AOR's whole set to write: ours, and what the store holds for other nodes.
    fn with_others(&self, ours: &[Binding]) -> Vec<Binding> {
        match self.cfg.node.as_deref() {
            None => ours.to_vec(),
            node => {
                let stored = self.store.bindings(&self.aor).unwrap_or_default();
                registrar::with_others(ours, &stored, node)
            }
        }
    }

    fn expire(&mut self, ctx: &mut Context<Self>) {
        let now = unix_now();
        let before = self.bindings.len();
        self.bindings.retain(|b| b.expires_at > now);
        self.count.set(self.bindings.len());
        if self.bindings.len() != before {
            // An expiry needs no acknowledgement, so it rides on the next group commit.
            let all = self.with_others(&self.bindings);
            if let Err(e) = self.store.put_bindings(&self.aor, &all) {
                tracing::error!(aor = %Escaped(&self.aor.to_string()), error = %e, "could not purge expired bindings");
            }
            tracing::info!(aor = %Escaped(&self.aor.to_string()), expired = before - self.bindings.len(), "bindings expired");
        }
        if self.bindings.is_empty() {
            ctx.stop();
        } else {
            self.schedule_expiry(ctx);
        }
    }
}

impl Actor for RegistrationActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.count.set(self.bindings.len());
        self.schedule_expiry(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.sip.idle.do_send(RegistrationIdle(self.aor.clone()));
    }
}

impl Handler<Register> for RegistrationActor {
    type Result = ();

    fn handle(&mut self, msg: Register, ctx: &mut Context<Self>) {
        // Other nodes' bindings of this AOR take part: a device that moved here from another
        // node replaces its binding there, and `*` removes them all.
        let current = self.with_others(&self.bindings);
        let update = match registrar::apply(
            &msg.request,
            &current,
            msg.now,
            msg.peer,
            &self.cfg,
            &msg.to_tag,
        ) {
            Ok(u) => u,
            Err(resp) => {
                self.sip.respond.do_send(Respond {
                    tx: msg.tx,
                    response: *resp,
                });
                return;
            }
        };
        // A REGISTER over a stream makes its connection a flow for as long as the bindings
        // it carries live (RFC 5626): calls come back on it and it is not closed when quiet.
        if let Some((conn, until)) = update.flow(&msg.peer) {
            self.sip.flow.do_send(FlowSeen {
                conn,
                until,
                aor: self.aor.clone(),
            });
        }
        if !update.changed {
            self.sip.respond.do_send(Respond {
                tx: msg.tx,
                response: update.response,
            });
            return;
        }
        match self.store.put_bindings(&self.aor, &update.bindings) {
            Ok(()) => {}
            // The endpoint was removed or disabled since the REGISTER was admitted.
            Err(StoreError::NotFound) => {
                self.sip.respond.do_send(Respond {
                    tx: msg.tx,
                    response: reject_with(&msg.request, 403, &msg.to_tag, "endpoint removed"),
                });
                return;
            }
            Err(e) => {
                tracing::error!(aor = %Escaped(&self.aor.to_string()), error = %e, "could not store bindings");
                self.sip.respond.do_send(Respond {
                    tx: msg.tx,
                    response: store_failed(&msg.request, &msg.to_tag, &e),
                });
                return;
            }
        }
        let node = self.cfg.node.as_deref();
        self.bindings = update
            .bindings
            .iter()
            .filter(|b| b.held_by(node))
            .cloned()
            .collect();
        self.count.set(self.bindings.len());
        self.schedule_expiry(ctx);
        tracing::debug!(aor = %Escaped(&self.aor.to_string()), bindings = self.bindings.len(), "registration updated");
        // The 200 leaves only once the binding is on disk (a group commit with every other
        // write of the moment).
        let commit = self.commit.clone();
        let sip = self.sip.clone();
        let ok = update.response;
        let request = msg.request;
        let to_tag = msg.to_tag;
        let tx = msg.tx;
        ctx.spawn(
            async move {
                let response = match commit.sync().await {
                    Ok(()) => ok,
                    Err(e) => {
                        tracing::error!(error = %e, "store flush failed; REGISTER refused");
                        store_failed(&request, &to_tag, &e)
                    }
                };
                sip.respond.do_send(Respond { tx, response });
            }
            .into_actor(self),
        );
    }
}

impl Handler<FlowClosed> for RegistrationActor {
    type Result = ();
    fn handle(&mut self, msg: FlowClosed, ctx: &mut Context<Self>) {
        let peer = msg.0;
        if !peer.transport.binding_needs_its_connection() {
            return;
        }
        let before = self.bindings.len();
        self.bindings
            .retain(|b| !(b.transport == peer.transport && b.source == peer.addr));
        let gone = before - self.bindings.len();
        if gone == 0 {
            return;
        }
        self.count.set(self.bindings.len());
        // Like an expiry: no one waits for it, so it rides on the next group commit.
        let all = self.with_others(&self.bindings);
        if let Err(e) = self.store.put_bindings(&self.aor, &all) {
            tracing::error!(aor = %Escaped(&self.aor.to_string()), error = %e, "could not drop the bindings of a closed connection");
        }
        tracing::info!(aor = %Escaped(&self.aor.to_string()), transport = %peer.transport, source = %peer.addr, dropped = gone, "connection closed: its bindings dropped");
        if self.bindings.is_empty() {
            ctx.stop();
        } else {
            self.schedule_expiry(ctx);
        }
    }
}

impl Handler<Purge> for RegistrationActor {
    type Result = ();
    fn handle(&mut self, _: Purge, ctx: &mut Context<Self>) {
        self.bindings.clear();
        self.count.set(0);
        if let Err(e) = self.store.put_bindings(&self.aor, &[]) {
            tracing::error!(aor = %Escaped(&self.aor.to_string()), error = %e, "could not purge bindings");
        }
        ctx.stop();
    }
}

impl Handler<Current> for RegistrationActor {
    type Result = MessageResult<Current>;
    fn handle(&mut self, _: Current, _ctx: &mut Context<Self>) -> Self::Result {
        let now = unix_now();
        MessageResult(
            self.bindings
                .iter()
                .filter(|b| b.expires_at > now)
                .cloned()
                .collect(),
        )
    }
}

/// The answer to a REGISTER whose binding could not be stored: 503 with Retry-After while a
/// shared store's database is away (RFC 3261 §21.5.4: the client retries, or tries another
/// node), 500 for any other failure.
fn store_failed(request: &Request, to_tag: &str, e: &StoreError) -> crate::sip::message::Response {
    let unavailable = match e {
        StoreError::Unavailable(_) => true,
        StoreError::FlushFailed(inner) => matches!(inner.as_ref(), StoreError::Unavailable(_)),
        _ => false,
    };
    if unavailable {
        let mut r = response_to(request, 503, Some(to_tag));
        r.headers
            .push(crate::sip::message::HeaderName::RetryAfter, "5");
        r
    } else {
        response_to(request, 500, Some(to_tag))
    }
}
