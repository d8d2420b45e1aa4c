//! PCMO `stream` in the call core: which legs are streamed, the start message's fields, and
//! the script going on when the stream ends (a failure is an error event, never the call's
//! end).
//!
//! `listen_mode`: `caller` streams the A leg (track `inbound`); `callee` the bridged B leg
//! (track `outbound`) and is a script error without one; `both` both, as two tracks (only
//! `inbound` while no B leg is bridged). The agent's audio always goes to the caller. With
//! `stream_on_answer` the stream waits for the next bridge (a `connect`'s callee answering)
//! and then runs beside the script.

use super::Call;
use crate::media::stream::{StreamEnd, StreamSpec};
use crate::media::Command as MediaCommand;

impl Call {
    pub(super) fn start_stream(&mut self, media_id: pcmo::MediaId, s: pcmo::Stream) {
        use pcmo::ListenMode;
        let bridged = self.b.bridged().is_some();
        if s.stream_on_answer && !bridged {
            // Started by the next bridge (see `bridge`); the script has gone on.
            self.stream_pending = Some(Box::new((media_id, s)));
            return;
        }
        let tracks = match s.listen_mode {
            ListenMode::Caller => [true, false],
            ListenMode::Callee => [false, true],
            ListenMode::Both => [true, bridged],
        };
        if tracks[1] && !bridged {
            self.script_error(
                "stream_no_callee",
                "",
                "listen_mode callee needs a bridged callee (connect first)",
            );
            self.outbox.event(pcmo::Event::MediaDone { media_id });
            return;
        }
        let custom = self
            .extra_params
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        let start = serde_json::json!({
            "callSid": self.setup.cmiuuid,
            "from": self.setup.from,
            "to": self.setup.to,
            "appid": self.setup.appid,
            "customParameters": custom,
        });
        let spec = StreamSpec {
            url: s.ws_url,
            tracks,
            rate: s.sample_rate,
            start,
            secret: String::new(),
            policy: None,
        };
        self.stream = Some(media_id);
        self.media(MediaCommand::Stream {
            id: media_id.0,
            spec: Box::new(spec),
        });
    }

    /// A callee was bridged: a stream waiting for it starts.
    pub(super) fn start_pending_stream(&mut self) {
        if let Some(p) = self.stream_pending.take() {
            let (media_id, s) = *p;
            self.start_stream(media_id, s);
        }
    }

    /// The media task's stream ended: the script goes on.
    pub(super) fn on_stream_done(&mut self, id: u64, end: StreamEnd) {
        let Some(media_id) = self.stream.filter(|m| m.0 == id) else {
            return;
        };
        self.stream = None;
        tracing::info!(call = %self.setup.cmiuuid, reason = end.reason(), "stream ended");
        if let StreamEnd::Failed(why) = &end {
            self.script_error("stream_failed", "", why);
        }
        self.outbox.event(pcmo::Event::MediaDone { media_id });
    }

    /// The script stopped the stream (it moved on).
    pub(super) fn stop_stream(&mut self, media_id: pcmo::MediaId) -> bool {
        if self.stream != Some(media_id) {
            return false;
        }
        self.media(MediaCommand::StopStream { id: media_id.0 });
        true
    }
}
