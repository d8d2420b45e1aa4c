//! `[store]` and `[cluster]`: which store backend holds the state, and what this node is called
//! among the nodes that share it.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where the state lives.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `postgres://user:password@host:port/database`: a PostgreSQL store shared by every node
    /// that names it. None (the default): the embedded sled store under `data_dir`.
    pub url: Option<String>,
}

impl StoreSettings {
    /// The URL with its password replaced by `***`, for logs and errors.
    pub fn redacted_url(&self) -> Option<String> {
        self.url.as_deref().map(redact_url)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(p) => p,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// This node among the nodes sharing one store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// This node's name, unique among the nodes of one store. Default: the host name.
    pub node_id: Option<String>,
    /// A file holding the cluster secret (at least 32 bytes): it authenticates requests between
    /// nodes and encrypts the secrets kept in a shared store. Required with a PostgreSQL store.
    pub secret_file: Option<PathBuf>,
    /// Where other nodes reach this one's internal HTTP listener (REST commands for calls this
    /// node owns). Default: off (a single node needs none).
    pub internal_listen: Option<SocketAddr>,
    /// How often this node writes its heartbeat (seconds).
    pub heartbeat_secs: u32,
    /// A node whose heartbeat is older than this is declared dead (seconds).
    pub dead_after_secs: u32,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            node_id: None,
            secret_file: None,
            internal_listen: None,
            heartbeat_secs: 2,
            dead_after_secs: 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://rm:s3cr@t@db:5432/rm"),
            "postgres://rm:***@db:5432/rm"
        );
        assert_eq!(redact_url("postgres://db/rm"), "postgres://db/rm");
        assert_eq!(redact_url("junk"), "junk");
    }
}
