//! The Bandwidth model in memory: users, domains, the endpoint indexes, and number updates.

use super::{EndpointKey, MemoryStore, State};
use crate::store::{key, Account, BwDomain, Endpoint, Number, StoreError};

impl State {
    /// The same key checks as the sled backend, so both refuse the same records.
    pub(super) fn check(ep: &Endpoint) -> Result<(), StoreError> {
        if let Some(id) = &ep.id {
            key::plain(id, "endpoint id")?;
        }
        if let Some(d) = &ep.bw_domain {
            key::pair(d, &ep.username, "domain id")?;
        }
        Ok(())
    }

    pub(super) fn index(&mut self, ep: &Endpoint, k: &EndpointKey) {
        if let Some(app) = ep.app {
            self.by_app
                .insert((app, k.1.clone(), k.0.clone()), k.clone());
        }
        if let Some(id) = &ep.id {
            self.endpoints_by_id.insert(id.clone(), k.clone());
        }
        if let Some(d) = &ep.bw_domain {
            self.endpoints_by_bw_domain
                .insert((d.clone(), k.1.clone()), k.clone());
        }
    }

    pub(super) fn unindex(&mut self, ep: &Endpoint, k: &EndpointKey) {
        if let Some(app) = ep.app {
            self.by_app.remove(&(app, k.1.clone(), k.0.clone()));
        }
        if let Some(id) = &ep.id {
            self.endpoints_by_id.remove(id);
        }
        if let Some(d) = &ep.bw_domain {
            self.endpoints_by_bw_domain
                .remove(&(d.clone(), k.1.clone()));
        }
    }
}

impl MemoryStore {
    pub(super) fn replace_number(&self, number: &Number) -> Result<(), StoreError> {
        key::plain(&number.number, "number")?;
        let mut state = self.write();
        let Some(old_app) = state.numbers.get(&number.number).map(|n| n.app) else {
            return Err(StoreError::NotFound);
        };
        if !state.apps.contains_key(&number.app) {
            return Err(StoreError::NotFound);
        }
        state
            .numbers_by_app
            .remove(&(old_app, number.number.clone()));
        state
            .numbers_by_app
            .insert((number.app, number.number.clone()));
        state.numbers.insert(number.number.clone(), number.clone());
        Ok(())
    }

    pub(super) fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        key::plain(&account.id, "user id")?;
        let mut state = self.write();
        if state.accounts.contains_key(&account.id) {
            return Err(StoreError::Conflict);
        }
        state.accounts.insert(account.id.clone(), account.clone());
        Ok(())
    }

    pub(super) fn put_bw_domain(&self, domain: &BwDomain) -> Result<(), StoreError> {
        key::plain(&domain.id, "domain id")?;
        key::plain(&domain.name, "domain name")?;
        key::pair(&domain.account, &domain.id, "domain id")?;
        let mut state = self.write();
        if !state.accounts.contains_key(&domain.account) {
            return Err(StoreError::NotFound);
        }
        if state.bw_domains.contains_key(&domain.id)
            || state.bw_domain_names.contains_key(&domain.name)
        {
            return Err(StoreError::Conflict);
        }
        state
            .bw_domain_names
            .insert(domain.name.clone(), domain.id.clone());
        state.bw_domains.insert(domain.id.clone(), domain.clone());
        Ok(())
    }

    pub(super) fn remove_bw_domain(&self, id: &str) -> Result<Vec<Endpoint>, StoreError> {
        let mut state = self.write();
        let Some(domain) = state.bw_domains.remove(id) else {
            return Err(StoreError::NotFound);
        };
        state.bw_domain_names.remove(&domain.name);
        let members: Vec<EndpointKey> = state
            .endpoints_by_bw_domain
            .range((id.to_owned(), String::new())..)
            .take_while(|((d, _), _)| d == id)
            .map(|(_, k)| k.clone())
            .collect();
        let mut gone = Vec::with_capacity(members.len());
        for k in members {
            if let Some(ep) = state.endpoints.remove(&k) {
                state.unindex(&ep, &k);
                state.bindings.remove(&key::endpoint(&k.0, &k.1)?);
                gone.push(ep);
            }
        }
        Ok(gone)
    }
}
