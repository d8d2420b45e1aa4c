//! The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with RFC 6026's Accepted state:
//! after a 2xx the transaction lives on for Timer M so 2xx retransmissions and 2xx from other
//! forks reach the TU instead of being dropped as strays).

use std::time::Instant;

use bytes::Bytes;

use super::timer::Timers;
use super::tx::{Cancel, Slot, State, Step, Tx};
use super::TxEvent;
use crate::sip::message::{HeaderName, HeaderView, Method, Request, Response};

pub(crate) fn start(tx: &mut Tx, t: &Timers, now: Instant) {
    tx.state = State::Calling;
    tx.interval = t.t1;
    if !tx.reliable() {
        tx.retransmit_at = Some(now + t.t1);
    }
    tx.timeout_at = Some(now + t.transaction_timeout());
}

/// What the layer must do besides the step: send a CANCEL now that a provisional arrived.
pub(crate) struct Outcome {
    pub step: Step,
    pub send_cancel: bool,
}

pub(crate) fn on_response(tx: &mut Tx, t: &Timers, now: Instant, resp: Response) -> Outcome {
    let mut send_cancel = false;
    let step = match (tx.state, resp.status) {
        (State::Calling | State::Proceeding, 100..=199) => {
            tx.state = State::Proceeding;
            tx.retransmit_at = None;
            if tx.cancel == Cancel::Pending {
                send_cancel = true;
            }
            Step::event(TxEvent::Response {
                tx: tx.id,
                response: resp,
            })
        }
        (State::Calling | State::Proceeding, 200..=299) => {
            tx.state = State::Accepted;
            tx.retransmit_at = None;
            // Timer M only passes further 2xx up; nothing is re-sent or cancelled any more,
            // so the INVITE (parsed and encoded, SDP included) is not held for those 32 s.
            tx.request = None;
            tx.last = None;
            tx.timeout_at = Some(now + t.transaction_timeout());
            Step::event(TxEvent::Response {
                tx: tx.id,
                response: resp,
            })
        }
        // Timer M running: more 2xx (retransmissions, other forks) go up to the TU.
        (State::Accepted, 200..=299) => Step::event(TxEvent::Response {
            tx: tx.id,
            response: resp,
        }),
        (State::Calling | State::Proceeding, _) => {
            tx.state = State::Completed;
            tx.retransmit_at = None;
            // An ACK that cannot be encoded (never, for one built from our own INVITE) is not sent.
            let ack = tx
                .request
                .as_ref()
                .and_then(|r| build_ack(r, &resp).encode().ok());
            tx.ack = ack.clone();
            let d = t.timer_d(tx.reliable());
            let mut step = Step::event(TxEvent::Response {
                tx: tx.id,
                response: resp,
            });
            step.send = ack;
            if d.is_zero() {
                step.terminate = true;
            } else {
                tx.timeout_at = Some(now + d);
            }
            step
        }
        // A retransmitted non-2xx final: ACK it again, do not pass it up.
        (State::Completed, 300..=699) => tx.ack.clone().map(Step::send).unwrap_or_else(Step::none),
        _ => Step::none(),
    };
    Outcome { step, send_cancel }
}

pub(crate) fn on_timer(tx: &mut Tx, t: &Timers, now: Instant, slot: Slot) -> Step {
    match (tx.state, slot) {
        (State::Calling, Slot::Retransmit) => {
            // Timer A doubles without a cap; Timer B ends it.
            tx.interval *= 2;
            tx.retransmit_at = Some(now + tx.interval);
            tx.last.clone().map(Step::send).unwrap_or_else(Step::none)
        }
        (State::Calling | State::Proceeding, Slot::Timeout) => {
            // Timer B, or the guard after a CANCEL got no final answer (§9.1).
            let mut s = Step::event(TxEvent::Timeout { tx: tx.id });
            s.terminate = true;
            s
        }
        // Timers D and M.
        (State::Completed | State::Accepted, Slot::Timeout) => Step::terminate(),
        _ => {
            let _ = t;
            Step::none()
        }
    }
}

/// The ACK for a non-2xx final response (§17.1.1.3): same Request-URI, Call-ID, From, CSeq
/// number and top Via as the INVITE, the To of the response, and the INVITE's Route set.
pub(crate) fn build_ack(invite: &Request, resp: &Response) -> Request {
    let mut ack = Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        headers: Default::default(),
        body: Bytes::new(),
    };
    if let Some(v) = invite.headers.get(&HeaderName::Via) {
        ack.headers.push(HeaderName::Via, v);
    }
    for (name, src) in [
        (HeaderName::From, &invite.headers),
        (HeaderName::To, &resp.headers),
        (HeaderName::CallId, &invite.headers),
    ] {
        if let Some(v) = src.get(&name) {
            ack.headers.push(name, v);
        }
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
    ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
    for r in invite.headers.get_all(&HeaderName::Route) {
        ack.headers.push(HeaderName::Route, r);
    }
    ack.headers.push(HeaderName::MaxForwards, "70");
    ack
}

/// The CANCEL of an INVITE (§9.1).
pub(crate) fn build_cancel(invite: &Request) -> Request {
    let mut c = Request {
        method: Method::Cancel,
        uri: invite.uri.clone(),
        headers: Default::default(),
        body: Bytes::new(),
    };
    if let Some(v) = invite.headers.get(&HeaderName::Via) {
        c.headers.push(HeaderName::Via, v);
    }
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        if let Some(v) = invite.headers.get(&name) {
            c.headers.push(name, v);
        }
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
    c.headers.push(HeaderName::CSeq, format!("{seq} CANCEL"));
    for r in invite.headers.get_all(&HeaderName::Route) {
        c.headers.push(HeaderName::Route, r);
    }
    c.headers.push(HeaderName::MaxForwards, "70");
    c
}
