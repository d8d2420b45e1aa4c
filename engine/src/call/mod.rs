//! Calls: the B2BUA core that joins an A leg, the PCMO interpreter and the B legs it rings.
//!
//! Sans-IO like the SIP layer: [`dialog`] keeps RFC 3261 §12 state, [`fork`] rings one connect
//! round (the group-ring actor's logic), and the call core drives a script. The actors in
//! `actors::call` only carry their inputs and outputs.

pub mod admission;
mod b_legs;
mod core;
pub mod dialog;
pub mod fork;
mod in_dialog;
pub mod media_actions;
pub mod media_plan;
mod outbound;
pub mod report;
pub mod resolve;
mod script;
mod video;

pub use self::core::{
    Call, CallSetup, Contact, FetchFailure, Input, OutboundCall, Output, Purpose, Resolution,
    RingId,
};

/// A leg of a call: 0 is the A leg, B legs count up from 1 (unique within the call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u32);

impl LegId {
    pub const A: LegId = LegId(0);
}
