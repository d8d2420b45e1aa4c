//! The media plane: SDP rewriting for anchored calls, RTP port bookkeeping, per-packet relay
//! rules, and the forwarder that moves packets outside every actor mailbox.
//!
//! Only `forwarder` touches tokio, sockets or the clock; everything else here is pure and is
//! handed time as an `Instant`.

pub mod control;
pub mod latch;
pub mod ports;
pub mod relay;
pub mod rtp;
pub mod sdp;
