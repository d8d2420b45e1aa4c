//! Webhooks to an app's event URL, the pure part: what is sent, how it is signed, when a
//! failed attempt is tried again, and in which order pending deliveries go out.
//!
//! Contract: nothing here reads a clock, opens a socket or spawns a task. Times come in as
//! arguments (Unix seconds or milliseconds, as each function says); the shell that does the
//! POSTs, the persistence and the timers is `actors::outbox`.
//!
//! * [`event`]: the live event body ([`LiveEvent`]), PIOPIY's fields plus ours. CDR bodies are
//!   the stored record itself, [`Cdr`] (re-exported from the store).
//! * [`sign`]: `X-Ringmaster-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t "." body)>`,
//!   the same scheme as jambonz's and Stripe's, and a verifier for receivers and tests.
//! * [`retry`]: which outcomes are retried and after how long.
//! * [`queue`]: the outbox's schedule: per-call FIFO lanes, due times, the caps.

pub mod bandwidth;
pub mod event;
pub mod queue;
pub mod retry;
pub mod sign;

pub use crate::store::{CallUuid, Cdr, CdrKind, CdrStatus, Direction, Leg};
pub use event::{EventError, EventStatus, LiveEvent, RecordingEvent};
pub use queue::{Limits, Queue};
pub use retry::{parse_retry_after, Outcome, RetryPolicy, Verdict};
pub use sign::{signature, verify, VerifyError};
