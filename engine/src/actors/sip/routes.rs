//! Who gets what the transaction layer reports: client transactions to the actor that sent
//! them, in-dialog requests to the call that owns the dialog, the caller's CANCEL to its call.
//!
//! Also the SIP actor's side of that exchange: the messages calls, group rings and
//! registrations send it ([`Respond`], [`SendRequest`], [`RouteDialog`]...) and [`SipLink`],
//! the recipients they hold instead of the SIP actor's address. They live here, not in
//! `sip/mod.rs`, so that `call.rs` and `fork.rs` name the messages without importing the actor
//! that starts them (no import circle; `tests/module_cycles.rs` checks it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::prelude::*;

use crate::call::dialog::{DialogId, DialogRoutes};
use crate::call::LegId;
use crate::sip::message::{Request, Response};
use crate::sip::transaction::TxId;
use crate::sip::Peer;

/// A request's number chosen by the actor that sends it, so it can cancel it and recognise
/// its answers without waiting for the transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestKey(pub u64);

impl RequestKey {
    pub fn next() -> RequestKey {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        RequestKey(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// How a client transaction ended up.
#[derive(Debug, Clone)]
pub enum TxOutcome {
    Response(Response),
    /// No final response (Timer B/F) or the connection broke.
    Failed,
}

/// A client transaction's news, for the actor that sent the request.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct TxReport {
    pub key: RequestKey,
    pub outcome: TxOutcome,
}

/// What happens in a call's dialogs, for its call actor.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub enum CallSignal {
    Request {
        leg: LegId,
        tx: TxId,
        request: Box<Request>,
    },
    Ack {
        leg: LegId,
    },
    CallerCancelled,
    /// Our 2xx to the caller was never ACKed.
    AckTimeout,
}

/// A response a call or a registration decided, to send on a server transaction.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Respond {
    pub tx: TxId,
    pub response: Response,
}

/// Send a request in a new client transaction; its news go to `owner` under `key`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendRequest {
    pub key: RequestKey,
    pub request: Request,
    pub peer: Peer,
    pub owner: Recipient<TxReport>,
}

/// CANCEL the INVITE sent under `key` (RFC 3261 §9.1; deferred until a provisional came).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CancelRequest(pub RequestKey);

/// Send an ACK for a 2xx (no transaction).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendAck {
    pub request: Request,
    pub peer: Peer,
}

/// In-dialog requests of this dialog (Call-ID and tags) belong to `owner`'s leg `leg`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RouteDialog {
    pub dialog: DialogId,
    pub leg: LegId,
    pub owner: Recipient<CallSignal>,
}

/// A call is over: forget its dialogs, free its slot in the app's call limit.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CallEnded {
    pub appid: u64,
    pub dialogs: Vec<(DialogId, LegId)>,
    pub owner: Recipient<CallSignal>,
}

/// What a call and its group rings may ask of the SIP actor. One per SIP actor, shared
/// (`Arc`) by every call and ring it starts.
#[derive(Clone)]
pub struct SipLink {
    pub respond: Recipient<Respond>,
    pub send: Recipient<SendRequest>,
    pub cancel: Recipient<CancelRequest>,
    pub ack: Recipient<SendAck>,
    pub route: Recipient<RouteDialog>,
    pub ended: Recipient<CallEnded>,
}

impl SipLink {
    /// The recipients of an actor that handles all of these (the SIP actor; a stand-in in a
    /// test).
    pub fn new<A>(sip: &Addr<A>) -> SipLink
    where
        A: Actor<Context = Context<A>>
            + Handler<Respond>
            + Handler<SendRequest>
            + Handler<CancelRequest>
            + Handler<SendAck>
            + Handler<RouteDialog>
            + Handler<CallEnded>,
    {
        SipLink {
            respond: sip.clone().recipient(),
            send: sip.clone().recipient(),
            cancel: sip.clone().recipient(),
            ack: sip.clone().recipient(),
            route: sip.clone().recipient(),
            ended: sip.clone().recipient(),
        }
    }
}

#[derive(Default)]
pub(crate) struct Routes {
    client: HashMap<TxId, (Recipient<TxReport>, RequestKey)>,
    keys: HashMap<RequestKey, TxId>,
    /// By Call-ID *and* tags (§12.2.2): see [`DialogRoutes`].
    dialogs: DialogRoutes<(Recipient<CallSignal>, LegId)>,
    invites: HashMap<TxId, Recipient<CallSignal>>,
    calls_per_app: HashMap<u64, usize>,
}

impl Routes {
    pub fn client_sent(&mut self, tx: TxId, key: RequestKey, owner: Recipient<TxReport>) {
        self.client.insert(tx, (owner, key));
        self.keys.insert(key, tx);
    }

    pub fn tx_of(&self, key: RequestKey) -> Option<TxId> {
        self.keys.get(&key).copied()
    }

    pub fn report(&self, tx: TxId, outcome: TxOutcome) -> bool {
        match self.client.get(&tx) {
            Some((owner, key)) => {
                owner.do_send(TxReport { key: *key, outcome });
                true
            }
            None => false,
        }
    }

    /// In-dialog requests of `id` go to `owner`'s leg `leg`; `false` when another call holds
    /// that dialog (it keeps it).
    pub fn dialog(&mut self, id: DialogId, owner: Recipient<CallSignal>, leg: LegId) -> bool {
        self.dialogs.insert(id, (owner, leg))
    }

    /// Forgets `owner`'s routes of these dialogs (a call ended).
    pub fn forget_dialogs(&mut self, ids: &[(DialogId, LegId)], owner: &Recipient<CallSignal>) {
        for (id, leg) in ids {
            self.dialogs.remove(id, &(owner.clone(), *leg));
        }
    }

    /// The call and leg a received in-dialog request (or ACK) belongs to.
    pub fn dialog_owner(&self, req: &Request) -> Option<(Recipient<CallSignal>, LegId)> {
        self.dialogs.owner_of(req).cloned()
    }

    pub fn invite(&mut self, tx: TxId, owner: Recipient<CallSignal>) {
        self.invites.insert(tx, owner);
    }

    pub fn invite_owner(&self, tx: TxId) -> Option<&Recipient<CallSignal>> {
        self.invites.get(&tx)
    }

    /// The transaction is gone: nothing more will be reported for it.
    pub fn terminated(&mut self, tx: TxId) {
        if let Some((_, key)) = self.client.remove(&tx) {
            self.keys.remove(&key);
        }
        self.invites.remove(&tx);
    }

    pub fn calls_of(&self, app: u64) -> usize {
        self.calls_per_app.get(&app).copied().unwrap_or(0)
    }

    /// Live calls of every app (a drain waits for this to reach zero).
    pub fn total_calls(&self) -> usize {
        self.calls_per_app.values().sum()
    }

    pub fn call_started(&mut self, app: u64) {
        *self.calls_per_app.entry(app).or_default() += 1;
    }

    pub fn call_ended(&mut self, app: u64) {
        if let Some(n) = self.calls_per_app.get_mut(&app) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.calls_per_app.remove(&app);
            }
        }
    }
}
