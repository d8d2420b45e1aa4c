//! Calls: the B2BUA core that joins an A leg, the PCMO interpreter and the B legs it rings.
//!
//! Sans-IO like the SIP layer: [`dialog`] keeps RFC 3261 §12 state, [`fork`] rings one connect
//! round (the group-ring actor's logic), and the call core drives a script. The actors in
//! `actors::call` only carry their inputs and outputs.
//!
//! The call's vocabulary (what it is created with, its inputs and outputs) is in `io`; what
//! it reports to the app is in [`report`]. A call's state is in parts that own their fields
//! and write through a borrowed outbox (`effects`): the A leg (`a_leg`), the B legs
//! (`b_legs`), the rings (`rings`), the script's prompts and recordings ([`media_actions`]),
//! the video task (`video`). [`Call`] (`core`, with its files for the script, `connect`,
//! in-dialog requests and placed calls) is the conductor: it routes each input to its parts,
//! and only it and its own files see its fields.
//!
//! Files import one way: `io`, `report`, `dialog`, `media_plan` import no other part of the
//! call (`io` names `fork`'s branch plans and events); the parts import only the vocabulary;
//! `core` imports them all and nothing imports `core`. Routing decisions (`resolve`) and
//! admission (`admission`) are pure functions beside the call, on the same vocabulary.

mod a_leg;
pub mod admission;
mod b_legs;
pub mod contact;
mod core;
pub mod dialog;
mod driver;
mod effects;
pub mod fork;
mod io;
pub mod live;
pub mod media_actions;
pub mod media_plan;
pub mod report;
pub mod resolve;
mod rings;
pub mod sdes;
mod video;

pub use self::core::Call;
pub use self::io::{
    AudioFailure, AudioRequest, CallSetup, Contact, Input, NodeHop, OutboundCall, Output, Purpose,
    Resolution, RingId,
};
pub use self::report::RecordingReport;

/// A leg of a call: 0 is the A leg, B legs count up from 1 (unique within the call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u32);

impl LegId {
    pub const A: LegId = LegId(0);
}
