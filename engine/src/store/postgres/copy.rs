//! `ringmaster store migrate`: a single node's sled store copied into an empty PostgreSQL
//! store, through the trait on both sides (so the target's invariants check every record).

use serde::Serialize;

use super::row::Row;
use super::PgStore;
use crate::store::{CdrCursor, SledStore, Store, StoreError};

/// What was copied.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Copied {
    pub apps: usize,
    pub deleted_apps: usize,
    pub accounts: usize,
    pub bw_domains: usize,
    pub cloudua_domains: usize,
    pub endpoints: usize,
    pub bindings: usize,
    pub trunks: usize,
    pub numbers: usize,
    pub cdrs: usize,
    pub deliveries: usize,
}

/// CDRs per page read from the source.
const PAGE: usize = 1000;

impl PgStore {
    /// Marks an app id as deleted (copying another store's tombstones).
    fn adopt_tombstone(&self, id: crate::store::AppId) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.add_tombstone(id);
            Ok(((), vec![(Row::Tombstone(id), false, None)]))
        })
    }

    fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.apps()?.is_empty()
            && self.accounts()?.is_empty()
            && self.trunks()?.is_empty()
            && self.cdrs(None, 1, None)?.is_empty())
    }

    /// Copies everything `from` holds; refuses a target that already holds data (`Conflict`).
    /// The outbox becomes this node's. Durable when it returns.
    pub fn copy_from(&self, from: &SledStore) -> Result<Copied, StoreError> {
        if !self.is_empty()? {
            return Err(StoreError::Conflict);
        }
        let mut n = Copied::default();
        let apps = from.apps()?;
        for app in &apps {
            self.insert_app(app)?;
        }
        n.apps = apps.len();
        for id in from.deleted_apps()? {
            self.adopt_tombstone(id)?;
            n.deleted_apps += 1;
        }
        for account in from.accounts()? {
            self.insert_account(&account)?;
            n.accounts += 1;
            for d in from.bw_domains_of_account(&account.id)? {
                self.insert_bw_domain(&d)?;
                n.bw_domains += 1;
                for e in from.endpoints_of_bw_domain(&d.id)? {
                    self.insert_endpoint(&e)?;
                    n.endpoints += 1;
                }
            }
        }
        for d in from.cloudua_domains()? {
            self.insert_cloudua_domain(&d)?;
            n.cloudua_domains += 1;
        }
        for app in &apps {
            let (members, _) = from.endpoints_of_app(app.id, 0, usize::MAX)?;
            for e in members.iter().filter(|e| e.bw_domain.is_none()) {
                self.insert_endpoint(e)?;
                n.endpoints += 1;
            }
        }
        for (aor, bindings) in from.all_bindings()? {
            n.bindings += bindings.len();
            self.put_bindings(&aor, &bindings)?;
        }
        for t in from.trunks()? {
            self.insert_trunk(&t)?;
            n.trunks += 1;
        }
        for num in from.numbers(None)? {
            self.insert_number(&num)?;
            n.numbers += 1;
        }
        let mut cursor: Option<CdrCursor> = None;
        loop {
            let page = from.cdrs(None, PAGE, cursor.as_ref())?;
            let Some(last) = page.last() else { break };
            cursor = Some(CdrCursor {
                time: last.time,
                cmiuuid: last.cmiuuid.as_str().to_string(),
                leg_id: last.leg_id.clone(),
            });
            let batch: Vec<_> = page.into_iter().map(|c| (c, None)).collect();
            n.cdrs += self
                .insert_cdrs(&batch)?
                .into_iter()
                .filter(|new| *new)
                .count();
            self.flush()?;
        }
        for d in from.deliveries()? {
            self.put_delivery(&d)?;
            n.deliveries += 1;
        }
        self.flush()?;
        Ok(n)
    }
}
