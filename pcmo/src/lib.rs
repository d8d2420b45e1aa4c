//! # pcmo — the PCMO call-script language
//!
//! PCMO ("PIOPIY call management object") is the JSON an app returns from its answer URL to
//! say what a call should do: ring SIP users or phone numbers, play, speak, collect digits,
//! record, stream, hang up. This crate reads both PIOPIY dialects (the legacy actions and the
//! v3 pipeline shapes), checks them with precise errors, and runs them with a pure
//! interpreter. It does no I/O and reads no clock.
//!
//! ## Checking a script
//!
//! [`Script::parse`] turns JSON text into typed [`Action`]s or a [`Report`] listing **every**
//! problem, each with a stable code, a JSON Pointer and a message
//! (`missing_field at /0/call/0/user: required field `user` is missing`). [`check`] returns
//! the report for valid scripts too (their warnings), and [`explain`] describes a valid script
//! in plain words. These are what `ringmaster pcmo check FILE` and `explain FILE` print.
//!
//! ## Running a script: the handle/poll contract
//!
//! ```no_run
//! # use std::time::Instant;
//! use pcmo::{CallInfo, Command, Event, Interpreter, Script};
//! # fn carry_out(_: Command) {}
//! # fn next_event() -> Option<(Instant, Event)> { None }
//! let script = Script::parse(r#"[{"action":"speak","text":"Hello"}]"#).expect("valid");
//! let mut interpreter = Interpreter::new(script, CallInfo::inbound("uuid-1", "914400000001", "914471000000"));
//! # let now = Instant::now();
//! interpreter.handle(now, Event::Start);
//! loop {
//!     while let Some(command) = interpreter.poll() {
//!         carry_out(command); // answer, ring, play, start a timer, fetch a URL, hang up...
//!     }
//!     if interpreter.is_finished() {
//!         break;
//!     }
//!     let Some((now, event)) = next_event() else { break }; // a leg answered, a timer fired...
//!     interpreter.handle(now, event);
//! }
//! ```
//!
//! * The engine passes the current time into every [`Interpreter::handle`]; deadlines in
//!   commands are `Instant`s derived from it. Nothing here calls `Instant::now`.
//! * After each `handle`, the engine drains [`Interpreter::poll`] and carries out the
//!   [`Command`]s **in order**.
//! * Timers are `StartTimer { id, at }`; the engine reports `Event::TimerFired(id)` at `at`.
//!   Timers are never cancelled: one that is no longer wanted is recognised by its stale id
//!   and ignored, so a late timer does no harm. The same holds for every other id (legs,
//!   media, fetches).
//! * Preconditions are explicit: each action declares a [`action::Requirement`]; before an
//!   action that needs media the interpreter emits [`Command::Answer`] (once).
//! * The last command is always [`Command::Hangup`]; then [`Interpreter::is_finished`] is true.
//!
//! ## Module map
//!
//! * [`script`](Script), [`error`](ScriptError): the schema layer (JSON → actions, errors with
//!   JSON Pointers), bounded by [`limits`].
//! * [`action`]: one module per action: its typed form, parsing, running and description.
//!   `connect` (shared by `bridge`) lives in [`action::connect`], with its targets and its
//!   ringing state machine split out.
//! * [`Interpreter`], [`Event`], [`Command`]: the step machine and its vocabulary. The payload
//!   types commands carry ([`Target`], [`Destination`], [`AudioSource`], [`Recording`]...) are
//!   re-exported here, so the engine names them without the `action::` path.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Parsing must never panic on any input: no unwrap/expect/indexing outside tests.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod action;
mod call;
mod command;
mod error;
mod event;
mod explain;
mod fields;
mod id;
mod interpreter;
pub mod limits;
mod pointer;
mod script;
mod step;

pub use action::audio::{AudioSource, Voice};
pub use action::connect::targets::{Destination, SipHeader, Target};
pub use action::connect::{CallerId, ConnectKind, MediaKind};
pub use action::gather::DigitRules;
pub use action::param::ParamValue;
pub use action::record::{Channels, RecordFormat, Recording};
pub use action::stream::{ListenMode, Stream};
pub use action::Action;
pub use call::CallInfo;
pub use command::{
    Command, ConnectOutcome, DigitsPayload, HangupReason, Ring, RingTarget, ScriptEvent,
    ScriptSource,
};
pub use error::{
    ErrorCode, ErrorKind, HeaderProblem, JsonKind, Report, ScriptError, ScriptWarning, WarningCode,
    WarningKind,
};
pub use event::{Event, FailReason, FetchError};
pub use explain::explain;
pub use id::{FetchId, MediaId, TargetId, TimerId};
pub use interpreter::Interpreter;
pub use pointer::Pointer;
pub use script::{check, Script};
