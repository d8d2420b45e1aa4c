//! Running the script: the answer URL's PCMO (or the app's fallback) in the interpreter, and
//! carrying out its commands.

use pcmo::{Command, HangupReason, Interpreter, Script};

use crate::call::driver::Driver;

use super::Call;
use crate::call::effects::Effects;
use crate::call::io::{AudioRequest, Output};
use crate::media::Command as MediaCommand;

impl Call {
    pub(super) fn on_answer_script(&mut self, result: Result<String, pcmo::FetchError>) {
        if self.ending {
            return;
        }
        let body = match result {
            Ok(b) => b,
            Err(f) => {
                self.script_error("answer_url_failed", "", &describe(f));
                return self.run_fallback();
            }
        };
        match Script::parse(&body) {
            Ok(script) => self.run_script(script),
            Err(report) => {
                for e in &report.errors {
                    self.script_error(e.code().as_str(), e.path.as_str(), &e.message());
                }
                self.run_fallback();
            }
        }
    }

    /// The app's fallback script, else a clean refusal (503).
    fn run_fallback(&mut self) {
        let fallback = self
            .setup
            .fallback
            .clone()
            .and_then(|f| Script::parse(&f).ok());
        match fallback {
            Some(script) => self.run_script(script),
            None => self.hangup_all("answer-url-failed", Some(503)),
        }
    }

    pub(super) fn run_script(&mut self, script: Script) {
        let (id, from, to) = (
            self.setup.cmiuuid.clone(),
            self.setup.from.clone(),
            self.setup.to.clone(),
        );
        let info = if self.outbound.is_some() || self.a.is_answered() {
            pcmo::CallInfo::outbound_answered(id, from, to)
        } else {
            pcmo::CallInfo::inbound(id, from, to)
        };
        self.driver = Some(Driver::Script(Box::new(Interpreter::new(script, info))));
        self.outbox.event(pcmo::Event::Start);
    }

    /// Feeds queued events to the interpreter and carries out what it says, until quiet.
    pub(super) fn run_events(&mut self) {
        while let Some(ev) = self.outbox.next_event() {
            let interp = match self.driver.as_mut() {
                Some(Driver::Script(interp)) => interp,
                Some(Driver::Live(_)) => {
                    self.live_step(ev);
                    continue;
                }
                None => {
                    self.outbox.clear_events();
                    return;
                }
            };
            interp.handle(self.outbox.now(), ev);
            let mut cmds = Vec::new();
            while let Some(c) = interp.poll() {
                cmds.push(c);
            }
            self.run_commands(cmds);
        }
    }

    fn run_commands(&mut self, cmds: Vec<Command>) {
        // `Answer` waits for the end of the batch: if an action the engine cannot run yet
        // follows, the caller gets a clean refusal rather than an answer and an instant BYE.
        let mut answer = false;
        for c in cmds {
            if self.ending {
                return;
            }
            match c {
                Command::Answer => answer = true,
                Command::Ring(ring) => self.start_ring(ring),
                Command::Cancel { target_ids } => self.cancel_targets(&target_ids),
                Command::Bridge { target_id } => {
                    self.stop_waiting_music();
                    self.bridge(target_id)
                }
                Command::Unbridge { target_id } if self.b.is_bridged_to(target_id) => {
                    self.unbridge_media();
                    self.b.clear_bridge();
                }
                Command::Hangup { reason } => {
                    // A caller never answered hears why the last connect failed (busy: 486,
                    // declined: 603, nobody: 480), whether the script ended or said hangup.
                    let status = match reason {
                        HangupReason::ScriptEnded | HangupReason::Hangup => {
                            self.last_outcome.and_then(|o| o.sip_status())
                        }
                        _ => None,
                    };
                    self.hangup_all(reason.as_str(), status);
                }
                Command::StartTimer { id, at } => self.outbox.push(Output::Timer { id, at }),
                Command::SetParam(v) => self.extra_params = Some(v.to_extra_params()),
                Command::PostEvent(pcmo::ScriptEvent::ConnectFinished { outcome, .. }) => {
                    self.stop_waiting_music();
                    self.last_outcome = Some(outcome);
                }
                Command::ScriptError(e) => {
                    self.script_error(e.code().as_str(), e.path.as_str(), &e.message());
                }
                Command::FetchScript {
                    fetch_id,
                    source,
                    payload,
                } => match source {
                    pcmo::ScriptSource::Url(url) => {
                        let body = serde_json::to_value(&payload).unwrap_or_default();
                        self.outbox.push(Output::Fetch {
                            fetch_id: Some(fetch_id),
                            url,
                            body,
                        });
                    }
                    pcmo::ScriptSource::Reference(_) => {
                        self.outbox.event(pcmo::Event::ScriptFetched {
                            fetch_id,
                            result: Err(pcmo::FetchError::UnknownReference),
                        })
                    }
                },
                Command::Play { media_id, source } => {
                    let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                    let request = AudioRequest::play(source);
                    self.media_actions.load_prompt(fx, media_id, request);
                }
                Command::Speak {
                    media_id,
                    text,
                    voice,
                } => {
                    let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                    let request = AudioRequest::speak(text, voice);
                    self.media_actions.load_prompt(fx, media_id, request);
                }
                Command::StopMedia { media_id } if self.stop_stream(media_id) => {}
                Command::StopMedia { media_id } => {
                    let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                    self.media_actions.stop_prompt(fx, media_id);
                }
                Command::Record(how) => {
                    let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                    let dir = &self.setup.recordings_dir;
                    self.media_actions.start_recording(fx, how, dir);
                }
                // The interpreter runs the digit rules and timers; DTMF detection is always on.
                Command::CollectDigits(_) => {}
                Command::Stream { media_id, stream } => {
                    // Answered first (the interpreter's `Answer` above), then streamed.
                    if answer {
                        self.answer_a_own();
                        answer = false;
                    }
                    self.start_stream(media_id, stream);
                }
                _ => {}
            }
        }
        if answer {
            self.answer_a_own();
        }
    }

    /// Answers A with our own SDP (the script needs media before any B leg).
    pub(super) fn answer_a_own(&mut self) {
        if !self.a.is_ringing() {
            return;
        }
        let Some(sdp) = self.plan.as_mut().and_then(|p| p.own_answer_to_a()) else {
            return self.hangup_all("media-unavailable", Some(503));
        };
        self.answer_a(sdp);
    }

    /// Sends A our 200 with `sdp` and records the dialog.
    fn answer_a(&mut self, sdp: bytes::Bytes) {
        if self.a.offer().is_none() {
            return; // answered already, or a call ringmaster placed
        }
        self.sent_to_a(&sdp);
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        let contact = &self
            .setup
            .contacts
            .for_transport(&self.setup.contact, self.a.transport());
        if self.a.answer(fx, sdp, contact, &self.extra_params).is_err() {
            return self.hangup_all("error", Some(500));
        }
        self.media(MediaCommand::OpenLatchWindow {
            leg: crate::media::Leg::A,
        });
    }

    /// The script bridges an answered B leg with the caller.
    fn bridge(&mut self, target: pcmo::TargetId) {
        let fx = &Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        let Some((leg, answer, ev)) = self.b.bridge(fx, target, &self.extra_params) else {
            return;
        };
        if let Some(answer) = answer {
            self.b_media(leg, &answer);
            if self.a.is_ringing() {
                self.answer_a(answer.to_a);
            }
        }
        self.bridge_media();
        self.report(ev);
        self.start_pending_stream();
    }
}

/// Why the answer URL gave no script, for the app's error event.
fn describe(f: pcmo::FetchError) -> String {
    use pcmo::FetchError;
    match f {
        FetchError::Timeout => "the answer URL did not answer in time".into(),
        FetchError::Unreachable => "the answer URL could not be reached".into(),
        FetchError::Status(s) => format!("the answer URL answered HTTP {s}"),
        FetchError::TooLarge => "the answer URL's response was too large".into(),
        _ => "the answer URL could not be fetched".into(),
    }
}
