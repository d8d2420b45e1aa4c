//! Reading CDRs back: the admin listing and PIOPIY's `cmiuuid_cdr`. CDRs are *written* by
//! the outbox (`Outbox::enqueue_cdr`), together with their webhook.

use std::sync::Arc;

use crate::store::{App, AppId, Cdr, CdrCursor, Leg, Store, StoreError};

/// Most CDRs one listing returns.
pub const MAX_PAGE: usize = 1000;

/// Cloneable read handle.
#[derive(Clone)]
pub struct CdrService {
    store: Arc<dyn Store>,
}

/// Reading CDRs failed (logged where it happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("storage failure")]
pub struct CdrReadError;

fn store_err(e: StoreError) -> CdrReadError {
    tracing::error!(error = %e, "store failure (CDRs)");
    CdrReadError
}

impl CdrService {
    pub(crate) fn new(store: Arc<dyn Store>) -> CdrService {
        CdrService { store }
    }

    /// The CDRs of one call of `app`, A leg first, then the B legs by leg id. Empty when the
    /// call is unknown *or belongs to another app* (the two look the same to a caller).
    pub fn of_call(&self, app: &App, cmiuuid: &str) -> Result<Vec<Cdr>, CdrReadError> {
        let mut cdrs = match self.store.cdrs_of_call(cmiuuid) {
            Ok(list) => list,
            // A NUL byte cannot be in any stored call id: unknown, not a failure.
            Err(StoreError::InvalidKey(_)) => return Ok(Vec::new()),
            Err(e) => return Err(store_err(e)),
        };
        cdrs.retain(|c| c.appid == app.id);
        // Stable: legs of the same letter keep their leg-id order.
        cdrs.sort_by_key(|c| c.leg != Leg::A);
        Ok(cdrs)
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) CDRs, newest first, after `before`.
    pub fn list(
        &self,
        app: Option<AppId>,
        limit: usize,
        before: Option<&CdrCursor>,
    ) -> Result<Vec<Cdr>, CdrReadError> {
        match self.store.cdrs(app, limit.min(MAX_PAGE), before) {
            Ok(list) => Ok(list),
            Err(StoreError::InvalidKey(_)) => Ok(Vec::new()),
            Err(e) => Err(store_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{app, cdr};
    use crate::store::MemoryStore;

    #[test]
    fn a_calls_cdrs_a_leg_first_and_only_to_their_app() {
        let store = Arc::new(MemoryStore::new());
        for leg in ["b2", "a", "b1"] {
            store.insert_cdr(&cdr(7, "call", leg, 1_000), None).unwrap();
        }
        store
            .insert_cdr(&cdr(8, "theirs", "a", 2_000), None)
            .unwrap();
        let svc = CdrService::new(store);
        let legs: Vec<String> = svc
            .of_call(&app(7, "x.example"), "call")
            .unwrap()
            .into_iter()
            .map(|c| c.leg_id)
            .collect();
        assert_eq!(legs, ["a", "b1", "b2"]);
        assert!(svc
            .of_call(&app(7, "x.example"), "theirs")
            .unwrap()
            .is_empty());
        assert!(svc
            .of_call(&app(7, "x.example"), "nul\0")
            .unwrap()
            .is_empty());
        assert_eq!(svc.list(None, 10, None).unwrap().len(), 4);
        assert_eq!(svc.list(Some(AppId(8)), 10, None).unwrap().len(), 1);
    }
}
