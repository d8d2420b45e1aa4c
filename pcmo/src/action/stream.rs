//! `stream`: stream the call's audio to a WebSocket (for AI agents and live transcription);
//! the script goes on when the stream ends.
//!
//! ```json
//! {"action": "stream", "ws_url": "wss://ai.example.com/ws", "listen_mode": "caller",
//!  "voice_quality": "8000", "stream_on_answer": false}
//! ```
//!
//! `ws_url` (`ws://` or `wss://`) is required. `listen_mode` is `caller` (default), `callee`
//! or `both`; `voice_quality` is the sample rate `8000` (default), `16000` or `32000`, as a
//! string (documented) or a number; `stream_on_answer` (default false): the stream starts
//! when the next `connect`'s callee answers and is bridged, and runs beside the script (which
//! goes on at once) — how `callee` and `both` stream a bridged call.
//! The stream ends when the WebSocket closes or sends `{"action":"stop"}`; the engine then
//! reports `MediaDone`.

use crate::command::Command;
use crate::fields::{Diagnostics, Fields};
use crate::step::{Effects, Flow, Step};

/// Whose audio is streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenMode {
    /// `caller` (default): the A leg.
    Caller,
    /// `callee`: the bridged B leg.
    Callee,
    /// `both`.
    Both,
}

/// A `stream` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// `ws_url`.
    pub ws_url: String,
    /// `listen_mode`.
    pub listen_mode: ListenMode,
    /// `voice_quality`: sample rate in Hz.
    pub sample_rate: u32,
    /// `stream_on_answer`.
    pub stream_on_answer: bool,
}

pub(crate) fn parse(mut f: Fields<'_>, d: &mut Diagnostics) -> Option<Stream> {
    let ws_url = f.required_url("ws_url", &["ws", "wss"], "a ws:// or wss:// URL", d);
    let listen_mode = f
        .choice(
            "listen_mode",
            &[
                ("caller", ListenMode::Caller),
                ("callee", ListenMode::Callee),
                ("both", ListenMode::Both),
            ],
            "\"caller\", \"callee\" or \"both\"",
            d,
        )
        .unwrap_or(ListenMode::Caller);
    let sample_rate = f
        .choice(
            "voice_quality",
            &[("8000", 8000), ("16000", 16000), ("32000", 32000)],
            "\"8000\", \"16000\" or \"32000\"",
            d,
        )
        .unwrap_or(8000);
    let stream_on_answer = f.boolean("stream_on_answer", d).unwrap_or(false);
    f.finish(d);
    Some(Stream {
        ws_url: ws_url?.to_string(),
        listen_mode,
        sample_rate,
        stream_on_answer,
    })
}

impl Stream {
    /// Emits `Stream` and waits for its `MediaDone`; with `stream_on_answer` the script goes
    /// on at once (the engine starts the stream when a callee answers and is bridged, and it
    /// runs beside the rest of the script).
    pub(crate) fn start(self, fx: &mut Effects<'_>) -> Flow {
        let media_id = fx.media_id();
        let background = self.stream_on_answer;
        fx.push(Command::Stream {
            media_id,
            stream: self,
        });
        if background {
            Flow::Next
        } else {
            Flow::Wait(Step::Media(media_id))
        }
    }

    pub(crate) fn describe(&self, then: &str) -> Vec<String> {
        let whose = match self.listen_mode {
            ListenMode::Caller => "the caller's audio",
            ListenMode::Callee => "the other party's audio",
            ListenMode::Both => "both parties' audio",
        };
        vec![format!(
            "stream: answers the call if needed and streams {whose} at {} Hz to {} until the WebSocket closes, then {then}.",
            self.sample_rate, self.ws_url
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::script::Script;

    #[test]
    fn sdk_shape_parses_with_defaults() {
        let s = Script::parse(
            r#"[{"action":"stream","ws_url":"wss://ai.example.com/ws","voice_quality":16000}]"#,
        )
        .unwrap();
        assert_eq!(
            s.actions(),
            &[Action::Stream(Stream {
                ws_url: "wss://ai.example.com/ws".into(),
                listen_mode: ListenMode::Caller,
                sample_rate: 16000,
                stream_on_answer: false
            })]
        );
    }

    #[test]
    fn ws_url_must_be_websocket() {
        let e = Script::parse(r#"[{"action":"stream","ws_url":"https://ai.example.com"}]"#)
            .unwrap_err();
        assert_eq!(e.error_codes(), vec![("invalid_url", "/0/ws_url")]);
    }
}
