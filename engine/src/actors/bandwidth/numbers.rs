//! Phone numbers of a user's applications, for [`BandwidthService`].

use super::{store_err, BandwidthError, BandwidthService};
use crate::directory::bandwidth as rules;
use crate::store::{Account, AppId, Number, StoreError};

impl BandwidthService {
    // ---- numbers ----

    /// The numbers of every app the user may use, in digit order.
    pub fn numbers(&self, account: &Account) -> Result<Vec<Number>, BandwidthError> {
        let apps: Vec<AppId> = self
            .store
            .apps()
            .map_err(store_err)?
            .into_iter()
            .filter(|a| Self::owns(account, a))
            .map(|a| a.id)
            .collect();
        let mut out = Vec::new();
        for id in apps {
            out.extend(self.store.numbers(Some(id)).map_err(store_err)?);
        }
        out.sort_by(|a, b| a.number.cmp(&b.number));
        Ok(out)
    }

    /// The user's number with these digits.
    pub fn number(&self, account: &Account, digits: &str) -> Result<Number, BandwidthError> {
        let n = match self.store.number(digits) {
            Ok(Some(n)) => n,
            Ok(None) | Err(StoreError::InvalidKey(_)) => {
                return Err(BandwidthError::NotFound("phone number"))
            }
            Err(e) => return Err(store_err(e)),
        };
        match self.store.app(n.app).map_err(store_err)? {
            Some(app) if Self::owns(account, &app) => Ok(n),
            _ => Err(BandwidthError::NotFound("phone number")),
        }
    }

    pub async fn update_number(&self, number: &Number) -> Result<(), BandwidthError> {
        if let Some(name) = &number.name {
            rules::check_text(name, "name must be at most 1024 characters")?;
        }
        match self.store.update_number(number) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(BandwidthError::NotFound("phone number")),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await
    }
}
