//! The registrar (RFC 3261 §10): location bindings of addresses of record.

mod binding;

pub use binding::{Aor, Binding};
