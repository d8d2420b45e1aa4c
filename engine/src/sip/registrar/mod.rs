//! The registrar (RFC 3261 §10): location bindings of addresses of record.
//!
//! Split by concern: [`admit`] decides whether a REGISTER may touch an address of record
//! (§10.3 steps 1–5: domain, digest, ownership), [`update::apply`] applies it to that address
//! of record's bindings (steps 6–8); [`Domains`] maps hosts to served domains. Persistence is
//! the caller's step after `apply`.

mod admission;
mod binding;
mod domains;
pub mod update;

pub use admission::{admit, Admission, EndpointAuth};
pub use binding::{with_others, Aor, Binding};
pub use domains::Domains;
pub use update::{apply, contact_value, RegistrarConfig, Update};

#[cfg(test)]
mod tests;
