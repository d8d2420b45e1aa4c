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
    /// The Bandwidth user (account id) that owns this app; `None` for PIOPIY apps.
    #[serde(default)]
    pub account: Option<String>,
    /// Set for a Bandwidth application: its calls are driven by REST after an `incomingcall`
    /// callback, not by a PCMO script from `answer_url` (which is empty then).
    #[serde(default)]
    pub live: Option<LiveApp>,
}

impl App {
    /// The id a Bandwidth client sees: `a-{appid}`.
    pub fn bandwidth_id(&self) -> String {
        format!("a-{}", self.id)
    }
}

/// How a Bandwidth application's callbacks are sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackMethod {
    Get,
    #[default]
    Post,
}

/// What makes an [`App`] a Bandwidth application (App Platform v1 `applications`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveApp {
    /// Where `incomingcall` (and, by default, the call's other events) go.
    pub incoming_call_url: String,
    /// `incomingCallUrlCallbackTimeout`, ms (at most 10 000).
    #[serde(default)]
    pub incoming_call_timeout_ms: Option<u32>,
    #[serde(default)]
    pub incoming_call_fallback_url: Option<String>,
    #[serde(default)]
    pub callback_method: CallbackMethod,
    /// Answer inbound calls before the `incomingcall` callback (Bandwidth's default: true).
    #[serde(default = "yes")]
    pub auto_answer: bool,
}

fn yes() -> bool {
    true
}

/// A Bandwidth App Platform user: the credentials of `/v1/users/{id}/…`. The secret is never
/// stored, only its SHA-256 (it is random and long, so a plain hash is enough). `Debug` hides
/// the token and the hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// `u-` and 20 random lowercase letters and digits.
    pub id: String,
    /// `t-` and 24 random characters: the Basic-auth user name.
    pub token: String,
    /// Hex SHA-256 of the secret (the Basic-auth password).
    pub secret_sha256: String,
    /// PIOPIY apps this user may also drive live (`ringmaster user create --app`).
    #[serde(default)]
    pub apps: Vec<AppId>,
    /// Unix seconds.
    pub created_at: u64,
}

/// A Bandwidth domain: a SIP domain of its own (`{name}.{suffix}`) grouping endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BwDomain {
    /// `rd-` and random characters.
    pub id: String,
    pub account: String,
    /// Unique among all domains (it is a DNS label of `sip_domain`).
    pub name: String,
    pub description: String,
    /// `{name}.{[bandwidth] domain_suffix}`, lower case: the realm of its endpoints.
    pub sip_domain: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// A short-lived digest credential of an endpoint (`POST …/endpoints/{id}/tokens`): works as
/// a password for the endpoint's username until `expires_at`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointToken {
    pub ha1_md5: String,
    pub ha1_sha256: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// A SIP user of an app. The password is never stored in clear: only the digest HA1 values for
/// the endpoint's realm, and, if the operator enabled `reveal_sip_passwords`, a sealed copy.
/// `Debug` hides all three: an HA1 is as good as the password for digest authentication.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The app its calls belong to. Always set for PIOPIY endpoints; a Bandwidth endpoint's
    /// `applicationId` may change or be absent (then its calls are refused). Records written
    /// before this was optional hold a plain number, which reads as `Some`.
    pub app: Option<AppId>,
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
    /// `re-` and random characters: the id of a Bandwidth endpoint (`None` for PIOPIY ones).
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The [`BwDomain`] id of a Bandwidth endpoint.
    #[serde(default)]
    pub bw_domain: Option<String>,
    /// Unexpired (at the last write) auth tokens; expired ones are pruned on every write.
    #[serde(default)]
    pub tokens: Vec<EndpointToken>,
}

impl Endpoint {
    /// True when the endpoint belongs to `app`.
    pub fn is_of(&self, app: AppId) -> bool {
        self.app == Some(app)
    }

    /// The password's digest HA1 values.
    pub fn credentials(&self) -> crate::sip::auth::StoredCredentials {
        crate::sip::auth::StoredCredentials {
            ha1_md5: self.ha1_md5.clone(),
            ha1_sha256: self.ha1_sha256.clone(),
        }
    }

    /// Everything the endpoint authenticates with at `now` (Unix seconds): the password's HA1
    /// values and those of its unexpired tokens, REGISTER and INVITE alike.
    pub fn credential_set(&self, now: u64) -> crate::sip::auth::CredentialSet {
        crate::sip::auth::CredentialSet {
            password: self.credentials(),
            alternates: self
                .tokens
                .iter()
                .filter(|t| t.expires_at > now)
                .map(|t| crate::sip::auth::StoredCredentials {
                    ha1_md5: t.ha1_md5.clone(),
                    ha1_sha256: t.ha1_sha256.clone(),
                })
                .collect(),
        }
    }

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
    /// A label (Bandwidth `name`).
    #[serde(default)]
    pub name: Option<String>,
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
            .field("account", &self.account)
            .field("live", &self.live)
            .finish()
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("token", &HIDDEN)
            .field("secret_sha256", &HIDDEN)
            .field("apps", &self.apps)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl std::fmt::Debug for EndpointToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
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
            .field("id", &self.id)
            .field("bw_domain", &self.bw_domain)
            .field("tokens", &self.tokens.len())
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
    use super::*;
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
    fn records_written_before_the_bandwidth_model_still_read() {
        // An endpoint, app and number as stores held them before apps became optional.
        let old = r#"{"app":1234567,"domain":"example.com","username":"alice","ha1_md5":"a","ha1_sha256":"b","enabled":true,"created_at":1,"updated_at":2}"#;
        let ep: Endpoint = serde_json::from_str(old).unwrap();
        assert_eq!(ep.app, Some(AppId(1_234_567)));
        assert!(ep.is_of(AppId(1_234_567)));
        assert_eq!((ep.id, ep.bw_domain, ep.tokens.len()), (None, None, 0));
        let old = r#"{"id":7,"name":"n","secret":"s","answer_url":"https://a.example/","domain":"example.com","created_at":1}"#;
        let app: App = serde_json::from_str(old).unwrap();
        assert_eq!((app.account, app.live), (None, None));
        let n: Number =
            serde_json::from_str(r#"{"number":"14155550100","app":7,"created_at":1}"#).unwrap();
        assert_eq!(n.name, None);
        // And a new endpoint without an app writes `null` and reads back.
        let mut ep = conformance::endpoint(1, "example.com", "bob");
        ep.app = None;
        let back: Endpoint = serde_json::from_slice(&serde_json::to_vec(&ep).unwrap()).unwrap();
        assert_eq!(back, ep);
    }

    #[test]
    fn live_apps_default_to_post_and_auto_answer() {
        let live: LiveApp =
            serde_json::from_str(r#"{"incoming_call_url":"https://a.example/cb"}"#).unwrap();
        assert_eq!(live.callback_method, CallbackMethod::Post);
        assert!(live.auto_answer);
    }

    #[test]
    fn account_debug_hides_its_credentials() {
        let account = Account {
            id: "u-abc".into(),
            token: "t-visible-token".into(),
            secret_sha256: "feedface".into(),
            apps: vec![],
            created_at: 1,
        };
        let shown = format!("{account:?}");
        assert!(shown.contains("u-abc"), "{shown}");
        assert!(
            !shown.contains("t-visible-token") && !shown.contains("feedface"),
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
