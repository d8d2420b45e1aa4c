//! Opening the configured store backend and the secrets that go with it.
//!
//! The embedded sled store keeps its secrets in files of the data directory; a PostgreSQL
//! store shares them among its nodes (sealed with the cluster secret, see
//! `store::postgres::secrets`), and writes the admin token to the data directory too, so the
//! CLI on each node finds it where it always does.

use std::path::Path;
use std::sync::Arc;

use super::{keys, StartError};
use crate::config::Settings;
use crate::store::postgres::secrets::read_cluster_secret;
use crate::store::{PgStore, SledStore, Store, StoreError};

/// This node among the nodes sharing a PostgreSQL store.
#[derive(Debug)]
pub struct Cluster {
    pub node: String,
    /// The cluster secret: authenticates requests between nodes.
    pub secret: Vec<u8>,
    /// A node silent for longer is dead.
    pub dead_after_ms: u64,
}

impl Cluster {
    /// HMAC-SHA256 of `parts` (joined by NUL) under the cluster secret, hex.
    pub fn sign(&self, parts: &[&str]) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.secret)
            .expect("HMAC takes keys of any length");
        mac.update(parts.join("\0").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The store and its secrets.
pub(super) struct Opened {
    pub cluster: Option<Cluster>,
    pub store: Arc<dyn Store>,
    pub admin_token: String,
    pub nonce_key: [u8; 32],
    /// Only when sealed passwords are kept (`reveal_sip_passwords`).
    pub seal_key: Option<[u8; 32]>,
}

/// `--node-id`, else the host name.
pub fn node_id(settings: &Settings) -> String {
    settings
        .cluster
        .node_id
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(super::host_name)
}

pub(super) fn open(settings: &Settings, dir: &Path) -> Result<Opened, StartError> {
    let Some(url) = settings.store.url.as_deref() else {
        crate::metrics::metrics().store_db_up.set(1);
        return Ok(Opened {
            cluster: None,
            store: Arc::new(SledStore::open(&dir.join("store"))?),
            admin_token: keys::admin_token(dir)?,
            nonce_key: keys::nonce_key(dir)?,
            seal_key: if settings.reveal_sip_passwords {
                Some(keys::seal_key(dir)?)
            } else {
                None
            },
        });
    };
    let Some(secret_file) = settings.cluster.secret_file.as_deref() else {
        return Err(StartError::Setting(
            "a PostgreSQL store needs the cluster secret: --cluster-secret-file FILE \
             (or [cluster] secret_file), the same file of at least 32 random bytes on every node"
                .into(),
        ));
    };
    // The PostgreSQL client runs its own small runtime, which may not be started from inside
    // the engine's: start-up talks to the database from a thread of its own.
    std::thread::scope(|s| {
        s.spawn(|| open_postgres(settings, dir, url, secret_file))
            .join()
            .unwrap_or_else(|_| {
                Err(StartError::Setting(
                    "opening the PostgreSQL store panicked".into(),
                ))
            })
    })
}

fn open_postgres(
    settings: &Settings,
    dir: &Path,
    url: &str,
    secret_file: &Path,
) -> Result<Opened, StartError> {
    let cluster_secret = read_cluster_secret(secret_file)?;
    let node = node_id(settings);
    let pg = PgStore::open(url, &node, dir)?;
    let key32 = |name: &str| -> Result<[u8; 32], StoreError> {
        let b = pg.shared_secret(&cluster_secret, name, 32, false)?;
        b.try_into().map_err(|_| StoreError::Corrupt {
            key: format!("secret {name}"),
            reason: "expected 32 bytes".into(),
        })
    };
    let nonce_key = key32("nonce_key")?;
    let seal_key = if settings.reveal_sip_passwords {
        Some(key32("password_key")?)
    } else {
        None
    };
    let token = pg.shared_secret(&cluster_secret, "admin_token", 32, true)?;
    let admin_token = String::from_utf8_lossy(&token).trim().to_string();
    keys::write_admin_token(dir, &admin_token)?;
    Ok(Opened {
        cluster: Some(Cluster {
            node,
            secret: cluster_secret,
            dead_after_ms: u64::from(settings.cluster.dead_after_secs.max(1)) * 1000,
        }),
        store: pg,
        admin_token,
        nonce_key,
        seal_key,
    })
}
