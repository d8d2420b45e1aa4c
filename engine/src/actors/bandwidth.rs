//! The Bandwidth App Platform v1 model for the HTTP API: users, applications, domains,
//! endpoints, endpoint tokens and numbers. It validates through the pure rules
//! (`directory::bandwidth`), writes through the store, answers only once the write is durable,
//! keeps the registrar's domains in step, and tells the SIP side when bindings must go.
//!
//! Tenancy is the caller's (the API's) job for ids it got from a client: every method that
//! takes an id takes the user too and answers "not found" for another user's resource.

use std::sync::Arc;

use actix::Recipient;
use rand::rngs::OsRng;

mod domains;
mod numbers;

use super::clock::unix_now;
use super::sip::EndpointGone;
use crate::directory::bandwidth as rules;
use crate::directory::{self, DirectoryError, Domains};
use crate::log_field::Escaped;
use crate::store::{Account, App, AppId, GroupCommit, LiveApp, Store, StoreError};

/// Why a Bandwidth request is refused; the API maps each to Bandwidth's error shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BandwidthError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error("the {0} was not found")]
    NotFound(&'static str),
    #[error("a domain with this name already exists")]
    DomainNameTaken,
    #[error("an endpoint with this name already exists in the domain")]
    EndpointNameTaken,
    #[error("a user may have at most 100 domains")]
    DomainLimit,
    #[error("the application still has phone numbers; move them to another application first")]
    AppHasNumbers,
    #[error("storage failure")]
    Store,
}

impl From<DirectoryError> for BandwidthError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::InvalidUsername(m)
            | DirectoryError::InvalidPassword(m)
            | DirectoryError::InvalidApp(m) => BandwidthError::Invalid(m),
            DirectoryError::UsernameTaken => BandwidthError::EndpointNameTaken,
            DirectoryError::NoSuchEndpoint => BandwidthError::NotFound("endpoint"),
            DirectoryError::NoSuchApp => BandwidthError::NotFound("application"),
            _ => BandwidthError::Store,
        }
    }
}

fn store_err(e: StoreError) -> BandwidthError {
    tracing::error!(error = %e, "store failure");
    BandwidthError::Store
}

/// What a client gives to create or change an application (absent fields unchanged on
/// update).
#[derive(Debug, Clone, Default)]
pub struct AppChange {
    pub name: Option<String>,
    pub live: LiveAppChange,
}

/// The `LiveApp` fields a request sets; `None`: not given.
#[derive(Debug, Clone, Default)]
pub struct LiveAppChange {
    pub incoming_call_url: Option<String>,
    pub incoming_call_timeout_ms: Option<u32>,
    pub incoming_call_fallback_url: Option<String>,
    pub callback_method: Option<crate::store::CallbackMethod>,
    pub auto_answer: Option<bool>,
}

/// What a client changes on an endpoint; `None`: unchanged. `app: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub description: Option<String>,
    pub app: Option<Option<AppId>>,
    pub enabled: Option<bool>,
    pub password: Option<String>,
}

/// Cloneable handle used by every HTTP worker.
#[derive(Clone)]
pub struct BandwidthService {
    store: Arc<dyn Store>,
    commit: GroupCommit,
    domains: Domains,
    suffix: String,
    sip: Recipient<EndpointGone>,
}

impl BandwidthService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        commit: GroupCommit,
        domains: Domains,
        suffix: String,
        sip: Recipient<EndpointGone>,
    ) -> Self {
        BandwidthService {
            store,
            commit,
            domains,
            suffix,
            sip,
        }
    }

    /// The SIP domain suffix of Bandwidth domains (`[bandwidth] domain_suffix`).
    pub fn domain_suffix(&self) -> &str {
        &self.suffix
    }

    async fn durable(&self) -> Result<(), BandwidthError> {
        self.commit.sync().await.map_err(store_err)
    }

    // ---- users ----

    /// A new user allowed to drive `apps` live (each must exist); the secret is returned once.
    pub async fn create_account(
        &self,
        apps: Vec<AppId>,
    ) -> Result<(Account, String), BandwidthError> {
        for id in &apps {
            if self.store.app(*id).map_err(store_err)?.is_none() {
                return Err(BandwidthError::NotFound("application"));
            }
        }
        for _ in 0..4 {
            let (account, secret) = rules::new_account(apps.clone(), unix_now(), &mut OsRng);
            match self.store.insert_account(&account) {
                Ok(()) => {
                    self.durable().await?;
                    tracing::info!(user = %account.id, apps = ?account.apps, "bandwidth user created");
                    return Ok((account, secret));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(BandwidthError::Store)
    }

    pub fn accounts(&self) -> Result<Vec<Account>, BandwidthError> {
        self.store.accounts().map_err(store_err)
    }

    pub fn account(&self, id: &str) -> Result<Option<Account>, BandwidthError> {
        match self.store.account(id) {
            Ok(a) => Ok(a),
            Err(StoreError::InvalidKey(_)) => Ok(None),
            Err(e) => Err(store_err(e)),
        }
    }

    /// The user `id` when `token:secret` are its credentials. An unknown user and wrong
    /// credentials are the same error, reached after the same work.
    pub fn authenticate(&self, id: &str, token: &str, secret: &str) -> Option<Account> {
        let account = self.account(id).ok().flatten();
        let probe = account.clone().unwrap_or_else(|| Account {
            id: String::new(),
            token: "t-000000000000000000000000".to_owned(),
            secret_sha256: "0".repeat(64),
            apps: Vec::new(),
            created_at: 0,
        });
        let ok = rules::account_matches(&probe, token, secret);
        account.filter(|_| ok)
    }

    /// Deletes a user with its domains (and their endpoints) and its applications.
    pub async fn delete_account(&self, id: &str) -> Result<(), BandwidthError> {
        let account = self.account(id)?.ok_or(BandwidthError::NotFound("user"))?;
        for d in self
            .store
            .bw_domains_of_account(&account.id)
            .map_err(store_err)?
        {
            self.remove_domain(&d).await?;
        }
        for app in self.applications(&account)? {
            match self.store.delete_app(app.id) {
                Ok(()) => crate::metrics::metrics().apps.dec(),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(store_err(e)),
            }
        }
        match self.store.delete_account(&account.id) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(BandwidthError::NotFound("user")),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await?;
        tracing::info!(user = %account.id, "bandwidth user deleted");
        Ok(())
    }

    // ---- applications ----

    /// True when `account` may use `app` (its own application, or a PIOPIY app it was given).
    pub fn owns(account: &Account, app: &App) -> bool {
        app.account.as_deref() == Some(account.id.as_str()) || account.apps.contains(&app.id)
    }

    /// The user's Bandwidth applications, by id.
    pub fn applications(&self, account: &Account) -> Result<Vec<App>, BandwidthError> {
        Ok(self
            .store
            .apps()
            .map_err(store_err)?
            .into_iter()
            .filter(|a| a.account.as_deref() == Some(account.id.as_str()) && a.live.is_some())
            .collect())
    }

    /// An app `account` may use, by the id a client shows (`a-{appid}`, or the bare number).
    pub fn owned_app(&self, account: &Account, shown: &str) -> Result<App, BandwidthError> {
        let id = shown
            .strip_prefix("a-")
            .unwrap_or(shown)
            .parse::<u64>()
            .map_err(|_| BandwidthError::NotFound("application"))?;
        match self.store.app(AppId(id)).map_err(store_err)? {
            Some(app) if Self::owns(account, &app) => Ok(app),
            _ => Err(BandwidthError::NotFound("application")),
        }
    }

    pub async fn create_application(
        &self,
        account: &Account,
        change: AppChange,
    ) -> Result<App, BandwidthError> {
        let name = change
            .name
            .clone()
            .ok_or(BandwidthError::Invalid("name is required"))?;
        let url = change
            .live
            .incoming_call_url
            .clone()
            .ok_or(BandwidthError::Invalid("incomingCallUrl is required"))?;
        let live = LiveApp {
            incoming_call_url: url,
            incoming_call_timeout_ms: None,
            incoming_call_fallback_url: None,
            callback_method: Default::default(),
            auto_answer: true,
        };
        let mut rng = OsRng;
        for _ in 0..16 {
            let mut app = App {
                id: AppId(rand::Rng::gen_range(&mut rng, 1_000_000..10_000_000)),
                name: String::new(),
                secret: directory::new_secret(&mut rng),
                answer_url: String::new(),
                event_url: None,
                domain: self.domains.default_domain().to_owned(),
                fallback_pcmo: None,
                answer_timeout_ms: None,
                created_at: unix_now(),
                account: Some(account.id.clone()),
                live: Some(live.clone()),
            };
            apply_app_change(
                &mut app,
                &AppChange {
                    name: Some(name.clone()),
                    live: change.live.clone(),
                },
            )?;
            match self.store.insert_app(&app) {
                Ok(()) => {
                    self.durable().await?;
                    crate::metrics::metrics().apps.inc();
                    tracing::info!(user = %account.id, appid = %app.id, name = %Escaped(&app.name), "bandwidth application created");
                    return Ok(app);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(BandwidthError::Store)
    }

    pub async fn update_application(
        &self,
        mut app: App,
        change: &AppChange,
    ) -> Result<App, BandwidthError> {
        apply_app_change(&mut app, change)?;
        match self.store.update_app(&app) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(BandwidthError::NotFound("application")),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await?;
        Ok(app)
    }

    /// Deletes an application; refused while numbers point to it (they are the operator's).
    /// Its endpoints stay, without an application.
    pub async fn delete_application(&self, app: &App) -> Result<(), BandwidthError> {
        if !self
            .store
            .numbers(Some(app.id))
            .map_err(store_err)?
            .is_empty()
        {
            return Err(BandwidthError::AppHasNumbers);
        }
        match self.store.delete_app(app.id) {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(BandwidthError::NotFound("application")),
            Err(e) => return Err(store_err(e)),
        }
        self.durable().await?;
        crate::metrics::metrics().apps.dec();
        tracing::info!(appid = %app.id, "bandwidth application deleted");
        Ok(())
    }
}

/// Applies a create/update request to an application, validating what it sets.
fn apply_app_change(app: &mut App, change: &AppChange) -> Result<(), BandwidthError> {
    if let Some(name) = &change.name {
        let name = name.trim();
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(BandwidthError::Invalid("name must be 1 to 128 characters"));
        }
        app.name = name.to_owned();
    }
    let live = app.live.get_or_insert_with(|| LiveApp {
        incoming_call_url: String::new(),
        incoming_call_timeout_ms: None,
        incoming_call_fallback_url: None,
        callback_method: Default::default(),
        auto_answer: true,
    });
    let c = &change.live;
    if let Some(url) = &c.incoming_call_url {
        directory::check_url(url)
            .map_err(|_| BandwidthError::Invalid("incomingCallUrl must be an http(s) URL"))?;
        live.incoming_call_url = url.clone();
    }
    if let Some(url) = &c.incoming_call_fallback_url {
        directory::check_url(url).map_err(|_| {
            BandwidthError::Invalid("incomingCallFallbackUrl must be an http(s) URL")
        })?;
        live.incoming_call_fallback_url = Some(url.clone());
    }
    if let Some(ms) = c.incoming_call_timeout_ms {
        if !(1..=10_000).contains(&ms) {
            return Err(BandwidthError::Invalid(
                "incomingCallUrlCallbackTimeout must be between 1 and 10000 ms",
            ));
        }
        live.incoming_call_timeout_ms = Some(ms);
    }
    if let Some(m) = c.callback_method {
        live.callback_method = m;
    }
    if let Some(a) = c.auto_answer {
        live.auto_answer = a;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        crate::store::conformance::app(1, "example.com")
    }

    #[test]
    fn app_changes_validate_what_they_set() {
        let mut a = app();
        let change = AppChange {
            name: Some(" calls ".into()),
            live: LiveAppChange {
                incoming_call_url: Some("https://cb.example.com/in".into()),
                incoming_call_timeout_ms: Some(2500),
                callback_method: Some(crate::store::CallbackMethod::Get),
                auto_answer: Some(false),
                ..Default::default()
            },
        };
        apply_app_change(&mut a, &change).unwrap();
        assert_eq!(a.name, "calls");
        let live = a.live.clone().unwrap();
        assert_eq!(live.incoming_call_url, "https://cb.example.com/in");
        assert_eq!(live.incoming_call_timeout_ms, Some(2500));
        assert!(!live.auto_answer);
        // Absent fields stay.
        apply_app_change(&mut a, &AppChange::default()).unwrap();
        assert_eq!(a.live.as_ref(), Some(&live));
        for bad in [
            AppChange {
                name: Some(String::new()),
                ..Default::default()
            },
            AppChange {
                live: LiveAppChange {
                    incoming_call_url: Some("ftp://x".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            AppChange {
                live: LiveAppChange {
                    incoming_call_timeout_ms: Some(10_001),
                    ..Default::default()
                },
                ..Default::default()
            },
        ] {
            assert!(apply_app_change(&mut app(), &bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ownership_is_by_account_or_grant() {
        let (mut account, _) = rules::new_account(vec![], 1, &mut OsRng);
        let mut a = app();
        assert!(!BandwidthService::owns(&account, &a));
        account.apps.push(a.id);
        assert!(BandwidthService::owns(&account, &a));
        account.apps.clear();
        a.account = Some(account.id.clone());
        assert!(BandwidthService::owns(&account, &a));
    }
}
