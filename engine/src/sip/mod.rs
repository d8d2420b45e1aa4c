//! SIP, sans-IO.
//!
//! Everything here is a plain struct driven with explicit inputs: bytes that arrived (with their
//! source and transport), the current time as an `Instant` (for RFC 3261 timers) and, where a
//! record must outlive a restart, the wall-clock time as Unix seconds. Outputs are polled:
//! bytes to transmit and where, events for the layer above, and the next deadline. Nothing in
//! this module reads a clock, opens a socket or spawns a task.

pub mod auth;
pub mod defence;
pub mod digest;
pub mod flow;
pub mod message;
pub mod proxy;
pub mod registrar;
pub mod stream;
pub mod transaction;
pub mod transport;
pub mod uas;

pub use transport::{ConnId, Inbound, Peer, Transmit, Transport};
