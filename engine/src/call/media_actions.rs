//! The script's media actions inside a call: prompts (`play`, `speak`, the prompts of
//! `input`/`play_get_input`), digits, and `record`.
//!
//! Prompt audio is loaded by the shell (a file, a download, text to speech: all of them may
//! block), so a prompt is first *loading*, then *playing* in the media task, then done. The
//! interpreter hears `MediaDone` exactly once per prompt, also when loading fails (the app
//! gets an error event and the script goes on, as PIOPIY does) or when it is stopped. Digits
//! come from the media task (RFC 4733) or from SIP INFO on the A leg.
//!
//! A recording runs until the call ends or a new `record` replaces it; the call does not
//! report itself finished until the media task said the file is final, so the `recording`
//! event always goes out (or says why it failed).

use std::path::PathBuf;
use std::time::Duration;

use pcmo::{Channels, MediaId, RecordFormat, Recording, TimerId};

use super::core::Call;
use super::io::Output;
// Where the shell and the tests have always found them.
pub use super::io::{AudioFailure, AudioRequest};
pub use super::report::RecordingReport;
use super::report::Report;
use crate::media::{Command as MediaCommand, Leg};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PromptState {
    Loading,
    Playing,
}

/// A recording the media task is writing.
#[derive(Debug, Clone)]
pub(super) struct ActiveRecording {
    /// The id in events, file names and the recordings API.
    pub name: String,
    pub started_ms: u64,
}

/// How long a finished call waits for its recordings to be final before it gives up on them.
const RECORDING_GRACE: Duration = Duration::from_secs(10);

/// The timer id of that wait (script timers count up from 1 and never reach it).
pub(super) const RECORDING_WAIT_TIMER: TimerId = TimerId(u64::MAX - 1);

impl Call {
    /// `play`/`speak`: the shell loads the audio; the interpreter waits for `MediaDone`.
    pub(super) fn load_prompt(&mut self, media_id: MediaId, request: AudioRequest) {
        self.prompts.insert(media_id, PromptState::Loading);
        self.out.push_back(Output::LoadAudio { media_id, request });
    }

    pub(super) fn stop_prompt(&mut self, media_id: MediaId) {
        match self.prompts.get(&media_id) {
            Some(PromptState::Loading) => self.prompt_done(media_id),
            Some(PromptState::Playing) => self.media(MediaCommand::StopPlay { id: media_id.0 }),
            None => {}
        }
    }

    pub(super) fn on_audio_loaded(
        &mut self,
        media_id: MediaId,
        result: Result<crate::media::Audio, AudioFailure>,
    ) {
        if self.ending || self.prompts.get(&media_id) != Some(&PromptState::Loading) {
            return; // stopped meanwhile, or the call is ending
        }
        match result {
            Ok(audio) => {
                self.prompts.insert(media_id, PromptState::Playing);
                self.media(MediaCommand::Play {
                    id: media_id.0,
                    leg: Leg::A,
                    audio,
                });
            }
            Err(failure) => {
                self.script_error(failure.code, "", &failure.message);
                self.prompt_done(media_id);
            }
        }
    }

    /// The media task finished (or cut) a prompt.
    pub(super) fn on_play_done(&mut self, id: u64) {
        if self.prompts.get(&MediaId(id)) == Some(&PromptState::Playing) {
            self.prompt_done(MediaId(id));
        }
    }

    fn prompt_done(&mut self, media_id: MediaId) {
        self.prompts.remove(&media_id);
        self.events.push_back(pcmo::Event::MediaDone { media_id });
    }

    /// A digit from the caller (RFC 4733 or SIP INFO). B legs' digits are the far end's
    /// business: they are relayed, not collected.
    pub(super) fn on_digit(&mut self, leg: Leg, digit: char) {
        if leg == Leg::A && !self.ending {
            self.events.push_back(pcmo::Event::Digits {
                digits: digit.to_string(),
            });
        }
    }

    /// `record`: a stereo WAV (A's side left, B's right) under the app's recordings
    /// directory. v3 `format: mp3` and `channels: single` are not written yet: the app is told
    /// and gets the WAV.
    pub(super) fn start_recording(&mut self, how: Recording) {
        if how.format == Some(RecordFormat::Mp3) || how.channels == Some(Channels::Single) {
            self.script_error(
                "record_option_unsupported",
                "",
                "ringmaster records dual-channel WAV only; recording as WAV, one channel per leg",
            );
        }
        self.next_recording += 1;
        let n = self.next_recording;
        let name = format!("{}-{n}", self.setup.cmiuuid);
        let path = self.setup.recordings_dir.join(format!("{name}.wav"));
        self.recordings.insert(
            u64::from(n),
            ActiveRecording {
                name,
                started_ms: self.wall_ms,
            },
        );
        self.media(MediaCommand::Record {
            id: u64::from(n),
            path,
        });
    }

    pub(super) fn on_record_done(&mut self, id: u64, path: PathBuf, duration_ms: u64, ok: bool) {
        let Some(rec) = self.recordings.remove(&id) else {
            return;
        };
        self.report(Report::Recording(RecordingReport {
            recording_id: rec.name,
            path,
            started_ms: rec.started_ms,
            ended_ms: self.wall_ms,
            duration_ms,
            ok,
        }));
    }

    /// Every leg has ended: ask the media task to finish the files, and wait (bounded).
    /// Returns whether the call must still wait.
    pub(super) fn finish_recordings(&mut self) -> bool {
        if self.recordings.is_empty() {
            return false;
        }
        if !self.recordings_stopping {
            self.recordings_stopping = true;
            let ids: Vec<u64> = self.recordings.keys().copied().collect();
            for id in ids {
                self.media(MediaCommand::StopRecord { id });
            }
            self.out.push_back(Output::Timer {
                id: RECORDING_WAIT_TIMER,
                at: self.now + RECORDING_GRACE,
            });
        }
        true
    }

    /// The media task never said the files were final: report them failed and finish.
    pub(super) fn give_up_recordings(&mut self) {
        let stuck: Vec<(u64, ActiveRecording)> = self.recordings.drain().collect();
        for (_, rec) in stuck {
            tracing::warn!(call = %self.setup.cmiuuid, recording = %rec.name, "recording not confirmed by the media task");
            let path = self.setup.recordings_dir.join(format!("{}.wav", rec.name));
            self.report(Report::Recording(RecordingReport {
                recording_id: rec.name,
                path,
                started_ms: rec.started_ms,
                ended_ms: self.wall_ms,
                duration_ms: 0,
                ok: false,
            }));
        }
    }
}
