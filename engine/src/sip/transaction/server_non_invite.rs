//! The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

use std::time::Instant;

use bytes::Bytes;

use super::timer::Timers;
use super::tx::{Slot, State, Step, Tx};

pub(crate) fn start(tx: &mut Tx) {
    tx.state = State::Trying;
}

/// A retransmission of the request.
pub(crate) fn on_request(tx: &mut Tx) -> Step {
    match tx.state {
        State::Proceeding | State::Completed => {
            tx.last.clone().map(Step::send).unwrap_or_else(Step::none)
        }
        // Trying: no response yet, the retransmission is absorbed.
        _ => Step::none(),
    }
}

/// The TU sends a response; false if the transaction can no longer take one.
pub(crate) fn on_respond(
    tx: &mut Tx,
    t: &Timers,
    now: Instant,
    bytes: Bytes,
    provisional: bool,
) -> Option<Step> {
    if !matches!(tx.state, State::Trying | State::Proceeding) {
        return None;
    }
    tx.last = Some(bytes.clone());
    let mut step = Step::send(bytes);
    if provisional {
        tx.state = State::Proceeding;
    } else {
        tx.state = State::Completed;
        let j = t.timer_j(tx.reliable());
        if j.is_zero() {
            step.terminate = true;
        } else {
            tx.timeout_at = Some(now + j);
        }
    }
    Some(step)
}

pub(crate) fn on_timer(tx: &mut Tx, slot: Slot) -> Step {
    match (tx.state, slot) {
        // Timer J.
        (State::Completed, Slot::Timeout) => Step::terminate(),
        _ => Step::none(),
    }
}
