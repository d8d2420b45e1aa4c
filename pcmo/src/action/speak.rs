//! `speak`: say text to the caller with text-to-speech, then go on.
//!
//! ```json
//! {"action": "speak", "text": "Welcome to ringmaster"}
//! ```
//!
//! `text` is required. The legacy dialect has no voice or language settings; the engine's
//! default voice speaks it.

use super::audio::{Prompt, Voice};
use crate::error::quote;
use crate::fields::{Diagnostics, Fields};
use crate::step::{Effects, Flow, Step};

/// A `speak` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speak {
    /// What to say.
    pub text: String,
}

pub(crate) fn parse(mut f: Fields<'_>, d: &mut Diagnostics) -> Option<Speak> {
    let text = f.required_string("text", d);
    f.finish(d);
    Some(Speak {
        text: text?.to_string(),
    })
}

impl Speak {
    /// Emits `Speak` and waits for its `MediaDone`.
    pub(crate) fn start(self, fx: &mut Effects<'_>) -> Flow {
        let media_id = Prompt::Say {
            text: self.text,
            voice: Voice::default(),
        }
        .start(fx);
        Flow::Wait(Step::Media(media_id))
    }

    pub(crate) fn describe(&self, then: &str) -> Vec<String> {
        vec![format!(
            "speak: answers the call if needed, says {:?}, then {then}.",
            quote(&self.text)
        )]
    }
}

#[cfg(test)]
mod tests {
    use crate::script::Script;

    #[test]
    fn text_is_required_and_not_empty() {
        let e = Script::parse(r#"[{"action":"speak"}]"#).unwrap_err();
        assert_eq!(e.error_codes(), vec![("missing_field", "/0/text")]);
        let e = Script::parse(r#"[{"action":"speak","text":""}]"#).unwrap_err();
        assert_eq!(e.error_codes(), vec![("invalid_value", "/0/text")]);
    }
}
