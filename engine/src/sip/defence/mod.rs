//! Defences against hostile traffic, sans-IO: the caller passes `now` and carries out the
//! verdicts (drop, refuse, log).
//!
//! * [`rate`]: per-source flood limit (token bucket per IP address), applied to every message
//!   before it is parsed.
//! * [`bans`]: blocks of an (address, user) pair after repeated digest failures, bans of a
//!   whole address on patterns only attackers make, and a per-user slow-down across sources.
//! * [`table`]: the capped map every per-source and per-user record lives in, so memory stays
//!   bounded under any flood.

pub mod bans;
pub mod rate;
pub mod table;

pub use bans::{counts_as_guess, Attempt, AuthGuard, BanConfig, FailureNote, Refusal};
pub use rate::{RateConfig, RateDecision, RateLimiter};
pub use table::CappedMap;
