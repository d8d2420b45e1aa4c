//! Domains, their endpoints and the endpoints' tokens, for [`BandwidthService`].

use rand::rngs::OsRng;

use super::{store_err, BandwidthError, BandwidthService, EndpointChange};
use crate::actors::clock::unix_now;
use crate::actors::sip::EndpointGone;
use crate::directory::bandwidth::{self as rules, NewEndpoint, MAX_DOMAINS_PER_ACCOUNT};
use crate::sip::registrar::Aor;
use crate::store::{Account, BwDomain, Endpoint, Store, StoreError};

impl BandwidthService {
    // ---- domains ----

    pub async fn create_domain(
        &self,
        account: &Account,
        name: &str,
        description: &str,
    ) -> Result<BwDomain, BandwidthError> {
        let count = self
            .store
            .bw_domains_of_account(&account.id)
            .map_err(store_err)?
            .len();
        if count >= MAX_DOMAINS_PER_ACCOUNT {
            return Err(BandwidthError::DomainLimit);
        }
        for _ in 0..4 {
            let d = rules::build_domain(
                &account.id,
                name,
                description,
                &self.suffix,
                unix_now(),
                &mut OsRng,
            )?;
            match self.store.insert_bw_domain(&d) {
                Ok(()) => {
                    self.durable().await?;
                    self.domains.add(&d.sip_domain);
                    tracing::info!(user = %account.id, domain = %d.sip_domain, "bandwidth domain created");
                    return Ok(d);
                }
                // An id collision is retried; a name collision is the client's.
                Err(StoreError::Conflict) => {
                    if self.name_taken(&d.name)? {
                        return Err(BandwidthError::DomainNameTaken);
                    }
                }
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(BandwidthError::Store)
    }

    fn name_taken(&self, name: &str) -> Result<bool, BandwidthError> {
        // Names are unique across users; only this rare path scans them.
        for a in self.accounts()? {
            let domains = self.store.bw_domains_of_account(&a.id).map_err(store_err)?;
            if domains.iter().any(|d| d.name == name) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn domains(&self, account: &Account) -> Result<Vec<BwDomain>, BandwidthError> {
        self.store
            .bw_domains_of_account(&account.id)
            .map_err(store_err)
    }

    /// The user's domain `id` (another user's is "not found").
    pub fn domain(&self, account: &Account, id: &str) -> Result<BwDomain, BandwidthError> {
        match self.store.bw_domain(id) {
            Ok(Some(d)) if d.account == account.id => Ok(d),
            Ok(_) | Err(StoreError::InvalidKey(_)) => Err(BandwidthError::NotFound("domain")),
            Err(e) => Err(store_err(e)),
        }
    }

    /// Deletes a domain and its endpoints; their registrations go too.
    pub async fn remove_domain(&self, d: &BwDomain) -> Result<(), BandwidthError> {
        let gone = match self.store.delete_bw_domain(&d.id) {
            Ok(gone) => gone,
            Err(StoreError::NotFound) => return Err(BandwidthError::NotFound("domain")),
            Err(e) => return Err(store_err(e)),
        };
        self.durable().await?;
        for ep in gone {
            self.sip
                .do_send(EndpointGone(Aor::new(ep.username, &ep.domain)));
        }
        self.domains.remove(&d.sip_domain);
        tracing::info!(domain = %d.sip_domain, "bandwidth domain deleted");
        Ok(())
    }

    /// Every Bandwidth domain's SIP domain, for the registrar at start-up.
    pub(crate) fn all_sip_domains(store: &dyn Store) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for a in store.accounts()? {
            out.extend(
                store
                    .bw_domains_of_account(&a.id)?
                    .into_iter()
                    .map(|d| d.sip_domain),
            );
        }
        Ok(out)
    }

    // ---- endpoints ----

    pub fn endpoints(&self, d: &BwDomain) -> Result<Vec<Endpoint>, BandwidthError> {
        self.store.endpoints_of_bw_domain(&d.id).map_err(store_err)
    }

    /// Endpoint `id` of domain `d` (one of another domain is "not found").
    pub fn endpoint(&self, d: &BwDomain, id: &str) -> Result<Endpoint, BandwidthError> {
        match self.store.endpoint_by_id(id) {
            Ok(Some(ep)) if ep.bw_domain.as_deref() == Some(d.id.as_str()) => Ok(ep),
            Ok(_) | Err(StoreError::InvalidKey(_)) => Err(BandwidthError::NotFound("endpoint")),
            Err(e) => Err(store_err(e)),
        }
    }

    pub async fn create_endpoint(
        &self,
        d: &BwDomain,
        new: &NewEndpoint<'_>,
    ) -> Result<Endpoint, BandwidthError> {
        for _ in 0..4 {
            let ep = rules::build_endpoint(d, new, unix_now(), &mut OsRng)?;
            match self.store.insert_endpoint(&ep) {
                Ok(()) => {
                    self.durable().await?;
                    tracing::info!(domain = %d.sip_domain, username = %ep.username, "bandwidth endpoint created");
                    return Ok(ep);
                }
                Err(StoreError::Conflict) => {
                    if self
                        .store
                        .endpoint(&ep.domain, &ep.username)
                        .map_err(store_err)?
                        .is_some()
                    {
                        return Err(BandwidthError::EndpointNameTaken);
                    }
                }
                Err(StoreError::NotFound) => return Err(BandwidthError::NotFound("domain")),
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(BandwidthError::Store)
    }

    /// Applies `change`; a new password or disabling drops the endpoint's registrations (in
    /// the same write), as the PIOPIY API does.
    pub async fn update_endpoint(
        &self,
        mut ep: Endpoint,
        change: &EndpointChange,
    ) -> Result<Endpoint, BandwidthError> {
        let old = ep.clone();
        let now = unix_now();
        if let Some(d) = &change.description {
            rules::check_text(d, "description must be at most 1024 characters")?;
            ep.description = Some(d.clone());
        }
        if let Some(app) = change.app {
            ep.app = app;
        }
        if let Some(enabled) = change.enabled {
            ep.enabled = enabled;
        }
        if let Some(pw) = &change.password {
            rules::set_password(&mut ep, pw)?;
        }
        rules::prune_tokens(&mut ep, now);
        ep.updated_at = now;
        self.write_endpoint(&ep).await?;
        if !ep.enabled || old.credentials_differ(&ep) {
            self.sip
                .do_send(EndpointGone(Aor::new(&ep.username, &ep.domain)));
        }
        Ok(ep)
    }

    async fn write_endpoint(&self, ep: &Endpoint) -> Result<(), BandwidthError> {
        match self.store.update_endpoint(ep) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(BandwidthError::NotFound("endpoint")),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await
    }

    pub async fn delete_endpoint(&self, ep: &Endpoint) -> Result<(), BandwidthError> {
        match self.store.delete_endpoint(&ep.domain, &ep.username) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(BandwidthError::NotFound("endpoint")),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await?;
        self.sip
            .do_send(EndpointGone(Aor::new(&ep.username, &ep.domain)));
        Ok(())
    }

    /// A new token for `ep`, valid `expires` seconds: returns the token and its expiry (Unix
    /// seconds).
    pub async fn create_token(
        &self,
        mut ep: Endpoint,
        expires: u64,
    ) -> Result<(String, u64), BandwidthError> {
        let now = unix_now();
        let token = rules::add_token(&mut ep, expires, now, &mut OsRng)?;
        ep.updated_at = now;
        self.write_endpoint(&ep).await?;
        Ok((token, now + expires))
    }
}
