//! Ids the interpreter hands out, so the engine can answer about one thing precisely.
//!
//! All four kinds come from one counter per interpreter, so an id is never reused within a call
//! and an event carrying an old id (a late timer, a leg that was already cancelled) can always
//! be recognised as stale and ignored.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// One B leg the interpreter asked for (one target in one attempt). Displays as `l7`.
    TargetId,
    "l"
);
id_type!(
    /// One play/speak/stream the interpreter started. Displays as `m7`.
    MediaId,
    "m"
);
id_type!(
    /// One timer. Displays as `t7`.
    TimerId,
    "t"
);
id_type!(
    /// One script fetch (action URL or PCMO reference). Displays as `f7`.
    FetchId,
    "f"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_with_their_prefix() {
        assert_eq!(TargetId(1).to_string(), "l1");
        assert_eq!(MediaId(2).to_string(), "m2");
        assert_eq!(TimerId(3).to_string(), "t3");
        assert_eq!(FetchId(4).to_string(), "f4");
    }
}
