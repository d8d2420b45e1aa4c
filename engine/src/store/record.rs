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

/// An application: the owner of endpoints, numbers and call scripts. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
/// `Debug` hides all three: an HA1 is as good as the password for digest authentication.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Shown in place of a secret in `Debug` output.
const HIDDEN: &str = "<hidden>";

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret", &HIDDEN)
            .field("answer_url", &self.answer_url)
            .field("event_url", &self.event_url)
            .field("domain", &self.domain)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("app", &self.app)
            .field("domain", &self.domain)
            .field("username", &self.username)
            .field("ha1_md5", &HIDDEN)
            .field("ha1_sha256", &HIDDEN)
            .field("enabled", &self.enabled)
            .field(
                "sealed_password",
                &self.sealed_password.as_ref().map(|_| HIDDEN),
            )
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::store::conformance;

    #[test]
    fn debug_hides_secrets_and_ha1s() {
        let mut endpoint = conformance::endpoint(1, "example.com", "alice");
        endpoint.sealed_password = Some(vec![0xab; 40]);
        let shown = format!("{endpoint:?}");
        assert!(
            shown.contains("\"alice\"") && shown.contains("<hidden>"),
            "{shown}"
        );
        assert!(!shown.contains(conformance::HA1_MARK), "{shown}");
        assert!(!shown.contains("171"), "sealed bytes are hidden: {shown}");
        let shown = format!("{:?}", conformance::app(7, "example.com"));
        assert!(!shown.contains("secret-7"), "{shown}");
    }
}
