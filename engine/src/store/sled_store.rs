//! The embedded default backend: [`Store`] on sled 0.34.
//!
//! Layout: one sled database per store directory, with these trees, every value JSON:
//!
//! | tree                 | key                              | value                      |
//! |----------------------|----------------------------------|----------------------------|
//! | `apps`               | app id, big-endian `u64`         | [`App`]                    |
//! | `apps_deleted`       | app id, big-endian `u64`         | empty (a tombstone)        |
//! | `endpoints`          | `domain \0 username`             | [`Endpoint`]               |
//! | `endpoints_by_app`   | `id_be \0 username \0 domain`    | the endpoint's key         |
//! | `bindings`           | `domain \0 user`                 | the AOR's `Vec<Binding>`   |
//! | `trunks`             | name                             | [`Trunk`]                  |
//! | `numbers`            | digits                           | [`Number`]                 |
//! | `numbers_by_app`     | `id_be \0 digits`                | empty                      |
//! | `cdrs`               | `cmiuuid \0 leg_id`              | [`Cdr`]                    |
//! | `cdrs_by_time`       | `time_be cmiuuid \0 leg_id`      | empty                      |
//! | `cdrs_by_app`        | `id_be time_be cmiuuid \0 leg_id`| empty                      |
//! | `deliveries`         | seq, big-endian `u64`            | [`Delivery`]               |
//! | `accounts`           | user id                          | [`Account`]                |
//! | `bw_domains`         | domain id                        | [`BwDomain`]               |
//! | `cloudua_domains`    | Cloud UA domain name             | [`CloudUaDomain`](super::CloudUaDomain) |
//! | `bw_domain_names`    | domain name                      | the domain id              |
//! | `bw_domains_by_account` | `user \0 domain id`          | empty                      |
//! | `endpoints_by_id`    | endpoint id (`re-…`)             | the endpoint's key         |
//! | `endpoints_by_bw_domain` | `domain id \0 username`     | the endpoint's key         |
//!
//! The indexes let [`Store::endpoints_of_app`] page in username order by scanning only that
//! app's index entries (and count them exactly), list an app's numbers, and list CDRs newest
//! first by iterating an index backwards. Stores written before the number, trunk, CDR and
//! outbox trees existed open unchanged: sled creates an empty tree on first use.
//! Trunks, numbers, CDRs and the outbox are in `sled_store/routing.rs` and
//! `sled_store/calls.rs`.
//!
//! **Atomicity.** Every write that touches more than one key (endpoint + index, the cascades of
//! `delete_app`, `delete_endpoint` and disabling an endpoint) runs as one sled multi-tree
//! transaction. Bindings are the exception, for speed: `put_bindings` writes one key and then
//! checks the endpoint (see there why that is enough). sled seals a transaction's writes as one
//! batch in its log, so after a crash they are recovered all or nothing; and sled 0.34 runs
//! transactions under a process-wide write lock, so reads inside one are consistent and a
//! uniqueness check (`Conflict`) cannot race another insert. We chose transactions over one tree
//! with key prefixes and `apply_batch` because a batch cannot read: the check and the write
//! would be two steps again.
//!
//! One gap remains: sled transactions cannot iterate, and `delete_app` must find the app's
//! endpoints and numbers by scanning the indexes. So membership-changing writes (insert, update
//! and delete of endpoints, insert of numbers, `delete_app`) and the paging read also take
//! `writer`, a mutex of this handle:
//! nothing can join or leave an app between the scan and the transaction. Only one handle per
//! directory can exist (sled locks the files), so a process-local mutex is enough.
//!
//! **Durability.** Writes land in sled's in-memory log; [`Store::flush`] calls sled's `flush`,
//! which writes out and `fsync`s the log. sled also flushes on its own every 500 ms, but nothing
//! may rely on that.
//!
//! **Opening** is in `sled_store/open.rs`: a store that fails to open leaves its directory as
//! it was.

mod bandwidth;
mod calls;
mod cloudua;
mod open;
#[cfg(test)]
mod process_tests;
mod routing;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{abort, ConflictableTransactionError, TransactionError, Transactional};

use super::{
    key, Account, App, AppId, BwDomain, Cdr, CdrCursor, Delivery, Endpoint, Number, Store,
    StoreError, Trunk,
};
use crate::sip::registrar::{Aor, Binding};
use bandwidth::EndpointIndexes;

pub use open::{FORMAT_VERSION, MARKER_FILE};

/// The sled-backed store. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    apps: sled::Tree,
    /// Ids of deleted apps: never handed out again.
    apps_deleted: sled::Tree,
    endpoints: sled::Tree,
    by_app: sled::Tree,
    bindings: sled::Tree,
    trunks: sled::Tree,
    numbers: sled::Tree,
    numbers_by_app: sled::Tree,
    cdrs: sled::Tree,
    cdrs_by_time: sled::Tree,
    cdrs_by_app: sled::Tree,
    deliveries: sled::Tree,
    accounts: sled::Tree,
    bw_domains: sled::Tree,
    cloudua_domains: sled::Tree,
    bw_domain_names: sled::Tree,
    bw_domains_by_account: sled::Tree,
    endpoints_by_id: sled::Tree,
    endpoints_by_bw_domain: sled::Tree,
    /// Serialises membership-changing writes with the index scans they depend on (module doc).
    writer: Mutex<()>,
    /// This process's node entry: a sled store has one node, so it is not persisted.
    nodes: Mutex<std::collections::BTreeMap<String, super::NodeInfo>>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, which must be a directory of its own: missing or
    /// empty (a new store is created) or holding a store written by this format version.
    ///
    /// Errors, all without changing anything in `dir`: [`StoreError::Open`] (a file where the
    /// directory should be, permission denied, sled refused its files), [`StoreError::Locked`]
    /// (another handle, in this or another process, has it open), [`StoreError::NotAStore`]
    /// (a non-empty directory without our marker), [`StoreError::FormatVersion`].
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = open::open_db(dir)?;
        let tree = |name: &str| db.open_tree(name).map_err(backend);
        Ok(SledStore {
            path: dir.to_path_buf(),
            apps: tree("apps")?,
            apps_deleted: tree("apps_deleted")?,
            endpoints: tree("endpoints")?,
            by_app: tree("endpoints_by_app")?,
            bindings: tree("bindings")?,
            trunks: tree("trunks")?,
            numbers: tree("numbers")?,
            numbers_by_app: tree("numbers_by_app")?,
            cdrs: tree("cdrs")?,
            cdrs_by_time: tree("cdrs_by_time")?,
            cdrs_by_app: tree("cdrs_by_app")?,
            deliveries: tree("deliveries")?,
            accounts: tree("accounts")?,
            bw_domains: tree("bw_domains")?,
            cloudua_domains: tree("cloudua_domains")?,
            nodes: Mutex::default(),
            bw_domain_names: tree("bw_domain_names")?,
            bw_domains_by_account: tree("bw_domains_by_account")?,
            endpoints_by_id: tree("endpoints_by_id")?,
            endpoints_by_bw_domain: tree("endpoints_by_bw_domain")?,
            db,
            writer: Mutex::new(()),
        })
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&self) -> MutexGuard<'_, ()> {
        // The mutex guards no data (sled transactions keep the trees consistent), so a panic
        // while it was held leaves nothing half-done: a poisoned lock is safe to take over.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// sled's errors as ours: I/O errors keep their kind, the rest (corruption, sled bugs) are
/// wrapped so their message and source chain survive.
fn backend(err: sled::Error) -> StoreError {
    match err {
        sled::Error::Io(e) => StoreError::Io(e),
        other => StoreError::Io(io::Error::other(other)),
    }
}

fn tx<T>(result: Result<T, TransactionError<StoreError>>) -> Result<T, StoreError> {
    result.map_err(|err| match err {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => backend(e),
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these records cannot fail: they are plain structs of strings, numbers,
    // options and vectors (no maps with non-string keys, no fallible Serialize impls), written
    // to a Vec (no I/O).
    serde_json::to_vec(value).expect("plain records always serialise to JSON")
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: key::printable(key),
        reason: e.to_string(),
    })
}

/// Aborts the surrounding transaction with a decoding error.
fn decode_tx<T: DeserializeOwned>(
    key: &[u8],
    bytes: &[u8],
) -> Result<T, ConflictableTransactionError<StoreError>> {
    decode(key, bytes).map_err(ConflictableTransactionError::Abort)
}

impl SledStore {
    /// Ids of deleted apps (tombstones), for copying this store into another.
    pub fn deleted_apps(&self) -> Result<Vec<AppId>, StoreError> {
        let mut out = Vec::new();
        for kv in self.apps_deleted.iter() {
            let (k, _) = kv.map_err(backend)?;
            let raw: [u8; 8] = k.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                key: format!("apps_deleted {k:?}"),
                reason: "not an 8-byte id".into(),
            })?;
            out.push(AppId(u64::from_be_bytes(raw)));
        }
        Ok(out)
    }
}

impl Store for SledStore {
    fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let k = key::app(app.id);
        let value = encode(app);
        // CDRs under this id mean an app had it before tombstones existed (stores written by
        // an older build): taken too. CDRs are only written for existing apps, so this scan
        // cannot race a new one.
        if self
            .cdrs_by_app
            .scan_prefix(k)
            .next()
            .transpose()
            .map_err(backend)?
            .is_some()
        {
            return Err(StoreError::Conflict);
        }
        tx(
            (&self.apps, &self.apps_deleted).transaction(|(apps, deleted)| {
                if apps.get(k)?.is_some() || deleted.get(k)?.is_some() {
                    return abort(StoreError::Conflict);
                }
                apps.insert(&k, value.as_slice())?;
                Ok(())
            }),
        )
    }

    fn app(&self, id: AppId) -> Result<Option<App>, StoreError> {
        let k = key::app(id);
        match self.apps.get(k).map_err(backend)? {
            Some(bytes) => decode(&k, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn apps(&self) -> Result<Vec<App>, StoreError> {
        self.apps
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(backend)?;
                decode(&k, &v)
            })
            .collect()
    }

    fn update_app(&self, app: &App) -> Result<(), StoreError> {
        let k = key::app(app.id);
        let value = encode(app);
        tx(self.apps.transaction(|apps| {
            if apps.get(k)?.is_none() {
                return abort(StoreError::NotFound);
            }
            apps.insert(&k, value.as_slice())?;
            Ok(())
        }))
    }

    fn delete_app(&self, id: AppId) -> Result<(), StoreError> {
        let _writer = self.writer();
        let members = self
            .by_app
            .scan_prefix(key::app_index_prefix(id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        let owned = self
            .numbers_by_app
            .scan_prefix(key::app_index_prefix(id))
            .keys()
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        let k = key::app(id);
        tx((
            &self.apps,
            &self.apps_deleted,
            &self.endpoints,
            &self.by_app,
            &self.bindings,
            &self.numbers,
            &self.numbers_by_app,
            &self.endpoints_by_id,
            &self.endpoints_by_bw_domain,
        )
            .transaction(
                |(
                    apps,
                    deleted,
                    endpoints,
                    by_app,
                    bindings,
                    numbers,
                    numbers_by_app,
                    by_id,
                    by_bw,
                )| {
                    if apps.remove(&k)?.is_none() {
                        return abort(StoreError::NotFound);
                    }
                    deleted.insert(&k, &[])?;
                    for (index_key, endpoint_key) in &members {
                        by_app.remove(index_key)?;
                        let Some(bytes) = endpoints.get(endpoint_key)? else {
                            continue;
                        };
                        let mut ep: Endpoint = decode_tx(endpoint_key, &bytes)?;
                        if ep.id.is_some() {
                            // A Bandwidth endpoint outlives its application: it is detached
                            // (its calls are refused until it names another one).
                            ep.app = None;
                            endpoints.insert(endpoint_key.as_ref(), encode(&ep))?;
                            continue;
                        }
                        let indexes = EndpointIndexes {
                            by_app,
                            by_id,
                            by_bw,
                        };
                        indexes.remove(&ep, endpoint_key)?;
                        endpoints.remove(endpoint_key)?;
                        bindings.remove(endpoint_key)?;
                    }
                    for index_key in &owned {
                        numbers_by_app.remove(index_key)?;
                        // The index key is `id_be \0 digits`; the number's key is the digits.
                        numbers.remove(&index_key[9..])?;
                    }
                    Ok(())
                },
            ))
    }

    fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let k = key::endpoint(&endpoint.domain, &endpoint.username)?;
        EndpointIndexes::check(endpoint)?;
        let app = endpoint.app.map(key::app);
        let bw_domain = endpoint.bw_domain.clone();
        let value = encode(endpoint);
        let _writer = self.writer();
        tx((
            &self.apps,
            &self.endpoints,
            &self.by_app,
            &self.endpoints_by_id,
            &self.endpoints_by_bw_domain,
            &self.bw_domains,
        )
            .transaction(|(apps, endpoints, by_app, by_id, by_bw, domains)| {
                if let Some(app) = app {
                    if apps.get(app)?.is_none() {
                        return abort(StoreError::NotFound);
                    }
                }
                if let Some(d) = &bw_domain {
                    if domains.get(d.as_bytes())?.is_none() {
                        return abort(StoreError::NotFound);
                    }
                }
                if endpoints.get(&k)?.is_some() {
                    return abort(StoreError::Conflict);
                }
                let indexes = EndpointIndexes {
                    by_app,
                    by_id,
                    by_bw,
                };
                if indexes.id_taken(endpoint)? {
                    return abort(StoreError::Conflict);
                }
                endpoints.insert(k.as_slice(), value.as_slice())?;
                indexes.add(endpoint, &k)?;
                Ok(())
            }))
    }

    fn update_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let k = key::endpoint(&endpoint.domain, &endpoint.username)?;
        EndpointIndexes::check(endpoint)?;
        let new_app = endpoint.app.map(key::app);
        let value = encode(endpoint);
        let _writer = self.writer();
        tx((
            &self.apps,
            &self.endpoints,
            &self.by_app,
            &self.bindings,
            &self.endpoints_by_id,
            &self.endpoints_by_bw_domain,
        )
            .transaction(|(apps, endpoints, by_app, bindings, by_id, by_bw)| {
                let Some(old) = endpoints.get(&k)? else {
                    return abort(StoreError::NotFound);
                };
                let old: Endpoint = decode_tx(&k, &old)?;
                if old.app != endpoint.app {
                    if let Some(app) = new_app {
                        if apps.get(app)?.is_none() {
                            return abort(StoreError::NotFound);
                        }
                    }
                }
                // The id and domain of an endpoint never change, so re-indexing by app is
                // the only index work; removing and adding all three keeps it simple.
                let indexes = EndpointIndexes {
                    by_app,
                    by_id,
                    by_bw,
                };
                indexes.remove(&old, &k)?;
                indexes.add(endpoint, &k)?;
                endpoints.insert(k.as_slice(), value.as_slice())?;
                if !endpoint.enabled || old.credentials_differ(endpoint) {
                    bindings.remove(k.as_slice())?;
                }
                Ok(())
            }))
    }

    fn endpoint(&self, domain: &str, username: &str) -> Result<Option<Endpoint>, StoreError> {
        let k = key::endpoint(domain, username)?;
        match self.endpoints.get(&k).map_err(backend)? {
            Some(bytes) => decode(&k, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn endpoints_of_app(
        &self,
        app: AppId,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Endpoint>, usize), StoreError> {
        // Under the writer lock, so the page and the total describe the same moment.
        let _writer = self.writer();
        let mut page = Vec::with_capacity(limit.min(100));
        let mut total = 0;
        for item in self.by_app.scan_prefix(key::app_index_prefix(app)) {
            let (index_key, endpoint_key) = item.map_err(backend)?;
            if total >= offset && page.len() < limit {
                let bytes = self
                    .endpoints
                    .get(&endpoint_key)
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::Corrupt {
                        key: key::printable(&index_key),
                        reason: "index entry points to a missing endpoint".to_owned(),
                    })?;
                page.push(decode(&endpoint_key, &bytes)?);
            }
            total += 1;
        }
        Ok((page, total))
    }

    fn delete_endpoint(&self, domain: &str, username: &str) -> Result<(), StoreError> {
        let k = key::endpoint(domain, username)?;
        let _writer = self.writer();
        tx((
            &self.endpoints,
            &self.by_app,
            &self.bindings,
            &self.endpoints_by_id,
            &self.endpoints_by_bw_domain,
        )
            .transaction(|(endpoints, by_app, bindings, by_id, by_bw)| {
                let Some(old) = endpoints.remove(k.as_slice())? else {
                    return abort(StoreError::NotFound);
                };
                let old: Endpoint = decode_tx(&k, &old)?;
                EndpointIndexes {
                    by_app,
                    by_id,
                    by_bw,
                }
                .remove(&old, &k)?;
                bindings.remove(k.as_slice())?;
                Ok(())
            }))
    }

    fn put_bindings(&self, aor: &Aor, list: &[Binding]) -> Result<(), StoreError> {
        let k = key::endpoint(&aor.domain, &aor.user)?;
        if list.is_empty() {
            self.bindings.remove(k).map_err(backend)?;
            return Ok(());
        }
        // The hot write of a registrar, so not a transaction: every sled transaction seals the
        // log buffer and hands it to sled's I/O pool, which woke all its threads each time and
        // cost more CPU than the rest of a REGISTER (measured). Write first, then check the
        // endpoint: a delete or disable (a transaction removing endpoint and bindings together)
        // that committed before the check is seen and the binding taken back; one committing
        // after the write removes it itself. Either way no binding outlives its endpoint.
        self.bindings
            .insert(k.as_slice(), encode(&list))
            .map_err(backend)?;
        let live = match self.endpoints.get(&k).map_err(backend)? {
            Some(bytes) => decode::<Endpoint>(&k, &bytes)?.enabled,
            None => false,
        };
        if !live {
            self.bindings.remove(k).map_err(backend)?;
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
        let k = key::endpoint(&aor.domain, &aor.user)?;
        match self.bindings.get(&k).map_err(backend)? {
            Some(bytes) => decode(&k, &bytes),
            None => Ok(Vec::new()),
        }
    }

    fn all_bindings(&self) -> Result<Vec<(Aor, Vec<Binding>)>, StoreError> {
        self.bindings
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(backend)?;
                Ok((key::aor_of(&k)?, decode(&k, &v)?))
            })
            .collect()
    }

    fn insert_trunk(&self, trunk: &Trunk) -> Result<(), StoreError> {
        self.put_trunk(trunk)
    }

    fn trunk(&self, name: &str) -> Result<Option<Trunk>, StoreError> {
        self.get_trunk(name)
    }

    fn trunks(&self) -> Result<Vec<Trunk>, StoreError> {
        self.all_trunks()
    }

    fn delete_trunk(&self, name: &str) -> Result<(), StoreError> {
        self.remove_trunk(name)
    }

    fn insert_number(&self, number: &Number) -> Result<(), StoreError> {
        self.put_number(number)
    }

    fn number(&self, digits: &str) -> Result<Option<Number>, StoreError> {
        self.get_number(digits)
    }

    fn numbers(&self, app: Option<AppId>) -> Result<Vec<Number>, StoreError> {
        self.list_numbers(app)
    }

    fn delete_number(&self, digits: &str) -> Result<(), StoreError> {
        self.remove_number(digits)
    }

    fn update_number(&self, number: &Number) -> Result<(), StoreError> {
        self.replace_number(number)
    }

    fn insert_cloudua_domain(&self, d: &crate::store::CloudUaDomain) -> Result<(), StoreError> {
        self.put_cloudua_domain(d)
    }

    fn cloudua_domain(
        &self,
        name: &str,
    ) -> Result<Option<crate::store::CloudUaDomain>, StoreError> {
        self.get_cloudua_domain(name)
    }

    fn cloudua_domains(&self) -> Result<Vec<crate::store::CloudUaDomain>, StoreError> {
        self.all_cloudua_domains()
    }

    fn delete_cloudua_domain(&self, name: &str) -> Result<(), StoreError> {
        self.remove_cloudua_domain(name)
    }

    fn insert_account(&self, account: &Account) -> Result<(), StoreError> {
        self.put_account(account)
    }

    fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.get_account(id)
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.all_accounts()
    }

    fn delete_account(&self, id: &str) -> Result<(), StoreError> {
        self.remove_account(id)
    }

    fn insert_bw_domain(&self, domain: &BwDomain) -> Result<(), StoreError> {
        self.put_bw_domain(domain)
    }

    fn bw_domain(&self, id: &str) -> Result<Option<BwDomain>, StoreError> {
        self.get_bw_domain(id)
    }

    fn bw_domains_of_account(&self, account: &str) -> Result<Vec<BwDomain>, StoreError> {
        self.account_domains(account)
    }

    fn delete_bw_domain(&self, id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.remove_bw_domain(id)
    }

    fn endpoint_by_id(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        self.get_endpoint_by_id(id)
    }

    fn endpoints_of_bw_domain(&self, domain_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.domain_endpoints(domain_id)
    }

    fn insert_cdr(&self, cdr: &Cdr, delivery: Option<&Delivery>) -> Result<bool, StoreError> {
        self.put_cdr(cdr, delivery)
    }

    fn insert_cdrs(&self, batch: &[(Cdr, Option<Delivery>)]) -> Result<Vec<bool>, StoreError> {
        self.put_cdrs(batch)
    }

    fn cdrs_of_call(&self, cmiuuid: &str) -> Result<Vec<Cdr>, StoreError> {
        self.call_cdrs(cmiuuid)
    }

    fn cdrs(
        &self,
        app: Option<AppId>,
        limit: usize,
        before: Option<&CdrCursor>,
    ) -> Result<Vec<Cdr>, StoreError> {
        self.newest_cdrs(app, limit, before)
    }

    fn prune_cdrs_before(&self, before: u64, max: usize) -> Result<usize, StoreError> {
        self.prune_before(before, max)
    }

    fn prune_cdrs_of_app(&self, app: AppId, keep: usize, max: usize) -> Result<usize, StoreError> {
        self.prune_app(app, keep, max)
    }

    fn put_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.write_delivery(delivery)
    }

    fn delete_delivery(&self, seq: u64) -> Result<bool, StoreError> {
        self.remove_delivery(seq)
    }

    fn deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        self.pending_deliveries()
    }

    /// sled's `flush`: writes out the log and `fsync`s it. Every write that returned before this
    /// call is durable when it returns `Ok`.
    fn put_node(&self, node: &super::NodeInfo) -> Result<(), StoreError> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes.insert(node.id.clone(), node.clone());
        Ok(())
    }

    fn nodes(&self) -> Result<Vec<super::NodeInfo>, StoreError> {
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        Ok(nodes.values().cloned().collect())
    }

    fn delete_node(&self, id: &str) -> Result<(), StoreError> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes.remove(id);
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(backend)
    }
}
