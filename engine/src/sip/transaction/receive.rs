//! What arrives on the wire for the transactions: requests (new server transactions,
//! retransmissions, ACKs and CANCELs) and responses (for client transactions).

use std::time::Instant;

use super::key::{AckKey, ClientKey, ServerKey};
use super::tx::Key;
use super::{
    client_invite, client_non_invite, server_invite, server_non_invite, Kind, Output, State,
    TransactionLayer, TxEvent, TxId,
};
use crate::sip::message::{response_to, Method, Request, Response};
use crate::sip::Peer;

impl TransactionLayer {
    pub(super) fn on_request(&mut self, now: Instant, mut req: Request, source: Peer) {
        let reply = self.stamp_via(&mut req, source);
        match req.method {
            Method::Ack => self.on_ack(now, req, reply),
            Method::Cancel => self.on_cancel(now, req, reply),
            _ => {
                let Some(key) = ServerKey::of(&req, None) else {
                    return;
                };
                if self.retransmission(&key) {
                    return;
                }
                if req.method == Method::Invite && self.accepted.server(&key).is_some() {
                    // A retransmission of an INVITE answered and ACKed: absorbed (RFC 6026).
                    return;
                }
                if self.full_for(&reply) {
                    self.reject_stateless(&req, reply, 503);
                    self.out
                        .push_back(Output::Event(TxEvent::Overloaded { peer: reply }));
                    return;
                }
                let invite = req.method == Method::Invite;
                let kind = if invite {
                    Kind::ServerInvite
                } else {
                    Kind::ServerNonInvite
                };
                let id = self.insert(kind, Key::Server(key), reply, req.clone(), false);
                self.index_server(id);
                let tx = self.txs.get_mut(&id).expect("just inserted");
                if invite {
                    server_invite::start(tx);
                } else {
                    server_non_invite::start(tx);
                }
                // §17.2.1: a 100 Trying at once quenches the client's INVITE retransmissions.
                let trying = invite.then(|| response_to(&req, 100, None));
                self.out.push_back(Output::Event(TxEvent::Request {
                    tx: id,
                    request: req,
                    peer: reply,
                }));
                if let Some(trying) = trying {
                    let _ = self.respond(now, id, trying);
                }
            }
        }
    }

    /// A request matching a live server transaction is a retransmission: that transaction
    /// answers it (or absorbs it). False when nothing matched.
    fn retransmission(&mut self, key: &ServerKey) -> bool {
        let Some(id) = self.find_server(key) else {
            return false;
        };
        let tx = self
            .txs
            .get_mut(&id)
            .expect("key index points at a live tx");
        let step = match tx.kind {
            Kind::ServerInvite => server_invite::on_request(tx),
            _ => server_non_invite::on_request(tx),
        };
        self.apply(id, step);
        true
    }

    fn index_server(&mut self, id: TxId) {
        if let Some(Key::Server(k)) = self.txs.get(&id).map(|t| &t.key) {
            self.server_keys.insert(k, id);
        }
    }

    fn find_server(&self, key: &ServerKey) -> Option<TxId> {
        self.server_keys
            .get(key, |id| match &self.txs.get(&id)?.key {
                Key::Server(k) => Some(k),
                Key::Client(_) => None,
            })
    }

    fn on_ack(&mut self, now: Instant, req: Request, peer: Peer) {
        if let Some(id) = ServerKey::of(&req, None).and_then(|k| self.find_server(&k)) {
            let tx = self
                .txs
                .get_mut(&id)
                .expect("key index points at a live tx");
            if tx.state != State::Accepted {
                let step = server_invite::on_ack(tx, &self.cfg.timers, now);
                self.apply(id, step);
                return;
            }
            // Some clients reuse the INVITE's branch for the 2xx ACK: still the 2xx's ACK.
            server_invite::on_2xx_ack(tx);
            self.keep_as_accepted(id);
        } else if let Some(&id) = AckKey::of(&req).as_ref().and_then(|k| self.ack_keys.get(k)) {
            if let Some(tx) = self.txs.get_mut(&id) {
                server_invite::on_2xx_ack(tx);
                self.keep_as_accepted(id);
            }
        }
        self.out
            .push_back(Output::Event(TxEvent::Ack { request: req, peer }));
    }

    fn on_cancel(&mut self, now: Instant, req: Request, peer: Peer) {
        let Some(key) = ServerKey::of(&req, None) else {
            return;
        };
        if self.retransmission(&key) {
            return;
        }
        if self.full_for(&peer) {
            // CANCELs create transactions too: the same caps apply.
            self.reject_stateless(&req, peer, 503);
            self.out
                .push_back(Output::Event(TxEvent::Overloaded { peer }));
            return;
        }
        let invite_key = ServerKey::of(&req, Some(Method::Invite));
        let invite = invite_key.as_ref().and_then(|k| self.find_server(k));
        // An INVITE answered and ACKed still exists (Timer L): 200, as for one not yet ACKed.
        let answered = invite_key
            .as_ref()
            .is_some_and(|k| self.accepted.server(k).is_some());
        let id = self.insert(
            Kind::ServerNonInvite,
            Key::Server(key),
            peer,
            req.clone(),
            false,
        );
        self.index_server(id);
        if let Some(tx) = self.txs.get_mut(&id) {
            server_non_invite::start(tx);
        }
        let proceeding = invite.is_some_and(|i| self.state(i) == Some(State::Proceeding));
        let status = if invite.is_some() || answered {
            200
        } else {
            481
        };
        let tag = self.token(10);
        let _ = self.respond(now, id, response_to(&req, status, Some(&tag)));
        if let (Some(invite), true) = (invite, proceeding) {
            self.out
                .push_back(Output::Event(TxEvent::Cancelled { invite }));
        }
    }

    pub(super) fn on_response(&mut self, now: Instant, resp: Response) {
        let Some(key) = ClientKey::of_response(&resp) else {
            return;
        };
        let Some(id) = self.client_keys.get(&key).copied() else {
            // Timer M running: more 2xx (retransmissions, other forks) go up to the TU.
            if let Some(id) = self.accepted.client(&key) {
                if (200..300).contains(&resp.status) {
                    self.out.push_back(Output::Event(TxEvent::Response {
                        tx: id,
                        response: resp,
                    }));
                }
            }
            // Else no transaction: dropped (RFC 3261 §18.1.2), e.g. RFC 4475 bcast.
            return;
        };
        let tx = self
            .txs
            .get_mut(&id)
            .expect("key index points at a live tx");
        let t = &self.cfg.timers;
        match tx.kind {
            Kind::ClientInvite => {
                let outcome = client_invite::on_response(tx, t, now, resp);
                self.apply(id, outcome.step);
                if outcome.send_cancel {
                    self.send_cancel(now, id);
                }
                self.keep_as_accepted(id);
            }
            _ => {
                let step = client_non_invite::on_response(tx, t, now, resp);
                self.apply(id, step);
            }
        }
    }
}
