//! `record`: record the call in the background; the script goes on at once.
//!
//! ```json
//! {"action": "record"}
//! {"action": "record", "format": "wav", "channels": "dual"}
//! ```
//!
//! The legacy action has no fields. v3 adds `format` (`mp3` | `wav`) and `channels`
//! (`single` | `dual`); when absent the engine picks (ringmaster writes WAV). The same
//! [`Recording`] is used by connect's `record: true` / v3 `options.recording`.

use crate::command::Command;
use crate::fields::{Diagnostics, Fields};
use crate::step::{Effects, Flow};

/// Recording file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordFormat {
    /// `mp3`
    Mp3,
    /// `wav`
    Wav,
}

/// Recording channel layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channels {
    /// `single`: both parties mixed.
    Single,
    /// `dual`: one channel per party.
    Dual,
}

/// How to record. `None` fields leave the choice to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Recording {
    /// `format`.
    pub format: Option<RecordFormat>,
    /// `channels`.
    pub channels: Option<Channels>,
}

/// Reads `format` and `channels` from `f` (a record action or a v3 recording object).
pub(crate) fn read_recording(f: &mut Fields<'_>, d: &mut Diagnostics) -> Recording {
    Recording {
        format: f.choice(
            "format",
            &[("mp3", RecordFormat::Mp3), ("wav", RecordFormat::Wav)],
            "\"mp3\" or \"wav\"",
            d,
        ),
        channels: f.choice(
            "channels",
            &[("single", Channels::Single), ("dual", Channels::Dual)],
            "\"single\" or \"dual\"",
            d,
        ),
    }
}

pub(crate) fn parse(mut f: Fields<'_>, d: &mut Diagnostics) -> Option<Recording> {
    let recording = read_recording(&mut f, d);
    f.finish(d);
    Some(recording)
}

/// Emits `Record` and goes on: recording runs until the call ends.
pub(crate) fn start(recording: Recording, fx: &mut Effects<'_>) -> Flow {
    fx.push(Command::Record(recording));
    Flow::Next
}

pub(crate) fn describe(recording: &Recording, then: &str) -> Vec<String> {
    let mut how = Vec::new();
    match recording.format {
        Some(RecordFormat::Mp3) => how.push("as MP3"),
        Some(RecordFormat::Wav) => how.push("as WAV"),
        None => {}
    }
    match recording.channels {
        Some(Channels::Dual) => how.push("one channel per party"),
        Some(Channels::Single) => how.push("both parties mixed"),
        None => {}
    }
    let how = if how.is_empty() {
        String::new()
    } else {
        format!(" ({})", how.join(", "))
    };
    vec![format!(
        "record: answers the call if needed and starts recording it{how} until it ends; {then} right away."
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::script::Script;

    #[test]
    fn v3_format_and_channels() {
        let s = Script::parse(r#"[{"action":"record","format":"mp3","channels":"dual"}]"#).unwrap();
        assert_eq!(
            s.actions(),
            &[Action::Record(Recording {
                format: Some(RecordFormat::Mp3),
                channels: Some(Channels::Dual)
            })]
        );
        let e = Script::parse(r#"[{"action":"record","format":"ogg"}]"#).unwrap_err();
        assert_eq!(e.error_codes(), vec![("invalid_value", "/0/format")]);
    }
}
