//! The records the store keeps, as plain serde structs.

use serde::{Deserialize, Serialize};

/// An app's number, as PIOPIY shows it (`"appid": 2222223`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppId(pub u64);

impl std::fmt::Display for AppId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An application: the owner of endpoints, numbers and call scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub id: AppId,
    pub name: String,
    /// The app's API secret. Kept in clear because it also keys the HMAC of every webhook.
    pub secret: String,
    pub answer_url: String,
    #[serde(default)]
    pub event_url: Option<String>,
    /// The SIP domain (and digest realm) of the app's endpoints.
    pub domain: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// A SIP user of an app. The password is never stored in clear: only the digest HA1 values for
/// the endpoint's realm, and, if the operator enabled `reveal_sip_passwords`, a sealed copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub app: AppId,
    pub domain: String,
    pub username: String,
    /// Hex MD5(username ":" realm ":" password).
    pub ha1_md5: String,
    /// Hex SHA-256(username ":" realm ":" password).
    pub ha1_sha256: String,
    pub enabled: bool,
    /// The password encrypted at rest (nonce || ciphertext), only when revealing is enabled.
    #[serde(default)]
    pub sealed_password: Option<Vec<u8>>,
    /// Unix seconds.
    pub created_at: u64,
    pub updated_at: u64,
}
