//! The records the store keeps, as plain serde structs.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::sip::Transport;

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
    /// PCMO run when the answer URL fails (unreachable, slow, invalid script).
    #[serde(default)]
    pub fallback_pcmo: Option<String>,
    /// Total time allowed for this app's answer URL, when it differs from the engine's
    /// `calls.answer_timeout_ms`.
    #[serde(default)]
    pub answer_timeout_ms: Option<u32>,
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

impl Endpoint {
    /// True when `other` authenticates with other credentials than `self` (a new password):
    /// the store then drops the bindings made with the old ones.
    pub fn credentials_differ(&self, other: &Endpoint) -> bool {
        self.ha1_md5 != other.ha1_md5 || self.ha1_sha256 != other.ha1_sha256
    }
}

/// A carrier's SIP trunk: where calls to phone numbers leave, and who may send calls in.
///
/// The password (for digest authentication towards the carrier) is never stored in clear:
/// `sealed_password` is `nonce || ciphertext` under the data directory's `password.key`
/// (see `actors::trunks`). `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trunk {
    /// Unique, `[A-Za-z0-9_-]{1,64}`.
    pub name: String,
    /// A DNS name or an IP literal (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    /// Calls from these source addresses are calls from this trunk.
    #[serde(default)]
    pub allow_ips: Vec<IpAddr>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub sealed_password: Option<Vec<u8>>,
    /// Unix seconds.
    pub created_at: u64,
}

impl Trunk {
    /// `host:port`, with an IPv6 host in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A phone number owned by an app: calls to it run the app's script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Number {
    /// E.164 digits only, without the `+` (1 to 15 digits).
    pub number: String,
    pub app: AppId,
    /// Unix seconds.
    pub created_at: u64,
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

impl std::fmt::Debug for Trunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trunk")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("transport", &self.transport)
            .field("allow_ips", &self.allow_ips)
            .field("username", &self.username)
            .field(
                "sealed_password",
                &self.sealed_password.as_ref().map(|_| HIDDEN),
            )
            .field("created_at", &self.created_at)
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
        let mut trunk = conformance::trunk("carrier", &["192.0.2.1"]);
        trunk.sealed_password = Some(vec![0xab; 40]);
        let shown = format!("{trunk:?}");
        assert!(
            shown.contains("<hidden>") && !shown.contains("171"),
            "{shown}"
        );
    }

    #[test]
    fn trunk_addresses_bracket_ipv6() {
        let mut trunk = conformance::trunk("carrier", &[]);
        assert_eq!(trunk.address(), "sip.carrier.example:5060");
        trunk.host = "2001:db8::1".into();
        trunk.port = 5080;
        assert_eq!(trunk.address(), "[2001:db8::1]:5080");
    }
}
