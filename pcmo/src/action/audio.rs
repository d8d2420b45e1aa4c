//! What the caller hears: a file by name, a file by URL, or text to speak. Shared by `play`,
//! `play_get_input` (both dialects), v3 retry prompts and v3 `waiting_music`.

use std::fmt;

use serde_json::Value;

use crate::command::Command;
use crate::error::{quote, ErrorKind};
use crate::fields::{is_url, Diagnostics, Fields};
use crate::id::MediaId;
use crate::pointer::Pointer;
use crate::step::Effects;

/// An audio file to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioSource {
    /// `file_name`: a prompt stored on the ringmaster host (PIOPIY: "TeleCMI-hosted"). Never
    /// absolute and never with a `..` segment, so it cannot leave the prompts directory.
    FileName(String),
    /// `file_url`: an `http(s)://` URL the engine fetches. A `file_name` that is an http(s)
    /// URL is taken as a `file_url` too, as the PIOPIY SDKs do when they build the action.
    FileUrl(String),
}

impl fmt::Display for AudioSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioSource::FileName(name) => write!(f, "file {name}"),
            AudioSource::FileUrl(url) => write!(f, "{url}"),
        }
    }
}

/// Text-to-speech voice settings of a v3 `say` prompt. `None` means the engine's default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Voice {
    /// `voice_id`, e.g. `"female"`.
    pub voice_id: Option<String>,
    /// `language`, e.g. `"en-US"`.
    pub language: Option<String>,
    /// `speed`, 0.5–2.0 (documented range).
    pub speed: Option<f64>,
}

/// A prompt: a file, or text to speak.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Play this file.
    Audio(AudioSource),
    /// Speak this text.
    Say {
        /// The text.
        text: String,
        /// How to speak it.
        voice: Voice,
    },
}

impl Prompt {
    /// Emits the command that plays this prompt and returns its media id.
    pub(crate) fn start(&self, fx: &mut Effects<'_>) -> MediaId {
        let media_id = fx.media_id();
        fx.push(match self {
            Prompt::Audio(source) => Command::Play {
                media_id,
                source: source.clone(),
            },
            Prompt::Say { text, voice } => Command::Speak {
                media_id,
                text: text.clone(),
                voice: voice.clone(),
            },
        });
        media_id
    }

    /// A few words for `explain`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Prompt::Audio(source) => format!("plays {source}"),
            Prompt::Say { text, .. } => format!("says {:?}", quote(text)),
        }
    }
}

/// True for a file name that stays inside the prompts directory.
pub(crate) fn is_safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.split('/').any(|segment| segment == "..")
        && !name.chars().any(char::is_control)
}

const FILE_NAME_EXPECTED: &str = "a file name without a leading `/` or `..` segments";
const HTTP: &[&str] = &["http", "https"];
const HTTP_URL: &str = "an http:// or https:// URL";

/// Turns a `file_name` value into a source (URLs become [`AudioSource::FileUrl`]).
pub(crate) fn file_name_source(
    name: &str,
    path: Pointer,
    d: &mut Diagnostics,
) -> Option<AudioSource> {
    if is_url(name, HTTP) {
        Some(AudioSource::FileUrl(name.to_string()))
    } else if is_safe_file_name(name) {
        Some(AudioSource::FileName(name.to_string()))
    } else {
        d.error(
            path,
            ErrorKind::InvalidValue {
                expected: FILE_NAME_EXPECTED,
                got: quote(name),
            },
        );
        None
    }
}

/// The legacy pair `file_name` | `file_url`: exactly one of them.
pub(crate) fn legacy_source(f: &mut Fields<'_>, d: &mut Diagnostics) -> Option<AudioSource> {
    let has_name = f.has("file_name");
    let has_url = f.has("file_url");
    match (has_name, has_url) {
        (true, true) => {
            f.accept(&["file_name", "file_url"]);
            d.error(
                f.at("file_url"),
                ErrorKind::ConflictingFields {
                    first: "file_name",
                    second: "file_url",
                },
            );
            None
        }
        (false, false) => {
            f.accept(&["file_name", "file_url"]);
            d.error(
                f.at("file_name"),
                ErrorKind::MissingOneOf {
                    fields: "`file_name` or `file_url`",
                },
            );
            None
        }
        (true, false) => {
            let name = f.required_string("file_name", d)?;
            file_name_source(name, f.at("file_name"), d)
        }
        (false, true) => f
            .required_url("file_url", HTTP, HTTP_URL, d)
            .map(|u| AudioSource::FileUrl(u.to_string())),
    }
}

/// A v3 prompt object: `{"type": "file", "file_name": ...}` or
/// `{"type": "say", "say": ..., "voice_id": ..., "language": ..., "speed": ...}`.
///
/// A plain string is accepted too and taken as a file name (retry prompts are often written
/// that way). `voice_id`, `language` and `speed` are optional here (the v3 SDK insists on them);
/// the engine's defaults apply.
pub(crate) fn parse_prompt(value: &Value, path: Pointer, d: &mut Diagnostics) -> Option<Prompt> {
    if let Value::String(name) = value {
        return file_name_source(name, path, d).map(Prompt::Audio);
    }
    let mut f = Fields::new(value, path, d)?;
    #[derive(Clone, Copy)]
    enum Kind {
        File,
        Say,
    }
    let kind = if f.has("type") {
        f.choice(
            "type",
            &[("file", Kind::File), ("say", Kind::Say)],
            "\"file\" or \"say\"",
            d,
        )
    } else {
        f.missing("type", d);
        f.accept(&["type"]);
        None
    };
    let prompt = match kind {
        Some(Kind::File) => {
            let name = f.required_string("file_name", d);
            f.accept(&["say", "voice_id", "language", "speed"]);
            name.and_then(|n| file_name_source(n, f.at("file_name"), d))
                .map(Prompt::Audio)
        }
        Some(Kind::Say) => {
            let text = f.required_string("say", d);
            let voice = Voice {
                voice_id: f
                    .string("voice_id", d)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                language: f
                    .string("language", d)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                speed: f.float("speed", 0.5, 2.0, d),
            };
            f.accept(&["file_name"]);
            text.map(|t| Prompt::Say {
                text: t.to_string(),
                voice,
            })
        }
        None => {
            f.accept(&["file_name", "say", "voice_id", "language", "speed"]);
            None
        }
    };
    f.finish(d);
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prompt(value: Value) -> (Option<Prompt>, Vec<(&'static str, String)>) {
        let mut d = Diagnostics::default();
        let p = parse_prompt(&value, Pointer::root().key("prompt"), &mut d);
        let r = d.into_report();
        (
            p,
            r.errors
                .iter()
                .map(|e| (e.code().as_str(), e.path.to_string()))
                .collect(),
        )
    }

    #[test]
    fn file_names_cannot_escape() {
        assert!(is_safe_file_name("welcome.wav"));
        assert!(is_safe_file_name("ivr/menu.mp3"));
        assert!(!is_safe_file_name("../etc/passwd"));
        assert!(!is_safe_file_name("a/../../b"));
        assert!(!is_safe_file_name("/abs.wav"));
        assert!(!is_safe_file_name("c:\\x.wav"));
        assert!(!is_safe_file_name(""));
    }

    #[test]
    fn say_prompt_with_voice() {
        let (p, errors) =
            prompt(json!({"type": "say", "say": "Hi", "voice_id": "female", "speed": 1.5}));
        assert!(errors.is_empty());
        assert_eq!(
            p,
            Some(Prompt::Say {
                text: "Hi".into(),
                voice: Voice {
                    voice_id: Some("female".into()),
                    language: None,
                    speed: Some(1.5)
                }
            })
        );
    }

    #[test]
    fn file_prompt_url_becomes_file_url() {
        let (p, _) = prompt(json!({"type": "file", "file_name": "https://cdn.example.com/a.wav"}));
        assert_eq!(
            p,
            Some(Prompt::Audio(AudioSource::FileUrl(
                "https://cdn.example.com/a.wav".into()
            )))
        );
    }

    #[test]
    fn prompt_errors_point_inside() {
        let (p, errors) = prompt(json!({"type": "say", "speed": 3}));
        assert_eq!(p, None);
        assert_eq!(
            errors,
            vec![
                ("missing_field", "/prompt/say".to_string()),
                ("out_of_range", "/prompt/speed".to_string())
            ]
        );
        let (_, errors) = prompt(json!({"type": "video"}));
        assert_eq!(errors, vec![("invalid_value", "/prompt/type".to_string())]);
    }
}
