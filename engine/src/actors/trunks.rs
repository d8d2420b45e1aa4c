//! The trunk service: carriers for the admin API, and the lookups the call path makes on every
//! call from or to the PSTN.
//!
//! Writes validate through the pure `directory::trunk` rules, go to the store, and answer only
//! once durable. Reads come from an in-memory snapshot refreshed after each write, so
//! [`TrunkService::trunk_for_source`] (asked for every INVITE that is not from a registered
//! endpoint) costs a scan of a short list, never a store read.
//!
//! Passwords are sealed with ChaCha20-Poly1305 under `<data dir>/password.key` (the key the
//! endpoint passwords use, created on first need). The associated data is `"\0trunk" \0 name`:
//! no endpoint's (`domain \0 username`, where a domain never starts with NUL) can equal it, so
//! a sealed value moved between a trunk and an endpoint, or between two trunks, does not open.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};

use rand::rngs::OsRng;

use super::clock::unix_now;
use super::keys;
use crate::directory::seal::Sealer;
use crate::directory::trunk::{build_trunk, NewTrunk, TrunkError};
use crate::store::{GroupCommit, Store, StoreError, Trunk};

/// The "domain" half of a trunk password's associated data (module doc).
const SEAL_DOMAIN: &str = "\0trunk";

/// A trunk's clear credentials, for digest authentication towards the carrier. `Debug` hides
/// the password.
#[derive(Clone, PartialEq, Eq)]
pub struct TrunkCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for TrunkCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrunkCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Cloneable handle shared by HTTP workers and the call path.
#[derive(Clone)]
pub struct TrunkService {
    store: Arc<dyn Store>,
    commit: GroupCommit,
    data_dir: PathBuf,
    sealer: Arc<OnceLock<Sealer>>,
    /// Every trunk, by name: the snapshot the lookups read.
    snapshot: Arc<RwLock<Arc<Vec<Trunk>>>>,
    /// Serialises adds and deletes, so the "source IP belongs to one trunk" check and the
    /// snapshot refresh see each other's writes.
    writes: Arc<tokio::sync::Mutex<()>>,
}

fn store_err(e: StoreError) -> TrunkError {
    tracing::error!(error = %e, "store failure (trunks)");
    TrunkError::Store
}

impl TrunkService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        commit: GroupCommit,
        data_dir: PathBuf,
    ) -> Result<TrunkService, StoreError> {
        let trunks = store.trunks()?;
        Ok(TrunkService {
            store,
            commit,
            data_dir,
            sealer: Arc::new(OnceLock::new()),
            snapshot: Arc::new(RwLock::new(Arc::new(trunks))),
            writes: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    fn current(&self) -> Arc<Vec<Trunk>> {
        // Readers only clone an Arc under the lock; a poisoned lock still holds a whole list.
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn refresh(&self) -> Result<(), TrunkError> {
        let trunks = self.store.trunks().map_err(store_err)?;
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(trunks);
        Ok(())
    }

    fn sealer(&self) -> Result<&Sealer, TrunkError> {
        if let Some(s) = self.sealer.get() {
            return Ok(s);
        }
        let key = keys::seal_key(&self.data_dir).map_err(|e| {
            tracing::error!(error = %e, "cannot load the password-sealing key");
            TrunkError::Store
        })?;
        Ok(self.sealer.get_or_init(|| Sealer::new(&key)))
    }

    /// Adds a trunk; answers once it is durable.
    pub async fn add(&self, new: NewTrunk) -> Result<Trunk, TrunkError> {
        // Validate first: a refused request must not create the key file.
        let mut trunk = build_trunk(&new, None, unix_now())?;
        if let Some(p) = &new.password {
            trunk.sealed_password =
                Some(self.sealer()?.seal(SEAL_DOMAIN, &trunk.name, p, &mut OsRng));
        }
        let _writes = self.writes.lock().await;
        for other in self.current().iter() {
            if let Some(ip) = trunk
                .allow_ips
                .iter()
                .find(|ip| other.allow_ips.contains(ip))
            {
                return Err(TrunkError::IpTaken(*ip));
            }
            if trunk.username.is_some() && trunk.username == other.username {
                return Err(TrunkError::UsernameTaken);
            }
        }
        match self.store.insert_trunk(&trunk) {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(TrunkError::NameTaken),
            Err(e) => return Err(store_err(e)),
        }
        self.commit.sync().await.map_err(store_err)?;
        self.refresh()?;
        tracing::info!(trunk = %trunk.name, address = %trunk.address(), "trunk added");
        Ok(trunk)
    }

    /// Deletes a trunk; answers once durable.
    pub async fn delete(&self, name: &str) -> Result<(), TrunkError> {
        let _writes = self.writes.lock().await;
        match self.store.delete_trunk(name) {
            Ok(()) => {}
            Err(StoreError::NotFound | StoreError::InvalidKey(_)) => {
                return Err(TrunkError::NoSuchTrunk)
            }
            Err(e) => return Err(store_err(e)),
        }
        self.commit.sync().await.map_err(store_err)?;
        self.refresh()?;
        tracing::info!(trunk = %name, "trunk deleted");
        Ok(())
    }

    /// Every trunk, by name.
    pub fn list(&self) -> Vec<Trunk> {
        self.current().as_ref().clone()
    }

    pub fn trunk(&self, name: &str) -> Option<Trunk> {
        self.current().iter().find(|t| t.name == name).cloned()
    }

    /// The trunk whose allowed source IPs include `ip` (IPv4-mapped IPv6 matches IPv4). At
    /// most one can: adding a trunk with an IP another lists is refused.
    pub fn trunk_for_source(&self, ip: IpAddr) -> Option<Trunk> {
        let ip = ip.to_canonical();
        self.current()
            .iter()
            .find(|t| t.allow_ips.contains(&ip))
            .cloned()
    }

    /// The trunk that authenticates with `username` (digest, for carriers calling in from
    /// addresses no allow list names). At most one: `add` refuses a username another has.
    pub fn trunk_by_username(&self, username: &str) -> Option<Trunk> {
        self.current()
            .iter()
            .find(|t| t.username.as_deref() == Some(username))
            .cloned()
    }

    /// The clear credentials of `trunk`, for outbound digest authentication; `None` when it has
    /// none. An error when the sealed password does not open (the key file was replaced).
    pub fn credentials(&self, trunk: &Trunk) -> Result<Option<TrunkCredentials>, TrunkError> {
        let (Some(username), Some(sealed)) = (&trunk.username, &trunk.sealed_password) else {
            return Ok(None);
        };
        let password = self
            .sealer()?
            .open(SEAL_DOMAIN, &trunk.name, sealed)
            .map_err(|_| {
                tracing::error!(trunk = %trunk.name, "the trunk's sealed password does not open with password.key");
                TrunkError::Store
            })?;
        Ok(Some(TrunkCredentials {
            username: username.clone(),
            password,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Transport;
    use crate::store::MemoryStore;

    fn new(name: &str, ips: &[&str], password: Option<&str>) -> NewTrunk {
        NewTrunk {
            name: name.into(),
            address: "sip.carrier.example:5080".into(),
            transport: Transport::Udp,
            allow_ips: ips.iter().map(|ip| ip.parse().unwrap()).collect(),
            username: password.map(|_| "acct".into()),
            password: password.map(Into::into),
        }
    }

    #[tokio::test]
    async fn sealed_passwords_lookups_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let commit = GroupCommit::start(store.clone()).unwrap();
        let svc = TrunkService::new(store.clone(), commit, dir.path().to_path_buf()).unwrap();

        assert!(matches!(
            svc.add(new("bad name", &[], Some("hunter22"))).await,
            Err(TrunkError::InvalidName(_))
        ));
        assert!(
            !dir.path().join("password.key").exists(),
            "no key for a refused request"
        );
        let t = svc
            .add(new("carrier", &["192.0.2.1"], Some("hunter22")))
            .await
            .unwrap();
        assert!(
            dir.path().join("password.key").exists(),
            "key created on demand"
        );
        let stored = store.trunk("carrier").unwrap().unwrap();
        let sealed = stored.sealed_password.clone().unwrap();
        assert!(
            !sealed.windows(8).any(|w| w == b"hunter22"),
            "never in clear"
        );
        let creds = svc.credentials(&stored).unwrap().unwrap();
        assert_eq!(
            (creds.username.as_str(), creds.password.as_str()),
            ("acct", "hunter22")
        );
        assert!(!format!("{creds:?}").contains("hunter22"));
        // A sealed value does not open under another trunk's name.
        let mut moved = stored.clone();
        moved.name = "other".into();
        assert_eq!(svc.credentials(&moved), Err(TrunkError::Store));

        assert_eq!(
            svc.trunk_for_source("192.0.2.1".parse().unwrap()),
            Some(t.clone())
        );
        assert_eq!(
            svc.trunk_for_source("::ffff:192.0.2.1".parse().unwrap()),
            Some(t.clone())
        );
        assert_eq!(svc.trunk_for_source("192.0.2.2".parse().unwrap()), None);
        assert_eq!(svc.trunk("carrier"), Some(t));
        assert_eq!(
            svc.add(new("carrier", &[], None)).await,
            Err(TrunkError::NameTaken)
        );
        assert_eq!(
            svc.add(new("second", &["192.0.2.3", "192.0.2.1"], None))
                .await,
            Err(TrunkError::IpTaken("192.0.2.1".parse().unwrap()))
        );
        assert_eq!(
            svc.add(new("second", &["192.0.2.3"], Some("other-pw")))
                .await,
            Err(TrunkError::UsernameTaken),
            "inbound digest finds a trunk by username: one trunk per username"
        );
        assert_eq!(
            svc.trunk_by_username("acct").map(|t| t.name),
            Some("carrier".into())
        );
        assert_eq!(svc.trunk_by_username("nobody"), None);
        let plain = svc.add(new("second", &["192.0.2.3"], None)).await.unwrap();
        assert_eq!(svc.credentials(&plain), Ok(None));
        assert_eq!(
            svc.list()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["carrier", "second"]
        );

        svc.delete("carrier").await.unwrap();
        assert_eq!(svc.delete("carrier").await, Err(TrunkError::NoSuchTrunk));
        assert_eq!(svc.trunk_for_source("192.0.2.1".parse().unwrap()), None);
        // A fresh service (a restart) sees what was stored.
        let commit = GroupCommit::start(store.clone()).unwrap();
        let again = TrunkService::new(store, commit, dir.path().to_path_buf()).unwrap();
        assert_eq!(again.trunk("second"), Some(plain));
    }
}
