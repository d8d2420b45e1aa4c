//! v3 connect's `options.waiting_music`: what the caller hears while the targets ring.
//!
//! The music is loaded like a `play` prompt (the prompt cache, the app's URL policy), then
//! played to the caller in a loop: a caller not answered yet gets it as early media (a 183
//! with our own SDP first), an answered caller on its leg. It stops the moment a target is
//! bridged, when the connect is over (every round failed), when the script or the call ends.
//! Between rounds of `loop` the next round rings at once with the same music, which keeps
//! playing without a restart. A load failure is the app's error event (as for `play`); the
//! caller then hears what it would without music.

use pcmo::{AudioSource, MediaId};

use super::Call;
use crate::call::effects::Effects;
use crate::call::io::{AudioFailure, AudioRequest, Output};
use crate::media::{Audio, Command as MediaCommand, Leg};

/// The media id of the waiting music (script prompts count up from 1 and never reach it).
pub(super) const MUSIC: MediaId = MediaId(u64::MAX - 1);

/// The music of the connect in progress.
#[derive(Debug)]
pub(super) struct WaitingMusic {
    source: AudioSource,
    /// Loaded once, replayed for every loop.
    audio: Option<Audio>,
}

impl Call {
    /// A ring with waiting music starts.
    pub(super) fn start_waiting_music(&mut self, source: AudioSource) {
        if self.music.as_ref().is_some_and(|m| m.source == source) {
            return; // the next round of the same connect: the music goes on
        }
        if self.ending || self.b.bridged().is_some() {
            return; // a bridged caller hears the other party, not music
        }
        self.stop_waiting_music();
        if self.a.is_ringing() {
            // Early media: our own SDP in a 183, so the caller plays what we send.
            let Some(sdp) = self.plan.as_mut().and_then(|p| p.own_answer_to_a()) else {
                tracing::info!(call = %self.setup.cmiuuid, "no media for the waiting music");
                return;
            };
            self.sent_to_a(&sdp);
            let contact = self
                .setup
                .contacts
                .for_transport(&self.setup.contact, self.a.transport());
            let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
            self.a.early_media(fx, sdp, &contact);
        }
        self.music = Some(WaitingMusic {
            source: source.clone(),
            audio: None,
        });
        self.outbox.push(Output::LoadAudio {
            media_id: MUSIC,
            request: AudioRequest::play(source),
        });
    }

    /// The music's audio is loaded (or failed).
    pub(super) fn on_music_loaded(&mut self, result: Result<Audio, AudioFailure>) {
        let Some(music) = self.music.as_mut() else {
            return; // stopped while it loaded
        };
        match result {
            Ok(audio) => {
                music.audio = Some(audio.clone());
                self.media(MediaCommand::Play {
                    id: MUSIC.0,
                    leg: Leg::A,
                    audio,
                });
            }
            Err(failure) => {
                self.music = None;
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                fx.script_error(failure.code, "", &failure.message);
            }
        }
    }

    /// The music played to its end: again, while the targets still ring.
    pub(super) fn on_music_done(&mut self, completed: bool) {
        let again = self.music.as_ref().and_then(|m| m.audio.clone());
        if let (true, Some(audio), false) = (completed, again, self.ending) {
            self.media(MediaCommand::Play {
                id: MUSIC.0,
                leg: Leg::A,
                audio,
            });
        }
    }

    /// A target answered, the connect is over, or the call ends: the music stops now.
    pub(super) fn stop_waiting_music(&mut self) {
        if self.music.take().is_some() {
            self.media(MediaCommand::StopPlay { id: MUSIC.0 });
        }
    }
}
