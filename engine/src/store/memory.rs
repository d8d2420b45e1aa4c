//! An in-memory [`Store`] for tests of the cores built on the store.
//!
//! Same semantics as the sled backend (the conformance suite runs against both): the same
//! `Conflict`/`NotFound`/`InvalidKey` rules, the same cascades, the same orders (apps by id,
//! an app's endpoints by username in byte order, bindings by `domain \0 user`, CDRs by the
//! same byte keys as sled's indexes). Every method takes one lock over all maps, so each call
//! is atomic. Nothing is durable: [`Store::flush`] returns `Ok` at once. Trunks, numbers,
//! CDRs and the outbox are in `memory/calls.rs`.

mod bandwidth;
mod calls;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{
    key, Account, App, AppId, BwDomain, Cdr, CdrCursor, Delivery, Endpoint, Number, Store,
    StoreError, Trunk,
};
use crate::sip::registrar::{Aor, Binding};

/// `(lower-cased domain, username)`.
type EndpointKey = (String, String);

#[derive(Default)]
struct State {
    apps: BTreeMap<AppId, App>,
    /// Ids of deleted apps (tombstones): never handed out again.
    apps_deleted: BTreeSet<AppId>,
    endpoints: BTreeMap<EndpointKey, Endpoint>,
    /// `(app, username, domain)`: iterates in the same order as the sled index.
    by_app: BTreeMap<(AppId, String, String), EndpointKey>,
    /// Keyed like sled's bindings tree (`domain \0 user` bytes), so `all_bindings` iterates in
    /// the same order.
    bindings: BTreeMap<Vec<u8>, (Aor, Vec<Binding>)>,
    trunks: BTreeMap<String, Trunk>,
    numbers: BTreeMap<String, Number>,
    numbers_by_app: BTreeSet<(AppId, String)>,
    /// Keyed like sled's trees (`key::cdr`, `key::cdr_by_time`, `key::cdr_by_app`), so the
    /// listing orders match byte for byte.
    cdrs: BTreeMap<Vec<u8>, Cdr>,
    cdrs_by_time: BTreeSet<Vec<u8>>,
    cdrs_by_app: BTreeSet<Vec<u8>>,
    deliveries: BTreeMap<u64, Delivery>,
    accounts: BTreeMap<String, Account>,
    bw_domains: BTreeMap<String, BwDomain>,
    /// Domain name → id (names are unique).
    bw_domain_names: BTreeMap<String, String>,
    endpoints_by_id: BTreeMap<String, EndpointKey>,
    /// `(domain id, username)`.
    endpoints_by_bw_domain: BTreeMap<(String, String), EndpointKey>,
    cloudua_domains: BTreeMap<String, crate::store::CloudUaDomain>,
    nodes: BTreeMap<String, crate::store::NodeInfo>,
    /// Live call id → owning node (a shared store's index, mirrored).
    live_calls: BTreeMap<String, String>,
}

/// The in-memory store. Holds endpoint HA1s, so its `Debug` shows only sizes.
#[derive(Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.read();
        f.debug_struct("MemoryStore")
            .field("apps", &state.apps.len())
            .field("endpoints", &state.endpoints.len())
            .field("aors_with_bindings", &state.bindings.len())
            .finish()
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Marks an app id as deleted (a mirror loading another store's tombstones).
    pub(crate) fn add_tombstone(&self, id: AppId) {
        self.write().apps_deleted.insert(id);
    }

    /// The live calls a node owns (a restarted node clears what its previous life left).
    pub(crate) fn live_calls_of(&self, node: &str) -> Vec<String> {
        let state = self.read();
        let owned = state.live_calls.iter().filter(|(_, n)| n.as_str() == node);
        owned.map(|(id, _)| id.clone()).collect()
    }

    /// Ids of deleted apps (tombstones), in order.
    pub(crate) fn tombstones(&self) -> Vec<AppId> {
        self.read().apps_deleted.iter().copied().collect()
    }

    /// Takes over everything `other` holds, at once (a mirror swapping in a fresh snapshot).
    pub(crate) fn replace_with(&self, other: MemoryStore) {
        let fresh = other.state.into_inner().unwrap_or_else(|p| p.into_inner());
        *self.write() = fresh;
    }

    // Every method leaves the maps consistent before it can panic (the only panics possible are
    // allocation failures), so a poisoned lock is safe to take over.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn endpoint_key(domain: &str, username: &str) -> Result<EndpointKey, StoreError> {
    Ok((key::normalize(domain, username)?, username.to_owned()))
}

impl Store for MemoryStore {
    fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        let mut state = self.write();
        let prefix = key::app(app.id);
        let has_cdrs = state
            .cdrs_by_app
            .range(prefix.to_vec()..)
            .next()
            .is_some_and(|k| k.starts_with(&prefix));
        if state.apps.contains_key(&app.id) || state.apps_deleted.contains(&app.id) || has_cdrs {
            return Err(StoreError::Conflict);
        }
        state.apps.insert(app.id, app.clone());
        Ok(())
    }

    fn app(&self, id: AppId) -> Result<Option<App>, StoreError> {
        Ok(self.read().apps.get(&id).cloned())
    }

    fn apps(&self) -> Result<Vec<App>, StoreError> {
        Ok(self.read().apps.values().cloned().collect())
    }

    fn update_app(&self, app: &App) -> Result<(), StoreError> {
        match self.write().apps.get_mut(&app.id) {
            Some(old) => {
                *old = app.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    fn delete_app(&self, id: AppId) -> Result<(), StoreError> {
        let mut state = self.write();
        if state.apps.remove(&id).is_none() {
            return Err(StoreError::NotFound);
        }
        state.apps_deleted.insert(id);
        let members: Vec<_> = state
            .by_app
            .range((id, String::new(), String::new())..)
            .take_while(|((app, _, _), _)| *app == id)
            .map(|(index, endpoint)| (index.clone(), endpoint.clone()))
            .collect();
        for (index, (domain, username)) in members {
            state.by_app.remove(&index);
            let k = (domain, username);
            let bandwidth = state.endpoints.get(&k).is_some_and(|e| e.id.is_some());
            if bandwidth {
                // A Bandwidth endpoint outlives its application: detached, not deleted.
                if let Some(ep) = state.endpoints.get_mut(&k) {
                    ep.app = None;
                }
                continue;
            }
            state.bindings.remove(&key::endpoint(&k.0, &k.1)?);
            if let Some(ep) = state.endpoints.remove(&k) {
                state.unindex(&ep, &k);
            }
        }
        let owned: Vec<_> = state
            .numbers_by_app
            .range((id, String::new())..)
            .take_while(|(app, _)| *app == id)
            .cloned()
            .collect();
        for entry in owned {
            state.numbers.remove(&entry.1);
            state.numbers_by_app.remove(&entry);
        }
        Ok(())
    }

    fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let k = endpoint_key(&endpoint.domain, &endpoint.username)?;
        State::check(endpoint)?;
        let mut state = self.write();
        if endpoint.app.is_some_and(|a| !state.apps.contains_key(&a)) {
            return Err(StoreError::NotFound);
        }
        if endpoint
            .bw_domain
            .as_ref()
            .is_some_and(|d| !state.bw_domains.contains_key(d))
        {
            return Err(StoreError::NotFound);
        }
        let id_taken = endpoint
            .id
            .as_ref()
            .is_some_and(|id| state.endpoints_by_id.contains_key(id));
        if state.endpoints.contains_key(&k) || id_taken {
            return Err(StoreError::Conflict);
        }
        state.index(endpoint, &k);
        state.endpoints.insert(k, endpoint.clone());
        Ok(())
    }

    fn update_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let k = endpoint_key(&endpoint.domain, &endpoint.username)?;
        State::check(endpoint)?;
        let mut state = self.write();
        let Some(old) = state.endpoints.get(&k).cloned() else {
            return Err(StoreError::NotFound);
        };
        if old.app != endpoint.app && endpoint.app.is_some_and(|a| !state.apps.contains_key(&a)) {
            return Err(StoreError::NotFound);
        }
        state.unindex(&old, &k);
        state.index(endpoint, &k);
        if !endpoint.enabled || old.credentials_differ(endpoint) {
            state
                .bindings
                .remove(&key::endpoint(&endpoint.domain, &endpoint.username)?);
        }
        state.endpoints.insert(k, endpoint.clone());
        Ok(())
    }

    fn endpoint(&self, domain: &str, username: &str) -> Result<Option<Endpoint>, StoreError> {
        let k = endpoint_key(domain, username)?;
        Ok(self.read().endpoints.get(&k).cloned())
    }

    fn endpoints_of_app(
        &self,
        app: AppId,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Endpoint>, usize), StoreError> {
        let state = self.read();
        let members = || {
            state
                .by_app
                .range((app, String::new(), String::new())..)
                .take_while(|((id, _, _), _)| *id == app)
        };
        let page = members()
            .skip(offset)
            .take(limit)
            .filter_map(|(_, k)| state.endpoints.get(k).cloned())
            .collect();
        Ok((page, members().count()))
    }

    fn delete_endpoint(&self, domain: &str, username: &str) -> Result<(), StoreError> {
        let k = endpoint_key(domain, username)?;
        let mut state = self.write();
        let Some(old) = state.endpoints.remove(&k) else {
            return Err(StoreError::NotFound);
        };
        state.unindex(&old, &k);
        state.bindings.remove(&key::endpoint(domain, username)?);
        Ok(())
    }

    fn put_bindings(&self, aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError> {
        let bytes = key::endpoint(&aor.domain, &aor.user)?;
        let mut state = self.write();
        if bindings.is_empty() {
            state.bindings.remove(&bytes);
            return Ok(());
        }
        let k = endpoint_key(&aor.domain, &aor.user)?;
        if !state.endpoints.get(&k).is_some_and(|e| e.enabled) {
            return Err(StoreError::NotFound);
        }
        let aor = Aor::new(aor.user.clone(), &aor.domain);
        state.bindings.insert(bytes, (aor, bindings.to_vec()));
        Ok(())
    }

    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
        let bytes = key::endpoint(&aor.domain, &aor.user)?;
        Ok(self
            .read()
            .bindings
            .get(&bytes)
            .map(|(_, list)| list.clone())
            .unwrap_or_default())
    }

    fn all_bindings(&self) -> Result<Vec<(Aor, Vec<Binding>)>, StoreError> {
        Ok(self.read().bindings.values().cloned().collect())
    }

    fn insert_trunk(&self, trunk: &Trunk) -> Result<(), StoreError> {
        self.put_trunk(trunk)
    }

    fn trunk(&self, name: &str) -> Result<Option<Trunk>, StoreError> {
        key::plain(name, "trunk name")?;
        Ok(self.read().trunks.get(name).cloned())
    }

    fn trunks(&self) -> Result<Vec<Trunk>, StoreError> {
        Ok(self.read().trunks.values().cloned().collect())
    }

    fn delete_trunk(&self, name: &str) -> Result<(), StoreError> {
        key::plain(name, "trunk name")?;
        match self.write().trunks.remove(name) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    fn insert_number(&self, number: &Number) -> Result<(), StoreError> {
        self.put_number(number)
    }

    fn number(&self, digits: &str) -> Result<Option<Number>, StoreError> {
        key::plain(digits, "number")?;
        Ok(self.read().numbers.get(digits).cloned())
    }

    fn numbers(&self, app: Option<AppId>) -> Result<Vec<Number>, StoreError> {
        Ok(self.list_numbers(app))
    }

    fn delete_number(&self, digits: &str) -> Result<(), StoreError> {
        self.remove_number(digits)
    }

    fn update_number(&self, number: &Number) -> Result<(), StoreError> {
        self.replace_number(number)
    }

    fn insert_cloudua_domain(&self, d: &crate::store::CloudUaDomain) -> Result<(), StoreError> {
        key::plain(&d.name, "domain name")?;
        let mut state = self.write();
        if !state.apps.contains_key(&d.app) {
            return Err(StoreError::NotFound);
        }
        if state.cloudua_domains.contains_key(&d.name)
            || state.cloudua_domains.values().any(|x| x.app == d.app)
        {
            return Err(StoreError::Conflict);
        }
        state.cloudua_domains.insert(d.name.clone(), d.clone());
        Ok(())
    }

    fn cloudua_domain(
        &self,
        name: &str,
    ) -> Result<Option<crate::store::CloudUaDomain>, StoreError> {
        Ok(self.read().cloudua_domains.get(name).cloned())
    }

    fn cloudua_domains(&self) -> Result<Vec<crate::store::CloudUaDomain>, StoreError> {
        Ok(self.read().cloudua_domains.values().cloned().collect())
    }

    fn delete_cloudua_domain(&self, name: &str) -> Result<(), StoreError> {
        match self.write().cloudua_domains.remove(name) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    fn insert_account(&self, account: &Account) -> Result<(), StoreError> {
        self.put_account(account)
    }

    fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.read().accounts.get(id).cloned())
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        Ok(self.read().accounts.values().cloned().collect())
    }

    fn delete_account(&self, id: &str) -> Result<(), StoreError> {
        match self.write().accounts.remove(id) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    fn insert_bw_domain(&self, domain: &BwDomain) -> Result<(), StoreError> {
        self.put_bw_domain(domain)
    }

    fn bw_domain(&self, id: &str) -> Result<Option<BwDomain>, StoreError> {
        Ok(self.read().bw_domains.get(id).cloned())
    }

    fn bw_domains_of_account(&self, account: &str) -> Result<Vec<BwDomain>, StoreError> {
        Ok(self
            .read()
            .bw_domains
            .values()
            .filter(|d| d.account == account)
            .cloned()
            .collect())
    }

    fn delete_bw_domain(&self, id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.remove_bw_domain(id)
    }

    fn endpoint_by_id(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        let state = self.read();
        Ok(state
            .endpoints_by_id
            .get(id)
            .and_then(|k| state.endpoints.get(k))
            .cloned())
    }

    fn endpoints_of_bw_domain(&self, domain_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        let state = self.read();
        Ok(state
            .endpoints_by_bw_domain
            .range((domain_id.to_owned(), String::new())..)
            .take_while(|((d, _), _)| d == domain_id)
            .filter_map(|(_, k)| state.endpoints.get(k).cloned())
            .collect())
    }

    fn insert_cdr(&self, cdr: &Cdr, delivery: Option<&Delivery>) -> Result<bool, StoreError> {
        self.put_cdr(cdr, delivery)
    }

    fn cdrs_of_call(&self, cmiuuid: &str) -> Result<Vec<Cdr>, StoreError> {
        let prefix = key::call_prefix(cmiuuid)?;
        Ok(self
            .read()
            .cdrs
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, cdr)| cdr.clone())
            .collect())
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
        Ok(self.prune_before(before, max).len())
    }

    fn prune_cdrs_of_app(&self, app: AppId, keep: usize, max: usize) -> Result<usize, StoreError> {
        Ok(self.prune_app(app, keep, max).len())
    }

    fn put_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.write()
            .deliveries
            .insert(delivery.seq, delivery.clone());
        Ok(())
    }

    fn delete_delivery(&self, seq: u64) -> Result<bool, StoreError> {
        Ok(self.write().deliveries.remove(&seq).is_some())
    }

    fn deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        Ok(self.read().deliveries.values().cloned().collect())
    }

    fn put_node(&self, node: &crate::store::NodeInfo) -> Result<(), StoreError> {
        self.write().nodes.insert(node.id.clone(), node.clone());
        Ok(())
    }

    fn nodes(&self) -> Result<Vec<crate::store::NodeInfo>, StoreError> {
        Ok(self.read().nodes.values().cloned().collect())
    }

    fn delete_node(&self, id: &str) -> Result<(), StoreError> {
        self.write().nodes.remove(id);
        Ok(())
    }

    fn put_live_call(&self, id: &str, node: &str) -> Result<(), StoreError> {
        self.write()
            .live_calls
            .insert(id.to_string(), node.to_string());
        Ok(())
    }

    fn delete_live_call(&self, id: &str) -> Result<(), StoreError> {
        self.write().live_calls.remove(id);
        Ok(())
    }

    fn live_call_node(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.read().live_calls.get(id).cloned())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::conformance;

    #[test]
    fn conformance() {
        conformance::run(&MemoryStore::new());
    }

    #[test]
    fn concurrent_inserts_conflict() {
        conformance::concurrent_inserts(Arc::new(MemoryStore::new()));
    }

    #[test]
    fn bindings_never_outlive_their_endpoints() {
        conformance::bindings_race_deletes(Arc::new(MemoryStore::new()));
    }

    #[test]
    fn concurrent_cdr_inserts_store_one() {
        conformance::calls::concurrent_cdr_inserts(Arc::new(MemoryStore::new()));
    }

    #[test]
    fn debug_shows_no_records() {
        let store = MemoryStore::new();
        conformance::seed(&store);
        let shown = format!("{store:?}");
        assert!(shown.contains("endpoints: 3"), "{shown}");
        assert!(!shown.contains(conformance::HA1_MARK), "{shown}");
    }
}
