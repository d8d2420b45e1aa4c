//! ringmaster's engine.
//!
//! Two halves with one rule between them:
//!
//! * **Cores** (`sip`, `store` records, `webhook`, later `call` and `media`) are sans-IO: plain structs
//!   driven by `handle(now, input)` and drained with `poll_output()`. They never read a clock,
//!   touch a socket or spawn a task; the caller passes `now` in. That is what lets the tests run
//!   retransmissions and timer expiry on a virtual clock, in milliseconds, deterministically.
//! * **Shells** (`actors`) do the I/O: sockets, timers, disk flushes, HTTP. They turn what
//!   arrives into core inputs, step the core, and carry out what it asks. They hold no protocol
//!   logic of their own.
#![forbid(unsafe_code)]
// engine/clippy.toml keeps the clock and spawning out of the cores; test code may use both
// (every non-test item is still linted in the build without `cfg(test)`).
#![cfg_attr(test, allow(clippy::disallowed_methods))]

// The shells: they read the clock (`actors::clock`, timers) and start tasks and threads.
#[allow(clippy::disallowed_methods)]
pub mod actors;
pub mod call;
pub mod config;
pub mod directory;
pub mod egress;
pub mod log_field;
pub mod media;
pub mod metrics;
pub mod recordings;
pub mod sip;
pub mod store;
pub mod webhook;
