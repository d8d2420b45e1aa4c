//! Cloud SIP UA domains: the operator's mapping of a media-service domain
//! (`/mediaservice/{domain}/…`) onto an app, with the keys its bearer tokens are verified
//! with. At most one domain per app (an inbound call to the app's endpoints and numbers goes
//! to that domain's device), names unique.

use serde::{Deserialize, Serialize};

use super::AppId;

/// One Cloud UA domain. `Debug` hides the HS256 secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudUaDomain {
    /// The `{domain}` of the API paths, matched against the token's `aud` or `domain`.
    pub name: String,
    pub app: AppId,
    /// The HS256 shared secret (a token signed with it verifies with it: it cannot be stored
    /// as a hash).
    #[serde(default)]
    pub hs256_secret: Option<String>,
    /// An RSA (RS256) or EC P-256 (ES256) public key, PEM.
    #[serde(default)]
    pub public_key_pem: Option<String>,
    /// Required `iss`, when set.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Required `aud` besides the domain's name, when set.
    #[serde(default)]
    pub audience: Option<String>,
    /// Where callbacks go when a placed call names no `callbackBaseUrl`, and where every
    /// inbound call's callbacks go.
    #[serde(default)]
    pub callback_base_url: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
}

impl std::fmt::Debug for CloudUaDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudUaDomain")
            .field("name", &self.name)
            .field("app", &self.app)
            .field("hs256_secret", &self.hs256_secret.as_ref().map(|_| "…"))
            .field("public_key", &self.public_key_pem.is_some())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("callback_base_url", &self.callback_base_url)
            .finish()
    }
}
