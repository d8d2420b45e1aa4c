//! The media plane: SDP rewriting for anchored calls, RTP port bookkeeping, per-packet relay
//! rules, the media stages (prompts, DTMF, transcoding, recording), and the forwarder that
//! moves packets outside every actor mailbox.
//!
//! # How the call core uses it
//!
//! 1. At start-up: `MediaEngine::new(MediaConfig::new(range, bind_ip, advertised_ip))`, and a
//!    [`prompt::Prompts`] for the prompts directory (warn if [`prompt::Prompts::tts_available`]
//!    is false: `speak` will fail with [`prompt::PromptError::TtsUnavailable`]).
//! 2. An INVITE with an offer arrives on leg A: [`sdp::policy::plan_offer`] filters codecs and
//!    picks the relayed m-line; [`MediaEngine::allocate_call`] binds four ports and starts the
//!    call's media task; [`sdp::anchor()`] with [`CallMedia::anchor`]`(Leg::B)` gives the offer
//!    for leg B; `SetRemote{leg: A}` from [`sdp::policy::media_remote`] of A's offer, and
//!    `SetSignallingSource{leg: A}` with the address A's SIP comes from (each leg gets one
//!    before its latch window opens: [`latch`] admits only those two addresses by default).
//! 3. Whenever a leg's SDP is settled (A answered by ringmaster itself, or B's answer):
//!    `SetCodecs { leg, codecs: LegCodecs::from_media(m_line)? }` ([`codec::LegCodecs`]): the
//!    law sent to the leg and its telephone-event type. Legs with different laws are
//!    transcoded; without it a leg is taken as PCMU with no telephone-events (no DTMF).
//!    [`codec::offer_both_laws`] on the m-line offered to B lets B pick either law.
//! 4. B's answer: [`sdp::policy::match_answer`], `SetRemote{leg: B}`, `SetPayloadTypes` for both
//!    legs, `OpenLatchWindow` for both, `Bridge`; [`sdp::anchor()`] with
//!    `CallMedia::anchor(Leg::A)` gives the answer for A.
//! 5. Media actions, also before any B leg exists (the relay need not be bridged):
//!    * `play`/`speak`: get [`prompt::Audio`] from [`prompt::Prompts`] (`file`, `cached_url`
//!      then `decode_url` on the fetched bytes, `speak`) on a blocking thread, then
//!      `Play { id, leg, audio }` → [`Event::PlayDone`] `{ id, completed }`; `StopPlay { id }`
//!      to cut it short (barge-in on the first digit).
//!    * `input`/`play_get_input`: [`Event::Dtmf`] `{ leg, digit }` arrives once per key press
//!      (RFC 4733); SIP INFO bodies go through [`dtmf::parse_info`]. Digit timeouts are the
//!      call core's timers.
//!    * `record`: `Record { id, path }` … `StopRecord { id }` → [`Event::RecordDone`]
//!      `{ id, path, duration_ms, ok }` (also on `Stop`, before `Stats`).
//!    * `SendDtmf { leg, digits }` sends RFC 4733 digits to a leg.
//! 6. A re-INVITE (hold/unhold): anchor it the same way, `SetRemote` and `OpenLatchWindow` for
//!    the leg that sent it (and `SetCodecs` if its codecs changed).
//! 7. [`Event::RtpTimeout`] ends the call; at the end `Stop`, then read [`Event::Stats`] (the
//!    last event: unfinished prompts report `PlayDone { completed: false }` and a running
//!    recording its `RecordDone` before it).
//!
//! # Per packet
//!
//! `recv_from` → [`relay`] (header sanity, payload type, latch, bridge) → [`stage`] (DTMF
//! detection, recording tap, μ↔A transcoding in place, payload type and [`splice`] header
//! rewrite onto the other leg's outgoing stream) → `try_send_to`. No allocation per packet.
//! On a leg with SDES keys (`SetSrtp`, [`srtp`]) the datagram is unprotected in place right
//! after `recv_from` and protected in place right before `try_send_to`.
//! While ringmaster plays or sends DTMF to a leg, relayed packets to that leg are held back
//! (counted in [`Drops::suppressed`]); the splice keeps the leg's stream one SSRC with
//! continuous sequence numbers and timestamps across the switches.
//!
//! # Layering
//!
//! Only `forwarder` touches tokio, sockets or the clock, the recording writer thread
//! ([`record::RecordWriter`]) touches files, and the TTS runner ([`prompt::tts`]) starts a
//! process; prompt loading reads files and must run on a blocking thread. Everything else
//! (`sdp`, `srtp`, `ports`, `rtp`, `latch`, `relay`, `control`, `codec`, `g711`, `resample`, `dtmf`,
//! `splice`, `stage`, `record::timeline`, `tone`) is pure and is handed time as an `Instant`.

pub mod codec;
pub mod control;
pub mod dtmf;
// The media shell: per-call tasks on the media runtimes' threads, read the clock to pace
// packets and prompts (engine/clippy.toml forbids both in the pure modules around it).
#[allow(clippy::disallowed_methods)]
pub mod forwarder;
pub mod g711;
pub mod latch;
pub mod opus_bridge;
pub mod ports;
pub mod prompt;
pub mod record;
pub mod relay;
pub mod resample;
pub mod rtp;
pub mod sdp;
pub mod splice;
pub mod srtp;
pub mod stage;
pub mod stream;
pub mod tone;

pub use codec::{AudioCodec, LegCodecs};
pub use control::{Channel, Command, DirectionStats, Drops, Event, Leg, Stats};
pub use forwarder::{
    CallMedia, EventSink, LegAddrs, MediaCall, MediaConfig, MediaControl, MediaEngine, MediaError,
    RuntimeLayout,
};
pub use ports::{PortError, PortRange, PortRangeError};
pub use prompt::{Audio, PromptError, PromptLimits, Prompts, SpeakRequest};
pub use relay::RelayConfig;
pub use rtp::PayloadTypes;
