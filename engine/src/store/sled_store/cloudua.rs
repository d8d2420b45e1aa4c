//! Cloud UA domains on sled: one tree keyed by name. The app's existence is checked in the
//! same transaction as the insert; the one-domain-per-app rule is checked by a scan before it
//! (domains are made by the operator, one at a time: the race is not worth an index tree).

use sled::transaction::{abort, Transactional};

use super::{backend, decode, encode, key, tx, SledStore};
use crate::store::{CloudUaDomain, StoreError};

impl SledStore {
    pub(super) fn put_cloudua_domain(&self, d: &CloudUaDomain) -> Result<(), StoreError> {
        let k = key::plain(&d.name, "domain name")?;
        if self.all_cloudua_domains()?.iter().any(|x| x.app == d.app) {
            return Err(StoreError::Conflict);
        }
        let app = key::app(d.app);
        let value = encode(d);
        tx(
            (&self.apps, &self.cloudua_domains).transaction(|(apps, domains)| {
                if apps.get(app)?.is_none() {
                    return abort(StoreError::NotFound);
                }
                if domains.get(&k)?.is_some() {
                    return abort(StoreError::Conflict);
                }
                domains.insert(k.as_slice(), value.as_slice())?;
                Ok(())
            }),
        )
    }

    pub(super) fn get_cloudua_domain(
        &self,
        name: &str,
    ) -> Result<Option<CloudUaDomain>, StoreError> {
        let k = key::plain(name, "domain name")?;
        match self.cloudua_domains.get(&k).map_err(backend)? {
            Some(bytes) => decode(&k, &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn all_cloudua_domains(&self) -> Result<Vec<CloudUaDomain>, StoreError> {
        self.cloudua_domains
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(backend)?;
                decode(&k, &v)
            })
            .collect()
    }

    pub(super) fn remove_cloudua_domain(&self, name: &str) -> Result<(), StoreError> {
        let k = key::plain(name, "domain name")?;
        match self.cloudua_domains.remove(&k).map_err(backend)? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }
}
