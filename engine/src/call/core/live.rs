//! Live control of the call: the app's commands ([`Call::command`]), checked against the
//! call's state and carried out by its parts, and the events the live driver reports.
//!
//! A bridge of two calls joins their B sides: each call relays its caller to and from its own
//! B port, and that port's remote is the other call's B port (PCMU with telephone-events on
//! both, so each call transcodes its own caller's law). The whole relay path — latching,
//! μ↔A, DTMF detection, recording, prompts replacing the relayed audio — is the one every
//! call already has; a bridge adds no media code.

use std::time::Instant;

use super::Call;
use crate::call::driver::{Driver, Live};
use crate::call::effects::Effects;
use crate::call::io::Output;
use crate::call::live::{
    valid_digits, DeviceMedia, LiveAccepted, LiveCommand, LiveError, LiveEvent, LivePrompt,
    LiveSetup,
};
use crate::media::codec::{AudioCodec, LegCodecs};
use crate::media::rtp::PayloadTypes;
use crate::media::{Command as MediaCommand, Leg};

/// The telephone-event payload type between two bridged calls' B sides.
const JOIN_EVENT_PT: u8 = 101;

impl Call {
    pub(super) fn is_live(&self) -> bool {
        matches!(self.driver, Some(Driver::Live(_)))
    }

    pub(super) fn script_running(&self) -> bool {
        matches!(self.driver, Some(Driver::Script(_)))
    }

    pub(super) fn is_joined(&self) -> bool {
        matches!(&self.driver, Some(Driver::Live(l)) if l.joined)
    }

    fn live_mut(&mut self) -> Option<&mut Live> {
        match self.driver.as_mut() {
            Some(Driver::Live(l)) => Some(l),
            _ => None,
        }
    }

    /// Carries out an app's command at `now`; the outputs it causes are polled as usual.
    pub fn command(
        &mut self,
        now: Instant,
        wall_ms: u64,
        cmd: LiveCommand,
    ) -> Result<LiveAccepted, LiveError> {
        self.outbox.set_clock(now, wall_ms);
        if self.finished || self.ending || self.a.is_ended() {
            return Err(LiveError::Ended);
        }
        let result = self.run_command(cmd);
        self.run_events();
        self.check_finished();
        result
    }

    fn run_command(&mut self, cmd: LiveCommand) -> Result<LiveAccepted, LiveError> {
        // Any driver: ending the call, holding its bridge, handing it to a script, taking it.
        match cmd {
            LiveCommand::Hangup => {
                self.hangup_all("hangup", None);
                return Ok(LiveAccepted::Done);
            }
            LiveCommand::Hold(want) => return self.hold(want),
            LiveCommand::RunScript(script) => {
                self.leave_for_script();
                self.run_script(*script);
                return Ok(LiveAccepted::Done);
            }
            LiveCommand::FetchScript(url) => {
                self.leave_for_script();
                let body = self.transfer_body();
                self.outbox.push(Output::Fetch {
                    fetch_id: None,
                    url,
                    body,
                });
                return Ok(LiveAccepted::Done);
            }
            LiveCommand::TakeControl => {
                if !self.is_live() {
                    self.outbox.clear_events();
                    self.driver = Some(Driver::Live(Box::new(Live::new(LiveSetup::default()))));
                }
                return Ok(LiveAccepted::Done);
            }
            _ => {}
        }
        if !self.is_live() {
            return Err(LiveError::ScriptDriven);
        }
        match cmd {
            LiveCommand::Answer => {
                if !self.a.is_ringing() {
                    return Err(LiveError::NotRinging);
                }
                if self.anchors.is_none() {
                    if let Some(l) = self.live_mut() {
                        l.answer_pending = true;
                    }
                    return Ok(LiveAccepted::Done);
                }
                self.live_answer();
                Ok(LiveAccepted::Done)
            }
            LiveCommand::Reject(status) => {
                if !self.a.is_ringing() {
                    return Err(LiveError::NotRinging);
                }
                self.hangup_all("rejected", Some(status));
                Ok(LiveAccepted::Done)
            }
            LiveCommand::Ringback => {
                if !self.a.is_ringing() {
                    return Err(LiveError::NotRinging);
                }
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                self.a.respond(fx, 180, None);
                Ok(LiveAccepted::Done)
            }
            LiveCommand::Device(media) => {
                if !self.b.ids().is_empty() {
                    return Err(LiveError::HasOwnLegs);
                }
                let live = self.live_mut().ok_or(LiveError::ScriptDriven)?;
                if live.join.is_some() || live.setup.device.is_some() {
                    return Err(LiveError::AlreadyBridged);
                }
                live.setup.device = Some(media);
                self.apply_join();
                Ok(LiveAccepted::Done)
            }
            LiveCommand::Play(prompt) => {
                self.require_active()?;
                self.live_play(prompt, false);
                Ok(LiveAccepted::Done)
            }
            LiveCommand::StopAudio => {
                let stop = self.live_mut().and_then(|l| l.stop_prompt());
                self.stop_media(stop);
                Ok(LiveAccepted::Done)
            }
            LiveCommand::SendDtmf(digits) => {
                self.require_active()?;
                if !valid_digits(&digits) {
                    return Err(LiveError::InvalidDigits);
                }
                self.media(MediaCommand::SendDtmf {
                    leg: Leg::A,
                    digits: digits.to_ascii_uppercase(),
                });
                Ok(LiveAccepted::Done)
            }
            LiveCommand::Gather(spec) => {
                self.require_active()?;
                if self.live_mut().is_some_and(|l| l.gather_running()) {
                    return Err(LiveError::GatherRunning);
                }
                let prompt = spec.prompt.clone();
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                let Some(Driver::Live(live)) = self.driver.as_mut() else {
                    return Err(LiveError::ScriptDriven);
                };
                let id = live.start_gather(fx, spec);
                if let Some(p) = prompt {
                    self.live_play(p, true);
                }
                Ok(LiveAccepted::Gather(id))
            }
            LiveCommand::StopGather(id) => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                match self.driver.as_mut() {
                    Some(Driver::Live(l)) => match l.stop_gather(fx, id) {
                        true => Ok(LiveAccepted::Done),
                        false => Err(LiveError::NoSuchGather),
                    },
                    _ => Err(LiveError::NoSuchGather),
                }
            }
            LiveCommand::Record(on) => {
                self.require_active()?;
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                if on {
                    let dir = &self.setup.recordings_dir;
                    self.media_actions
                        .start_recording(fx, pcmo::Recording::default(), dir);
                } else {
                    self.media_actions.stop_recordings(fx);
                }
                Ok(LiveAccepted::Done)
            }
            LiveCommand::Join { peer } => {
                if !self.b.ids().is_empty() {
                    return Err(LiveError::HasOwnLegs);
                }
                let live = self.live_mut().ok_or(LiveError::ScriptDriven)?;
                if live.join.is_some() {
                    return Err(LiveError::AlreadyBridged);
                }
                live.join = Some(peer);
                live.held = false;
                self.apply_join();
                Ok(LiveAccepted::Done)
            }
            LiveCommand::Leave => {
                let live = self.live_mut().ok_or(LiveError::ScriptDriven)?;
                if live.join.take().is_none() {
                    return Err(LiveError::NotBridged);
                }
                let was = std::mem::replace(&mut live.joined, false);
                if was {
                    self.media(MediaCommand::Unbridge);
                }
                Ok(LiveAccepted::Done)
            }
            // Handled above for every driver.
            LiveCommand::Hangup
            | LiveCommand::Hold(_)
            | LiveCommand::RunScript(_)
            | LiveCommand::FetchScript(_)
            | LiveCommand::TakeControl => Ok(LiveAccepted::Done),
        }
    }

    fn require_active(&self) -> Result<(), LiveError> {
        if !self.a.is_answered() {
            return Err(LiveError::NotActive);
        }
        if self.anchors.is_none() {
            return Err(LiveError::NoMedia);
        }
        Ok(())
    }

    /// Hold (silence both ways) or resume the call's bridge: the script's bridged B leg, or
    /// the other call a live call is joined with.
    fn hold(&mut self, want: Option<bool>) -> Result<LiveAccepted, LiveError> {
        let script_bridge = self.b.bridged().is_some();
        let (joined, held) = match &self.driver {
            Some(Driver::Live(l)) => (l.join.is_some(), l.held),
            _ => (false, self.held_script),
        };
        if !script_bridge && !joined {
            return Err(LiveError::NotBridged);
        }
        let hold = want.unwrap_or(!held);
        if hold != held {
            if hold {
                self.media(MediaCommand::Unbridge);
            } else if script_bridge || self.a.is_answered() {
                self.media(MediaCommand::Bridge);
            }
        }
        match self.driver.as_mut() {
            Some(Driver::Live(l)) => {
                l.held = hold;
                l.joined = !hold && self.a.is_answered();
            }
            _ => self.held_script = hold,
        }
        Ok(LiveAccepted::Held(hold))
    }

    /// Before a script takes the call: out of any bridge, the live prompt and gather ended.
    fn leave_for_script(&mut self) {
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        if let Some(Driver::Live(live)) = self.driver.as_mut() {
            live.hung_up(fx);
            let stop = live.stop_prompt();
            let joined = live.joined;
            if let Some(id) = stop {
                self.media_actions.stop_prompt(fx, id);
            }
            if joined {
                fx.media(MediaCommand::Unbridge);
            }
            fx.push(Output::Live(LiveEvent::Transferred));
        }
        self.outbox.clear_events();
        self.driver = None;
    }

    /// What a script URL fetched for a transfer is told (the answer URL's fields).
    fn transfer_body(&self) -> serde_json::Value {
        serde_json::json!({
            "from": super::number_like(&self.setup.from),
            "to": super::number_like(&self.setup.to),
            "time": self.outbox.wall_ms(),
            "cmiuuid": self.setup.cmiuuid,
            "cmuuid": self.setup.cmiuuid,
            "action": "transfer",
            "appid": self.setup.appid,
            "leg": "a",
        })
    }

    fn live_play(&mut self, prompt: LivePrompt, for_gather: bool) {
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        let Some(Driver::Live(live)) = self.driver.as_mut() else {
            return;
        };
        let (media, request, stop) = live.play(fx, prompt, for_gather);
        if let Some(id) = stop {
            self.media_actions.stop_prompt(fx, id);
        }
        self.media_actions.load_prompt(fx, media, request);
    }

    fn stop_media(&mut self, id: Option<pcmo::MediaId>) {
        if let Some(id) = id {
            let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
            self.media_actions.stop_prompt(fx, id);
        }
    }

    /// The live driver hears an event of the call's parts.
    pub(super) fn live_step(&mut self, ev: pcmo::Event) {
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        let Some(Driver::Live(live)) = self.driver.as_mut() else {
            return;
        };
        match ev {
            pcmo::Event::MediaDone { media_id } => {
                if let Some(again) = live.prompt_done(fx, media_id) {
                    self.media_actions.load_prompt(fx, media_id, again);
                }
            }
            pcmo::Event::Digits { digits } => {
                for d in digits.chars() {
                    if let Some(id) = live.digit(fx, d) {
                        self.media_actions.stop_prompt(fx, id);
                    }
                }
            }
            pcmo::Event::TimerFired(id) => live.timer(fx, id),
            _ => {}
        }
    }

    /// Ports ready for an inbound live call: answer it first if the app asked to, then tell
    /// the app it is there.
    pub(super) fn live_media_ready(&mut self) {
        let Some(live) = self.live_mut() else {
            return;
        };
        let answer = live.setup.auto_answer || live.answer_pending;
        let answer_timeout = live.setup.answer_timeout;
        if answer && self.a.is_ringing() {
            self.live_answer();
        }
        let answered = self.a.is_answered();
        if let (Some((_, b)), false) = (self.anchors, self.ending) {
            let a_codec = self
                .plan
                .as_ref()
                .and_then(|p| p.a_codecs_from_offer())
                .map(|c| c.audio);
            self.outbox
                .push(Output::Live(LiveEvent::MediaReady { b, a_codec }));
        }
        if let (Some(after), false) = (answer_timeout, answered) {
            let at = self.outbox.now() + after;
            self.outbox.push(Output::Timer {
                id: super::LIVE_ANSWER_TIMER,
                at,
            });
        }
        if !self.ending {
            self.outbox
                .push(Output::Live(LiveEvent::Incoming { answered }));
        }
    }

    fn live_answer(&mut self) {
        self.answer_a_own();
        if self.a.is_answered() {
            self.apply_join();
        }
    }

    /// A placed live call was answered.
    pub(super) fn live_answered(&mut self) {
        self.outbox.push(Output::Live(LiveEvent::Answered));
        self.apply_join();
    }

    /// A placed live call rang out its `callTimeout`.
    pub(super) fn live_dial_timeout(&mut self) {
        if !self.a.is_dialing() || self.ending {
            return;
        }
        if let Some(l) = self.live_mut() {
            l.timed_out = true;
        }
        self.outbox.push(Output::Live(LiveEvent::Timeout));
        self.hangup_all("no-answer", None);
    }

    /// An inbound live call rang its `answer_timeout` unanswered: 480 to the caller.
    pub(super) fn live_answer_timeout(&mut self) {
        if self.a.is_ringing() && !self.ending {
            self.hangup_all("no-answer", Some(480));
        }
    }

    /// The call is being torn down.
    pub(super) fn live_hung_up(&mut self) {
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        if let Some(Driver::Live(live)) = self.driver.as_mut() {
            live.hung_up(fx);
        }
    }

    /// The call is over: the live driver's last event.
    pub(super) fn live_ended(&mut self) {
        let Some(Driver::Live(live)) = &self.driver else {
            return;
        };
        let (cause, status) = match self.a.outcome() {
            _ if live.timed_out => ("no-answer".to_string(), None),
            Some((c, s)) => (c.to_string(), s),
            None => ("hangup".to_string(), None),
        };
        self.outbox
            .push(Output::Live(LiveEvent::Ended { cause, status }));
    }

    /// Relays this call with the other call's B side (or the device's RTP endpoint), once
    /// this call is answered.
    fn apply_join(&mut self) {
        let answered = self.a.is_answered();
        let Some((_, _)) = self.anchors else {
            return;
        };
        let Some(live) = self.live_mut() else {
            return;
        };
        let peer = match (&live.setup.device, live.join) {
            (Some(d), _) => d.clone(),
            (None, Some(peer)) => DeviceMedia {
                rtp: std::net::SocketAddr::new(peer.addr, peer.rtp_port),
                codec: AudioCodec::Pcmu,
                event_pt: JOIN_EVENT_PT,
                srtp: None,
            },
            (None, None) => return,
        };
        if !answered || live.joined || live.held {
            return;
        }
        live.joined = true;
        let rtcp = std::net::SocketAddr::new(peer.rtp.ip(), peer.rtp.port().wrapping_add(1));
        self.media(MediaCommand::SetRemote {
            leg: Leg::B,
            rtp: peer.rtp,
            rtcp: Some(rtcp),
        });
        self.media(MediaCommand::SetSignallingSource {
            leg: Leg::B,
            ip: peer.rtp.ip(),
        });
        self.media(MediaCommand::SetPayloadTypes {
            leg: Leg::B,
            allowed: PayloadTypes::NONE
                .with(peer.codec.static_payload_type())
                .with(peer.event_pt),
        });
        self.media(MediaCommand::SetCodecs {
            leg: Leg::B,
            codecs: LegCodecs::new(peer.codec, Some(peer.event_pt)),
        });
        if let Some(keys) = peer.srtp {
            self.media(MediaCommand::SetSrtp {
                leg: Leg::B,
                keys: Some(keys),
            });
        }
        self.media(MediaCommand::OpenLatchWindow { leg: Leg::B });
        self.media(MediaCommand::Bridge);
    }

    /// The B side's ports of this call (where a bridged call sends this call's audio).
    pub fn b_anchor(&self) -> Option<crate::media::sdp::Anchor> {
        self.anchors.map(|(_, b)| b)
    }
}
