//! The media plane: SDP rewriting for anchored calls, RTP port bookkeeping, per-packet relay
//! rules, and the forwarder that moves packets outside every actor mailbox.
//!
//! # How the call core uses it
//!
//! 1. At start-up: `MediaEngine::new(MediaConfig::new(range, bind_ip, advertised_ip))`.
//! 2. An INVITE with an offer arrives on leg A: [`sdp::policy::plan_offer`] filters codecs and
//!    picks the relayed m-line; [`MediaEngine::allocate_call`] binds four ports and starts the
//!    call's media task; [`sdp::anchor()`] with [`MediaCall::anchor`]`(Leg::B)` gives the offer
//!    for leg B; `SetRemote{leg: A}` from [`sdp::policy::media_remote`] of A's offer.
//! 3. B's answer: [`sdp::policy::match_answer`], `SetRemote{leg: B}`, `SetPayloadTypes` for both
//!    legs, `OpenLatchWindow` for both, `Bridge`; [`sdp::anchor()`] with
//!    `MediaCall::anchor(Leg::A)` gives the answer for A.
//! 4. A re-INVITE (hold/unhold): anchor it the same way, `SetRemote` and `OpenLatchWindow` for
//!    the leg that sent it.
//! 5. [`Event::RtpTimeout`] ends the call; at the end `Stop`, then read [`Event::Stats`].
//!
//! # Layering
//!
//! Only `forwarder` touches tokio, sockets or the clock; `sdp`, `ports`, `rtp`, `latch`,
//! `relay` and `control` are pure and are handed time as an `Instant`. Transcoding, prompts and
//! recording (the media issue) become stages between the relay's `Forward` verdict and the
//! send in the forwarder task; commands such as `Play` and `Record` join [`Command`].

pub mod codec;
pub mod control;
pub mod dtmf;
pub mod forwarder;
pub mod g711;
pub mod latch;
pub mod ports;
pub mod prompt;
pub mod record;
pub mod relay;
pub mod resample;
pub mod rtp;
pub mod sdp;
pub mod splice;
pub mod stage;
pub mod tone;

pub use control::{Channel, Command, DirectionStats, Drops, Event, Leg, Stats};
pub use forwarder::{
    LegAddrs, MediaCall, MediaConfig, MediaControl, MediaEngine, MediaError, RuntimeLayout,
};
pub use ports::{PortError, PortRange, PortRangeError};
pub use relay::RelayConfig;
pub use rtp::PayloadTypes;
