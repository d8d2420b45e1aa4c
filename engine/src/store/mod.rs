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
//!
//! Invariants every backend keeps (the conformance suite in `conformance.rs` checks them on
//! each one):
//!
//! * Keys: an endpoint (and its address of record) is identified by `(domain, username)`; the
//!   domain compares case-insensitively (it is lower-cased in keys, RFC 3261 §19.1.4), the
//!   username exactly. Neither may contain a NUL byte ([`StoreError::InvalidKey`]).
//! * An endpoint belongs to an existing app, or to none (a Bandwidth endpoint without an
//!   `applicationId`); a Bandwidth endpoint (one with an `id`) also to an existing domain
//!   ([`BwDomain`]), and its id is unique. Deleting an app deletes its PIOPIY endpoints and
//!   detaches its Bandwidth ones (their app becomes `None`). Deleting a domain deletes its
//!   endpoints and their bindings. Domain names are unique. Bindings belong to an existing, *enabled*
//!   endpoint. Deleting an app deletes its endpoints and their bindings; deleting or disabling an
//!   endpoint deletes its bindings, in the same atomic write; so does changing its credentials
//!   (a new password: what was registered with the old one must register again). So the registrar cannot leave a
//!   binding behind for a user that was just removed, whatever the interleaving.
//! * An app id is never reused: deleting an app leaves a tombstone, and inserting an app whose
//!   id was deleted (or still has CDRs) is a `Conflict`, so a new app never inherits a deleted
//!   one's CDRs or recordings.
//! * A number belongs to an existing app; deleting the app deletes its numbers in the same
//!   atomic write. Trunks stand alone (keyed by name).
//! * A CDR is identified by `(cmiuuid, leg_id)`; inserting one that exists changes nothing
//!   (idempotent), and the outbox delivery that goes with it is written in the same atomic
//!   write, only when the CDR is new. CDRs outlive their app (they are history) until
//!   retention prunes them (oldest first, with their index entries, atomically).
//! * Outbox deliveries are keyed by `seq` and listed in `seq` order.
//!
//! Backends: [`sled_store::SledStore`] (the default, on disk) and [`memory::MemoryStore`] (for
//! tests of the cores that sit on top).

pub mod cdr;
pub mod cloudua;
// The group commit's shell: a flusher thread, paced by the clock, so concurrent writers
// share one fsync.
#[allow(clippy::disallowed_methods)]
pub mod commit;
#[cfg(test)]
pub(crate) mod conformance;
pub mod delivery;
mod key;
pub mod memory;
pub mod node;
pub mod postgres;
pub mod record;
pub mod sled_store;

use std::sync::Arc;

use crate::sip::registrar::{Aor, Binding};
pub use cdr::{CallUuid, Cdr, CdrCursor, CdrKind, CdrStatus, Direction, Leg};
pub use cloudua::CloudUaDomain;
pub use commit::GroupCommit;
pub use delivery::{Delivery, DeliveryKind};
pub use memory::MemoryStore;
pub use node::NodeInfo;
pub use postgres::PgStore;
pub use record::{
    Account, App, AppId, BwDomain, CallbackMethod, Endpoint, EndpointToken, LiveApp, Number, Trunk,
};
pub use sled_store::SledStore;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be opened (path missing or not a directory, permissions, the
    /// backend refused its files). Nothing in the directory was changed.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another handle in this process) has the store open. Only one may.
    #[error(
        "the store at {path} is locked: another ringmaster process has it open \
         (talk to that process's admin API, or stop it first)"
    )]
    Locked { path: String },
    /// The directory holds files but no store marker: it is not a ringmaster store, and we
    /// refuse to write into it (give the store a directory of its own).
    #[error(
        "{path} is not empty and holds no ringmaster store (no {marker}); \
         refusing to write into it: point the store at an empty or new directory"
    )]
    NotAStore { path: String, marker: &'static str },
    /// The store was written in a format this build does not read (a newer ringmaster, or a
    /// damaged marker). `found` is `None` when the marker does not decode.
    #[error(
        "the store at {path} has format version {}, but this build reads version {supported}; \
         run the ringmaster version that wrote it",
        found.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
    )]
    FormatVersion {
        path: String,
        found: Option<u64>,
        supported: u64,
    },
    /// An I/O error from the backend.
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A record exists but does not decode.
    #[error("corrupt record under key {key}: {reason}")]
    Corrupt { key: String, reason: String },
    /// A unique key is already taken (app id, endpoint username within a domain, trunk name,
    /// number).
    #[error("already exists")]
    Conflict,
    /// The record to update or delete does not exist (or a record it depends on does not: the
    /// app of a new endpoint, the enabled endpoint of new bindings).
    #[error("not found")]
    NotFound,
    /// A key part (domain, username, trunk name, number, cmiuuid, leg id) contains a NUL byte,
    /// which keys use as a separator.
    #[error("the {0} must not contain a NUL byte")]
    InvalidKey(&'static str),
    /// A group-commit flush failed; every caller waiting on that flush gets the same error.
    #[error("flushing the store failed: {0}")]
    FlushFailed(#[source] Arc<StoreError>),
    /// The shared database cannot be reached now (PostgreSQL down or unreachable): a write
    /// that would be acknowledged is refused rather than kept only here. Retry later.
    #[error("the shared store is unavailable: {0}")]
    Unavailable(String),
    /// A database store could not be opened or used: unreachable at start-up, authentication
    /// refused, a schema newer than this build, or a statement the database refused.
    #[error("database store: {0}")]
    Database(String),
    /// The group-commit flusher thread is gone (it panicked), so durability cannot be confirmed.
    #[error("the store's flusher has stopped")]
    CommitStopped,
}

/// Typed access to everything ringmaster persists.
///
/// Keep this narrow: a second backend (SQLite, a shared database) must be a new module that
/// implements these methods, not a rewrite of the callers.
pub trait Store: Send + Sync + 'static {
    // ---- apps ----
    /// Inserts a new app; `Conflict` if its id is taken, was ever deleted (tombstone), or has
    /// CDRs.
    fn insert_app(&self, app: &App) -> Result<(), StoreError>;
    fn app(&self, id: AppId) -> Result<Option<App>, StoreError>;
    fn apps(&self) -> Result<Vec<App>, StoreError>;
    /// Replaces an existing app (a Bandwidth application's settings); `NotFound` if absent.
    fn update_app(&self, app: &App) -> Result<(), StoreError>;
    /// Deletes an app with its endpoints, their bindings and its numbers, leaving a tombstone of
    /// its id in the same write. `NotFound` if absent.
    fn delete_app(&self, id: AppId) -> Result<(), StoreError>;

    // ---- endpoints (SIP users) ----
    /// Inserts a new endpoint; `Conflict` if `(domain, username)` is taken, `NotFound` if its
    /// app does not exist.
    fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    /// Replaces an existing endpoint; `NotFound` if absent (or if it moves to an app that does
    /// not exist). Disabling an endpoint (`enabled == false`) or changing its credentials (HA1
    /// values) deletes its bindings too, in the same atomic write.
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
    /// Replaces the bindings of one address of record; an empty slice deletes them. Non-empty
    /// bindings need an enabled endpoint for the AOR, else `NotFound` (and none are left).
    fn put_bindings(&self, aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError>;
    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError>;
    /// Every stored address of record with its bindings (expired ones included: the caller
    /// decides, because only the caller knows the time).
    fn all_bindings(&self) -> Result<Vec<(Aor, Vec<Binding>)>, StoreError>;

    // ---- trunks (carriers) ----
    /// Inserts a new trunk; `Conflict` if its name is taken.
    fn insert_trunk(&self, trunk: &Trunk) -> Result<(), StoreError>;
    fn trunk(&self, name: &str) -> Result<Option<Trunk>, StoreError>;
    /// Every trunk, by name.
    fn trunks(&self) -> Result<Vec<Trunk>, StoreError>;
    /// `NotFound` if absent.
    fn delete_trunk(&self, name: &str) -> Result<(), StoreError>;

    // ---- numbers ----
    /// Inserts a new number; `Conflict` if it is taken (by any app), `NotFound` if its app does
    /// not exist.
    fn insert_number(&self, number: &Number) -> Result<(), StoreError>;
    /// `digits` exactly as stored (E.164 digits without `+`).
    fn number(&self, digits: &str) -> Result<Option<Number>, StoreError>;
    /// Every number, or one app's, in digit order.
    fn numbers(&self, app: Option<AppId>) -> Result<Vec<Number>, StoreError>;
    /// `NotFound` if absent.
    fn delete_number(&self, digits: &str) -> Result<(), StoreError>;
    /// Replaces an existing number (its app or name); `NotFound` if the number or its new app
    /// does not exist.
    fn update_number(&self, number: &Number) -> Result<(), StoreError>;

    // ---- Bandwidth users, domains and endpoints ----
    /// Inserts a new Bandwidth user; `Conflict` if its id is taken.
    fn insert_account(&self, account: &Account) -> Result<(), StoreError>;
    fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;
    /// Every user, by id.
    fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Deletes the user record only (the caller removes its domains and apps first).
    /// `NotFound` if absent.
    fn delete_account(&self, id: &str) -> Result<(), StoreError>;
    /// Inserts a new domain; `Conflict` if its id or its name is taken (names are unique across
    /// users: they are DNS labels), `NotFound` if its account does not exist.
    fn insert_bw_domain(&self, domain: &BwDomain) -> Result<(), StoreError>;
    fn bw_domain(&self, id: &str) -> Result<Option<BwDomain>, StoreError>;
    /// One user's domains, by id.
    fn bw_domains_of_account(&self, account: &str) -> Result<Vec<BwDomain>, StoreError>;
    /// Deletes a domain with its endpoints and their bindings, in one atomic write; returns
    /// the endpoints that went. `NotFound` if absent.
    fn delete_bw_domain(&self, id: &str) -> Result<Vec<Endpoint>, StoreError>;
    /// A Bandwidth endpoint by its `re-` id.
    fn endpoint_by_id(&self, id: &str) -> Result<Option<Endpoint>, StoreError>;
    /// A domain's endpoints, by username.
    fn endpoints_of_bw_domain(&self, domain_id: &str) -> Result<Vec<Endpoint>, StoreError>;

    // ---- Cloud SIP UA domains ----
    /// Inserts a domain; `Conflict` if its name is taken or its app has one already,
    /// `NotFound` if its app does not exist.
    fn insert_cloudua_domain(&self, domain: &CloudUaDomain) -> Result<(), StoreError>;
    fn cloudua_domain(&self, name: &str) -> Result<Option<CloudUaDomain>, StoreError>;
    /// Every domain, by name.
    fn cloudua_domains(&self) -> Result<Vec<CloudUaDomain>, StoreError>;
    /// `NotFound` if absent.
    fn delete_cloudua_domain(&self, name: &str) -> Result<(), StoreError>;
    /// The domain of `app`, if it has one (a scan: domains are few, operator-made).
    fn cloudua_domain_of_app(&self, app: AppId) -> Result<Option<CloudUaDomain>, StoreError> {
        Ok(self.cloudua_domains()?.into_iter().find(|d| d.app == app))
    }

    // ---- CDRs ----
    /// Stores a CDR and, if given, the outbox delivery of its webhook, atomically. Returns
    /// `false` (and writes nothing) when a CDR with the same `(cmiuuid, leg_id)` exists.
    fn insert_cdr(&self, cdr: &Cdr, delivery: Option<&Delivery>) -> Result<bool, StoreError>;
    /// [`Store::insert_cdr`] for several CDRs, in order; one `bool` per CDR. Each CDR is atomic
    /// with its delivery; a backend may write the whole batch at once (sled: one transaction,
    /// since each sled transaction costs a round of its I/O threads whatever its size).
    fn insert_cdrs(&self, batch: &[(Cdr, Option<Delivery>)]) -> Result<Vec<bool>, StoreError> {
        batch
            .iter()
            .map(|(cdr, delivery)| self.insert_cdr(cdr, delivery.as_ref()))
            .collect()
    }
    /// Every CDR of one call, by leg id.
    fn cdrs_of_call(&self, cmiuuid: &str) -> Result<Vec<Cdr>, StoreError>;
    /// At most `limit` CDRs, of every app or of one, newest (`time`) first, starting after
    /// `before` (the cursor of the last CDR of the previous page) when given.
    fn cdrs(
        &self,
        app: Option<AppId>,
        limit: usize,
        before: Option<&CdrCursor>,
    ) -> Result<Vec<Cdr>, StoreError>;

    /// Retention: deletes up to `max` of the oldest CDRs with `time < before` (ms since the
    /// epoch), of every app (deleted ones too), with their index entries; how many went.
    fn prune_cdrs_before(&self, before: u64, max: usize) -> Result<usize, StoreError>;
    /// Retention: deletes up to `max` of `app`'s oldest CDRs beyond its newest `keep`; how many
    /// went.
    fn prune_cdrs_of_app(&self, app: AppId, keep: usize, max: usize) -> Result<usize, StoreError>;

    // ---- webhook outbox ----
    /// Inserts or replaces the delivery with `delivery.seq`.
    fn put_delivery(&self, delivery: &Delivery) -> Result<(), StoreError>;
    /// Removes a delivery; `false` if there was none.
    fn delete_delivery(&self, seq: u64) -> Result<bool, StoreError>;
    /// Every pending delivery, in `seq` order.
    fn deliveries(&self) -> Result<Vec<Delivery>, StoreError>;

    // ---- durability ----
    /// Blocks until every write made before the call is on stable storage.
    // ---- nodes (several nodes sharing one store) ----
    /// Writes this node's entry (its heartbeat). A single-node backend keeps it in memory.
    fn put_node(&self, node: &NodeInfo) -> Result<(), StoreError>;
    /// Every node that ever wrote an entry, by id; liveness is the caller's reading of
    /// `heartbeat_ms`.
    fn nodes(&self) -> Result<Vec<NodeInfo>, StoreError>;
    /// Removes a node's entry (a node declared dead and cleaned up).
    fn delete_node(&self, id: &str) -> Result<(), StoreError>;

    // ---- live-call index (which node owns a live call, for REST commands) ----
    /// Records that `node` owns the live call `id`. A single-node store has nothing to share:
    /// the default keeps nothing.
    fn put_live_call(&self, _id: &str, _node: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// The call ended.
    fn delete_live_call(&self, _id: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// The node that owns the live call `id`, if a node recorded one.
    fn live_call_node(&self, _id: &str) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    fn flush(&self) -> Result<(), StoreError>;
}
