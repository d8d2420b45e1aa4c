//! `bridge`: forward the call to phone numbers through the trunk. It is a [`Connect`] in
//! everything but its name, and runs on the same machinery.
//!
//! As the PIOPIY SDKs emit it (`call(number, from)`):
//! ```json
//! {"action": "bridge", "from": 914471000000, "connect": [{"type": "pstn", "number": 919876543210}],
//!  "duration": 5400, "timeout": 40, "loop": 1, "ring_type": "group"}
//! ```
//! Fields, defaults and ranges are those of [`super::connect`]. Targets are normally `pstn`;
//! other kinds are accepted and rung the same way. `from` defaults to the engine's default
//! number for the account.

use super::connect::{self, Connect, ConnectKind};
use crate::fields::{Diagnostics, Fields};

pub(crate) fn parse(f: Fields<'_>, d: &mut Diagnostics) -> Option<Connect> {
    connect::parse(f, ConnectKind::Bridge, d)
}

#[cfg(test)]
mod tests {
    use crate::action::connect::targets::Destination;
    use crate::action::connect::ConnectKind;
    use crate::action::Action;
    use crate::script::Script;

    #[test]
    fn sdk_bridge_shape() {
        let s = Script::parse(
            r#"[{"action":"bridge","from":914471000000,"connect":[{"type":"pstn","number":919876543210}],"duration":5400,"timeout":40,"loop":1}]"#,
        )
        .unwrap();
        let Action::Connect(c) = &s.actions()[0] else {
            panic!()
        };
        assert_eq!(c.kind, ConnectKind::Bridge);
        assert_eq!(
            c.targets[0].destination,
            Destination::Pstn("919876543210".into())
        );
        assert!(s.warnings().is_empty());
    }
}
