//! The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as updated by RFC 6026).
//!
//! After a 2xx the transaction enters Accepted: it absorbs retransmitted INVITEs and, over
//! UDP, retransmits the 2xx itself until the ACK (a separate transaction, matched by Call-ID,
//! CSeq and From tag) arrives — the UA-core duty of §13.3.1.4, kept here so every caller gets
//! it right. Timer L ends it; a 2xx never acknowledged is reported as a timeout so the TU can
//! hang up.

use std::time::Instant;

use bytes::Bytes;

use super::timer::Timers;
use super::tx::{Slot, State, Step, Tx};
use super::TxEvent;

pub(crate) fn start(tx: &mut Tx) {
    tx.state = State::Proceeding;
}

/// A retransmission of the INVITE.
pub(crate) fn on_request(tx: &mut Tx) -> Step {
    match tx.state {
        State::Proceeding | State::Completed => {
            tx.last.clone().map(Step::send).unwrap_or_else(Step::none)
        }
        _ => Step::none(),
    }
}

/// An ACK that matched this transaction's key: the ACK of a non-2xx final response.
pub(crate) fn on_ack(tx: &mut Tx, t: &Timers, now: Instant) -> Step {
    if tx.state != State::Completed {
        return Step::none();
    }
    tx.state = State::Confirmed;
    tx.retransmit_at = None;
    let i = t.timer_t4(tx.reliable());
    if i.is_zero() {
        return Step::terminate();
    }
    tx.timeout_at = Some(now + i);
    Step::none()
}

/// The ACK of our 2xx arrived.
pub(crate) fn on_2xx_ack(tx: &mut Tx) {
    if tx.state == State::Accepted {
        tx.acked = true;
        tx.retransmit_at = None;
        // Until Timer L the transaction only absorbs retransmitted INVITEs, which need no
        // reply: the 2xx bytes (often 1 KiB with SDP) are not kept for those 32 s.
        tx.last = None;
    }
}

pub(crate) fn on_respond(
    tx: &mut Tx,
    t: &Timers,
    now: Instant,
    bytes: Bytes,
    status: u16,
) -> Option<Step> {
    match (tx.state, status) {
        (State::Proceeding, 100..=199) => {
            tx.last = Some(bytes.clone());
            Some(Step::send(bytes))
        }
        (State::Proceeding, 200..=299) => {
            tx.state = State::Accepted;
            tx.last = Some(bytes.clone());
            tx.interval = t.t1;
            if !tx.reliable() {
                tx.retransmit_at = Some(now + t.t1);
            }
            tx.timeout_at = Some(now + t.transaction_timeout());
            Some(Step::send(bytes))
        }
        (State::Accepted, 200..=299) => {
            tx.last = Some(bytes.clone());
            Some(Step::send(bytes))
        }
        (State::Proceeding, _) => {
            tx.state = State::Completed;
            tx.last = Some(bytes.clone());
            tx.interval = t.t1;
            if !tx.reliable() {
                tx.retransmit_at = Some(now + t.t1);
            }
            tx.timeout_at = Some(now + t.transaction_timeout());
            Some(Step::send(bytes))
        }
        _ => None,
    }
}

pub(crate) fn on_timer(tx: &mut Tx, t: &Timers, now: Instant, slot: Slot) -> Step {
    match (tx.state, slot) {
        // Timer G, and the 2xx retransmission of §13.3.1.4.
        (State::Completed | State::Accepted, Slot::Retransmit) => {
            tx.interval = t.double_capped(tx.interval);
            tx.retransmit_at = Some(now + tx.interval);
            tx.last.clone().map(Step::send).unwrap_or_else(Step::none)
        }
        // Timer H: no ACK for our final response.
        (State::Completed, Slot::Timeout) => {
            let mut s = Step::event(TxEvent::Timeout { tx: tx.id });
            s.terminate = true;
            s
        }
        // Timer L.
        (State::Accepted, Slot::Timeout) => {
            let mut s = if tx.acked {
                Step::none()
            } else {
                Step::event(TxEvent::Timeout { tx: tx.id })
            };
            s.terminate = true;
            s
        }
        // Timer I.
        (State::Confirmed, Slot::Timeout) => Step::terminate(),
        _ => Step::none(),
    }
}
