//! The number service: phone numbers of apps for the admin API, and the lookup the call path
//! makes for every call from a trunk. Writes answer once durable; the lookup is one store
//! read (an in-memory B-tree lookup on sled's page cache).

use std::sync::Arc;

use super::clock::unix_now;
use crate::directory::number::{normalize, NumberError};
use crate::store::{AppId, GroupCommit, Number, Store, StoreError};

/// Cloneable handle shared by HTTP workers and the call path.
#[derive(Clone)]
pub struct NumberService {
    store: Arc<dyn Store>,
    commit: GroupCommit,
}

fn store_err(e: StoreError) -> NumberError {
    tracing::error!(error = %e, "store failure (numbers)");
    NumberError::Store
}

impl NumberService {
    pub(crate) fn new(store: Arc<dyn Store>, commit: GroupCommit) -> NumberService {
        NumberService { store, commit }
    }

    /// Assigns `number` (E.164, `+` optional) to `app`; answers once durable.
    pub async fn add(&self, number: &str, app: AppId) -> Result<Number, NumberError> {
        let record = Number {
            number: normalize(number)?,
            app,
            created_at: unix_now(),
            name: None,
        };
        match self.store.insert_number(&record) {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(NumberError::Taken),
            Err(StoreError::NotFound) => return Err(NumberError::NoSuchApp),
            Err(e) => return Err(store_err(e)),
        }
        self.commit.sync().await.map_err(store_err)?;
        tracing::info!(number = %record.number, appid = %app, "number added");
        Ok(record)
    }

    /// Every number, or one app's, in digit order.
    pub fn list(&self, app: Option<AppId>) -> Result<Vec<Number>, NumberError> {
        self.store.numbers(app).map_err(store_err)
    }

    /// Unassigns a number; answers, with the number as stored, once durable.
    pub async fn delete(&self, number: &str) -> Result<String, NumberError> {
        let digits = normalize(number).map_err(|_| NumberError::NoSuchNumber)?;
        match self.store.delete_number(&digits) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(NumberError::NoSuchNumber),
            Err(e) => return Err(store_err(e)),
        }
        self.commit.sync().await.map_err(store_err)?;
        tracing::info!(number = %digits, "number deleted");
        Ok(digits)
    }

    /// The app that owns `number` (as a call's `To` user carries it: `+` optional). `Ok(None)`
    /// for a number nobody owns or that is not a number at all.
    pub fn app_for_number(&self, number: &str) -> Result<Option<AppId>, NumberError> {
        let Ok(digits) = normalize(number) else {
            return Ok(None);
        };
        Ok(self
            .store
            .number(&digits)
            .map_err(store_err)?
            .map(|n| n.app))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn numbers_route_to_their_app() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        store
            .insert_app(&crate::store::conformance::app(7, "n.example"))
            .unwrap();
        let svc = NumberService::new(store.clone(), GroupCommit::start(store).unwrap());
        let n = svc.add("+14155550100", AppId(7)).await.unwrap();
        assert_eq!(n.number, "14155550100");
        assert_eq!(
            svc.add("14155550100", AppId(7)).await,
            Err(NumberError::Taken)
        );
        assert_eq!(
            svc.add("14155550101", AppId(8)).await,
            Err(NumberError::NoSuchApp)
        );
        assert!(matches!(
            svc.add("1-415", AppId(7)).await,
            Err(NumberError::Invalid(_))
        ));
        assert_eq!(svc.app_for_number("+14155550100"), Ok(Some(AppId(7))));
        assert_eq!(svc.app_for_number("14155550100"), Ok(Some(AppId(7))));
        assert_eq!(svc.app_for_number("14155550109"), Ok(None));
        assert_eq!(svc.app_for_number("alice"), Ok(None));
        assert_eq!(svc.list(Some(AppId(7))).unwrap(), [n]);
        assert_eq!(svc.delete("+14155550100").await.unwrap(), "14155550100");
        assert_eq!(
            svc.delete("14155550100").await,
            Err(NumberError::NoSuchNumber)
        );
        assert_eq!(svc.delete("nonsense").await, Err(NumberError::NoSuchNumber));
        assert_eq!(svc.app_for_number("14155550100"), Ok(None));
    }
}
