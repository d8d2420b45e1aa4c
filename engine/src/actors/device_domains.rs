//! The engine's face for the Cloud SIP UA API: the operator's domains (durable when the call
//! returns) and the checks an API request needs before it reaches a call.

use super::Engine;
use crate::egress::Refused;
use crate::store::{CloudUaDomain, StoreError};

/// Why a domain write failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error("a Cloud UA domain with this name exists, or the app has one already")]
    Taken,
    #[error("no such app")]
    NoSuchApp,
    #[error("no such Cloud UA domain")]
    NoSuchDomain,
    #[error("the store failed: {0}")]
    Store(#[source] StoreError),
}

fn store_err(e: StoreError) -> DomainError {
    match e {
        StoreError::Conflict => DomainError::Taken,
        StoreError::NotFound => DomainError::NoSuchApp,
        other => DomainError::Store(other),
    }
}

impl Engine {
    /// Adds a domain; answers once it is durable.
    pub async fn add_cloudua_domain(&self, d: &CloudUaDomain) -> Result<(), DomainError> {
        self.store.insert_cloudua_domain(d).map_err(store_err)?;
        self.commit.sync().await.map_err(DomainError::Store)?;
        tracing::info!(domain = %d.name, appid = %d.app, "Cloud UA domain added");
        Ok(())
    }

    pub fn cloudua_domain(&self, name: &str) -> Result<Option<CloudUaDomain>, DomainError> {
        self.store.cloudua_domain(name).map_err(DomainError::Store)
    }

    pub fn cloudua_domains(&self) -> Result<Vec<CloudUaDomain>, DomainError> {
        self.store.cloudua_domains().map_err(DomainError::Store)
    }

    /// Deletes a domain; answers once it is durable.
    pub async fn delete_cloudua_domain(&self, name: &str) -> Result<(), DomainError> {
        match self.store.delete_cloudua_domain(name) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(DomainError::NoSuchDomain),
            Err(e) => return Err(DomainError::Store(e)),
        }
        self.commit.sync().await.map_err(DomainError::Store)?;
        tracing::info!(domain = %name, "Cloud UA domain deleted");
        Ok(())
    }

    /// Whether media may be sent to `ip` (a device's `receiveIp`) under `[policy]`.
    pub fn check_media_address(&self, ip: std::net::IpAddr) -> Result<(), Refused> {
        self.egress.check(ip)
    }
}
