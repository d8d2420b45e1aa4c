//! The directory service: apps and endpoints for the HTTP API. It validates through the pure
//! `directory` rules, writes through the store, answers only once the write is durable, and
//! tells the SIP side when an endpoint's bindings must go.

use std::sync::Arc;

use actix::Recipient;
use rand::rngs::OsRng;

use super::clock::unix_now;
use super::sip::EndpointGone;
use crate::directory::seal::Sealer;
use crate::directory::{
    self, build_app, build_endpoint, secret_matches, DirectoryError, Domains, NewApp,
};
use crate::log_field::Escaped;
use crate::sip::registrar::Aor;
use crate::store::{App, AppId, Endpoint, GroupCommit, Store, StoreError};

/// Endpoints per `list_sip` page (PIOPIY: 10).
pub const PAGE_SIZE: usize = 10;

/// Cloneable handle used by every HTTP worker.
#[derive(Clone)]
pub struct DirectoryService {
    store: Arc<dyn Store>,
    commit: GroupCommit,
    domains: Domains,
    sealer: Option<Arc<Sealer>>,
    /// The SIP actor, told when an endpoint's bindings must go.
    sip: Recipient<EndpointGone>,
}

fn store_err(e: StoreError) -> DirectoryError {
    tracing::error!(error = %e, "store failure");
    DirectoryError::Store
}

impl DirectoryService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        commit: GroupCommit,
        domains: Domains,
        sealer: Option<Arc<Sealer>>,
        sip: Recipient<EndpointGone>,
    ) -> Self {
        DirectoryService {
            store,
            commit,
            domains,
            sealer,
            sip,
        }
    }

    async fn durable(&self) -> Result<(), DirectoryError> {
        self.commit.sync().await.map_err(store_err)
    }

    pub fn domains(&self) -> &Domains {
        &self.domains
    }

    pub async fn create_app(&self, new: NewApp) -> Result<App, DirectoryError> {
        let mut rng = OsRng;
        // Seven-digit ids collide rarely; retry a few times rather than hand out a duplicate.
        for _ in 0..16 {
            let app = build_app(&new, self.domains.default_domain(), unix_now(), &mut rng)?;
            match self.store.insert_app(&app) {
                Ok(()) => {
                    self.durable().await?;
                    self.domains.add(&app.domain);
                    crate::metrics::metrics().apps.inc();
                    tracing::info!(appid = %app.id, name = %Escaped(&app.name), domain = %app.domain, "app created");
                    return Ok(app);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(DirectoryError::Store)
    }

    pub fn apps(&self) -> Result<Vec<App>, DirectoryError> {
        self.store.apps().map_err(store_err)
    }

    pub fn app(&self, id: AppId) -> Result<Option<App>, DirectoryError> {
        self.store.app(id).map_err(store_err)
    }

    pub async fn delete_app(&self, id: AppId) -> Result<(), DirectoryError> {
        let app = self.app(id)?.ok_or(DirectoryError::NoSuchApp)?;
        let (endpoints, _) = self
            .store
            .endpoints_of_app(id, 0, usize::MAX)
            .map_err(store_err)?;
        match self.store.delete_app(id) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(DirectoryError::NoSuchApp),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await?;
        crate::metrics::metrics().apps.dec();
        // Bandwidth endpoints (with an id) outlive the app, detached: their registrations stay.
        for ep in endpoints.into_iter().filter(|ep| ep.id.is_none()) {
            self.sip
                .do_send(EndpointGone(Aor::new(ep.username, &ep.domain)));
        }
        if !self.apps()?.iter().any(|a| a.domain == app.domain) {
            self.domains.remove(&app.domain);
        }
        tracing::info!(appid = %id, "app deleted");
        Ok(())
    }

    /// The app for `appid` when `secret` is its secret. An unknown app and a wrong secret are
    /// the same error, reached after the same work.
    pub fn authenticate(&self, appid: u64, secret: &str) -> Result<App, DirectoryError> {
        let app = self.store.app(AppId(appid)).map_err(store_err)?;
        let expected = app
            .as_ref()
            .map(|a| a.secret.as_str())
            .unwrap_or("00000000-0000-4000-8000-000000000000");
        let ok = secret_matches(expected, secret);
        match app {
            Some(a) if ok => Ok(a),
            _ => Err(DirectoryError::BadCredentials),
        }
    }

    pub async fn add_endpoint(
        &self,
        app: &App,
        username: &str,
        password: &str,
    ) -> Result<Endpoint, DirectoryError> {
        directory::check_username(username)?;
        directory::check_password(password)?;
        let sealed = self.seal(app, username, password);
        let ep = build_endpoint(app, username, password, sealed, unix_now())?;
        match self.store.insert_endpoint(&ep) {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(DirectoryError::UsernameTaken),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await?;
        tracing::info!(appid = %app.id, username, "endpoint added");
        Ok(ep)
    }

    pub async fn update_password(
        &self,
        app: &App,
        username: &str,
        password: &str,
    ) -> Result<Endpoint, DirectoryError> {
        let old = self.endpoint(app, username)?;
        directory::check_password(password)?;
        let sealed = self.seal(app, username, password);
        let mut ep = build_endpoint(app, username, password, sealed, unix_now())?;
        ep.created_at = old.created_at;
        ep.enabled = old.enabled;
        match self.store.update_endpoint(&ep) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(DirectoryError::NoSuchEndpoint),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await?;
        // The store dropped the bindings with the update (same write): a phone that registered
        // with the old password must register again. The live registration goes too.
        let rekeyed = old.credentials_differ(&ep);
        if rekeyed {
            self.sip
                .do_send(EndpointGone(Aor::new(&ep.username, &ep.domain)));
        }
        tracing::info!(appid = %app.id, username, bindings_dropped = rekeyed, "endpoint password updated");
        Ok(ep)
    }

    pub async fn set_enabled(
        &self,
        app: &App,
        username: &str,
        enabled: bool,
    ) -> Result<Endpoint, DirectoryError> {
        let mut ep = self.endpoint(app, username)?;
        ep.enabled = enabled;
        ep.updated_at = unix_now();
        self.store.update_endpoint(&ep).map_err(store_err)?;
        if !enabled {
            self.store
                .put_bindings(&Aor::new(&ep.username, &ep.domain), &[])
                .map_err(store_err)?;
        }
        self.durable().await?;
        if !enabled {
            self.sip
                .do_send(EndpointGone(Aor::new(&ep.username, &ep.domain)));
        }
        Ok(ep)
    }

    /// An endpoint of `app` (an endpoint of another app is "does not exist").
    pub fn endpoint(&self, app: &App, username: &str) -> Result<Endpoint, DirectoryError> {
        match self
            .store
            .endpoint(&app.domain, username)
            .map_err(store_err)?
        {
            Some(ep) if ep.is_of(app.id) => Ok(ep),
            _ => Err(DirectoryError::NoSuchEndpoint),
        }
    }

    /// Page `page` (from 1) of the app's endpoints, and their total.
    pub fn list_endpoints(
        &self,
        app: &App,
        page: usize,
    ) -> Result<(Vec<Endpoint>, usize), DirectoryError> {
        let offset = page.saturating_sub(1).saturating_mul(PAGE_SIZE);
        self.store
            .endpoints_of_app(app.id, offset, PAGE_SIZE)
            .map_err(store_err)
    }

    pub async fn remove_endpoint(&self, app: &App, username: &str) -> Result<(), DirectoryError> {
        let ep = self.endpoint(app, username)?;
        match self.store.delete_endpoint(&ep.domain, &ep.username) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(DirectoryError::NoSuchEndpoint),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await?;
        self.sip
            .do_send(EndpointGone(Aor::new(&ep.username, &ep.domain)));
        tracing::info!(appid = %app.id, username, "endpoint removed");
        Ok(())
    }

    /// The clear password, when the operator enabled revealing and a sealed copy exists.
    pub fn reveal(&self, ep: &Endpoint) -> Option<String> {
        let sealer = self.sealer.as_ref()?;
        let sealed = ep.sealed_password.as_ref()?;
        sealer.open(&ep.domain, &ep.username, sealed).ok()
    }

    fn seal(&self, app: &App, username: &str, password: &str) -> Option<Vec<u8>> {
        self.sealer
            .as_ref()
            .map(|s| s.seal(&app.domain, username, password, &mut OsRng))
    }
}
