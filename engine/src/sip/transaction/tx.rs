//! The state shared by the four transaction machines, and the effects a step asks for.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::key::{AckKey, ClientKey, ServerKey};
use super::{TxEvent, TxId};
use crate::sip::message::Request;
use crate::sip::Peer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the RFC 3261 names of the four machines
pub(crate) enum Kind {
    ClientInvite,
    ClientNonInvite,
    ServerInvite,
    ServerNonInvite,
}

/// RFC 3261 §17 states, plus RFC 6026 `Accepted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Calling,
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Server(ServerKey),
    Client(ClientKey),
}

/// A pending CANCEL of a client INVITE (RFC 3261 §9.1: not before a provisional response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancel {
    None,
    Pending,
    Sent,
}

pub(crate) struct Tx {
    pub id: TxId,
    pub kind: Kind,
    pub state: State,
    pub key: Key,
    /// Where this transaction's messages go.
    pub peer: Peer,
    /// Dropped once a server transaction has sent its final response: nothing needs it after
    /// that, and a completed non-INVITE transaction lingers 32 s (Timer J) holding only the
    /// response bytes to re-send, instead of a whole parsed request.
    pub request: Option<Request>,
    /// The last message sent: the request (client) or the last response (server).
    pub last: Option<Bytes>,
    /// Client INVITE: the ACK for a non-2xx final response, re-sent on retransmissions of it.
    pub ack: Option<Bytes>,
    /// The current retransmission interval.
    pub interval: Duration,
    pub retransmit_at: Option<Instant>,
    pub timeout_at: Option<Instant>,
    pub cancel: Cancel,
    /// Server INVITE in Accepted: how the 2xx's ACK is recognised.
    pub ack_key: Option<AckKey>,
    /// Server INVITE in Accepted: the 2xx was acknowledged.
    pub acked: bool,
    /// CANCEL transactions the layer sends on its own: their responses are not passed up.
    pub internal: bool,
    /// A server non-INVITE transaction that has answered and only waits out Timer J to replay
    /// its response: no longer counted as live load (see `TransactionLayer`'s settled queue).
    pub settled: bool,
}

impl Tx {
    pub fn reliable(&self) -> bool {
        self.peer.transport.is_reliable()
    }
}

/// What one step of a machine asks the layer to do.
#[derive(Default)]
pub(crate) struct Step {
    pub send: Option<Bytes>,
    pub event: Option<TxEvent>,
    pub terminate: bool,
}

impl Step {
    pub fn send(bytes: Bytes) -> Step {
        Step {
            send: Some(bytes),
            ..Step::default()
        }
    }

    pub fn event(event: TxEvent) -> Step {
        Step {
            event: Some(event),
            ..Step::default()
        }
    }

    pub fn terminate() -> Step {
        Step {
            terminate: true,
            ..Step::default()
        }
    }

    pub fn none() -> Step {
        Step::default()
    }
}

/// Which of a transaction's two timers fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    /// Timers A, E, G and the 2xx retransmission.
    Retransmit,
    /// Timers B, D, F, H, I, J, K, L, M and the post-CANCEL guard.
    Timeout,
}
