//! CDRs and the webhook outbox on sled.
//!
//! A CDR is written with its two newest-first index entries, and with the outbox delivery of
//! its webhook, in one transaction: after a crash either the CDR exists and its webhook is
//! queued, or neither. The check for an existing CDR is inside the same transaction, so two
//! racing inserts of one leg's CDR store (and queue) it once.

use sled::Transactional;

use super::{backend, decode, encode, key, tx, SledStore};
use crate::store::{AppId, Cdr, CdrCursor, Delivery, StoreError};

impl SledStore {
    pub(super) fn put_cdr(
        &self,
        cdr: &Cdr,
        delivery: Option<&Delivery>,
    ) -> Result<bool, StoreError> {
        Ok(self
            .put_rows(&[(cdr, delivery)])?
            .first()
            .copied()
            .unwrap_or(false))
    }

    /// Every CDR of `batch` (with its delivery) in one transaction; `false` for a CDR whose
    /// `(cmiuuid, leg_id)` exists already, or came earlier in the batch.
    pub(super) fn put_cdrs(
        &self,
        batch: &[(Cdr, Option<Delivery>)],
    ) -> Result<Vec<bool>, StoreError> {
        let rows: Vec<(&Cdr, Option<&Delivery>)> =
            batch.iter().map(|(c, d)| (c, d.as_ref())).collect();
        self.put_rows(&rows)
    }

    fn put_rows(&self, batch: &[(&Cdr, Option<&Delivery>)]) -> Result<Vec<bool>, StoreError> {
        struct Row {
            k: Vec<u8>,
            by_time: Vec<u8>,
            by_app: Vec<u8>,
            value: Vec<u8>,
            queued: Option<(Vec<u8>, Vec<u8>)>,
        }
        let rows = batch
            .iter()
            .map(|(cdr, delivery)| {
                let k = key::cdr(cdr.cmiuuid.as_str(), &cdr.leg_id)?;
                Ok(Row {
                    by_time: key::cdr_by_time(cdr.time, &k),
                    by_app: key::cdr_by_app(cdr.appid, cdr.time, &k),
                    value: encode(cdr),
                    queued: delivery.map(|d| (key::delivery(d.seq).to_vec(), encode(d))),
                    k,
                })
            })
            .collect::<Result<Vec<Row>, StoreError>>()?;
        tx((
            &self.cdrs,
            &self.cdrs_by_time,
            &self.cdrs_by_app,
            &self.deliveries,
        )
            .transaction(|(cdrs, time_index, app_index, deliveries)| {
                let mut stored = Vec::with_capacity(rows.len());
                for row in &rows {
                    // Reads in a sled transaction see its own earlier writes: a duplicate
                    // within the batch is caught too.
                    if cdrs.get(&row.k)?.is_some() {
                        stored.push(false);
                        continue;
                    }
                    cdrs.insert(row.k.as_slice(), row.value.as_slice())?;
                    time_index.insert(row.by_time.as_slice(), &[][..])?;
                    app_index.insert(row.by_app.as_slice(), &[][..])?;
                    if let Some((dk, dv)) = &row.queued {
                        deliveries.insert(dk.as_slice(), dv.as_slice())?;
                    }
                    stored.push(true);
                }
                Ok(stored)
            }))
    }

    pub(super) fn call_cdrs(&self, cmiuuid: &str) -> Result<Vec<Cdr>, StoreError> {
        self.cdrs
            .scan_prefix(key::call_prefix(cmiuuid)?)
            .map(|item| {
                let (k, v) = item.map_err(backend)?;
                decode(&k, &v)
            })
            .collect()
    }

    pub(super) fn newest_cdrs(
        &self,
        app: Option<AppId>,
        limit: usize,
        before: Option<&CdrCursor>,
    ) -> Result<Vec<Cdr>, StoreError> {
        // Index keys are `prefix time_be cdr_key`; the prefix is the app id for the per-app
        // index and empty for the global one.
        let (index, prefix) = match app {
            Some(id) => (&self.cdrs_by_app, key::app(id).to_vec()),
            None => (&self.cdrs_by_time, Vec::new()),
        };
        let entries = match before {
            Some(c) => {
                let mut upper = prefix.clone();
                upper.extend_from_slice(&key::cdr_by_time(
                    c.time,
                    &key::cdr(&c.cmiuuid, &c.leg_id)?,
                ));
                index.range(prefix.clone()..upper)
            }
            None => index.scan_prefix(&prefix),
        };
        let mut out = Vec::with_capacity(limit.min(1000));
        for entry in entries.keys().rev() {
            if out.len() >= limit {
                break;
            }
            let entry = entry.map_err(backend)?;
            let cdr_key = &entry[prefix.len() + 8..];
            let bytes =
                self.cdrs
                    .get(cdr_key)
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::Corrupt {
                        key: key::printable(&entry),
                        reason: "index entry points to a missing CDR".to_owned(),
                    })?;
            out.push(decode(cdr_key, &bytes)?);
        }
        Ok(out)
    }

    /// Up to `max` of the oldest CDRs with `time < before`, of every app, deleted with their
    /// index entries in one transaction.
    pub(super) fn prune_before(&self, before: u64, max: usize) -> Result<usize, StoreError> {
        let mut doomed = Vec::new();
        for entry in self.cdrs_by_time.iter().keys().take(max) {
            let entry = entry.map_err(backend)?;
            let (time, cdr_key) =
                key::split_cdr_by_time(&entry).ok_or_else(|| corrupt_index(&entry))?;
            if time >= before {
                break;
            }
            let cdr_key = cdr_key.to_vec();
            let app = match self.cdrs.get(&cdr_key).map_err(backend)? {
                Some(bytes) => decode::<Cdr>(&cdr_key, &bytes)?.appid,
                None => {
                    return Err(StoreError::Corrupt {
                        key: key::printable(&entry),
                        reason: "index entry points to a missing CDR".to_owned(),
                    })
                }
            };
            let by_app = key::cdr_by_app(app, time, &cdr_key);
            doomed.push((cdr_key, entry.to_vec(), by_app));
        }
        self.remove_cdrs(&doomed)
    }

    /// Up to `max` of `app`'s oldest CDRs beyond its newest `keep`, deleted in one
    /// transaction.
    pub(super) fn prune_app(
        &self,
        app: AppId,
        keep: usize,
        max: usize,
    ) -> Result<usize, StoreError> {
        let mut doomed = Vec::new();
        let entries = self.cdrs_by_app.scan_prefix(key::app(app)).keys().rev();
        for entry in entries.skip(keep).take(max) {
            let entry = entry.map_err(backend)?;
            // `id_be time_be cdr_key`: the time index key is the entry without the app.
            let by_time =
                key::time_key_of_cdr_by_app(&entry).ok_or_else(|| corrupt_index(&entry))?;
            doomed.push((by_time[8..].to_vec(), by_time.to_vec(), entry.to_vec()));
        }
        self.remove_cdrs(&doomed)
    }

    /// Deletes `(cdr key, time index key, app index key)` triples at once.
    fn remove_cdrs(&self, doomed: &[(Vec<u8>, Vec<u8>, Vec<u8>)]) -> Result<usize, StoreError> {
        if doomed.is_empty() {
            return Ok(0);
        }
        tx(
            (&self.cdrs, &self.cdrs_by_time, &self.cdrs_by_app).transaction(
                |(cdrs, time_index, app_index)| {
                    for (k, by_time, by_app) in doomed {
                        cdrs.remove(k.as_slice())?;
                        time_index.remove(by_time.as_slice())?;
                        app_index.remove(by_app.as_slice())?;
                    }
                    Ok(())
                },
            ),
        )?;
        Ok(doomed.len())
    }

    pub(super) fn write_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.deliveries
            .insert(key::delivery(delivery.seq), encode(delivery))
            .map(drop)
            .map_err(backend)
    }

    pub(super) fn remove_delivery(&self, seq: u64) -> Result<bool, StoreError> {
        self.deliveries
            .remove(key::delivery(seq))
            .map(|old| old.is_some())
            .map_err(backend)
    }

    pub(super) fn pending_deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(backend)?;
                decode(&k, &v)
            })
            .collect()
    }
}

/// An index key too short to hold its time prefix.
fn corrupt_index(entry: &[u8]) -> StoreError {
    StoreError::Corrupt {
        key: key::printable(entry),
        reason: "CDR index key too short".to_owned(),
    }
}
