//! The Bandwidth model on sled: users (`accounts`), their domains (`bw_domains`, with a name
//! index for uniqueness and a per-user index for listing) and the two endpoint indexes a
//! Bandwidth endpoint adds (by its `re-` id, and by domain then username).

use sled::transaction::{abort, ConflictableTransactionError, Transactional, TransactionalTree};

use super::{backend, decode, decode_tx, encode, key, tx, SledStore};
use crate::store::{Account, BwDomain, Endpoint, StoreError};

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// The endpoint index trees inside one transaction: every write of an endpoint keeps all
/// three in step with the `endpoints` tree.
pub(super) struct EndpointIndexes<'a> {
    pub by_app: &'a TransactionalTree,
    pub by_id: &'a TransactionalTree,
    pub by_bw: &'a TransactionalTree,
}

impl EndpointIndexes<'_> {
    /// Refuses index parts with NUL bytes before any transaction starts.
    pub fn check(ep: &Endpoint) -> Result<(), StoreError> {
        if let Some(app) = ep.app {
            key::app_index(app, &ep.domain, &ep.username)?;
        }
        if let Some(id) = &ep.id {
            key::plain(id, "endpoint id")?;
        }
        if let Some(d) = &ep.bw_domain {
            key::pair(d, &ep.username, "domain id")?;
        }
        Ok(())
    }

    pub fn id_taken(&self, ep: &Endpoint) -> TxResult<bool> {
        match &ep.id {
            Some(id) => Ok(self.by_id.get(id.as_bytes())?.is_some()),
            None => Ok(false),
        }
    }

    pub fn add(&self, ep: &Endpoint, k: &[u8]) -> TxResult<()> {
        if let Some(app) = ep.app {
            self.by_app
                .insert(index(key::app_index(app, &ep.domain, &ep.username))?, k)?;
        }
        if let Some(id) = &ep.id {
            self.by_id.insert(id.as_bytes(), k)?;
        }
        if let Some(d) = &ep.bw_domain {
            self.by_bw
                .insert(index(key::pair(d, &ep.username, "domain id"))?, k)?;
        }
        Ok(())
    }

    pub fn remove(&self, ep: &Endpoint, _k: &[u8]) -> TxResult<()> {
        if let Some(app) = ep.app {
            self.by_app
                .remove(index(key::app_index(app, &ep.domain, &ep.username))?)?;
        }
        if let Some(id) = &ep.id {
            self.by_id.remove(id.as_bytes())?;
        }
        if let Some(d) = &ep.bw_domain {
            self.by_bw
                .remove(index(key::pair(d, &ep.username, "domain id"))?)?;
        }
        Ok(())
    }
}

fn index(k: Result<Vec<u8>, StoreError>) -> TxResult<Vec<u8>> {
    k.map_err(ConflictableTransactionError::Abort)
}

impl SledStore {
    pub(super) fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        let k = key::plain(&account.id, "user id")?;
        let value = encode(account);
        tx(self.accounts.transaction(|accounts| {
            if accounts.get(&k)?.is_some() {
                return abort(StoreError::Conflict);
            }
            accounts.insert(k.as_slice(), value.as_slice())?;
            Ok(())
        }))
    }

    pub(super) fn get_account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let k = key::plain(id, "user id")?;
        match self.accounts.get(&k).map_err(backend)? {
            Some(bytes) => decode(&k, &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn all_accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.accounts
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(backend)?;
                decode(&k, &v)
            })
            .collect()
    }

    pub(super) fn remove_account(&self, id: &str) -> Result<(), StoreError> {
        let k = key::plain(id, "user id")?;
        match self.accounts.remove(&k).map_err(backend)? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    pub(super) fn put_bw_domain(&self, domain: &BwDomain) -> Result<(), StoreError> {
        let k = key::plain(&domain.id, "domain id")?;
        let name = key::plain(&domain.name, "domain name")?;
        let owner = key::plain(&domain.account, "user id")?;
        let index = key::pair(&domain.account, &domain.id, "domain id")?;
        let value = encode(domain);
        tx((
            &self.accounts,
            &self.bw_domains,
            &self.bw_domain_names,
            &self.bw_domains_by_account,
        )
            .transaction(|(accounts, domains, names, by_account)| {
                if accounts.get(&owner)?.is_none() {
                    return abort(StoreError::NotFound);
                }
                if domains.get(&k)?.is_some() || names.get(&name)?.is_some() {
                    return abort(StoreError::Conflict);
                }
                domains.insert(k.as_slice(), value.as_slice())?;
                names.insert(name.as_slice(), k.as_slice())?;
                by_account.insert(index.as_slice(), &[][..])?;
                Ok(())
            }))
    }

    pub(super) fn get_bw_domain(&self, id: &str) -> Result<Option<BwDomain>, StoreError> {
        let k = key::plain(id, "domain id")?;
        match self.bw_domains.get(&k).map_err(backend)? {
            Some(bytes) => decode(&k, &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn account_domains(&self, account: &str) -> Result<Vec<BwDomain>, StoreError> {
        let prefix = key::pair_prefix(account, "user id")?;
        let mut out = Vec::new();
        for item in self.bw_domains_by_account.scan_prefix(&prefix).keys() {
            let index_key = item.map_err(backend)?;
            let id = &index_key[prefix.len()..];
            let bytes =
                self.bw_domains
                    .get(id)
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::Corrupt {
                        key: key::printable(&index_key),
                        reason: "index entry points to a missing domain".to_owned(),
                    })?;
            out.push(decode(id, &bytes)?);
        }
        Ok(out)
    }

    pub(super) fn remove_bw_domain(&self, id: &str) -> Result<Vec<Endpoint>, StoreError> {
        let k = key::plain(id, "domain id")?;
        // Under the writer lock: no endpoint can join the domain between the scan and the
        // transaction (see the module doc of `sled_store`).
        let _writer = self.writer();
        let members = self
            .endpoints_by_bw_domain
            .scan_prefix(key::pair_prefix(id, "domain id")?)
            .values()
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        tx((
            &self.bw_domains,
            &self.bw_domain_names,
            &self.bw_domains_by_account,
            &self.endpoints,
            &self.by_app,
            &self.bindings,
            &self.endpoints_by_id,
            &self.endpoints_by_bw_domain,
        )
            .transaction(
                |(domains, names, by_account, endpoints, by_app, bindings, by_id, by_bw)| {
                    let Some(bytes) = domains.remove(k.as_slice())? else {
                        return abort(StoreError::NotFound);
                    };
                    let domain: BwDomain = decode_tx(&k, &bytes)?;
                    names.remove(domain.name.as_bytes())?;
                    by_account.remove(index(key::pair(&domain.account, id, "domain id"))?)?;
                    let mut gone = Vec::with_capacity(members.len());
                    for endpoint_key in &members {
                        let Some(bytes) = endpoints.remove(endpoint_key)? else {
                            continue;
                        };
                        let ep: Endpoint = decode_tx(endpoint_key, &bytes)?;
                        EndpointIndexes {
                            by_app,
                            by_id,
                            by_bw,
                        }
                        .remove(&ep, endpoint_key)?;
                        bindings.remove(endpoint_key)?;
                        gone.push(ep);
                    }
                    Ok(gone)
                },
            ))
    }

    pub(super) fn get_endpoint_by_id(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        let k = key::plain(id, "endpoint id")?;
        let Some(endpoint_key) = self.endpoints_by_id.get(&k).map_err(backend)? else {
            return Ok(None);
        };
        match self.endpoints.get(&endpoint_key).map_err(backend)? {
            Some(bytes) => decode(&endpoint_key, &bytes).map(Some),
            None => Err(StoreError::Corrupt {
                key: key::printable(&k),
                reason: "index entry points to a missing endpoint".to_owned(),
            }),
        }
    }

    pub(super) fn domain_endpoints(&self, domain_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        let prefix = key::pair_prefix(domain_id, "domain id")?;
        let mut out = Vec::new();
        for item in self.endpoints_by_bw_domain.scan_prefix(&prefix) {
            let (index_key, endpoint_key) = item.map_err(backend)?;
            let bytes = self
                .endpoints
                .get(&endpoint_key)
                .map_err(backend)?
                .ok_or_else(|| StoreError::Corrupt {
                    key: key::printable(&index_key),
                    reason: "index entry points to a missing endpoint".to_owned(),
                })?;
            out.push(decode(&endpoint_key, &bytes)?);
        }
        Ok(out)
    }
}
