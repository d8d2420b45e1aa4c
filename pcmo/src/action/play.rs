//! `play`: play an audio file to the caller, then go on.
//!
//! ```json
//! {"action": "play", "file_name": "welcome.wav"}
//! {"action": "play", "file_url": "https://cdn.example.com/welcome.mp3"}
//! ```
//!
//! Exactly one of `file_name` (a prompt stored on the ringmaster host) and `file_url` is
//! required. v3 uses `file_name` only; a URL given there is played as a URL.

use super::audio::{legacy_source, AudioSource, Prompt};
use crate::fields::{Diagnostics, Fields};
use crate::step::{Effects, Flow, Step};

/// A `play` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play {
    /// What to play.
    pub source: AudioSource,
}

pub(crate) fn parse(mut f: Fields<'_>, d: &mut Diagnostics) -> Option<Play> {
    let source = legacy_source(&mut f, d);
    f.finish(d);
    Some(Play { source: source? })
}

impl Play {
    /// Emits `Play` and waits for its `MediaDone`.
    pub(crate) fn start(self, fx: &mut Effects<'_>) -> Flow {
        let media_id = Prompt::Audio(self.source).start(fx);
        Flow::Wait(Step::Media(media_id))
    }

    pub(crate) fn describe(&self, then: &str) -> Vec<String> {
        vec![format!(
            "play: answers the call if needed, plays {}, then {then}.",
            self.source
        )]
    }
}

#[cfg(test)]
mod tests {
    use crate::script::Script;

    #[test]
    fn file_name_or_url_but_not_both() {
        let ok = Script::parse(r#"[{"action":"play","file_url":"https://cdn.example.com/a.mp3"}]"#);
        assert!(ok.is_ok());
        let both = Script::parse(
            r#"[{"action":"play","file_name":"a.wav","file_url":"https://x.example.com/a"}]"#,
        )
        .unwrap_err();
        assert_eq!(
            both.error_codes(),
            vec![("conflicting_fields", "/0/file_url")]
        );
        let none = Script::parse(r#"[{"action":"play"}]"#).unwrap_err();
        assert_eq!(none.error_codes(), vec![("missing_field", "/0/file_name")]);
    }
}
