//! The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

use std::time::Instant;

use super::timer::Timers;
use super::tx::{Slot, State, Step, Tx};
use super::TxEvent;
use crate::sip::message::Response;

/// Starts the transaction: the request is sent by the caller; arm Timers E and F.
pub(crate) fn start(tx: &mut Tx, t: &Timers, now: Instant) {
    tx.state = State::Trying;
    tx.interval = t.t1;
    if !tx.reliable() {
        tx.retransmit_at = Some(now + t.t1);
    }
    tx.timeout_at = Some(now + t.transaction_timeout());
}

pub(crate) fn on_response(tx: &mut Tx, t: &Timers, now: Instant, resp: Response) -> Step {
    match tx.state {
        State::Trying | State::Proceeding if resp.is_provisional() => {
            tx.state = State::Proceeding;
            Step::event(TxEvent::Response {
                tx: tx.id,
                response: resp,
            })
        }
        State::Trying | State::Proceeding => {
            tx.state = State::Completed;
            tx.retransmit_at = None;
            let k = t.timer_t4(tx.reliable());
            let mut step = Step::event(TxEvent::Response {
                tx: tx.id,
                response: resp,
            });
            if k.is_zero() {
                step.terminate = true;
            } else {
                tx.timeout_at = Some(now + k);
            }
            step
        }
        // Retransmitted finals in Completed are absorbed.
        _ => Step::none(),
    }
}

pub(crate) fn on_timer(tx: &mut Tx, t: &Timers, now: Instant, slot: Slot) -> Step {
    match (tx.state, slot) {
        (State::Trying | State::Proceeding, Slot::Retransmit) => {
            // Timer E: doubles up to T2; in Proceeding it is T2 straight away.
            tx.interval = if tx.state == State::Proceeding {
                t.t2
            } else {
                t.double_capped(tx.interval)
            };
            tx.retransmit_at = Some(now + tx.interval);
            tx.last.clone().map(Step::send).unwrap_or_else(Step::none)
        }
        (State::Trying | State::Proceeding, Slot::Timeout) => {
            // Timer F.
            let mut s = Step::event(TxEvent::Timeout { tx: tx.id });
            s.terminate = true;
            s
        }
        // Timer K.
        (State::Completed, Slot::Timeout) => Step::terminate(),
        _ => Step::none(),
    }
}
