//! ringmaster's engine: the SIP registrar and B2BUA, the call core that runs PCMO scripts,
//! the media relay, the store, and the actors that do their I/O. The HTTP API (`api`) and the
//! binary sit on top; the PCMO language (`pcmo`) below.
//!
//! Two halves with one rule between them:
//!
//! * **Cores** are sans-IO: plain structs driven by `handle(now, input)` and drained with
//!   `poll()` / `poll_output()`. They never read a clock, touch a socket or spawn a task; the
//!   caller passes `now` (and the wall time, where a record outlives the process) in. That is
//!   what lets the tests run retransmissions, timer expiry and whole calls on a virtual clock,
//!   in milliseconds, deterministically. `engine/clippy.toml` holds them to it: reading the
//!   clock and spawning are lint errors outside the shells, which say why they may.
//! * **Shells** do the I/O: sockets, timers, disk flushes, HTTP, threads and processes. They
//!   turn what arrives into core inputs, step the core, and carry out what it asks. They hold
//!   no protocol logic of their own.
//!
//! # Module map
//!
//! Cores:
//! * [`sip`]: the message parser (bounded), transactions (RFC 3261 §17), digest and
//!   authentication, the registrar, defences (bans, flood limits), flows, stream framing,
//!   UAS screening.
//! * [`call`]: the call core. One A leg, the PCMO interpreter and the B legs it rings, as
//!   parts that own their state (A leg, B legs, rings, media actions, video) and write
//!   through a borrowed outbox, conducted by `Call`; its vocabulary (inputs, outputs, setup)
//!   in one place; admission of an INVITE and routing of a script's targets
//!   ([`call::admission`], [`call::resolve`]) as pure decisions; dialogs and their routing
//!   keys, group ring ([`call::fork`]), the media plan, neutral reports.
//! * [`media`]: SDP, RTP rules, latching, the media stages (prompts, DTMF, transcoding,
//!   recording timelines) are pure; its shells are the forwarder (one task per call on the
//!   media runtimes' threads), the recorder thread and the TTS runner.
//! * [`store`]: the `Store` trait with its sled and in-memory backends; [`store::commit`] is
//!   the group commit's flusher thread (a shell).
//! * [`cluster`]: several nodes sharing one store: which are alive, how a call reaches a
//!   binding another node holds (through it, `sip::proxy`).
//! * [`directory`]: the rules for apps, endpoints, trunks and numbers.
//! * [`webhook`]: event bodies, signing, retry, the outbox's queue.
//! * [`egress`]: which addresses an app may make the engine contact.
//! * [`recordings`]: recorded calls on disk for the admin API (blocking), and the pure
//!   retention rules.
//! * [`config`], [`metrics`], [`log_field`]: settings, the Prometheus registry, log fields
//!   that carry input.
//!
//! Shells, [`actors`]: the SIP actor (transaction layer, routing, admission), one call actor
//! per call, one group-ring actor per connect round, one registration actor per address of
//! record; the services the HTTP side uses (directory, trunks, numbers, CDRs, the webhook
//! outbox, the retention sweep), the socket tasks, and [`actors::Engine`], which starts them.
#![forbid(unsafe_code)]
// engine/clippy.toml keeps the clock and spawning out of the cores; test code may use both
// (every non-test item is still linted in the build without `cfg(test)`).
#![cfg_attr(test, allow(clippy::disallowed_methods))]

// The shells: they read the clock (`actors::clock`, timers) and start tasks and threads.
#[allow(clippy::disallowed_methods)]
pub mod actors;
pub mod call;
pub mod cluster;
pub mod config;
pub mod directory;
pub mod egress;
pub mod live;
pub mod log_field;
pub mod media;
pub mod metrics;
pub mod recordings;
pub mod sip;
pub mod store;
pub mod webhook;
