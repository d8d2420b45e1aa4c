//! The script of an app created without an answer URL, so that a first call needs no app
//! server: the app's own script if it was given one (`--default-script`, kept as its
//! fallback), else the built-in one — ring the dialled user of the app, or, when the dialled
//! number is no user of the app, that number through the first trunk.

use serde_json::json;

/// The built-in script for a call to `to`; `is_user`: `to` names an endpoint of the app.
pub fn builtin_script(to: &str, is_user: bool) -> String {
    let digits = crate::call::admission::as_number(to);
    let target = match digits {
        // Legacy PCMO numbers have 3 to 20 digits.
        Some(number) if !is_user && number.len() >= 3 => {
            json!({"type": "pstn", "number": number})
        }
        // A user of the app, or no number either: ring it as a user (an unknown one is a
        // clean 404 for the caller, with the app's error event).
        _ => json!({"type": "sip", "user": to}),
    };
    json!([{"action": "connect", "call": [target]}]).to_string()
}

/// The dialled party as the answer payload carries it: a string, or a JSON number when it is
/// all digits (PIOPIY's shape).
pub fn dialled(body: &serde_json::Value) -> String {
    match &body["to"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_rung_as_a_user_and_a_number_through_the_trunk() {
        let user = builtin_script("bob", true);
        assert_eq!(
            user,
            r#"[{"action":"connect","call":[{"type":"sip","user":"bob"}]}]"#
        );
        assert!(pcmo::check(&user).is_ok());
        let numeric_user = builtin_script("1001", true);
        assert!(numeric_user.contains(r#""user":"1001""#), "{numeric_user}");
        let number = builtin_script("14155550100", false);
        assert!(number.contains(r#""type":"pstn""#), "{number}");
        assert!(pcmo::check(&number).is_ok(), "{number}");
        assert!(pcmo::check(&builtin_script("nobody", false)).is_ok());
    }

    #[test]
    fn the_dialled_party_from_the_answer_payload() {
        assert_eq!(dialled(&json!({"to": 5000})), "5000");
        assert_eq!(dialled(&json!({"to": "bob"})), "bob");
        assert_eq!(dialled(&json!({})), "");
    }
}
