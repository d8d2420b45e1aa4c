//! Trunks and numbers on sled: what routes a call in from a carrier and out to one.
//!
//! A trunk is one key in one tree, so a plain transaction makes its insert check-and-write.
//! A number lives in `numbers` and in its app's index `numbers_by_app`; both change in one
//! transaction, under the writer lock, because `delete_app` scans the index before its own
//! transaction (module doc of `sled_store`).

use sled::transaction::abort;
use sled::Transactional;

use super::{backend, decode, encode, key, tx, SledStore};
use crate::store::{AppId, Number, StoreError, Trunk};

impl SledStore {
    pub(super) fn put_trunk(&self, trunk: &Trunk) -> Result<(), StoreError> {
        let k = key::plain(&trunk.name, "trunk name")?;
        let value = encode(trunk);
        tx(self.trunks.transaction(|trunks| {
            if trunks.get(&k)?.is_some() {
                return abort(StoreError::Conflict);
            }
            trunks.insert(k.as_slice(), value.as_slice())?;
            Ok(())
        }))
    }

    pub(super) fn get_trunk(&self, name: &str) -> Result<Option<Trunk>, StoreError> {
        let k = key::plain(name, "trunk name")?;
        match self.trunks.get(&k).map_err(backend)? {
            Some(bytes) => decode(&k, &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn all_trunks(&self) -> Result<Vec<Trunk>, StoreError> {
        self.trunks
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(backend)?;
                decode(&k, &v)
            })
            .collect()
    }

    pub(super) fn remove_trunk(&self, name: &str) -> Result<(), StoreError> {
        let k = key::plain(name, "trunk name")?;
        match self.trunks.remove(k).map_err(backend)? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        }
    }

    pub(super) fn put_number(&self, number: &Number) -> Result<(), StoreError> {
        let k = key::plain(&number.number, "number")?;
        let index = key::number_index(number.app, &number.number)?;
        let app = key::app(number.app);
        let value = encode(number);
        let _writer = self.writer();
        tx(
            (&self.apps, &self.numbers, &self.numbers_by_app).transaction(
                |(apps, numbers, by_app)| {
                    if apps.get(app)?.is_none() {
                        return abort(StoreError::NotFound);
                    }
                    if numbers.get(&k)?.is_some() {
                        return abort(StoreError::Conflict);
                    }
                    numbers.insert(k.as_slice(), value.as_slice())?;
                    by_app.insert(index.as_slice(), &[][..])?;
                    Ok(())
                },
            ),
        )
    }

    pub(super) fn get_number(&self, digits: &str) -> Result<Option<Number>, StoreError> {
        let k = key::plain(digits, "number")?;
        match self.numbers.get(&k).map_err(backend)? {
            Some(bytes) => decode(&k, &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn list_numbers(&self, app: Option<AppId>) -> Result<Vec<Number>, StoreError> {
        let Some(app) = app else {
            return self
                .numbers
                .iter()
                .map(|item| {
                    let (k, v) = item.map_err(backend)?;
                    decode(&k, &v)
                })
                .collect();
        };
        let mut out = Vec::new();
        for index_key in self
            .numbers_by_app
            .scan_prefix(key::app_index_prefix(app))
            .keys()
        {
            let index_key = index_key.map_err(backend)?;
            let digits = &index_key[9..];
            // A concurrent delete may remove the number between the index scan and this read;
            // it is then simply not listed.
            if let Some(bytes) = self.numbers.get(digits).map_err(backend)? {
                out.push(decode(digits, &bytes)?);
            }
        }
        Ok(out)
    }

    pub(super) fn remove_number(&self, digits: &str) -> Result<(), StoreError> {
        let k = key::plain(digits, "number")?;
        tx(
            (&self.numbers, &self.numbers_by_app).transaction(|(numbers, by_app)| {
                let Some(old) = numbers.remove(k.as_slice())? else {
                    return abort(StoreError::NotFound);
                };
                let old: Number = super::decode_tx(&k, &old)?;
                let index = key::number_index(old.app, &old.number)
                    .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                by_app.remove(index)?;
                Ok(())
            }),
        )
    }

    pub(super) fn replace_number(&self, number: &Number) -> Result<(), StoreError> {
        let k = key::plain(&number.number, "number")?;
        let index = key::number_index(number.app, &number.number)?;
        let app = key::app(number.app);
        let value = encode(number);
        let _writer = self.writer();
        tx(
            (&self.apps, &self.numbers, &self.numbers_by_app).transaction(
                |(apps, numbers, by_app)| {
                    let Some(old) = numbers.get(&k)? else {
                        return abort(StoreError::NotFound);
                    };
                    if apps.get(app)?.is_none() {
                        return abort(StoreError::NotFound);
                    }
                    let old: Number = super::decode_tx(&k, &old)?;
                    let old_index = key::number_index(old.app, &old.number)
                        .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                    by_app.remove(old_index)?;
                    numbers.insert(k.as_slice(), value.as_slice())?;
                    by_app.insert(index.as_slice(), &[][..])?;
                    Ok(())
                },
            ),
        )
    }
}
