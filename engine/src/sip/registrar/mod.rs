//! The registrar (RFC 3261 §10): location bindings of addresses of record.
//!
//! Split by concern: [`binding`] holds the records, [`update`] applies a REGISTER to the
//! bindings of one address of record. Authentication is the caller's step before
//! [`update::apply`] (see `sip::auth`), and persistence the caller's step after it.

mod binding;
pub mod update;

pub use binding::{Aor, Binding};
pub use update::{apply, contact_value, RegistrarConfig, Update};

#[cfg(test)]
mod tests;
