//! Persistent state behind one narrow trait.
//!
//! Contract: every mutating method writes into the backend's in-memory state and returns; the
//! write is *durable* only after a later [`Store::flush`] returns `Ok`. Callers that acknowledge
//! a write to a client (an HTTP 2xx, a SIP 200 to REGISTER) must wait for a flush first; the
//! [`commit::GroupCommit`] shell coalesces the flushes of concurrent writers into one `fsync`.
//!
//! Reads may be served from memory. All records are serialised in one format (JSON), so a record
//! that fails to decode is reported as [`StoreError::Corrupt`] with its key, never skipped
//! silently.

pub mod record;

use crate::sip::registrar::{Aor, Binding};
pub use record::{App, AppId, Endpoint};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be opened (path, permissions, lock held by another process).
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// An I/O error from the backend.
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A record exists but does not decode.
    #[error("corrupt record under key {key}: {reason}")]
    Corrupt { key: String, reason: String },
    /// A unique key is already taken (app id, endpoint username within a domain).
    #[error("already exists")]
    Conflict,
    /// The record to update or delete does not exist.
    #[error("not found")]
    NotFound,
}

/// Typed access to everything ringmaster persists.
///
/// Keep this narrow: a second backend (SQLite, a shared database) must be a new module that
/// implements these methods, not a rewrite of the callers.
pub trait Store: Send + Sync + 'static {
    // ---- apps ----
    /// Inserts a new app; `Conflict` if its id is taken.
    fn insert_app(&self, app: &App) -> Result<(), StoreError>;
    fn app(&self, id: AppId) -> Result<Option<App>, StoreError>;
    fn apps(&self) -> Result<Vec<App>, StoreError>;
    /// Deletes an app with its endpoints and their bindings. `NotFound` if absent.
    fn delete_app(&self, id: AppId) -> Result<(), StoreError>;

    // ---- endpoints (SIP users) ----
    /// Inserts a new endpoint; `Conflict` if `(domain, username)` is taken.
    fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    /// Replaces an existing endpoint; `NotFound` if absent.
    fn update_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    fn endpoint(&self, domain: &str, username: &str) -> Result<Option<Endpoint>, StoreError>;
    /// One page of an app's endpoints ordered by username, and the app's total count.
    fn endpoints_of_app(
        &self,
        app: AppId,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Endpoint>, usize), StoreError>;
    /// Deletes an endpoint and its bindings. `NotFound` if absent.
    fn delete_endpoint(&self, domain: &str, username: &str) -> Result<(), StoreError>;

    // ---- registrations ----
    /// Replaces the bindings of one address of record; an empty slice deletes them.
    fn put_bindings(&self, aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError>;
    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError>;
    /// Every stored address of record with its bindings (expired ones included: the caller
    /// decides, because only the caller knows the time).
    fn all_bindings(&self) -> Result<Vec<(Aor, Vec<Binding>)>, StoreError>;

    // ---- durability ----
    /// Blocks until every write made before the call is on stable storage.
    fn flush(&self) -> Result<(), StoreError>;
}
