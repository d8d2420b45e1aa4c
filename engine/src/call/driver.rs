//! Who drives a call: a PCMO script (the interpreter) or the app's live commands. A transfer
//! swaps one for the other. Both hear the same events from the call's parts (the script's
//! event vocabulary: prompts done, digits, timers); the live driver turns them into
//! [`LiveEvent`]s and keeps what its commands started — the live prompt (with its loop) and a
//! gather with its timer.

use std::time::Duration;

use pcmo::{Interpreter, MediaId, TimerId};

use super::effects::Effects;
use super::io::{AudioRequest, Output};
use super::live::{
    GatherReason, GatherSpec, LiveEvent, LivePrompt, LiveSetup, LiveSource, PromptKind,
};
use crate::media::sdp::Anchor;

/// Media ids of live prompts count up from here, far above a script's (which count from 1),
/// so a prompt of either driver never answers for the other's after a transfer.
const LIVE_MEDIA_BASE: u64 = 1 << 62;
/// Timer ids of live gathers, likewise above a script's.
const LIVE_TIMER_BASE: u64 = 1 << 62;

pub(super) enum Driver {
    Script(Box<Interpreter>),
    Live(Box<Live>),
}

/// The live prompt playing (or loading).
#[derive(Debug)]
struct Playing {
    media: MediaId,
    prompt: LivePrompt,
    /// Stopped by a command: its end is not looped.
    stopped: bool,
    /// Started by a gather (its end is not reported as its own event).
    for_gather: bool,
    /// When this round of it was loaded: a round that ends at once (its audio could not be
    /// had) is not looped, or a broken URL would be fetched in a tight loop.
    loaded_at: std::time::Instant,
}

/// A looping prompt's round shorter than this is taken for a failure and not repeated.
const SHORTEST_LOOP: Duration = Duration::from_millis(250);

#[derive(Debug)]
struct Gather {
    id: u32,
    spec: GatherSpec,
    digits: String,
    timer: TimerId,
}

/// The live driver's state.
#[derive(Debug)]
pub(super) struct Live {
    pub(super) setup: LiveSetup,
    playing: Option<Playing>,
    gather: Option<Gather>,
    next_media: u64,
    next_timer: u64,
    next_gather: u32,
    /// The other call's B side this call is bridged with (`Join`), and whether the relay runs.
    pub(super) join: Option<Anchor>,
    pub(super) joined: bool,
    pub(super) held: bool,
    /// `Answer` came before the media ports: answer when they are ready.
    pub(super) answer_pending: bool,
    /// The placed call rang out (its end is `no-answer`, after a `timeout` event).
    pub(super) timed_out: bool,
}

impl Live {
    pub(super) fn new(setup: LiveSetup) -> Live {
        Live {
            setup,
            playing: None,
            gather: None,
            next_media: LIVE_MEDIA_BASE,
            next_timer: LIVE_TIMER_BASE,
            next_gather: 0,
            join: None,
            joined: false,
            held: false,
            answer_pending: false,
            timed_out: false,
        }
    }

    fn kind(prompt: &LivePrompt) -> PromptKind {
        match prompt.source {
            LiveSource::Speak { .. } => PromptKind::Speak,
            LiveSource::File { .. } => PromptKind::Playback,
        }
    }

    fn request(prompt: &LivePrompt) -> AudioRequest {
        match &prompt.source {
            LiveSource::Speak { text, voice } => AudioRequest::speak(text.clone(), voice.clone()),
            LiveSource::File { url } => AudioRequest::Url(url.clone()),
        }
    }

    /// Starts a prompt, replacing the one playing. Returns the media id and the audio to
    /// load, and the id of the prompt to stop, if any.
    pub(super) fn play(
        &mut self,
        fx: &mut Effects,
        prompt: LivePrompt,
        for_gather: bool,
    ) -> (MediaId, AudioRequest, Option<MediaId>) {
        let stop = self.stop_prompt();
        self.next_media += 1;
        let media = MediaId(self.next_media);
        if !for_gather {
            fx.push(Output::Live(LiveEvent::Prompt {
                kind: Live::kind(&prompt),
                done: false,
                tag: prompt.tag.clone(),
            }));
        }
        let request = Live::request(&prompt);
        self.playing = Some(Playing {
            media,
            prompt,
            stopped: false,
            for_gather,
            loaded_at: fx.now(),
        });
        (media, request, stop)
    }

    /// Marks the live prompt stopped; returns its media id for the media actions to stop.
    pub(super) fn stop_prompt(&mut self) -> Option<MediaId> {
        let p = self.playing.as_mut()?;
        p.stopped = true;
        Some(p.media)
    }

    /// A prompt ended. A looping one that was not stopped plays again (its audio is cached):
    /// returns the request to load under the same id.
    pub(super) fn prompt_done(&mut self, fx: &mut Effects, media: MediaId) -> Option<AudioRequest> {
        let now = fx.now();
        let p = self.playing.as_mut().filter(|p| p.media == media)?;
        let played = now.saturating_duration_since(p.loaded_at) >= SHORTEST_LOOP;
        if p.prompt.looped && !p.stopped && played {
            p.loaded_at = now;
            return Some(Live::request(&p.prompt));
        }
        let p = self.playing.take()?;
        if !p.for_gather {
            fx.push(Output::Live(LiveEvent::Prompt {
                kind: Live::kind(&p.prompt),
                done: true,
                tag: p.prompt.tag,
            }));
        }
        None
    }

    pub(super) fn gather_running(&self) -> bool {
        self.gather.is_some()
    }

    /// Starts a gather; its inter-digit timer runs from now.
    pub(super) fn start_gather(&mut self, fx: &mut Effects, spec: GatherSpec) -> u32 {
        self.next_gather += 1;
        let id = self.next_gather;
        let timer = self.arm(fx, spec.inter_digit_timeout);
        self.gather = Some(Gather {
            id,
            spec,
            digits: String::new(),
            timer,
        });
        id
    }

    fn arm(&mut self, fx: &mut Effects, after: Duration) -> TimerId {
        self.next_timer += 1;
        let id = TimerId(self.next_timer);
        fx.push(Output::Timer {
            id,
            at: fx.now() + after,
        });
        id
    }

    /// A digit from the caller: a `dtmf` event, and the gather's step. Returns the prompt to
    /// stop when the digit barges in.
    pub(super) fn digit(&mut self, fx: &mut Effects, digit: char) -> Option<MediaId> {
        fx.push(Output::Live(LiveEvent::Dtmf(digit)));
        let mut g = self.gather.take()?;
        let barge = g.spec.bargeable && g.spec.prompt.is_some();
        let gather_prompt = self.playing.as_ref().is_some_and(|p| p.for_gather);
        let stop = if barge && gather_prompt {
            self.stop_prompt()
        } else {
            None
        };
        if g.spec.terminating_digits.contains(digit) {
            self.end_gather(fx, g, GatherReason::TerminatingDigit);
            return stop;
        }
        g.digits.push(digit);
        if g.digits.len() >= g.spec.max_digits {
            self.end_gather(fx, g, GatherReason::MaxDigits);
            return stop;
        }
        g.timer = self.arm(fx, g.spec.inter_digit_timeout);
        self.gather = Some(g);
        stop
    }

    /// A timer fired: the gather's, if it is the current one (stale ids are ignored).
    pub(super) fn timer(&mut self, fx: &mut Effects, id: TimerId) {
        if self.gather.as_ref().is_some_and(|g| g.timer == id) {
            if let Some(g) = self.gather.take() {
                self.end_gather(fx, g, GatherReason::InterDigitTimeout);
            }
        }
    }

    /// Ends gather `id` early; false when it is not the running one.
    pub(super) fn stop_gather(&mut self, fx: &mut Effects, id: u32) -> bool {
        match self.gather.take() {
            Some(g) if g.id == id => {
                self.end_gather(fx, g, GatherReason::Stopped);
                true
            }
            other => {
                self.gather = other;
                false
            }
        }
    }

    /// The call is ending: a running gather reports `hung-up`.
    pub(super) fn hung_up(&mut self, fx: &mut Effects) {
        if let Some(g) = self.gather.take() {
            self.end_gather(fx, g, GatherReason::HungUp);
        }
    }

    fn end_gather(&mut self, fx: &mut Effects, g: Gather, reason: GatherReason) {
        fx.push(Output::Live(LiveEvent::Gather {
            id: g.id,
            digits: g.digits,
            reason,
            tag: g.spec.tag,
        }));
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Driver::Script(_) => f.write_str("Script"),
            Driver::Live(l) => f.debug_tuple("Live").field(l).finish(),
        }
    }
}
