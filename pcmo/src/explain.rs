//! `explain`: what a script will do, in plain words, for `ringmaster pcmo explain`.
//!
//! Each action describes itself (in its own module); this module numbers the steps and says
//! what follows each one, so "go on with step 3" and "hang up" are always right.

use std::fmt::Write as _;

use crate::script::Script;

/// Describes what `script` will do: who rings when and for how long, what is played, where
/// digits go, and what happens on no answer, busy or decline.
pub fn explain(script: &Script) -> String {
    let actions = script.actions();
    let count = actions.len();
    let mut out = String::new();
    let steps = if count == 1 {
        "1 step".to_string()
    } else {
        format!("{count} steps")
    };
    let _ = writeln!(
        out,
        "This script has {steps}, run in order. When they run out, the call is hung up."
    );
    for (i, action) in actions.iter().enumerate() {
        let then = if i + 1 < count {
            format!("the script goes on with step {}", i + 2)
        } else {
            "the call is hung up (no steps are left)".to_string()
        };
        for (n, line) in action.describe(&then).iter().enumerate() {
            if n == 0 {
                let _ = writeln!(out, "{}. {line}", i + 1);
            } else {
                let _ = writeln!(out, "   {line}");
            }
        }
    }
    if !script.warnings().is_empty() {
        let _ = writeln!(
            out,
            "({} warning(s): run `ringmaster pcmo check` to see them.)",
            script.warnings().len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_steps_and_says_what_follows() {
        let script = Script::parse(
            r#"[{"action":"connect","ring_type":"group","timeout":20,"loop":2,"call":[{"type":"sip","user":"alice"},{"type":"sip","user":"bob"}]},
                {"action":"speak","text":"Nobody is available"}]"#,
        )
        .unwrap();
        let text = explain(&script);
        assert!(
            text.starts_with("This script has 2 steps, run in order."),
            "{text}"
        );
        assert!(text.contains("1. connect: rings SIP user alice and SIP user bob at the same time for up to 20 s."), "{text}");
        assert!(
            text.contains("2 rounds in all (at most 40 s of ringing)"),
            "{text}"
        );
        assert!(text.contains("If nobody answers (no answer, busy, declined or failed), the script goes on with step 2."), "{text}");
        assert!(text.contains("2. speak: answers the call if needed, says \"Nobody is available\", then the call is hung up (no steps are left)."), "{text}");
    }
}
