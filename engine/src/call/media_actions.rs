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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcmo::{Channels, MediaId, RecordFormat, Recording, TimerId};

use super::effects::Effects;
use super::io::Output;
// Where the shell and the tests have always found them.
pub use super::io::{AudioFailure, AudioRequest};
pub use super::report::RecordingReport;
use super::report::Report;
use crate::media::record::{FileFormat, Layout};
use crate::media::{Command as MediaCommand, Leg};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PromptState {
    Loading,
    Playing,
}

/// A recording the media task is writing.
#[derive(Debug, Clone)]
struct ActiveRecording {
    /// The id in events, file names and the recordings API.
    name: String,
    started_ms: u64,
    layout: Layout,
}

/// How long a finished call waits for its recordings to be final before it gives up on them.
const RECORDING_GRACE: Duration = Duration::from_secs(10);

/// The timer id of that wait (script timers count up from 1 and never reach it).
pub(super) const RECORDING_WAIT_TIMER: TimerId = TimerId(u64::MAX - 1);

/// A call's prompts and recordings.
#[derive(Debug, Default)]
pub(super) struct MediaActions {
    /// Prompts loading or playing.
    prompts: HashMap<MediaId, PromptState>,
    /// Recordings being written, by their media-task id.
    recordings: HashMap<u64, ActiveRecording>,
    next_recording: u32,
    /// The call is over but waits for its recordings to be final.
    stopping: bool,
}

impl MediaActions {
    /// `play`/`speak`: the shell loads the audio; the interpreter waits for `MediaDone`.
    pub(super) fn load_prompt(
        &mut self,
        fx: &mut Effects,
        media_id: MediaId,
        request: AudioRequest,
    ) {
        self.prompts.insert(media_id, PromptState::Loading);
        fx.push(Output::LoadAudio { media_id, request });
    }

    pub(super) fn stop_prompt(&mut self, fx: &mut Effects, media_id: MediaId) {
        match self.prompts.get(&media_id) {
            Some(PromptState::Loading) => self.prompt_done(fx, media_id),
            Some(PromptState::Playing) => fx.media(MediaCommand::StopPlay { id: media_id.0 }),
            None => {}
        }
    }

    /// A prompt's audio is loaded (or failed): play it, or tell the app and go on. The call
    /// ignores this once it is ending.
    pub(super) fn on_audio_loaded(
        &mut self,
        fx: &mut Effects,
        media_id: MediaId,
        result: Result<crate::media::Audio, AudioFailure>,
    ) {
        if self.prompts.get(&media_id) != Some(&PromptState::Loading) {
            return; // stopped meanwhile
        }
        match result {
            Ok(audio) => {
                self.prompts.insert(media_id, PromptState::Playing);
                fx.media(MediaCommand::Play {
                    id: media_id.0,
                    leg: Leg::A,
                    audio,
                });
            }
            Err(failure) => {
                fx.script_error(failure.code, "", &failure.message);
                self.prompt_done(fx, media_id);
            }
        }
    }

    /// The media task finished (or cut) a prompt.
    pub(super) fn on_play_done(&mut self, fx: &mut Effects, id: u64) {
        if self.prompts.get(&MediaId(id)) == Some(&PromptState::Playing) {
            self.prompt_done(fx, MediaId(id));
        }
    }

    fn prompt_done(&mut self, fx: &mut Effects, media_id: MediaId) {
        self.prompts.remove(&media_id);
        fx.event(pcmo::Event::MediaDone { media_id });
    }

    /// A digit from the caller (RFC 4733 or SIP INFO), while the call is not ending. B legs'
    /// digits are the far end's business: they are relayed, not collected.
    pub(super) fn on_digit(fx: &mut Effects, leg: Leg, digit: char) {
        if leg == Leg::A {
            fx.event(pcmo::Event::Digits {
                digits: digit.to_string(),
            });
        }
    }

    /// `record` (and connect's recording option): a file in `dir` (the app's recordings
    /// directory), WAV unless `format: mp3`, one channel per leg (A's side left, B's right)
    /// unless `channels: single` (both parties mixed to mono).
    pub(super) fn start_recording(&mut self, fx: &mut Effects, how: Recording, dir: &Path) {
        let layout = layout(&how);
        self.next_recording += 1;
        let n = self.next_recording;
        let name = format!("{}-{n}", fx.call());
        let path = dir.join(format!("{name}.{}", layout.format.extension()));
        self.recordings.insert(
            u64::from(n),
            ActiveRecording {
                name,
                started_ms: fx.wall_ms(),
                layout,
            },
        );
        fx.media(MediaCommand::Record {
            id: u64::from(n),
            path,
            layout,
        });
    }

    pub(super) fn on_record_done(
        &mut self,
        fx: &mut Effects,
        id: u64,
        path: PathBuf,
        duration_ms: u64,
        ok: bool,
    ) -> Option<RecordingReport> {
        let rec = self.recordings.remove(&id)?;
        let report = RecordingReport {
            recording_id: rec.name,
            path,
            started_ms: rec.started_ms,
            ended_ms: fx.wall_ms(),
            duration_ms,
            format: rec.layout.format.extension(),
            channels: rec.layout.channels(),
            ok,
        };
        fx.report(Report::Recording(report.clone()));
        Some(report)
    }

    /// Ends every recording running (the app switched recording off); each reports when
    /// its file is final. False when none ran.
    pub(super) fn stop_recordings(&mut self, fx: &mut Effects) -> bool {
        for id in self.recordings.keys() {
            fx.media(MediaCommand::StopRecord { id: *id });
        }
        !self.recordings.is_empty()
    }

    /// Every leg has ended: ask the media task to finish the files, and wait (bounded).
    /// Returns whether the call must still wait.
    pub(super) fn finish_recordings(&mut self, fx: &mut Effects) -> bool {
        if self.recordings.is_empty() {
            return false;
        }
        if !self.stopping {
            self.stopping = true;
            for id in self.recordings.keys() {
                fx.media(MediaCommand::StopRecord { id: *id });
            }
            fx.push(Output::Timer {
                id: RECORDING_WAIT_TIMER,
                at: fx.now() + RECORDING_GRACE,
            });
        }
        true
    }

    /// The media task never said the files in `dir` were final: report them failed.
    pub(super) fn give_up_recordings(&mut self, fx: &mut Effects, dir: &Path) {
        for (_, rec) in self.recordings.drain() {
            tracing::warn!(call = %fx.call(), recording = %rec.name, "recording not confirmed by the media task");
            let path = dir.join(format!("{}.{}", rec.name, rec.layout.format.extension()));
            fx.report(Report::Recording(RecordingReport {
                recording_id: rec.name,
                path,
                started_ms: rec.started_ms,
                ended_ms: fx.wall_ms(),
                duration_ms: 0,
                format: rec.layout.format.extension(),
                channels: rec.layout.channels(),
                ok: false,
            }));
        }
    }
}

/// The file a script's recording options ask for (PIOPIY's defaults: WAV, one channel per
/// party).
fn layout(how: &Recording) -> Layout {
    Layout {
        format: match how.format {
            Some(RecordFormat::Mp3) => FileFormat::Mp3,
            Some(RecordFormat::Wav) | None => FileFormat::Wav,
        },
        mono: how.channels == Some(Channels::Single),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::call::effects::Outbox;

    fn drain(out: &mut Outbox) -> (Vec<Output>, Vec<pcmo::Event>) {
        let outputs = std::iter::from_fn(|| out.pop()).collect();
        let events = std::iter::from_fn(|| out.next_event()).collect();
        (outputs, events)
    }

    // The part runs on its own outbox, without a call around it.
    #[test]
    fn a_prompt_stopped_while_loading_is_done_once_and_its_late_audio_is_ignored() {
        let mut out = Outbox::new(Instant::now(), 1_000);
        let mut actions = MediaActions::default();
        let fx = &mut Effects::new(&mut out, "call-1");
        actions.load_prompt(fx, MediaId(7), AudioRequest::File("menu.wav".into()));
        actions.stop_prompt(fx, MediaId(7));
        let audio: crate::media::Audio = vec![0i16; 160].into();
        actions.on_audio_loaded(fx, MediaId(7), Ok(audio));
        let (outputs, events) = drain(&mut out);
        assert!(
            matches!(
                outputs.as_slice(),
                [Output::LoadAudio {
                    media_id: MediaId(7),
                    ..
                }]
            ),
            "{outputs:?}"
        );
        assert_eq!(
            events,
            vec![pcmo::Event::MediaDone {
                media_id: MediaId(7)
            }]
        );
    }

    #[test]
    fn recordings_are_stopped_once_then_given_up_as_failed() {
        let mut out = Outbox::new(Instant::now(), 5_000);
        let mut actions = MediaActions::default();
        let dir = Path::new("/recordings/app-1");
        let fx = &mut Effects::new(&mut out, "call-1");
        actions.start_recording(fx, Recording::default(), dir);
        assert!(actions.finish_recordings(fx), "waits for the file");
        assert!(actions.finish_recordings(fx), "still waits, asks once");
        actions.give_up_recordings(fx, dir);
        assert!(!actions.finish_recordings(fx), "nothing left to wait for");
        let (outputs, _) = drain(&mut out);
        let stops = outputs
            .iter()
            .filter(|o| matches!(o, Output::Media(MediaCommand::StopRecord { id: 1 })))
            .count();
        assert_eq!(stops, 1, "{outputs:?}");
        let Some(Output::Report(Report::Recording(r))) = outputs.last() else {
            panic!("{outputs:?}")
        };
        assert_eq!(r.recording_id, "call-1-1");
        assert_eq!(r.path, dir.join("call-1-1.wav"));
        assert!(!r.ok);
    }

    #[test]
    fn mp3_and_single_channel_reach_the_media_task_without_an_error() {
        let mut out = Outbox::new(Instant::now(), 5_000);
        let mut actions = MediaActions::default();
        let dir = Path::new("/recordings/app-1");
        let fx = &mut Effects::new(&mut out, "call-1");
        let how = Recording {
            format: Some(RecordFormat::Mp3),
            channels: Some(Channels::Single),
        };
        actions.start_recording(fx, how, dir);
        let (outputs, _) = drain(&mut out);
        assert!(
            matches!(
                outputs.as_slice(),
                [Output::Media(MediaCommand::Record { id: 1, path, layout })]
                    if path == &dir.join("call-1-1.mp3")
                        && *layout == Layout { format: FileFormat::Mp3, mono: true }
            ),
            "{outputs:?}"
        );
        let fx = &mut Effects::new(&mut out, "call-1");
        let r = actions.on_record_done(fx, 1, dir.join("call-1-1.mp3"), 900, true);
        let r = r.expect("the recording's report");
        assert_eq!((r.format, r.channels, r.duration_ms), ("mp3", 1, 900));
    }
}
