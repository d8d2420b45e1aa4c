//! Trunks, numbers and CDRs in memory: the writes with checks, and the ordered listings.

use super::MemoryStore;
use crate::store::{key, AppId, Cdr, CdrCursor, Delivery, Number, StoreError, Trunk};

impl MemoryStore {
    pub(super) fn put_trunk(&self, trunk: &Trunk) -> Result<(), StoreError> {
        key::plain(&trunk.name, "trunk name")?;
        let mut state = self.write();
        if state.trunks.contains_key(&trunk.name) {
            return Err(StoreError::Conflict);
        }
        state.trunks.insert(trunk.name.clone(), trunk.clone());
        Ok(())
    }

    pub(super) fn put_number(&self, number: &Number) -> Result<(), StoreError> {
        key::plain(&number.number, "number")?;
        let mut state = self.write();
        if !state.apps.contains_key(&number.app) {
            return Err(StoreError::NotFound);
        }
        if state.numbers.contains_key(&number.number) {
            return Err(StoreError::Conflict);
        }
        state
            .numbers_by_app
            .insert((number.app, number.number.clone()));
        state.numbers.insert(number.number.clone(), number.clone());
        Ok(())
    }

    pub(super) fn list_numbers(&self, app: Option<AppId>) -> Vec<Number> {
        let state = self.read();
        match app {
            None => state.numbers.values().cloned().collect(),
            Some(id) => state
                .numbers_by_app
                .range((id, String::new())..)
                .take_while(|(owner, _)| *owner == id)
                .filter_map(|(_, digits)| state.numbers.get(digits).cloned())
                .collect(),
        }
    }

    pub(super) fn remove_number(&self, digits: &str) -> Result<(), StoreError> {
        key::plain(digits, "number")?;
        let mut state = self.write();
        let Some(old) = state.numbers.remove(digits) else {
            return Err(StoreError::NotFound);
        };
        state.numbers_by_app.remove(&(old.app, old.number));
        Ok(())
    }

    pub(super) fn put_cdr(
        &self,
        cdr: &Cdr,
        delivery: Option<&Delivery>,
    ) -> Result<bool, StoreError> {
        let k = key::cdr(cdr.cmiuuid.as_str(), &cdr.leg_id)?;
        let mut state = self.write();
        if state.cdrs.contains_key(&k) {
            return Ok(false);
        }
        state.cdrs_by_time.insert(key::cdr_by_time(cdr.time, &k));
        state
            .cdrs_by_app
            .insert(key::cdr_by_app(cdr.appid, cdr.time, &k));
        state.cdrs.insert(k, cdr.clone());
        if let Some(d) = delivery {
            state.deliveries.insert(d.seq, d.clone());
        }
        Ok(true)
    }

    pub(super) fn newest_cdrs(
        &self,
        app: Option<AppId>,
        limit: usize,
        before: Option<&CdrCursor>,
    ) -> Result<Vec<Cdr>, StoreError> {
        let state = self.read();
        let (index, prefix) = match app {
            Some(id) => (&state.cdrs_by_app, key::app(id).to_vec()),
            None => (&state.cdrs_by_time, Vec::new()),
        };
        let upper = match before {
            Some(c) => {
                let mut upper = prefix.clone();
                upper.extend_from_slice(&key::cdr_by_time(
                    c.time,
                    &key::cdr(&c.cmiuuid, &c.leg_id)?,
                ));
                Some(upper)
            }
            None => None,
        };
        let entries = index
            .range(prefix.clone()..)
            .take_while(|k| k.starts_with(&prefix))
            .filter(|k| upper.as_ref().is_none_or(|u| *k < u));
        // BTreeSet ranges iterate both ways, but the filter above needs the whole prefix range;
        // collect the keys (cheap: a test backend) and walk them newest first.
        let keys: Vec<&Vec<u8>> = entries.collect();
        let mut out = Vec::with_capacity(limit.min(keys.len()));
        for k in keys.into_iter().rev().take(limit) {
            let cdr =
                state
                    .cdrs
                    .get(&k[prefix.len() + 8..])
                    .ok_or_else(|| StoreError::Corrupt {
                        key: key::printable(k),
                        reason: "index entry points to a missing CDR".to_owned(),
                    })?;
            out.push(cdr.clone());
        }
        Ok(out)
    }

    /// Retention by age; the CDRs that went (a mirror tells the shared store which).
    pub(crate) fn prune_before(&self, before: u64, max: usize) -> Vec<Cdr> {
        let mut state = self.write();
        let doomed: Vec<Vec<u8>> = state
            .cdrs_by_time
            .iter()
            .take(max)
            .take_while(|k| key::split_cdr_by_time(k).is_some_and(|(time, _)| time < before))
            .cloned()
            .collect();
        let mut gone = Vec::with_capacity(doomed.len());
        for by_time in &doomed {
            let k = by_time[8..].to_vec();
            if let Some(cdr) = state.cdrs.remove(&k) {
                state
                    .cdrs_by_app
                    .remove(&key::cdr_by_app(cdr.appid, cdr.time, &k));
                gone.push(cdr);
            }
            state.cdrs_by_time.remove(by_time);
        }
        gone
    }

    /// Removes one CDR (a mirror applying another node's retention); whether it was there.
    pub(crate) fn remove_cdr(&self, cmiuuid: &str, leg_id: &str) -> Result<bool, StoreError> {
        let k = key::cdr(cmiuuid, leg_id)?;
        let mut state = self.write();
        let Some(cdr) = state.cdrs.remove(&k) else {
            return Ok(false);
        };
        state.cdrs_by_time.remove(&key::cdr_by_time(cdr.time, &k));
        state
            .cdrs_by_app
            .remove(&key::cdr_by_app(cdr.appid, cdr.time, &k));
        Ok(true)
    }

    /// Retention by count; the CDRs that went.
    pub(crate) fn prune_app(&self, app: AppId, keep: usize, max: usize) -> Vec<Cdr> {
        let mut state = self.write();
        let prefix = key::app(app);
        let mine: Vec<&Vec<u8>> = state
            .cdrs_by_app
            .range(prefix.to_vec()..)
            .take_while(|k| k.starts_with(&prefix))
            .collect();
        let doomed: Vec<Vec<u8>> = mine
            .into_iter()
            .rev()
            .skip(keep)
            .take(max)
            .cloned()
            .collect();
        let mut gone = Vec::with_capacity(doomed.len());
        for by_app in &doomed {
            if let Some(cdr) = state.cdrs.remove(&by_app[16..]) {
                gone.push(cdr);
            }
            state.cdrs_by_time.remove(&by_app[8..]);
            state.cdrs_by_app.remove(by_app);
        }
        gone
    }
}
