//! `hangup`: end the call.
//!
//! ```json
//! {"action": "hangup"}
//! ```
//!
//! No fields. Actions after a hangup never run (`check` does not flag them: an `action_url`
//! script may well end with a hangup that a later fetch never reaches).

use crate::command::HangupReason;
use crate::fields::{Diagnostics, Fields};
use crate::step::Flow;

pub(crate) fn parse(f: Fields<'_>, d: &mut Diagnostics) -> Option<()> {
    f.finish(d);
    Some(())
}

/// Ends the call.
pub(crate) fn start() -> Flow {
    Flow::Hangup(HangupReason::Hangup)
}

pub(crate) fn describe() -> Vec<String> {
    vec!["hangup: hangs up the call (nothing after this step runs).".to_string()]
}

#[cfg(test)]
mod tests {
    use crate::script::Script;

    #[test]
    fn extra_fields_are_warnings() {
        let s = Script::parse(r#"[{"action":"hangup","reason":"done"}]"#).unwrap();
        assert_eq!(s.warnings().len(), 1);
        assert_eq!(s.warnings()[0].path.as_str(), "/0/reason");
    }
}
