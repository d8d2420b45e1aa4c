//! Calls: the B2BUA core that joins an A leg, the PCMO interpreter and the B legs it rings.
//!
//! Sans-IO like the SIP layer: [`dialog`] keeps RFC 3261 §12 state, [`fork`] rings one connect
//! round (the group-ring actor's logic), and the call core drives a script. The actors in
//! `actors::call` only carry their inputs and outputs.
//!
//! The call's vocabulary (what it is created with, its inputs and outputs) is in `io`; what
//! it reports to the app is in [`report`]. Files import one way: `io` and `report` import no
//! other part of the call, the parts of a call's state (`media_actions`, `video`) import only
//! the vocabulary, and `core` (the conductor) imports them all.

mod a_leg;
pub mod admission;
mod b_legs;
mod core;
pub mod dialog;
mod effects;
pub mod fork;
mod in_dialog;
mod io;
pub mod locate;
pub mod media_actions;
pub mod media_plan;
mod outbound;
pub mod report;
mod rings;
mod script;
mod video;

pub use self::core::Call;
pub use self::io::{
    AudioFailure, AudioRequest, CallSetup, Contact, FetchFailure, Input, OutboundCall, Output,
    Purpose, Resolution, RingId,
};
pub use self::report::RecordingReport;

/// A leg of a call: 0 is the A leg, B legs count up from 1 (unique within the call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u32);

impl LegId {
    pub const A: LegId = LegId(0);
}
