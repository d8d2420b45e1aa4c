//! The call core: one call's state machine, sans-IO.
//!
//! Contract: create with [`Call::new`] from the A leg's INVITE, then feed [`Input`]s with
//! [`Call::handle`] (always with the current `Instant` and wall-clock milliseconds) and drain
//! [`Output`]s with [`Call::poll`] after each. The shell carries outputs out in order and
//! turns what happens into inputs; it never decides anything about the call.
//!
//! Life of an inbound call: 180 to A at once, ports allocated, the answer URL fetched; its
//! PCMO runs in a [`pcmo::Interpreter`]; `connect`/`bridge` become rings (one fork per round,
//! see [`crate::call::fork`]); an answered B leg is bridged, A answered with B's SDP
//! re-anchored on our ports; a BYE on either side, the caller's CANCEL, the script's hangup or
//! the end of the script tears the call down, each leg ending with exactly one terminal event
//! and CDR.
//!
//! [`Call`] is the conductor: it keeps the parts of a call (the A leg, the B legs, the rings,
//! the media actions, the video task) and routes each input to them; they own their state
//! and write through an [`Effects`] on the call's outbox. Its own files: `script` (running
//! the PCMO), `connect` (rings and B legs), `in_dialog` (requests in the call's dialogs),
//! `outbound` (calls ringmaster places).

mod connect;
mod in_dialog;
mod live;
mod outbound;
mod script;
mod stream;
mod waiting_music;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use pcmo::{ConnectOutcome, TimerId};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::a_leg::ALeg;
use super::b_legs::BLegs;
use super::driver::{Driver, Live};
use super::effects::{Effects, Outbox};
use super::io::{CallSetup, Input, OutboundCall, Output, RingId};
use super::live::{LiveEvent, LiveSetup};
use super::media_actions::{MediaActions, RECORDING_WAIT_TIMER};
use super::media_plan::MediaPlan;
use super::report::{Direction, EventStatus, LegRecord, Report, Side};
use super::rings::Rings;
use super::video::Video;
use super::LegId;
use crate::media::sdp::policy::CallType;
use crate::media::sdp::Anchor;
use crate::media::Command as MediaCommand;
use crate::sip::message::{new_token, HeaderName, Request};
use crate::sip::transaction::TxId;
use crate::sip::Peer;

#[derive(Debug, Clone)]
struct OutboundA {
    call: OutboundCall,
    /// The ring that dials A.
    ring: RingId,
}

/// The timer id of the whole-call cap (`duration` of `pcmo_make_call`); script timers count
/// up from 1 and never reach it.
const CALL_LIMIT_TIMER: TimerId = TimerId(u64::MAX);
/// The timer id of a live placed call's `callTimeout`.
const LIVE_DIAL_TIMER: TimerId = TimerId(u64::MAX - 2);
/// An inbound live call rang its `answer_timeout` unanswered.
const LIVE_ANSWER_TIMER: TimerId = TimerId(u64::MAX - 3);

/// One call: its parts and the conductor's own state (the script, the lifecycle flags).
pub struct Call {
    setup: CallSetup,
    /// Tokens drawn so far (tags, Call-IDs); see [`Call::token`].
    draws: u64,
    /// What to dial and run when ringmaster places the call (boxed: most calls come in).
    outbound: Option<Box<OutboundA>>,
    /// The caller, or the party a placed call dials first.
    a: ALeg,
    plan: Option<MediaPlan>,
    /// Our relay ports for the A side and the B side, once the media task has them.
    anchors: Option<(Anchor, Anchor)>,
    /// Our WebRTC side of each leg, should one be a browser (from the media task).
    webrtc: Option<Box<[crate::media::sdp::webrtc::WebRtcLocal; 2]>>,
    /// The script or the app's live commands (none before the answer URL answered, and
    /// after the call's end).
    driver: Option<Driver>,
    rings: Rings,
    /// The legs the script's rings created, and the bridge.
    b: BLegs,
    extra_params: Option<String>,
    last_outcome: Option<ConnectOutcome>,
    ending: bool,
    finished: bool,
    /// A script-driven call's bridge is held by the app (PIOPIY `hold`).
    held_script: bool,
    /// The script's `stream` in progress.
    stream: Option<pcmo::MediaId>,
    /// A `stream_on_answer` stream waiting for a bridged callee.
    stream_pending: Option<Box<(pcmo::MediaId, pcmo::Stream)>>,
    /// The connect's waiting music, while its targets ring.
    music: Option<waiting_music::WaitingMusic>,
    /// Outputs for the shell, events for the script, and the instant of the current input.
    outbox: Outbox,
    /// Re-INVITEs relayed to the other leg, by their server transaction, until answered.
    relayed: HashMap<TxId, Request>,
    /// The script's prompts and recordings.
    media_actions: MediaActions,
    video: Video,
}

impl Call {
    /// A call for an authenticated inbound INVITE on server transaction `a_tx`.
    pub fn new(
        setup: CallSetup,
        a_tx: TxId,
        a_invite: Request,
        a_peer: Peer,
        now: Instant,
        wall_ms: u64,
    ) -> Call {
        let mut call = Call::blank(
            setup,
            Direction::Inbound,
            now,
            wall_ms,
            Some((a_tx, a_invite, a_peer)),
        );
        call.start();
        call
    }

    /// An inbound call driven by the app's live commands: no answer URL; the app hears of it
    /// (`Incoming`) once the media ports are ready, answered first if `live.auto_answer`.
    pub fn new_live(
        setup: CallSetup,
        a_tx: TxId,
        a_invite: Request,
        a_peer: Peer,
        now: Instant,
        wall_ms: u64,
        live: LiveSetup,
    ) -> Call {
        let mut call = Call::blank(
            setup,
            Direction::Inbound,
            now,
            wall_ms,
            Some((a_tx, a_invite, a_peer)),
        );
        call.driver = Some(Driver::Live(Box::new(Live::new(live))));
        call.start();
        call
    }

    /// A call the app places and drives live: dials `out.to` (no script; `out.script` is
    /// ignored), gives up after `live.call_timeout`, and reports `Answered`.
    pub fn outbound_live(
        setup: CallSetup,
        mut out: OutboundCall,
        now: Instant,
        wall_ms: u64,
        live: LiveSetup,
    ) -> Call {
        out.script = None;
        let timeout = live.call_timeout;
        let mut call = Call::blank(setup, Direction::Outbound, now, wall_ms, None);
        call.driver = Some(Driver::Live(Box::new(Live::new(live))));
        call.outbound = Some(Box::new(OutboundA {
            call: out,
            ring: RingId(0),
        }));
        call.outbox.push(Output::Timer {
            id: LIVE_DIAL_TIMER,
            at: now + timeout,
        });
        call.start_outbound();
        call
    }

    /// A call ringmaster places: dials `out.to`, and runs the script once it answers.
    pub fn outbound(setup: CallSetup, out: OutboundCall, now: Instant, wall_ms: u64) -> Call {
        let mut call = Call::blank(setup, Direction::Outbound, now, wall_ms, None);
        call.extra_params = out.extra_params.clone();
        call.outbound = Some(Box::new(OutboundA {
            call: out,
            ring: RingId(0),
        }));
        call.start_outbound();
        call
    }

    /// A fresh random token of `len` characters. Each comes from its own generator seeded
    /// from the call's seed and the draw count, so a call does not carry a 320-byte ChaCha
    /// state for the few tokens it needs; the tokens stay as unpredictable as the seed.
    fn token(&mut self, len: usize) -> String {
        self.draws += 1;
        let seed = self
            .setup
            .seed
            .wrapping_add(self.draws.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        new_token(&mut StdRng::seed_from_u64(seed), len)
    }

    fn blank(
        setup: CallSetup,
        direction: Direction,
        now: Instant,
        wall_ms: u64,
        inbound: Option<(TxId, Request, Peer)>,
    ) -> Call {
        let a_tag = new_token(&mut StdRng::seed_from_u64(setup.seed), 12);
        let a_record = LegRecord::new(
            LegId::A,
            Side::A,
            direction,
            &setup.from,
            &setup.to,
            wall_ms,
        );
        let a = match inbound {
            Some((tx, invite, peer)) => ALeg::inbound(a_tag, a_record, tx, invite, peer),
            None => ALeg::dialled(a_tag, a_record),
        };
        Call {
            setup,
            draws: 0,
            outbound: None,
            a,
            plan: None,
            anchors: None,
            webrtc: None,
            driver: None,
            rings: Rings::default(),
            b: BLegs::default(),
            extra_params: None,
            last_outcome: None,
            ending: false,
            finished: false,
            held_script: false,
            stream: None,
            stream_pending: None,
            music: None,
            outbox: Outbox::new(now, wall_ms),
            relayed: HashMap::new(),
            media_actions: MediaActions::default(),
            video: Default::default(),
        }
    }

    fn start(&mut self) {
        let Some(offer) = self.a.offer() else {
            return;
        };
        let session = u64::from(self.setup.max_forwards) ^ self.setup.seed;
        let plan = MediaPlan::from_offer(
            offer,
            CallType::Audio,
            session,
            self.setup.local_ip,
            self.setup.srtp.clone(),
        );
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        self.a.event(fx, EventStatus::Started, &None);
        match plan {
            Ok(p) => self.plan = Some(p),
            Err(problem) => {
                tracing::info!(call = %self.setup.cmiuuid, %problem, "A leg SDP refused");
                let reason = format!("Not Acceptable Here ({problem})");
                self.a.respond(fx, 488, Some(reason));
                self.end_a("sdp-refused", Some(488));
                self.check_finished();
                return;
            }
        }
        // The caller hears ringback while the app is asked what to do (unless the live app
        // rings back itself).
        let ring = match &self.driver {
            Some(Driver::Live(l)) => l.setup.ring_at_once,
            _ => true,
        };
        if ring {
            self.a.respond(fx, 180, None);
        }
        self.outbox.push(Output::AllocateMedia);
        if self.is_live() {
            return; // the app hears of the call once the ports are ready
        }
        let body = serde_json::json!({
            "from": number_like(&self.setup.from),
            "to": number_like(&self.setup.to),
            "time": self.outbox.wall_ms(),
            "cmiuuid": self.setup.cmiuuid,
            "cmuuid": self.setup.cmiuuid,
            "action": "inbound",
            "appid": self.setup.appid,
            "leg": "a",
        });
        self.outbox.push(Output::Fetch {
            fetch_id: None,
            url: self.setup.answer_url.clone(),
            body,
        });
    }

    pub fn poll(&mut self) -> Option<Output> {
        self.outbox.pop()
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    pub fn cmiuuid(&self) -> &str {
        &self.setup.cmiuuid
    }

    /// The REST request that placed this call, if one did.
    pub fn request_id(&self) -> Option<&str> {
        self.outbound.as_ref().map(|o| o.call.request_id.as_str())
    }

    pub fn handle(&mut self, now: Instant, wall_ms: u64, input: Input) {
        self.outbox.set_clock(now, wall_ms);
        if self.finished {
            return;
        }
        match input {
            Input::MediaReady { a, b, webrtc } => self.on_media_ready(a, b, webrtc),
            Input::MediaFailed => {
                tracing::warn!(call = %self.setup.cmiuuid, "no media ports; refusing the call");
                self.hangup_all("media-unavailable", Some(503));
            }
            Input::AnswerScript(result) => self.on_answer_script(result),
            Input::ScriptFetched { fetch_id, result } => {
                self.outbox
                    .event(pcmo::Event::ScriptFetched { fetch_id, result });
            }
            Input::Resolved { ring, results } => self.on_resolved(ring, results),
            Input::Fork { ring, event } => self.on_fork(ring, event),
            Input::Request { leg, tx, request } => self.on_request(leg, tx, request),
            Input::Ack { leg } => self.on_ack(leg),
            Input::CallerCancelled => self.on_caller_cancelled(),
            Input::AckTimeout => {
                tracing::info!(call = %self.setup.cmiuuid, "our 200 to the caller was never acknowledged");
                self.hangup_all("no-ack", None);
            }
            Input::Response {
                leg,
                purpose,
                response,
            } => self.on_response(leg, purpose, response),
            Input::RequestFailed { leg, purpose } => self.on_request_failed(leg, purpose),
            Input::Timer(id) if id == CALL_LIMIT_TIMER => self.hangup_all("duration-limit", None),
            Input::Timer(id) if id == LIVE_DIAL_TIMER => self.live_dial_timeout(),
            Input::Timer(id) if id == LIVE_ANSWER_TIMER => self.live_answer_timeout(),
            Input::Timer(id) if id == RECORDING_WAIT_TIMER => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                let dir = &self.setup.recordings_dir;
                self.media_actions.give_up_recordings(fx, dir);
            }
            Input::Timer(id) => self.outbox.event(pcmo::Event::TimerFired(id)),
            Input::Media(ev) => self.on_media_event(ev),
            Input::AudioLoaded { media_id, result } if media_id == waiting_music::MUSIC => {
                if !self.ending {
                    self.on_music_loaded(result);
                }
            }
            Input::AudioLoaded { media_id, result } if !self.ending => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                self.media_actions.on_audio_loaded(fx, media_id, result);
            }
            Input::AudioLoaded { .. } => {}
            Input::VideoReady { a, b } => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                self.video.on_ready(fx, self.plan.as_mut(), a, b);
            }
            Input::VideoFailed => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                self.video.on_failed(fx);
            }
        }
        self.run_events();
        self.check_finished();
    }

    fn on_media_ready(
        &mut self,
        a: Anchor,
        b: Anchor,
        webrtc: Option<Box<[crate::media::sdp::webrtc::WebRtcLocal; 2]>>,
    ) {
        self.anchors = Some((a, b));
        self.webrtc = webrtc;
        if self.outbound.is_some() {
            if self.is_live() {
                self.outbox
                    .push(Output::Live(LiveEvent::MediaReady { b, a_codec: None }));
            }
            return self.dial_a();
        }
        let Some(plan) = self.plan.as_mut() else {
            return;
        };
        plan.set_webrtc_locals(self.webrtc.clone());
        if plan.set_anchors(a, b).is_err() {
            self.hangup_all("media-unavailable", Some(503));
            return;
        }
        let a_remote = plan.a_remote();
        let pts = plan.a_payload_types();
        let srtp = plan.srtp_keys(crate::media::Leg::A);
        self.signalling_to_media(LegId::A);
        if let Some((rtp, rtcp)) = a_remote {
            self.media(MediaCommand::SetRemote {
                leg: crate::media::Leg::A,
                rtp,
                rtcp,
            });
            self.media(MediaCommand::SetPayloadTypes {
                leg: crate::media::Leg::A,
                allowed: pts,
            });
        }
        self.srtp_to_media(crate::media::Leg::A, srtp);
        self.live_media_ready();
    }

    fn on_media_event(&mut self, ev: crate::media::Event) {
        use crate::media::Event;
        match ev {
            Event::RtpTimeout {
                leg: crate::media::Leg::B,
            } if self.is_joined() => {
                // The other call of a bridge is silent or not answered yet; its own leg's
                // timeout is its business.
            }
            Event::RtpTimeout { leg } => {
                tracing::info!(call = %self.setup.cmiuuid, ?leg, "no RTP; ending the call");
                self.hangup_all("rtp-timeout", None);
            }
            Event::WebRtc {
                leg,
                connected: false,
                reason: Some(reason),
            } => {
                // A browser leg whose ICE or DTLS failed carries no media: the call ends
                // with that cause in its events and CDR.
                tracing::info!(call = %self.setup.cmiuuid, ?leg, reason, "WebRTC leg failed; ending the call");
                self.hangup_all(reason, None);
            }
            Event::StreamDone { id, end } => self.on_stream_done(id, end),
            Event::PlayDone { id, completed } if id == waiting_music::MUSIC.0 => {
                self.on_music_done(completed);
            }
            Event::PlayDone { id, .. } => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                self.media_actions.on_play_done(fx, id);
            }
            Event::Dtmf { leg, digit } => self.on_digit(leg, digit),
            Event::RecordDone {
                id,
                path,
                duration_ms,
                ok,
            } => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                let done = self
                    .media_actions
                    .on_record_done(fx, id, path, duration_ms, ok);
                if let (Some(r), true) = (done, self.is_live()) {
                    self.outbox.push(Output::Live(LiveEvent::Recording {
                        id: r.recording_id,
                        ok: r.ok,
                        started_ms: r.started_ms,
                        ended_ms: r.ended_ms,
                    }));
                }
            }
            _ => {}
        }
    }

    fn media(&mut self, c: MediaCommand) {
        self.outbox.push(Output::Media(c));
    }

    /// A digit from the caller (RFC 4733 or SIP INFO), for the script.
    fn on_digit(&mut self, leg: crate::media::Leg, digit: char) {
        if !self.ending {
            let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
            MediaActions::on_digit(fx, leg, digit);
        }
    }

    /// The caller's dialog as it will be once answered (our tag is chosen at creation), so
    /// its in-dialog requests can be routed from the start; `None` for a call ringmaster
    /// places, or an INVITE without a Call-ID or a readable From.
    pub fn a_dialog_id(&self) -> Option<super::dialog::DialogId> {
        self.a.dialog_id()
    }

    /// Where `leg`'s SIP comes from: the caller's source, the address a B leg's (or a placed
    /// call's A leg's) INVITE went to. Its RTP may latch from there (`media::latch`).
    fn signalling_source(&self, leg: LegId) -> Option<IpAddr> {
        if leg == LegId::A {
            self.a.signalling_source()
        } else {
            self.b.source(leg)
        }
    }

    /// Tells the media task where `leg`'s signalling comes from.
    fn signalling_to_media(&mut self, leg: LegId) {
        let Some(ip) = self.signalling_source(leg) else {
            return;
        };
        let media_leg = if leg == LegId::A {
            crate::media::Leg::A
        } else {
            crate::media::Leg::B
        };
        self.media(MediaCommand::SetSignallingSource { leg: media_leg, ip });
    }

    /// Relay both legs' media (audio, and video when it is carried).
    fn bridge_media(&mut self) {
        self.media(MediaCommand::Bridge);
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        self.video.media(fx, MediaCommand::Bridge);
    }

    fn unbridge_media(&mut self) {
        self.media(MediaCommand::Unbridge);
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        self.video.media(fx, MediaCommand::Unbridge);
    }

    fn report(&mut self, r: Report) {
        self.outbox.push(Output::Report(r));
    }

    fn script_error(&mut self, code: &str, path: &str, message: &str) {
        Effects::new(&mut self.outbox, &self.setup.cmiuuid).script_error(code, path, message);
    }

    /// Ends the A leg's record (terminal event and CDR).
    fn end_a(&mut self, cause: &str, status: Option<u16>) {
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        self.a.end(fx, cause, status, &self.extra_params);
    }

    /// Tears everything down: A gets a final response or a BYE, answered B legs a BYE, ringing
    /// ones a CANCEL. Legs report their end when it is confirmed.
    fn hangup_all(&mut self, cause: &str, a_status: Option<u16>) {
        self.ending = true;
        self.stop_waiting_music();
        // Dialling A: its ring is cancelled below; A ends when the ring reports it. Before
        // the ring started (no ports yet, or A not resolved yet) nothing will report, so A
        // ends at once, and a late resolution dials nobody.
        let dial_out = self
            .outbound
            .as_ref()
            .is_some_and(|o| self.rings.is_forked(o.ring));
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        self.a
            .hang_up(fx, cause, a_status, dial_out, &self.extra_params);
        for leg in self.b.ids() {
            self.hang_up_b(leg, cause);
        }
        for (ring, targets) in self.rings.forked_targets(None) {
            self.outbox.push(Output::CancelFork { ring, targets });
        }
        // The script is over; nothing it would still do matters. A live gather reports that
        // the call hung up.
        self.outbox.clear_events();
        self.live_hung_up();
        if matches!(self.driver, Some(Driver::Script(_))) {
            self.driver = None;
        }
    }

    fn check_finished(&mut self) {
        if self.finished {
            return;
        }
        let a_done = self.a.is_ended();
        let b_done = self.b.all_ended();
        // A ring leaves the map when its fork is done.
        let rings_done = self.rings.all_done();
        if a_done && b_done && rings_done && (self.ending || !self.script_running()) {
            let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
            if self.media_actions.finish_recordings(fx) {
                return;
            }
            // RFC 3261 §15.1.2: requests still pending when the dialog ends get 487, or
            // their server transactions would wait for ever (found by the call_dialog fuzzer).
            let pending: Vec<TxId> = self.relayed.keys().cloned().collect();
            for tx in pending {
                self.fail_relayed(tx, 487);
            }
            self.finished = true;
            self.live_ended();
            self.driver = None;
            if self.anchors.is_some() {
                self.media(MediaCommand::Stop);
            }
            let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
            self.video.media(fx, MediaCommand::Stop);
            self.outbox.push(Output::Finished);
        }
    }
}

/// From/to in the answer-URL request: JSON numbers when they are plain digits (PIOPIY's
/// documents show numbers), strings otherwise.
fn number_like(v: &str) -> serde_json::Value {
    let plain = !v.is_empty()
        && !v.starts_with('0')
        && v.len() <= 18
        && v.bytes().all(|b| b.is_ascii_digit());
    match v.parse::<u64>() {
        Ok(n) if plain => serde_json::Value::from(n),
        _ => serde_json::Value::from(v),
    }
}

/// A header for our INVITEs that some PIOPIY clients read.
const CMI_UUID_HEADER: &str = "X-cmi-uuid";

fn header(name: &str) -> HeaderName {
    HeaderName::parse(name)
}
